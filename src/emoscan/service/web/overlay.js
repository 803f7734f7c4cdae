// Drawing results over a photo or a video: a box and a label per face (buttons, so that a face can
// be chosen with the keyboard), and a bar per emotion.

// distinct on light and dark pictures, and for the common colour-vision deficiencies
export const FACE_COLOURS = ["#ffb000", "#00b4ff", "#ff4f8b", "#7cdc28", "#b07cff", "#ff7a1a", "#00d6b4", "#f2f2f2"];
export const faceColour = (i) => FACE_COLOURS[i % FACE_COLOURS.length];

const percent = (p) => `${(100 * p).toFixed(1)}%`;
const asBox = (box) => (Array.isArray(box) ? { x: box[0], y: box[1], width: box[2], height: box[3] } : box);

/**
 * Replace the boxes in `layer` (which covers the picture exactly) by one per face, placed in
 * percent of the picture's `width` x `height` pixels. `onSelect(i)` runs when a face is pointed at,
 * focused or clicked (the caller marks it with the class `selected`).
 */
export function drawFaces(layer, faces, width, height, { onSelect = null, colourOf = (f, i) => faceColour(i) } = {}) {
  layer.replaceChildren(...faces.map((face, i) => {
    const box = asBox(face.box);
    const element = document.createElement("button");
    element.type = "button";
    element.className = "face-box";
    element.dataset.emotion = face.emotion;
    element.style.cssText = `left:${(100 * box.x) / width}%;top:${(100 * box.y) / height}%;`
      + `width:${(100 * box.width) / width}%;height:${(100 * box.height) / height}%;--colour:${colourOf(face, i)}`;
    element.setAttribute("aria-label", `Face ${i + 1}: ${face.emotion}, ${percent(face.confidence)}`);
    const tag = document.createElement("span");
    tag.className = "face-tag";
    tag.textContent = `${face.emotion} ${Math.round(100 * face.confidence)}%`;
    element.append(tag);
    if (onSelect) {
      for (const event of ["pointerenter", "focus", "click"]) element.addEventListener(event, () => onSelect(i));
    } else {
      element.tabIndex = -1;
    }
    return element;
  }));
}

/** One bar per emotion of `probabilities` (a name -> 0..1 map), largest first. */
export function drawBars(container, probabilities, colour = "var(--accent)") {
  const rows = Object.entries(probabilities || {}).sort((a, b) => b[1] - a[1]).map(([name, p]) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.emotion = name;
    row.dataset.percent = (100 * p).toFixed(2);
    row.setAttribute("role", "meter");
    row.setAttribute("aria-valuemin", "0");
    row.setAttribute("aria-valuemax", "100");
    row.setAttribute("aria-valuenow", (100 * p).toFixed(1));
    row.setAttribute("aria-label", name);
    row.innerHTML = `<span class="bar-name"></span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-value"></span>`;
    row.querySelector(".bar-name").textContent = name;
    row.querySelector(".bar-fill").style.cssText = `width:${100 * p}%;background:${colour}`;
    row.querySelector(".bar-value").textContent = percent(p);
    return row;
  });
  container.replaceChildren(...rows);
}
