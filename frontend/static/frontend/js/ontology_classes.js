// The class tree as an editable table: one row per class, indented under its parent and
// collapsible, with its details (parent, shapes, description, attributes, example images)
// opening below it. Unsaved edits live in drafts keyed by class id, so the reload after
// another row's save does not throw them away.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { h, showMessage } from "./dom.js";
import { attributeDrafts, attributesEditor, attributesPayload } from "./ontology_attributes.js";
import { plural } from "./ontology_changes.js";
import { classOptions, flattenTree, moveAmongSiblings, subtreeIds } from "./ontology_tree.js";
import { postFile } from "./post_file.js";

export const SHAPES = ["classification", "box", "polygon", "mask"];
export const RESERVED_HOTKEYS = new Set(["s", "z", "h"]);
export const RESERVED_TEXT = "S, Z and H are the workspace's skip, undo and hint keys; choose another hotkey.";
// Errors on these fields show in the details panel, under the field; the rest on the row.
const DETAIL_FIELDS = new Set(["parent", "shapes", "description", "attributes", "examples"]);
const FIELD_LABELS = { name: "Name", colour: "Colour", hotkey: "Hotkey", key: "Key", order: "Order" };
const COLUMNS = 6;

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const knownShapes = (shapes) => SHAPES.filter((shape) => (shapes || []).includes(shape));
// Example images are guide uploads (site paths); imported files may carry other URLs.
const showsAsImage = (url) => /^(\/|https?:\/\/)/i.test(url);

function draftFrom(cls) {
  return {
    name: cls.name,
    colour: cls.colour,
    hotkey: cls.hotkey || "",
    parent: cls.parent ?? null,
    shapes: knownShapes(cls.shapes),
    description: cls.description || "",
    attributes: attributeDrafts(cls.attributes),
  };
}

/** The fields of a PATCH: only those the draft changed. */
export function changesOf(cls, draft) {
  const changes = {};
  if (draft.name.trim() !== cls.name) changes.name = draft.name.trim();
  if (draft.colour.toLowerCase() !== (cls.colour || "").toLowerCase()) changes.colour = draft.colour;
  if (draft.hotkey.trim() !== (cls.hotkey || "")) changes.hotkey = draft.hotkey.trim();
  if (draft.parent !== (cls.parent ?? null)) changes.parent = draft.parent;
  if (!same(knownShapes(draft.shapes), knownShapes(cls.shapes))) changes.shapes = knownShapes(draft.shapes);
  if (draft.description !== (cls.description || "")) changes.description = draft.description;
  const attributes = attributesPayload(draft.attributes);
  if (!same(attributes, attributesPayload(attributeDrafts(cls.attributes)))) changes.attributes = attributes;
  return changes;
}

/**
 * The table's controller. `onChanged()` asks the page to reload after a change;
 * `onChanged({classes})` hands it the classes a reorder returned. `onMergeRequest(id)`
 * opens the merge dialog with that class as the one to merge.
 */
export function classTable({ body, projectId, pageMessage, announce, onChanged, onMergeRequest }) {
  const urls = {
    cls: (id) => `/api/projects/${projectId}/classes/${id}/`,
    reorder: `/api/projects/${projectId}/ontology/reorder/`,
    images: `/api/projects/${projectId}/guide/images/`,
  };
  let classes = [];
  let parts = new Map();
  let moving = false;
  const drafts = new Map();
  const collapsed = new Set();
  const openDetails = new Set();

  function render(next) {
    const focus = rememberFocus();
    classes = next;
    const known = new Set(classes.map((cls) => cls.id));
    for (const ids of [drafts, collapsed, openDetails]) {
      for (const id of [...ids.keys()]) if (!known.has(id)) ids.delete(id);
    }
    parts = new Map();
    if (!classes.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: COLUMNS, class: "muted" }, "No classes yet: add the first below.")));
      return;
    }
    const elements = [];
    let collapsedDepth = null;
    for (const row of flattenTree(classes)) {
      if (collapsedDepth !== null && row.depth <= collapsedDepth) collapsedDepth = null;
      const hidden = collapsedDepth !== null;
      if (!hidden && row.childCount && collapsed.has(row.cls.id)) collapsedDepth = row.depth;
      elements.push(...buildClass(row, hidden));
    }
    body.replaceChildren(...elements);
    for (const cls of classes) refreshState(cls);
    restoreFocus(focus);
  }

  // Re-rendering replaces the elements; focus goes back to the same control of the same class.
  function rememberFocus() {
    const active = document.activeElement;
    if (!active || !body.contains(active)) return null;
    const owner = active.closest("[data-class-id]");
    if (!owner) return null;
    return { id: Number(owner.dataset.classId), focus: active === owner ? "row" : active.dataset.focus || "row" };
  }

  function restoreFocus(memo) {
    const part = memo && parts.get(memo.id);
    if (!part || part.row.hidden) return;
    let target = memo.focus === "row" ? part.row : body.querySelector(`[data-class-id="${memo.id}"] [data-focus="${memo.focus}"]`);
    if (!target || target.disabled || target.closest("[hidden]")) target = part.row;
    target.focus();
  }

  function rowLabel(row) {
    const { cls, depth, childCount } = row;
    const nesting = childCount
      ? `, ${plural(childCount, "subclass", "subclasses")}, ${collapsed.has(cls.id) ? "collapsed" : "expanded"}`
      : "";
    return `${cls.name} (${cls.key}), level ${depth + 1}, ${row.index + 1} of ${row.siblings}${nesting}`;
  }

  function buildClass(row, hidden) {
    const { cls, depth, childCount } = row;
    const draft = drafts.get(cls.id) || draftFrom(cls);
    const edit = (change) => {
      drafts.set(cls.id, draft);
      change(draft);
      refreshState(cls);
    };
    const expanded = !collapsed.has(cls.id);
    const toggle = childCount
      ? h("button", {
        type: "button",
        class: "tree-toggle",
        tabindex: "-1",
        "aria-expanded": String(expanded),
        "aria-label": `${expanded ? "Collapse" : "Expand"} the subclasses of ${cls.name}`,
        dataset: { focus: "toggle" },
        onclick: () => setCollapsed(cls.id, expanded),
      }, expanded ? "▾" : "▸")
      : h("span", { class: "tree-toggle-space", "aria-hidden": "true" });
    const swatch = h("span", { class: "swatch", "aria-hidden": "true", style: { background: draft.colour } });
    const unsaved = h("span", { class: "unsaved", title: "Unsaved changes", hidden: true }, "unsaved");
    const name = h("input", {
      value: draft.name, name: "name", maxlength: 200, "aria-label": `Name of ${cls.key}`, dataset: { focus: "name" },
      oninput: () => edit((d) => { d.name = name.value; }),
    });
    const colour = h("input", {
      type: "color", value: draft.colour, name: "colour", "aria-label": `Colour of ${cls.key}`, dataset: { focus: "colour" },
      oninput: () => edit((d) => { d.colour = colour.value; }),
    });
    const hotkey = h("input", {
      value: draft.hotkey, name: "hotkey", maxlength: 1, "aria-label": `Hotkey of ${cls.key}`, dataset: { focus: "hotkey" },
      oninput: () => edit((d) => { d.hotkey = hotkey.value; }),
    });
    const moveButton = (delta, arrow, word, disabled) => h("button", {
      type: "button", class: "btn-small", disabled, "aria-label": `Move ${cls.name} ${word}`,
      title: `Move ${word} among its siblings (Alt+${arrow})`, dataset: { focus: word }, onclick: () => move(cls, delta),
    }, arrow);
    const detailsId = `class-details-${cls.id}`;
    const detailsButton = h("button", {
      type: "button", class: "btn-small details-button", "aria-expanded": String(openDetails.has(cls.id)),
      "aria-controls": detailsId, dataset: { focus: "details" }, onclick: () => toggleDetails(cls.id),
    }, "Details");
    const saveButton = h("button", { type: "button", class: "btn-small save-button", dataset: { focus: "save" }, onclick: () => save(cls) }, "Save");
    const deleteButton = h("button", {
      type: "button", class: "btn-small btn-danger", dataset: { focus: "delete" }, onclick: () => remove(row),
    }, "Delete");

    const tr = h(
      "tr",
      {
        class: "class-row",
        tabindex: 0,
        hidden,
        "aria-label": rowLabel(row),
        dataset: { key: cls.key, id: cls.id, classId: cls.id, depth },
        style: { "--depth": depth },
        onkeydown: (event) => onRowKey(event, row),
      },
      h("td", { class: "tree-cell" }, h("span", { class: "tree-indent" }), toggle, swatch, h("span", { class: "mono class-key" }, cls.key), unsaved),
      h("td", {}, name),
      h("td", {}, colour),
      h("td", { class: "hotkey" }, hotkey),
      h("td", { class: "order" }, h("span", { class: "order-buttons" },
        moveButton(-1, "↑", "up", row.index === 0), moveButton(1, "↓", "down", row.index === row.siblings - 1))),
      h("td", { class: "num" }, h("div", { class: "row-actions" }, detailsButton, saveButton, deleteButton)),
    );
    const noteText = h("span");
    const note = h("tr", { class: "class-note", hidden: true, dataset: { noteFor: cls.key, classId: cls.id } },
      h("td", { colspan: COLUMNS, class: "small" }, noteText));
    const errorText = h("span", { class: "error-text" });
    const errorAction = h("span", { class: "error-action" });
    const error = h("tr", { class: "class-error", hidden: true, dataset: { errorFor: cls.key, classId: cls.id } },
      h("td", { colspan: COLUMNS, class: "field-error", role: "alert" }, errorText, errorAction));
    const { details, detailErrors } = buildDetails(row, draft, edit, detailsId, hidden);
    parts.set(cls.id, { cls, row: tr, swatch, unsaved, note, noteText, error, errorText, errorAction, details, detailErrors, detailsButton });
    return [tr, note, error, details];
  }

  function buildDetails(row, draft, edit, detailsId, hidden) {
    const { cls } = row;
    const id = (what) => `${what}-of-${cls.id}`;
    const detailErrors = {};
    const fieldError = (field) => {
      detailErrors[field] = h("div", { class: "field-error", hidden: true, dataset: { errorField: field } });
      return detailErrors[field];
    };

    const parent = h("select", {
      id: id("parent"), name: "parent", dataset: { focus: "parent" },
      onchange: () => edit((d) => { d.parent = parent.value ? Number(parent.value) : null; }),
    }, h("option", { value: "" }, "None: a top-level class"),
    classOptions(classes, subtreeIds(classes, cls.id)).map((option) => h("option", { value: option.id }, option.label)));
    parent.value = draft.parent === null ? "" : String(draft.parent);

    const shapeBoxes = SHAPES.map((shape) => h("input", {
      type: "checkbox", name: "shapes", value: shape, checked: draft.shapes.includes(shape), dataset: { focus: `shape-${shape}` },
      onchange: () => edit((d) => { d.shapes = SHAPES.filter((_, index) => shapeBoxes[index].checked); }),
    }));
    const shapes = h("fieldset", { class: "checks" },
      h("legend", {}, "Allowed shapes (none ticked allows every shape)"),
      SHAPES.map((shape, index) => h("label", { class: "check" }, shapeBoxes[index], shape)));

    const description = h("textarea", {
      id: id("description"), name: "description", rows: 4, value: draft.description, dataset: { focus: "description" },
      placeholder: "What belongs in the class, and what does not. Markdown.",
      oninput: () => edit((d) => { d.description = description.value; }),
    });

    const attributes = attributesEditor(draft.attributes, () => edit(() => {}), { label: cls.name });

    const examples = (cls.examples || []).map((url, index) => h("li", { class: "example", dataset: { url } },
      showsAsImage(url) ? h("img", { src: url, alt: `Example ${index + 1} of ${cls.name}`, loading: "lazy" }) : h("span", { class: "mono small" }, url),
      h("button", {
        type: "button", class: "btn-small btn-danger", "aria-label": `Remove example ${index + 1} of ${cls.name}`,
        dataset: { focus: `remove-example-${index}` },
        onclick: () => saveExamples(cls, cls.examples.filter((_, other) => other !== index), "Removed an example image from"),
      }, "Remove")));
    const upload = h("input", {
      type: "file", id: id("example-file"), name: "example-file", accept: "image/png,image/jpeg,image/gif,image/webp",
      dataset: { focus: "example-file" }, onchange: () => uploadExample(cls, upload),
    });

    const details = h(
      "tr",
      {
        class: "class-details", id: detailsId, hidden: hidden || !openDetails.has(cls.id),
        dataset: { detailsFor: cls.key, classId: cls.id }, style: { "--depth": row.depth },
      },
      h("td", { colspan: COLUMNS }, h("div", { class: "class-details-grid" },
        h("div", { class: "field" }, h("label", { for: id("parent") }, "Parent"), parent, fieldError("parent")),
        h("div", { class: "field" }, shapes, fieldError("shapes")),
        h("div", { class: "field wide" }, h("label", { for: id("description") }, "Description (Markdown)"), description, fieldError("description")),
        h("div", { class: "field wide" }, h("div", { class: "group-label" }, "Attributes of each region"), attributes, fieldError("attributes")),
        h("div", { class: "field wide" },
          h("div", { class: "group-label" }, "Example images"),
          examples.length ? h("ul", { class: "example-list" }, examples) : h("p", { class: "small muted" }, "No example images yet."),
          h("label", { for: id("example-file") }, "Add an example image (PNG, JPEG, GIF or WebP)"), upload, fieldError("examples")),
        h("div", { class: "form-actions wide" },
          h("button", { type: "button", class: "btn-primary", dataset: { focus: "details-save" }, onclick: () => save(cls) }, `Save ${cls.name}`),
          h("button", { type: "button", dataset: { focus: "discard" }, onclick: () => discard(cls) }, "Discard changes")),
      )),
    );
    return { details, detailErrors };
  }

  // The unsaved marker and the rename note follow the draft as it is typed.
  function refreshState(cls) {
    const part = parts.get(cls.id);
    if (!part) return;
    const draft = drafts.get(cls.id);
    const changes = draft ? changesOf(cls, draft) : {};
    const dirty = Object.keys(changes).length > 0;
    if (draft && !dirty) drafts.delete(cls.id);
    part.row.classList.toggle("dirty", dirty);
    part.unsaved.hidden = !dirty;
    if (draft) part.swatch.style.background = draft.colour;
    if (changes.name) {
      part.noteText.textContent = `Renaming is one edit: the key “${cls.key}” stays, and once saved every labeled item, `
        + `in every project sharing the ontology, shows “${changes.name}”.`;
    }
    part.note.hidden = part.row.hidden || !changes.name;
  }

  function clearErrors(id) {
    const part = parts.get(id);
    if (!part) return;
    part.error.hidden = true;
    part.errorText.textContent = "";
    part.errorAction.replaceChildren();
    for (const element of Object.values(part.detailErrors)) {
      element.hidden = true;
      element.textContent = "";
    }
    for (const invalid of document.querySelectorAll(`[data-class-id="${id}"] [aria-invalid]`)) invalid.removeAttribute("aria-invalid");
  }

  function showRowError(id, text, action = null) {
    const part = parts.get(id);
    if (!part) return;
    part.errorText.textContent = text;
    part.errorAction.replaceChildren(...(action ? [action] : []));
    part.error.hidden = part.row.hidden;
  }

  function showDetailError(id, field, text) {
    const part = parts.get(id);
    if (!part) return;
    part.detailErrors[field].textContent = text;
    part.detailErrors[field].hidden = false;
    const control = { parent: "parent", description: "description", examples: "example-file" }[field];
    if (control) part.details.querySelector(`[name="${control}"]`)?.setAttribute("aria-invalid", "true");
    setDetailsOpen(id, true);
  }

  /** The server's field errors next to their fields; anything else on the row. */
  function showErrors(cls, error) {
    const fields = error instanceof ApiError ? fieldErrors(error.body) : {};
    const rowLines = [];
    for (const [field, text] of Object.entries(fields)) {
      if (DETAIL_FIELDS.has(field)) {
        showDetailError(cls.id, field, text);
        continue;
      }
      parts.get(cls.id)?.row.querySelector(`[name="${field}"]`)?.setAttribute("aria-invalid", "true");
      rowLines.push(field === "non_field_errors" ? text : `${FIELD_LABELS[field] || field}: ${text}`);
    }
    if (!Object.keys(fields).length) rowLines.push(errorMessage(error));
    if (rowLines.length) showRowError(cls.id, rowLines.join(" "));
  }

  async function save(cls) {
    clearErrors(cls.id);
    const draft = drafts.get(cls.id);
    const changes = draft ? changesOf(cls, draft) : {};
    if (!Object.keys(changes).length) {
      announce(`Nothing to save in “${cls.name}”.`);
      return;
    }
    if (changes.name === "") {
      showErrors(cls, new ApiError(400, { name: ["A class needs a name."] }));
      return;
    }
    if (changes.hotkey && RESERVED_HOTKEYS.has(changes.hotkey.toLowerCase())) {
      showErrors(cls, new ApiError(400, { hotkey: [RESERVED_TEXT] }));
      return;
    }
    try {
      const saved = await api(urls.cls(cls.id), { method: "PATCH", body: changes });
      drafts.delete(cls.id);
      const text = changes.name !== undefined
        ? `Renamed “${cls.name}” to “${saved.name}”: every labeled item now shows the new name.`
        : `Saved “${saved.name}”.`;
      showMessage(pageMessage, text, "ok");
      onChanged();
    } catch (error) {
      showErrors(cls, error);
    }
  }

  function discard(cls) {
    drafts.delete(cls.id);
    render(classes);
    announce(`Discarded the unsaved changes of “${cls.name}”.`);
  }

  async function remove(row) {
    const { cls, childCount } = row;
    const nested = childCount ? ` Its ${plural(childCount, "subclass moves", "subclasses move")} up a level.` : "";
    if (!window.confirm(`Delete the class “${cls.name}”? This cannot be undone.${nested}`)) return;
    clearErrors(cls.id);
    try {
      await api(urls.cls(cls.id), { method: "DELETE" });
      drafts.delete(cls.id);
      showMessage(pageMessage, `Deleted “${cls.name}”.`, "ok");
      onChanged();
    } catch (error) {
      const inUse = error instanceof ApiError && error.status === 409;
      const mergeButton = inUse
        ? h("button", { type: "button", class: "btn-small", dataset: { focus: "merge" }, onclick: () => onMergeRequest(cls.id) },
          `Merge “${cls.name}” into another class…`)
        : null;
      showRowError(cls.id, errorMessage(error), mergeButton);
    }
  }

  async function move(cls, delta) {
    if (moving) return;
    const order = moveAmongSiblings(classes, cls.id, delta);
    if (!order) {
      announce(`“${cls.name}” is already the ${delta < 0 ? "first" : "last"} of its siblings.`);
      return;
    }
    moving = true;
    try {
      const updated = await api(urls.reorder, { method: "POST", body: { order } });
      render(updated);
      const placed = flattenTree(updated).find((row) => row.cls.id === cls.id);
      announce(`Moved “${cls.name}” ${delta < 0 ? "up" : "down"}: ${placed.index + 1} of ${placed.siblings}.`);
      onChanged({ classes: updated });
    } catch (error) {
      showMessage(pageMessage, `Could not reorder the classes: ${errorMessage(error)}`, "error");
    } finally {
      moving = false;
    }
  }

  async function saveExamples(cls, examples, verb) {
    clearErrors(cls.id);
    try {
      await api(urls.cls(cls.id), { method: "PATCH", body: { examples } });
      showMessage(pageMessage, `${verb} “${cls.name}”.`, "ok");
      onChanged();
    } catch (error) {
      showErrors(cls, error);
    }
  }

  async function uploadExample(cls, input) {
    const file = input.files[0];
    if (!file) return;
    clearErrors(cls.id);
    announce(`Uploading ${file.name}…`);
    try {
      const stored = await postFile(urls.images, file);
      await saveExamples(cls, [...(cls.examples || []), stored.url], "Added an example image to");
    } catch (error) {
      input.value = "";
      showDetailError(cls.id, "examples", errorMessage(error));
    }
  }

  function setCollapsed(id, value) {
    if (value) collapsed.add(id);
    else collapsed.delete(id);
    render(classes);
    const cls = classes.find((candidate) => candidate.id === id);
    announce(`${value ? "Collapsed" : "Expanded"} “${cls.name}”.`);
  }

  function setDetailsOpen(id, open) {
    const part = parts.get(id);
    if (open) openDetails.add(id);
    else openDetails.delete(id);
    if (!part) return;
    part.details.hidden = part.row.hidden || !open;
    part.detailsButton.setAttribute("aria-expanded", String(open));
  }

  function toggleDetails(id) {
    setDetailsOpen(id, !openDetails.has(id));
  }

  function focusRow(from, step) {
    const rows = [...body.querySelectorAll("tr.class-row:not([hidden])")];
    const index = step === "first" ? 0 : step === "last" ? rows.length - 1 : rows.indexOf(from) + step;
    rows[index]?.focus();
  }

  function onRowKey(event, row) {
    const { cls, childCount, parentId } = row;
    if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      move(cls, event.key === "ArrowUp" ? -1 : 1);
      return;
    }
    if (event.target !== event.currentTarget) {
      if (event.key === "Enter" && event.target.matches("input[name=name], input[name=hotkey]")) {
        event.preventDefault();
        save(cls);
      }
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const handled = {
      ArrowDown: () => focusRow(event.currentTarget, 1),
      ArrowUp: () => focusRow(event.currentTarget, -1),
      Home: () => focusRow(event.currentTarget, "first"),
      End: () => focusRow(event.currentTarget, "last"),
      ArrowRight: () => {
        if (childCount && collapsed.has(cls.id)) setCollapsed(cls.id, false);
        else if (childCount) focusRow(event.currentTarget, 1);
      },
      ArrowLeft: () => {
        if (childCount && !collapsed.has(cls.id)) setCollapsed(cls.id, true);
        else if (parentId !== null) parts.get(parentId)?.row.focus();
      },
      Enter: () => toggleDetails(cls.id),
    }[event.key];
    if (handled) {
      event.preventDefault();
      handled();
    }
  }

  return {
    render,
    collapseAll() {
      for (const row of flattenTree(classes)) if (row.childCount) collapsed.add(row.cls.id);
      render(classes);
    },
    expandAll() {
      collapsed.clear();
      render(classes);
    },
    /** Forget a class that is gone (merged), with its unsaved edits. */
    forget(id) {
      drafts.delete(id);
      collapsed.delete(id);
      openDetails.delete(id);
    },
  };
}
