// The admin's import form: uploads with XMLHttpRequest to show upload progress, then the
// rows the server has read (websocket import.progress), then the result or the row errors.
// Image projects have an upload card for images (several files or zips) and videos instead.

import { csrfToken, describeBody, uuid4 } from "./api.js";
import { $, formatNumber, pageConfig, showMessage } from "./dom.js";

export function setupImporter(url, { onImported = () => {} } = {}) {
  const form = $("#import-form");
  if (!form) {
    if ($("#media-upload-form")) return setupMediaUploader({ onImported });
    return { onProgress() {} };
  }
  const button = $("#import-button");
  const wrap = $("#import-progress-wrap");
  const bar = $("#upload-progress");
  const rows = $("#import-rows");
  const result = $("#import-result");
  let importId = null;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("#import-file").files[0];
    if (!file) {
      showMessage(result, "Choose a file to import first.", "error");
      return;
    }
    importId = uuid4().replaceAll("-", "");
    const data = new FormData();
    data.append("file", file);
    data.append("import_id", importId);
    data.append("split", $("#import-split").value);
    data.append("text_field", $("#import-text-field").value.trim() || "text");
    if ($("#import-format").value) data.append("format", $("#import-format").value);
    if ($("#import-label-field").value.trim()) data.append("label_field", $("#import-label-field").value.trim());

    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (progress) => {
      if (progress.lengthComputable) bar.value = (progress.loaded / progress.total) * 100;
    };
    xhr.upload.onload = () => {
      bar.value = 100;
      if (!rows.textContent) rows.textContent = "Uploaded; the server is reading the rows…";
    };
    xhr.onload = () => {
      button.disabled = false;
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status === 201) {
        const parts = [`Imported ${formatNumber(body.created)} items`];
        if (body.labeled) parts.push(`${formatNumber(body.labeled)} with labels`);
        if (body.evaluation) parts.push(`${formatNumber(body.evaluation)} in the evaluation split`);
        showMessage(result, `${parts.join(", ")}. A model round was requested.`, "ok");
        form.reset();
        onImported(body);
        return;
      }
      const rowErrors = (body && body.row_errors) || [];
      const details = rowErrors.map((row) => `Row ${row.row}: ${row.error}`);
      const message = describeBody(body) || `The server answered ${xhr.status} ${xhr.statusText}.`;
      showMessage(result, `Import failed: ${message}`, "error", details);
      if (details.length) result.querySelector("ul").classList.add("row-errors");
    };
    xhr.onerror = () => {
      button.disabled = false;
      showMessage(result, "The upload did not reach the server. Check your connection and try again.", "error");
    };
    button.disabled = true;
    bar.value = 0;
    rows.textContent = "";
    wrap.hidden = false;
    showMessage(result, "");
    xhr.send(data);
  });

  return {
    /** A websocket import.progress event. */
    onProgress(event) {
      if (event.import_id === importId) rows.textContent = `Server has read ${formatNumber(event.rows)} rows.`;
    },
  };
}

/** POST FormData with upload progress; resolves {status, body} whatever the status. */
function upload(url, data, onUploadProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (progress) => {
      if (progress.lengthComputable) onUploadProgress(progress.loaded / progress.total);
    };
    xhr.upload.onload = () => onUploadProgress(1, true);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, statusText: xhr.statusText, body });
    };
    xhr.onerror = () => reject(new Error("The upload did not reach the server. Check your connection and try again."));
    xhr.send(data);
  });
}

/** The image and video upload card of image projects. */
export function setupMediaUploader({ onImported = () => {} } = {}) {
  const { projectId } = pageConfig();
  const imageForm = $("#media-upload-form");
  const videoForm = $("#video-upload-form");
  const wrap = $("#media-progress-wrap");
  const bar = $("#media-progress");
  const rows = $("#media-rows");
  const result = $("#media-result");
  let importId = null;

  for (const [tab, form, other] of [[$("#tab-images"), imageForm, videoForm], [$("#tab-video"), videoForm, imageForm]]) {
    tab.addEventListener("click", () => {
      form.hidden = false;
      other.hidden = true;
      $("#tab-images").setAttribute("aria-selected", String(form === imageForm));
      $("#tab-video").setAttribute("aria-selected", String(form === videoForm));
    });
  }
  $("#video-mode").addEventListener("change", () => {
    const every = $("#video-mode").value === "every_seconds";
    const amount = $("#video-amount");
    amount.min = every ? "0.01" : "1";
    amount.step = every ? "any" : "1";
    amount.value = every ? "1" : "50";
  });

  async function send(form, button, url, data, describe) {
    button.disabled = true;
    bar.value = 0;
    rows.textContent = "";
    wrap.hidden = false;
    showMessage(result, "");
    try {
      const response = await upload(url, data, (fraction, done) => {
        bar.value = fraction * 100;
        if (done && !rows.textContent) rows.textContent = "Uploaded; the server is decoding the files…";
      });
      if (rows.textContent.startsWith("Uploaded;")) rows.textContent = "";
      if (response.status === 201) {
        const [text, details] = describe(response.body);
        showMessage(result, text, details.length ? "warn" : "ok", details);
        form.reset();
        onImported(response.body);
      } else {
        const text = describeBody(response.body) || `The server answered ${response.status} ${response.statusText}.`;
        showMessage(result, `Upload failed: ${text}`, "error");
      }
    } catch (error) {
      showMessage(result, error.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  imageForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const files = Array.from($("#image-files").files);
    if (!files.length) {
      showMessage(result, "Choose one or more images (or zip archives) first.", "error");
      return;
    }
    importId = uuid4().replaceAll("-", "");
    const data = new FormData();
    for (const file of files) data.append("files", file, file.name);
    data.append("split", $("#image-split").value);
    data.append("import_id", importId);
    send(imageForm, $("#image-upload-button"), `/api/projects/${projectId}/images/`, data, (body) => {
      const skipped = body.skipped || [];
      const details = skipped.map((entry) => `${entry.name}: ${entry.error}`);
      const text = `Imported ${formatNumber(body.created)} image${body.created === 1 ? "" : "s"}` +
        (skipped.length ? `; ${formatNumber(skipped.length)} skipped` : "") + ". A model round was requested.";
      return [text, details];
    });
  });

  videoForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("#video-file").files[0];
    if (!file) {
      showMessage(result, "Choose a video first.", "error");
      return;
    }
    const amount = $("#video-amount").value.trim();
    if (!amount || !(Number(amount) > 0)) {
      showMessage(result, "Give N: seconds between frames, or how many frames to pick.", "error");
      return;
    }
    importId = null;
    const data = new FormData();
    data.append("file", file, file.name);
    data.append($("#video-mode").value, amount);
    data.append("split", $("#video-split").value);
    send(videoForm, $("#video-upload-button"), `/api/projects/${projectId}/videos/`, data, (body) => {
      const fps = body.fps ? ` at ${Number(body.fps).toFixed(1)} fps` : "";
      return [`Imported ${formatNumber(body.frames)} frames of ${formatNumber(body.frame_count)}${fps}. A model round was requested.`, []];
    });
  });

  return {
    /** A websocket import.progress event. */
    onProgress(event) {
      if (importId && event.import_id === importId) rows.textContent = `Server has read ${formatNumber(event.rows)} images.`;
    },
  };
}
