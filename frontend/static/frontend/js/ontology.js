// The admin's ontology manager: the class tree (ontology_classes.js), adding a class,
// merging two classes after a preview, the ontology's name and the projects sharing it,
// fork, export and import as JSON, and the change log.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { $, $$, formatNumber, h, pageConfig, showMessage } from "./dom.js";
import { changeRows, describeMoves, plural } from "./ontology_changes.js";
import { classTable, RESERVED_HOTKEYS, RESERVED_TEXT } from "./ontology_classes.js";
import { classOptions } from "./ontology_tree.js";
import { postFile } from "./post_file.js";

const { projectId } = pageConfig();
const base = `/api/projects/${projectId}/`;
const urls = {
  ontology: `${base}ontology/`,
  changes: `${base}ontology/changes/`,
  merge: `${base}ontology/merge/`,
  import: `${base}ontology/import/`,
  fork: `${base}ontology/fork/`,
  classes: `${base}classes/`,
};
const pageMessage = $("#message");
const MOVE_LABELS = [
  ["annotations", "Answers"],
  ["regions", "Regions"],
  ["items", "Labeled items"],
  ["gold_items", "Gold items"],
  ["children", "Subclasses"],
];

let ontology = { name: "", description: "", projects: [], classes: [] };
// A reply to an older request must not overwrite what a newer one rendered.
let loadTicket = 0;
let changesTicket = 0;
let ontologyEdited = false;

const table = classTable({
  body: $("#classes-body"),
  projectId,
  pageMessage,
  announce: (text) => {
    $("#tree-status").textContent = text;
  },
  onChanged: ({ classes } = {}) => {
    if (classes) {
      loadTicket += 1;
      ontology.classes = classes;
      refreshPickers();
      refreshChanges();
    } else {
      load();
    }
  },
  onMergeRequest: (sourceId) => openMerge(sourceId),
});

async function load() {
  const ticket = ++loadTicket;
  refreshChanges();
  try {
    const data = await api(urls.ontology);
    if (ticket !== loadTicket) return;
    ontology = data;
    table.render(data.classes);
    renderOntology();
    refreshPickers();
  } catch (error) {
    showMessage(pageMessage, `Could not load the ontology: ${errorMessage(error)}`, "error");
  }
}

async function refreshChanges() {
  const ticket = ++changesTicket;
  const body = $("#changes-body");
  try {
    const changes = await api(urls.changes);
    if (ticket === changesTicket) body.replaceChildren(...changeRows(changes, { projectId }));
  } catch (error) {
    if (ticket !== changesTicket) return;
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "field-error" }, `Could not load the change log: ${errorMessage(error)}`)));
  }
}

// ---------------------------------------------------------------------------------------
// The ontology: name, description, the projects sharing it, fork

function renderOntology() {
  $("#ontology-title").textContent = ontology.name;
  if (!ontologyEdited) {
    $("#ontology-name").value = ontology.name;
    $("#ontology-description").value = ontology.description || "";
  }
  const projects = ontology.projects || [];
  $("#sharing-summary").textContent = projects.length > 1
    ? `${plural(projects.length, "project shares", "projects share")} this ontology: every change here applies to all of them.`
    : "Only this project uses this ontology.";
  $("#sharing-list").replaceChildren(...projects.map((project) => h(
    "li",
    { dataset: { projectId: project.id } },
    project.name,
    project.id === projectId ? h("span", { class: "badge" }, "this project") : "",
  )));
  const projectName = ($("#project-link")?.textContent || "").trim();
  $("#fork-name").placeholder = projectName ? `${ontology.name} (${projectName})` : ontology.name;
}

for (const field of ["#ontology-name", "#ontology-description"]) {
  $(field).addEventListener("input", () => {
    ontologyEdited = true;
  });
}

$("#ontology-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("#ontology-message");
  const name = $("#ontology-name").value.trim();
  const description = $("#ontology-description").value;
  if (!name) {
    showMessage(message, "The ontology needs a name.", "error");
    $("#ontology-name").focus();
    return;
  }
  try {
    await api(urls.ontology, { method: "PATCH", body: { name, description } });
    ontologyEdited = false;
    showMessage(message, `Saved the ontology “${name}”.`, "ok");
    load();
  } catch (error) {
    showMessage(message, `Not saved: ${errorMessage(error)}`, "error");
  }
});

$("#fork-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const message = $("#fork-message");
  const name = $("#fork-name").value.trim();
  const others = (ontology.projects || []).filter((project) => project.id !== projectId).length;
  const question = `Give this project its own copy of “${ontology.name}”? Its answers move to the copy`
    + (others ? `; the ${plural(others, "other project keeps", "other projects keep")} the shared one.` : ".");
  if (!window.confirm(question)) return;
  const shared = ontology.name;
  try {
    const copy = await api(urls.fork, { method: "POST", body: name ? { name } : {} });
    $("#fork-name").value = "";
    ontologyEdited = false;
    showMessage(message, `This project now has its own ontology “${copy.name}”, copied from “${shared}”. `
      + "Changes here no longer reach the other projects.", "ok");
    load();
  } catch (error) {
    showMessage(message, `Not forked: ${errorMessage(error)}`, "error");
  }
});

// ---------------------------------------------------------------------------------------
// Import (export is a plain download link)

$("#ontology-import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#import-file");
  const report = $("#import-report");
  input.removeAttribute("aria-invalid");
  const file = input.files[0];
  if (!file) {
    showMessage(report, "Choose an ontology file (JSON, as exported).", "error");
    input.focus();
    return;
  }
  try {
    const result = await postFile(urls.import, file);
    const line = (label, keys) => `${label} (${keys.length}): ${keys.length ? keys.join(", ") : "none"}`;
    showMessage(report, `Imported ${file.name}.`, "ok", [
      line("Created", result.created),
      line("Updated", result.updated),
      line("Kept, not in the file", result.kept),
    ]);
    input.value = "";
    load();
  } catch (error) {
    input.setAttribute("aria-invalid", "true");
    showMessage(report, `Not imported, nothing changed: ${errorMessage(error)}`, "error");
  }
});

// ---------------------------------------------------------------------------------------
// Adding a class

function slug(text) {
  return text.trim().toLowerCase().replace(/\s+/g, "_").replace(/[^a-z0-9_.-]/g, "").slice(0, 64);
}

function fillClassSelect(select, placeholder) {
  const value = select.value;
  select.replaceChildren(
    h("option", { value: "" }, placeholder),
    ...classOptions(ontology.classes).map((option) => h("option", { value: option.id }, option.label)),
  );
  select.value = value;
  if (select.value !== value) select.value = "";
}

function refreshPickers() {
  fillClassSelect($("#new-parent"), "None: a top-level class");
  if (mergeDialog.open) {
    fillClassSelect(mergeSource, "Choose a class…");
    fillClassSelect(mergeTarget, "Choose a class…");
  }
}

function formFieldError(form, field, text) {
  const slot = form.querySelector(`[data-error-field="${field}"]`);
  if (!slot) return false;
  slot.textContent = text;
  slot.hidden = false;
  form.querySelector(`[name="${field}"]`)?.setAttribute("aria-invalid", "true");
  return true;
}

function clearFormErrors(form) {
  for (const slot of $$("[data-error-field]", form)) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const input of $$("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
}

$("#add-class-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const message = $("#add-message");
  clearFormErrors(form);
  showMessage(message, "");
  const name = $("#new-name").value.trim();
  const hotkey = $("#new-hotkey").value.trim();
  if (!name) {
    formFieldError(form, "name", "Give the class a name.");
    $("#new-name").focus();
    return;
  }
  if (RESERVED_HOTKEYS.has(hotkey.toLowerCase())) {
    formFieldError(form, "hotkey", RESERVED_TEXT);
    $("#new-hotkey").focus();
    return;
  }
  const orders = ontology.classes.map((cls) => cls.order);
  const payload = {
    name,
    key: $("#new-key").value.trim() || slug(name),
    colour: $("#new-colour").value,
    hotkey,
    order: orders.length ? Math.max(...orders) + 1 : 0,
    parent: $("#new-parent").value ? Number($("#new-parent").value) : null,
  };
  try {
    await api(urls.classes, { method: "POST", body: payload });
    showMessage(message, `Added “${name}”.`, "ok");
    form.reset();
    load();
  } catch (error) {
    const fields = error instanceof ApiError ? fieldErrors(error.body) : {};
    const placed = Object.entries(fields).filter(([field, text]) => formFieldError(form, field, text));
    if (placed.length < Object.keys(fields).length || !placed.length) showMessage(message, `Not added: ${errorMessage(error)}`, "error");
  }
});

// ---------------------------------------------------------------------------------------
// Merge: preview what moves, then merge

const mergeDialog = $("#merge-dialog");
const mergeSource = $("#merge-source");
const mergeTarget = $("#merge-target");
const mergeConfirm = $("#merge-confirm");
const mergePreview = $("#merge-preview");
const mergeMessage = $("#merge-message");
let previewedPair = null;

function openMerge(sourceId = null) {
  fillClassSelect(mergeSource, "Choose a class…");
  fillClassSelect(mergeTarget, "Choose a class…");
  mergeSource.value = sourceId ? String(sourceId) : "";
  mergeTarget.value = "";
  resetPreview();
  showMessage(mergeMessage, "");
  if (!mergeDialog.open) mergeDialog.showModal();
  (sourceId ? mergeTarget : mergeSource).focus();
}

function resetPreview() {
  previewedPair = null;
  mergeConfirm.disabled = true;
  mergePreview.hidden = true;
  mergePreview.replaceChildren();
}

function chosenPair() {
  showMessage(mergeMessage, "");
  const source = Number(mergeSource.value);
  const target = Number(mergeTarget.value);
  if (!source || !target) {
    showMessage(mergeMessage, "Choose the class to merge and the class it merges into.", "error");
    (source ? mergeTarget : mergeSource).focus();
    return null;
  }
  if (source === target) {
    showMessage(mergeMessage, "Pick two different classes to merge.", "error");
    mergeTarget.focus();
    return null;
  }
  return { source, target };
}

function renderPreview(result) {
  const { source, target, moves, projects } = result;
  const shared = projects.length > 1;
  mergePreview.replaceChildren(
    h("p", { id: "merge-summary" }, `Merging “${source.name}” into “${target.name}” moves:`),
    h("dl", { class: "merge-counts" }, MOVE_LABELS.flatMap(([key, label]) => [
      h("dt", {}, label),
      h("dd", { dataset: { count: key } }, formatNumber(moves[key] || 0)),
    ])),
    h(
      "p",
      { id: "merge-projects", class: shared ? "message message-warn" : "small muted" },
      shared
        ? `${plural(projects.length, "project shares", "projects share")} this ontology and all change: ${projects.join(", ")}.`
        : `Only ${projects[0] || "this project"} uses this ontology.`,
    ),
    h("p", { class: "small muted" }, `Then “${source.name}” disappears, and exports give its items the key “${target.key}”.`),
  );
  mergePreview.hidden = false;
}

for (const select of [mergeSource, mergeTarget]) select.addEventListener("change", resetPreview);

$("#merge-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const pair = chosenPair();
  if (!pair) return;
  try {
    const result = await api(urls.merge, { method: "POST", body: { ...pair, preview: true } });
    renderPreview(result);
    previewedPair = `${pair.source}:${pair.target}`;
    mergeConfirm.disabled = false;
    mergeConfirm.focus();
  } catch (error) {
    resetPreview();
    showMessage(mergeMessage, errorMessage(error), "error");
  }
});

mergeConfirm.addEventListener("click", async () => {
  const pair = chosenPair();
  if (!pair || previewedPair !== `${pair.source}:${pair.target}`) {
    resetPreview();
    return;
  }
  mergeConfirm.disabled = true;
  try {
    const result = await api(urls.merge, { method: "POST", body: pair });
    mergeDialog.close();
    table.forget(pair.source);
    showMessage(pageMessage, `Merged “${result.source.name}” into “${result.target.name}”: moved ${describeMoves(result.moves)}.`, "ok");
    load();
  } catch (error) {
    mergeConfirm.disabled = false;
    showMessage(mergeMessage, `Not merged: ${errorMessage(error)}`, "error");
  }
});

$("#merge-cancel").addEventListener("click", () => mergeDialog.close());
$("#open-merge").addEventListener("click", () => openMerge());
$("#expand-all").addEventListener("click", () => table.expandAll());
$("#collapse-all").addEventListener("click", () => table.collapseAll());

load();
