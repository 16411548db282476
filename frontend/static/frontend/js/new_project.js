// Staff create a project from the project list: new classes, a shared ontology, or a
// configuration file; then they land on its dashboard to finish the set-up.

import { ApiError, api, errorMessage, fieldErrors } from "./api.js";
import { $, $$, h, showMessage } from "./dom.js";
import { postFile } from "./post_file.js";

const message = $("#new-project-message");

async function loadOntologies() {
  try {
    const ontologies = await api("/api/ontologies/");
    $("#np-ontology").append(
      ...ontologies.map((o) => h("option", { value: String(o.id) }, `${o.name} (${o.classes} classes, ${o.projects} projects)`)),
    );
  } catch (error) {
    showMessage(message, `Could not list the ontologies: ${errorMessage(error)}`, "warn");
  }
}

function showFieldErrors(error) {
  for (const slot of $$("[data-error-for]", $("#new-project-form"))) slot.textContent = "";
  if (!(error instanceof ApiError)) return false;
  const fields = fieldErrors(error.body);
  let shown = false;
  for (const [name, text] of Object.entries(fields)) {
    const slot = $(`[data-error-for="${name}"]`, $("#new-project-form"));
    if (slot) {
      slot.textContent = text;
      shown = true;
    }
  }
  return shown;
}

$("#new-project-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showMessage(message, "");
  const name = $("#np-name").value.trim();
  if (!name) {
    showFieldErrors(new ApiError(400, { name: ["Give the project a name."] }));
    return;
  }
  const body = { name, kind: $("#np-kind").value, description: $("#np-description").value.trim() };
  const shared = $("#np-ontology").value;
  if (shared) body.share_ontology = Number(shared);
  else {
    const names = $("#np-classes").value.split(",").map((part) => part.trim()).filter(Boolean);
    if (names.length) body.class_names = names;
  }
  try {
    const project = await api("/api/projects/", { method: "POST", body });
    window.location.assign(`/projects/${project.id}/`);
  } catch (error) {
    if (!showFieldErrors(error)) showMessage(message, `Not created: ${errorMessage(error)}`, "error");
  }
});

$("#config-project-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("#np-config-file").files[0];
  if (!file) {
    showMessage(message, "Choose a configuration file first.", "error");
    return;
  }
  const name = $("#np-config-name").value.trim();
  try {
    const url = name ? `/api/projects/from-config/?name=${encodeURIComponent(name)}` : "/api/projects/from-config/";
    const project = await postFile(url, file);
    window.location.assign(`/projects/${project.id}/`);
  } catch (error) {
    showMessage(message, `Not created: ${errorMessage(error)}`, "error");
  }
});

loadOntologies();
