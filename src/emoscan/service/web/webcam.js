// The webcam panel: frames from getUserMedia go to /detect one at a time (the next leaves when the
// answer is back, never faster than the rate limit allows), so no queue can grow; boxes and smoothed
// labels are drawn over the live video.
import { postForm } from "./api.js";
import { drawBars, drawFaces, faceColour } from "./overlay.js";
import { FaceTracker } from "./tracker.js";

const SEND_WIDTH = 640; // frames are scaled down to this width before upload

export function setUpWebcamPanel({ showError, clearError, withKey, metadata }) {
  const start = document.getElementById("webcam-start");
  const stop = document.getElementById("webcam-stop");
  const video = document.getElementById("webcam-view");
  const layer = video.parentElement.querySelector(".layer");
  const bars = document.getElementById("webcam-bars");
  const rate = document.getElementById("webcam-rate");
  const canvas = document.createElement("canvas");
  let stream = null;
  let running = false;

  async function loop() {
    const settings = (await metadata).inference || {};
    const tracker = new FaceTracker(settings.smoothing_window ?? 8, settings.track_iou ?? 0.3);
    const perMinute = (await metadata).limits?.rate_limit_detect_per_min || 0;
    const minGap = perMinute ? 60000 / perMinute : 0; // ms between requests that the rate limit allows
    let fps = 0;
    let last = performance.now();
    while (running) {
      const sent = performance.now();
      const blob = await grab();
      if (!blob) { await sleep(100); continue; }
      const form = new FormData();
      form.append("image", blob, "frame.jpg");
      try {
        const { body } = await withKey(() => postForm("detect", form, "photo"));
        if (!running) break;
        clearError();
        const faces = tracker.update(body.faces);
        drawFaces(layer, faces, body.image.width, body.image.height, { colourOf: (face) => faceColour(face.track - 1) });
        if (faces.length) drawBars(bars, faces[0].probabilities, faceColour(faces[0].track - 1));
        else bars.replaceChildren();
        const now = performance.now();
        fps = fps ? 0.8 * fps + 0.2 * (1000 / (now - last)) : 1000 / (now - last);
        last = now;
        rate.textContent = `${fps.toFixed(1)} frames/s analysed, ${faces.length} face${faces.length === 1 ? "" : "s"}`;
      } catch (error) {
        if (!running) break;
        showError(error.message);
        if (error.status === 429) { await sleep(1000 * (error.retryAfter || 1)); continue; }
        if (error.status !== 0 && error.status < 500) { halt(); break; }
        await sleep(1000);
      }
      await sleep(minGap - (performance.now() - sent));
    }
  }

  function grab() {
    if (video.readyState < 2 || !video.videoWidth) return Promise.resolve(null);
    const scale = Math.min(1, SEND_WIDTH / video.videoWidth);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.85));
  }

  function halt() {
    running = false;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    layer.replaceChildren();
    start.disabled = false;
    stop.disabled = true;
  }

  start.addEventListener("click", async () => {
    clearError();
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (error) {
      showError(`The camera could not be started (${error.name}). Allow this page to use the camera, or check that one is connected.`);
      return;
    }
    video.srcObject = stream;
    await video.play();
    running = true;
    start.disabled = true;
    stop.disabled = false;
    stop.focus();
    loop();
  });
  stop.addEventListener("click", halt);
  return { halt };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
