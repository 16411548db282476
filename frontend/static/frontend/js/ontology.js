// The admin's class editor: rename, recolour, hotkeys, order; add and delete.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { $, h, pageConfig, showMessage } from "./dom.js";

const { projectId } = pageConfig();
const classesUrl = `/api/projects/${projectId}/classes/`;
const classUrl = (id) => `${classesUrl}${id}/`;
const body = $("#classes-body");
const pageMessage = $("#message");
const RESERVED = new Set(["s", "z", "h"]);
const RESERVED_TEXT = "S, Z and H are the workspace's skip, undo and hint keys; choose another hotkey.";

function describeError(error) {
  if (!(error instanceof ApiError)) return errorMessage(error);
  const fields = fieldErrors(error.body);
  const lines = Object.entries(fields).map(([name, text]) => (name === "non_field_errors" ? text : `${name}: ${text}`));
  return lines.length ? lines.join(" ") : errorMessage(error);
}

async function load() {
  try {
    render(await api(classesUrl));
  } catch (error) {
    showMessage(pageMessage, `Could not load the classes: ${errorMessage(error)}`, "error");
  }
}

function render(classes) {
  if (!classes.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No classes yet: add the first below.")));
    return;
  }
  body.replaceChildren(...classes.flatMap(row));
  const next = Math.max(...classes.map((cls) => cls.order)) + 1;
  if (!$("#new-order").value) $("#new-order").placeholder = String(next);
}

function row(cls) {
  const name = h("input", { value: cls.name, "aria-label": `Name of ${cls.key}`, name: "name" });
  const colour = h("input", { type: "color", value: cls.colour, "aria-label": `Colour of ${cls.key}`, name: "colour" });
  const hotkey = h("input", { value: cls.hotkey, maxlength: 1, "aria-label": `Hotkey of ${cls.key}`, name: "hotkey" });
  const order = h("input", { type: "number", min: 0, step: 1, value: cls.order, "aria-label": `Order of ${cls.key}`, name: "order" });
  const error = h("td", { colspan: 6, class: "field-error", role: "alert" });
  const errorRow = h("tr", { class: "class-error", hidden: true, dataset: { errorFor: cls.key } }, error);
  const save = async () => {
    errorRow.hidden = true;
    const changes = { name: name.value.trim(), colour: colour.value, hotkey: hotkey.value.trim(), order: Number(order.value) || 0 };
    if (RESERVED.has(changes.hotkey.toLowerCase())) {
      error.textContent = RESERVED_TEXT;
      errorRow.hidden = false;
      return;
    }
    try {
      await api(classUrl(cls.id), { method: "PATCH", body: changes });
      showMessage(pageMessage, `Saved “${changes.name}”.`, "ok");
      load();
    } catch (err) {
      error.textContent = describeError(err);
      errorRow.hidden = false;
    }
  };
  const remove = async () => {
    if (!window.confirm(`Delete the class “${cls.name}”? This cannot be undone.`)) return;
    errorRow.hidden = true;
    try {
      await api(classUrl(cls.id), { method: "DELETE" });
      showMessage(pageMessage, `Deleted “${cls.name}”.`, "ok");
      load();
    } catch (err) {
      error.textContent = describeError(err);
      errorRow.hidden = false;
    }
  };
  const onEnter = (event) => {
    if (event.key === "Enter") save();
  };
  for (const input of [name, hotkey, order]) input.addEventListener("keydown", onEnter);
  return [
    h(
      "tr",
      { class: "class-row", dataset: { key: cls.key, id: cls.id } },
      h("td", { class: "mono" }, cls.key),
      h("td", {}, name),
      h("td", {}, colour),
      h("td", { class: "hotkey" }, hotkey),
      h("td", { class: "order" }, order),
      h(
        "td",
        { class: "num" },
        h("div", { class: "row", style: { justifyContent: "flex-end", gap: ".4rem" } },
          h("button", { type: "button", class: "btn-small", onclick: save }, "Save"),
          h("button", { type: "button", class: "btn-small btn-danger", onclick: remove }, "Delete"),
        ),
      ),
    ),
    errorRow,
  ];
}

function slug(text) {
  return text.trim().toLowerCase().replace(/\s+/g, "_").replace(/[^a-z0-9_.-]/g, "").slice(0, 64);
}

$("#add-class-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const message = $("#add-message");
  const name = $("#new-name").value.trim();
  const key = $("#new-key").value.trim() || slug(name);
  if (!name) {
    showMessage(message, "Give the class a name.", "error");
    return;
  }
  const orderText = $("#new-order").value || $("#new-order").placeholder || "0";
  const payload = { name, key, colour: $("#new-colour").value, hotkey: $("#new-hotkey").value.trim(), order: Number(orderText) || 0 };
  if (RESERVED.has(payload.hotkey.toLowerCase())) {
    showMessage(message, RESERVED_TEXT, "error");
    return;
  }
  try {
    await api(classesUrl, { method: "POST", body: payload });
    showMessage(message, `Added “${name}”.`, "ok");
    form.reset();
    load();
  } catch (error) {
    showMessage(message, `Not added: ${describeError(error)}`, "error");
  }
});

load();
