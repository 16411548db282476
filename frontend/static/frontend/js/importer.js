// The admin's import form: uploads with XMLHttpRequest to show upload progress, then the
// rows the server has read (websocket import.progress), then the result or the row errors.

import { csrfToken, describeBody, uuid4 } from "./api.js";
import { $, formatNumber, showMessage } from "./dom.js";

export function setupImporter(url, { onImported = () => {} } = {}) {
  const form = $("#import-form");
  if (!form) return { onProgress() {} };
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
