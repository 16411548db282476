// The project's configuration file (admins): the YAML download is a plain link; an upload
// goes to POST /api/projects/<id>/config/ as multipart `file`. The server applies the file
// whole or not at all, and says what it changed or what to fix.

import { ApiError, csrfToken, errorMessage, NetworkError } from "./api.js";
import { $, showMessage } from "./dom.js";

const SECTION_NAMES = { sampling: "sampling options", stopping: "stopping advice", training: "detector training", review: "review and quality" };

/** What the server's report says, as a summary line and details. */
export function describeReport(report) {
  const applied = (report.applied || []).map((name) => SECTION_NAMES[name] || name.replace(/_/g, " "));
  const ontology = report.ontology || {};
  const details = [];
  if (applied.length) details.push(`Settings applied: ${applied.join(", ")}.`);
  if (ontology.created || ontology.updated || ontology.kept) {
    const count = (list) => (list || []).length;
    const named = (list) => (count(list) ? ` (${list.join(", ")})` : "");
    details.push(
      `Classes: ${count(ontology.created)} created${named(ontology.created)}, ${count(ontology.updated)} updated, ${count(ontology.kept)} kept as they were.`,
    );
  }
  return { summary: "The configuration file was applied.", details };
}

async function upload(url, file) {
  const body = new FormData();
  body.append("file", file);
  let response;
  try {
    response = await fetch(url, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": csrfToken() } });
  } catch (error) {
    throw new NetworkError(error);
  }
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export function setupConfigFile(url, { onApplied = () => {} } = {}) {
  const form = $("#config-form");
  if (!form) return;
  const input = $("#config-file-input");
  const button = $("#config-upload-button");
  const message = $("#config-message");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = input.files && input.files[0];
    if (!file) {
      showMessage(message, "Choose a YAML file first.", "error");
      return;
    }
    button.disabled = true;
    showMessage(message, `Applying ${file.name}…`, "info");
    try {
      const report = await upload(url, file);
      const { summary, details } = describeReport(report || {});
      showMessage(message, summary, "ok", details);
      form.reset();
      onApplied(report);
    } catch (error) {
      showMessage(message, `Nothing was changed: ${errorMessage(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}
