// The video panel: upload a file with a frame rate, follow the upload and the analysis, then a
// timeline of the largest face's emotion probabilities; clicking it (or the arrow keys) moves the
// video there, with the boxes of that moment drawn over it.
import { postForm } from "./api.js";
import { drawBars, drawFaces } from "./overlay.js";

// one colour per emotion on the timeline (FER-2013's seven and FER+'s contempt)
const EMOTION_COLOURS = {
  angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#ffb000", neutral: "#7f7f7f",
  sad: "#1f77b4", surprise: "#17becf", contempt: "#2ca02c",
};
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000; // the timeline's viewBox
const HEIGHT = 200;

const area = (box) => box[2] * box[3];
const largest = (faces) => faces.reduce((best, f) => (!best || area(f.box) > area(best.box) ? f : best), null);

export function setUpVideoPanel({ showError, clearError, withKey, metadata }) {
  const form = document.getElementById("video-form");
  const fileInput = document.getElementById("video-file");
  const rateInput = document.getElementById("video-rate");
  const busy = document.getElementById("video-busy");
  const progress = document.getElementById("video-progress");
  const status = document.getElementById("video-status");
  const result = document.getElementById("video-result");
  const video = document.getElementById("video-view");
  const layer = video.parentElement.querySelector(".layer");
  const timeline = document.getElementById("timeline");
  let analysis = null;
  let videoUrl = null;

  metadata.then((meta) => { if (meta.limits?.max_frame_rate) rateInput.max = meta.limits.max_frame_rate; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return;
    clearError();
    const body = new FormData();
    body.append("video", file, file.name);
    body.append("frame_rate", rateInput.value);
    busy.hidden = false;
    form.querySelector("button").disabled = true;
    progress.value = 0;
    status.textContent = "Uploading…";
    const onUpload = (fraction) => {
      progress.value = Math.round(100 * fraction);
      if (fraction >= 1) {
        progress.removeAttribute("value"); // indeterminate while the server analyses
        status.textContent = "Analysing the video…";
      }
    };
    try {
      const answer = await withKey(() => postForm("detect-video", body, "video", onUpload));
      show(file, answer);
    } catch (error) {
      showError(error.message);
    } finally {
      busy.hidden = true;
      form.querySelector("button").disabled = false;
    }
  });

  function show(file, { body, serverMs }) {
    analysis = { ...body, times: body.results.map((r) => r.frame / body.summary.fps) };
    if (videoUrl) URL.revokeObjectURL(videoUrl);
    videoUrl = URL.createObjectURL(file);
    video.src = videoUrl;
    const s = body.summary;
    document.getElementById("video-dominant").textContent = s.dominant_emotion
      ? `Mostly ${s.dominant_emotion}: ${s.faces_detected} faces in ${s.total_frames} analysed frames`
      : `No face found in ${s.total_frames} analysed frames`;
    drawBars(document.getElementById("video-distribution"), s.emotion_distribution);
    document.getElementById("video-timing").textContent =
      `${s.duration.toFixed(1)} s of video at ${s.frame_rate} analysed frames/s` + (serverMs === null ? "" : `; server ${(serverMs / 1000).toFixed(1)} s`);
    drawTimeline();
    showFrameAt(0);
    result.hidden = false;
  }

  function drawTimeline() {
    const { results, summary, times } = analysis;
    const duration = Math.max(summary.duration, 1e-6);
    timeline.setAttribute("aria-valuemax", duration.toFixed(2));
    const paths = {};
    results.forEach((r, i) => {
      const face = largest(r.faces);
      for (const [name, p] of Object.entries(face ? face.probabilities : {})) {
        const x = ((WIDTH * times[i]) / duration).toFixed(1);
        const y = (HEIGHT * (1 - p)).toFixed(1);
        const previous = i > 0 && largest(results[i - 1].faces);
        paths[name] = (paths[name] || "") + `${previous ? "L" : "M"}${x},${y} `; // a gap where no face was found
      }
    });
    const children = Object.entries(paths).map(([name, d]) => {
      const path = document.createElementNS(SVG, "path");
      path.setAttribute("d", d);
      path.setAttribute("stroke", EMOTION_COLOURS[name] || "#444");
      path.dataset.emotion = name;
      return path;
    });
    const cursor = document.createElementNS(SVG, "line");
    cursor.id = "timeline-cursor";
    cursor.setAttribute("y1", 0);
    cursor.setAttribute("y2", HEIGHT);
    timeline.replaceChildren(...children, cursor);
    document.getElementById("timeline-face").textContent = "Probabilities of the largest face over time: ";
    document.getElementById("timeline-legend").replaceChildren(...Object.keys(paths).map((name) => {
      const key = document.createElement("span");
      key.style.setProperty("--colour", EMOTION_COLOURS[name] || "#444");
      key.textContent = name;
      return key;
    }));
  }

  /** Boxes of the analysed frame at or just before `time`, and the timeline's cursor there. */
  function showFrameAt(time) {
    if (!analysis) return;
    const { results, summary, times } = analysis;
    let index = 0;
    while (index + 1 < times.length && times[index + 1] <= time + 1e-3) index += 1;
    const frame = results[index];
    drawFaces(layer, frame ? frame.faces : [], summary.width, summary.height);
    const x = (WIDTH * time) / Math.max(summary.duration, 1e-6);
    const cursor = document.getElementById("timeline-cursor");
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
    timeline.setAttribute("aria-valuenow", time.toFixed(2));
    timeline.setAttribute("aria-valuetext", `${time.toFixed(1)} s` + (frame && largest(frame.faces) ? `: ${largest(frame.faces).emotion}` : ""));
  }

  function seek(time) {
    const duration = analysis.summary.duration;
    video.currentTime = Math.min(Math.max(time, 0), duration);
    showFrameAt(video.currentTime);
  }

  timeline.addEventListener("click", (event) => {
    if (!analysis) return;
    const rect = timeline.getBoundingClientRect();
    seek(((event.clientX - rect.left) / rect.width) * analysis.summary.duration);
  });
  timeline.addEventListener("keydown", (event) => {
    if (!analysis || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const { times } = analysis;
    const now = video.currentTime;
    const target = {
      ArrowLeft: [...times].reverse().find((t) => t < now - 1e-3) ?? 0,
      ArrowRight: times.find((t) => t > now + 1e-3) ?? now,
      Home: 0,
      End: times[times.length - 1] ?? 0,
    }[event.key];
    seek(target);
  });
  for (const event of ["timeupdate", "seeked"]) video.addEventListener(event, () => showFrameAt(video.currentTime));
}
