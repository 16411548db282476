// The ontology's audit log as table rows: who, when, what, which class, and a one-line
// summary of before → after. The server sends the rows newest first.

import { h } from "./dom.js";

export const ACTION_LABELS = {
  create: "Created",
  update: "Changed",
  merge: "Merged",
  delete: "Deleted",
  reorder: "Reordered",
  import: "Imported",
  fork: "Forked",
};

const CLASS_FIELDS = ["name", "colour", "hotkey", "parent", "shapes", "attributes", "description", "examples", "order"];
const MOVE_LABELS = [
  ["annotations", "answer", "answers"],
  ["regions", "region", "regions"],
  ["items", "labeled item", "labeled items"],
  ["gold_items", "gold item", "gold items"],
  ["children", "subclass", "subclasses"],
];

const quoted = (value) => `“${value}”`;
const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

/** "2 answers, 1 labeled item…" from a merge's counts. */
export function describeMoves(moves) {
  return MOVE_LABELS.map(([key, one, many]) => plural(moves?.[key] || 0, one, many)).join(", ");
}

function fieldValue(field, value) {
  if (field === "shapes") return value && value.length ? value.join(", ") : "every shape";
  if (field === "attributes") return value && value.length ? value.map((attribute) => attribute.key).join(", ") : "none";
  if (field === "examples") return plural((value || []).length, "example", "examples");
  if (field === "parent") return value ? value : "top level";
  if (value === "" || value === null || value === undefined) return "—";
  return field === "name" ? quoted(value) : String(value);
}

function fieldChanges(before, after, fields) {
  return fields
    .filter((field) => !same(before?.[field], after?.[field]))
    .map((field) => {
      if (field === "description") return "description edited";
      return `${field}: ${fieldValue(field, before?.[field])} → ${fieldValue(field, after?.[field])}`;
    });
}

/** Positions in `after` of the keys that moved: all but a longest run kept in their old order. */
function movedPositions(before, after) {
  const oldIndex = new Map(before.map((key, index) => [key, index]));
  const sequence = after.map((key) => oldIndex.get(key) ?? -1);
  const tails = [];
  const tailAt = [];
  const previous = [];
  sequence.forEach((value, index) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (tails[middle] < value) low = middle + 1;
      else high = middle;
    }
    tails[low] = value;
    tailAt[low] = index;
    previous[index] = low ? tailAt[low - 1] : -1;
  });
  const kept = new Set();
  for (let index = tails.length ? tailAt[tails.length - 1] : -1; index >= 0; index = previous[index]) kept.add(index);
  return after.map((_, index) => index).filter((index) => !kept.has(index));
}

/** "bird before animal; fish, trout at the end": each block of moved classes and where it landed. */
export function describeReorder(before, after) {
  const moved = movedPositions(before, after);
  if (!moved.length) return "order unchanged";
  const blocks = [];
  for (const index of moved) {
    const last = blocks[blocks.length - 1];
    if (last && last[last.length - 1] === index - 1) last.push(index);
    else blocks.push([index]);
  }
  const shown = blocks.slice(0, 4).map((block) => {
    const keys = block.map((index) => after[index]).join(", ");
    const next = after[block[block.length - 1] + 1];
    return next === undefined ? `${keys} at the end` : `${keys} before ${next}`;
  });
  const more = blocks.length > 4 ? `; ${blocks.length - 4} more moves` : "";
  return `moved ${shown.join("; ")}${more}`;
}

/** One line saying what the change did. */
export function summariseChange(change, { projectId } = {}) {
  const { before, after } = change;
  switch (change.action) {
    case "create":
      return `Created ${quoted(after?.name ?? change.class_key)}${after?.parent ? ` under ${after.parent}` : ""}${after?.hotkey ? `, hotkey ${after.hotkey}` : ""}`;
    case "update":
      if (!change.class_key) {
        const lines = fieldChanges(before, after, ["name", "description"]).map((line) => `ontology ${line}`);
        return lines.join("; ") || "no change";
      }
      return fieldChanges(before, after, CLASS_FIELDS).join("; ") || "no change";
    case "delete":
      return `Deleted ${quoted(before?.name ?? change.class_key)}`;
    case "merge":
      return `${quoted(before?.name ?? change.class_key)} merged into ${after?.into ?? "?"}: moved ${describeMoves(after?.moved)}`;
    case "reorder":
      return describeReorder(before || [], after || []);
    case "import": {
      const list = (keys) => (keys && keys.length ? ` (${keys.join(", ")})` : "");
      return `created ${(after?.created || []).length}${list(after?.created)}, updated ${(after?.updated || []).length}${list(after?.updated)}, kept ${(after?.kept || []).length}${list(after?.kept)}`;
    }
    case "fork":
      return `Copied from ontology #${after?.from ?? "?"} for ${after?.project === projectId ? "this project" : `project #${after?.project ?? "?"}`}`;
    default:
      return "";
  }
}

export function changeRows(changes, options = {}) {
  if (!changes.length) return [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No changes yet."))];
  return changes.map((change) => {
    const when = new Date(change.created_at);
    return h(
      "tr",
      { class: "change-row", dataset: { action: change.action, classKey: change.class_key || "" } },
      h("td", { class: "when" }, h("time", { datetime: change.created_at, title: when.toLocaleString() }, when.toLocaleString(undefined, {
        month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      }))),
      h("td", {}, change.actor || "—"),
      h("td", {}, ACTION_LABELS[change.action] || change.action),
      h("td", { class: "mono" }, change.class_key || "—"),
      h("td", { class: "change-summary" }, summariseChange(change, options)),
    );
  });
}
