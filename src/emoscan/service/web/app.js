// The emoscan web page: tabs, the message line, the API key dialog, and the three panels.
import { apiKey, getJson, setApiKey } from "./api.js";
import { setUpImagePanel } from "./image.js";
import { setUpVideoPanel } from "./video.js";
import { setUpWebcamPanel } from "./webcam.js";

const message = document.getElementById("message");
const showError = (text) => { message.textContent = text; message.hidden = false; };
const clearError = () => { message.hidden = true; message.textContent = ""; };

const dialog = document.getElementById("key-dialog");
const keyInput = document.getElementById("api-key");

/** Ask once for the API key (kept for the tab); resolves to false when the person cancels. */
function askForKey() {
  keyInput.value = "";
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener("close", () => {
    const ok = dialog.returnValue === "ok" && keyInput.value.trim() !== "";
    if (ok) setApiKey(keyInput.value.trim());
    resolve(ok);
  }, { once: true }));
}

/** Run an API call; on a 401, ask for a key and run it again with it. */
async function withKey(call) {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (error.status !== 401) throw error;
      if (apiKey()) setApiKey(""); // the kept key was refused
      if (!(await askForKey())) throw error;
    }
  }
}

const metadata = withKey(() => getJson("metadata")).catch((error) => { showError(error.message); return {}; });
metadata.then((meta) => {
  if (!meta.model) return;
  document.getElementById("model-info").textContent =
    `Model ${meta.model.name} · ${meta.classes.length} emotions · face detector ${meta.face_detector.name}`;
});

const context = { showError, clearError, withKey, metadata };
setUpImagePanel(context);
const webcam = setUpWebcamPanel(context);
setUpVideoPanel(context);

// tabs (WAI-ARIA tabs pattern: arrow keys move between them)
const tabs = [...document.querySelectorAll('[role="tab"]')];
function choose(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (tab.id !== "tab-webcam") webcam.halt();
  clearError();
}
tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => choose(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    choose(next);
    next.focus();
  });
});
