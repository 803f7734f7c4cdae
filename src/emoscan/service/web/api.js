// Calls from the page to the emoscan HTTP API: the optional API key (kept for the tab), upload
// progress, the server's own time (Server-Timing) and errors in words a person understands.

const KEY_STORE = "emoscan-api-key";
// the page lives at <service>/ui/: the API is one level up, which keeps working behind a path prefix
export const API_ROOT = new URL("../", location.href);

export class ApiError extends Error {
  constructor(message, status, retryAfter = 0) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

export const apiKey = () => sessionStorage.getItem(KEY_STORE) || "";
export const setApiKey = (key) => (key ? sessionStorage.setItem(KEY_STORE, key) : sessionStorage.removeItem(KEY_STORE));

/** A sentence for an error answer: `kind` is "photo" or "video". */
export function explain(status, detail, kind, retryAfter) {
  switch (status) {
    case 0: return "The server could not be reached. Check that it is running, then try again.";
    case 400: return `The server could not use this ${kind}: ${detail}`;
    case 401: return detail && detail.startsWith("Invalid") ? "This API key was refused." : "This server needs an API key.";
    case 413: return `This ${kind} is too large: ${detail}`;
    case 415: return kind === "photo"
      ? `This is not a photo emoscan can read (JPEG, PNG, WebP or BMP). ${detail}`
      : `This is not a video emoscan can read (MP4, AVI, MOV, MKV or WebM). ${detail}`;
    case 429: return `Too many requests: the server asks to wait ${retryAfter} s before the next one.`;
    default: return `The server failed (HTTP ${status}). Please try again; if it keeps failing, tell whoever runs it. ${detail}`;
  }
}

/** Milliseconds the server spent, from its `Server-Timing: app;dur=...` header (null if absent). */
function serverMs(header) {
  const match = /dur=([\d.]+)/.exec(header || "");
  return match ? Number(match[1]) : null;
}

/** GET a JSON document of the API. */
export async function getJson(path) {
  const response = await fetch(new URL(path, API_ROOT), { headers: authHeaders() });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(explain(response.status, body.error || "", "request", 0), response.status);
  return body;
}

function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/**
 * POST a multipart form; resolves to {body, serverMs, totalMs}, rejects with an ApiError.
 * `onUpload(fraction)` follows the upload (XMLHttpRequest: fetch cannot report upload progress).
 */
export function postForm(path, form, kind, onUpload = null) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const started = performance.now();
    request.open("POST", new URL(path, API_ROOT));
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    request.responseType = "json";
    if (onUpload) request.upload.onprogress = (event) => event.lengthComputable && onUpload(event.loaded / event.total);
    request.onerror = () => reject(new ApiError(explain(0, "", kind, 0), 0));
    request.onload = () => {
      const body = request.response || {};
      if (request.status >= 200 && request.status < 300) {
        resolve({ body, serverMs: serverMs(request.getResponseHeader("Server-Timing")), totalMs: performance.now() - started });
        return;
      }
      const retryAfter = Number(request.getResponseHeader("Retry-After") || 0);
      reject(new ApiError(explain(request.status, body.error || "", kind, retryAfter), request.status, retryAfter));
    };
    request.send(form);
  });
}
