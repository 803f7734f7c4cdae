// The photo panel: choose, drop or paste a photo; every face gets a box, a label and a colour, and
// the face under the pointer (or focused, or clicked) shows a bar per emotion.
import { postForm } from "./api.js";
import { drawBars, drawFaces, faceColour } from "./overlay.js";

export function setUpImagePanel({ showError, clearError, withKey }) {
  const input = document.getElementById("image-file");
  const zone = document.getElementById("drop-zone");
  const result = document.getElementById("image-result");
  const view = document.getElementById("image-view");
  const layer = result.querySelector(".layer");
  const list = document.getElementById("face-list");
  const bars = document.getElementById("image-bars");
  const summary = document.getElementById("image-summary");
  const timing = document.getElementById("image-timing");
  let shownUrl = null;

  async function analyse(file) {
    if (!file) return;
    clearError();
    summary.textContent = "Looking for faces…";
    const form = new FormData();
    form.append("image", file, file.name || "pasted.png");
    let answer;
    try {
      answer = await withKey(() => postForm("detect", form, "photo"));
    } catch (error) {
      summary.textContent = "";
      showError(error.message);
      return;
    }
    if (shownUrl) URL.revokeObjectURL(shownUrl);
    shownUrl = URL.createObjectURL(file);
    view.src = shownUrl;
    render(answer.body, answer);
    result.hidden = false;
  }

  function render(body, { serverMs, totalMs }) {
    const { width, height } = body.image;
    const faces = body.faces;
    const select = (i) => {
      [...layer.children].forEach((box, j) => box.classList.toggle("selected", j === i));
      list.querySelectorAll("li").forEach((item, j) => item.classList.toggle("selected", j === i));
      drawBars(bars, faces[i].probabilities, faceColour(i));
    };
    summary.textContent = faces.length ? `${faces.length} face${faces.length > 1 ? "s" : ""} found` : "No face found in this photo";
    list.replaceChildren(...faces.map((face, i) => {
      const item = document.createElement("li");
      item.style.setProperty("--colour", faceColour(i));
      item.textContent = `${face.emotion}, ${(100 * face.confidence).toFixed(0)}%`;
      return item;
    }));
    bars.replaceChildren();
    drawFaces(layer, faces, width, height, { onSelect: select });
    if (faces.length) select(0);
    const server = serverMs === null ? "" : `server ${serverMs.toFixed(0)} ms, `;
    timing.textContent = `${width} x ${height} pixels; ${server}round trip ${totalMs.toFixed(0)} ms`;
  }

  input.addEventListener("change", () => { analyse(input.files[0]); input.value = ""; });
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    analyse(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData?.files || [])].find((f) => f.type.startsWith("image/"));
    if (file && !document.getElementById("panel-image").hidden) analyse(file);
  });
}
