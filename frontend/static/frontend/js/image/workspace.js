// The image workspace, keyboard first: boxes (detection), boxes, polygons and brushed
// masks (segmentation), or a class for the whole picture (image classification).
//
// One canvas draws the picture and every shape (editor.js); the tasks come and go as in
// the text workspace (queue.js): the next picture is claimed and decoded before it is
// needed, a submit shows the next item at once while the answer is saved, and the
// work on an item is kept as a draft in localStorage until the server has it.

import { errorMessage, projectApi, uuid4, api } from "../api.js";
import { $, $$, formatNumber, h, pageConfig, showMessage } from "../dom.js";
import { JobIndicator } from "../jobs.js";
import { connectProject } from "../ws.js";
import { clearDraft, loadDraft, pruneDrafts, saveDraft } from "./drafts.js";
import { RegionEditor } from "./editor.js";
import { FrameStrip } from "./frames.js";
import { TaskQueue } from "./queue.js";
import { bounds } from "./shapes.js";
import { describeSuggestions, suggestionShapes } from "./suggestions.js";
import { assignShortcuts } from "../hotkeys.js";
import { liveUpdates, rerankNotice } from "../live.js";
import { questionsPanel, showReturned } from "../returned.js";
import { guidePanel } from "../guide_panel.js";

const { projectId, role } = pageConfig();
const MY_ID = Number($("#workspace").dataset.userId);
const urls = projectApi(projectId);
const KIND = $("#workspace").dataset.kind;
const REGIONS = KIND === "detection" || KIND === "segmentation";
const KINDS = new Set(KIND === "segmentation" ? ["box", "polygon", "mask"] : KIND === "detection" ? ["box"] : []);
// Letters taken by commands; a class hotkey on one of them is not used (its button is).
const RESERVED = REGIONS
  ? new Set(["a", "b", "c", "e", "h", "p", "r", "s", "u", "z", "y", "?", "+", "-", "=", "0", "[", "]"])
  : new Set(["s", "u", "z", "?", "+", "-", "=", "0"]);
const DRAFT_DELAY_MS = 400;
const SUBMITTED_KEPT = 20;

const el = {
  workspace: $("#workspace"),
  body: $("#iws-body"),
  card: $("#item-card"),
  meta: $("#item-meta"),
  hint: $("#hint"),
  empty: $("#empty"),
  palette: $("#class-palette"),
  message: $("#message"),
  notice: $("#rerank-notice"),
  stageNote: $("#stage-note"),
  shapeCount: $("#shape-count"),
  selection: $("#selection-info"),
  suggestionPanel: $("#suggestion-panel"),
  suggestionText: $("#suggestion-text"),
  brushSize: $("#brush-size"),
  brushValue: $("#brush-size-value"),
  zoom: $("#zoom-level"),
  help: $("#help"),
  status: $("#status"),
  returned: $("#returned-banner"),
};

const state = {
  classes: [], // [{key, name, colour, shortcut}]
  task: null,
  clientId: null,
  shownAt: 0,
  loadToken: 0,
  selectedClass: -1, // image classification: the class Enter submits
  draftTimer: null,
  draftDirty: false,
  submitted: new Map(), // item -> regions just submitted, to show again after a take-back
  images: new Map(), // url -> Promise<HTMLImageElement>
};

const jobs = new JobIndicator($("#job-indicator"), { bar: $("#job-bar"), compact: true });
const frames = new FrameStrip($("#frame-strip"), projectId);
const questions = questionsPanel({
  details: $("#questions"), panel: $("#questions-panel"), count: $("#questions-count"), message: el.message, projectId, role,
});
// "?" is this page's shortcut help, so the guide takes Shift+G (Shift+letter keys are
// commands here, like Shift+A; the class keys are the plain letters).
const guide = guidePanel({ panel: $("#guide-panel"), toggleButton: $("#guide-toggle"), projectId, role, keyLabel: "Shift+G" });
let editor = null;

// ---- messages ---------------------------------------------------------------------------

let statusTimer = null;
function status(text) {
  el.status.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    if (el.status.textContent === text) el.status.textContent = "";
  }, 6000);
}

function message(text, kind = "error") {
  showMessage(el.message, text, kind);
}

function currentMessage() {
  return el.message.hidden ? "" : el.message.textContent;
}

// ---- pictures -----------------------------------------------------------------------------

/** The decoded picture at url; pictures of the next tasks are fetched ahead. */
function picture(url) {
  let promise = state.images.get(url);
  if (!promise) {
    promise = new Promise((resolve, reject) => {
      const image = new Image();
      image.decoding = "async";
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("The picture could not be loaded."));
      image.src = url;
    });
    state.images.set(url, promise);
    promise.catch(() => state.images.delete(url));
    if (state.images.size > 8) state.images.delete(state.images.keys().next().value);
  }
  return promise;
}

// ---- the queue's view -------------------------------------------------------------------

const showRerankNotice = rerankNotice(el.notice);

const queue = new TaskQueue(urls, {
  display,
  empty: showEmpty,
  progress: updateProgress,
  rerankNotice: showRerankNotice,
  message,
  currentMessage,
  status,
  upcoming(tasks) {
    for (const task of tasks) if (task.image) picture(task.image.url).catch(() => {});
  },
});

function display(task, { returning = false } = {}) {
  flushDraft();
  state.task = task;
  state.loadToken += 1;
  const token = state.loadToken;
  el.empty.hidden = true;
  el.body.hidden = false;
  el.workspace.dataset.readyItem = "";
  if (!task) {
    el.card.classList.add("loading");
    el.card.dataset.itemId = "";
    el.card.dataset.assignmentId = "";
    el.meta.replaceChildren("Loading the next item…");
    el.hint.hidden = true;
    showReturned(el.returned, null);
    questions.show(null);
    el.stageNote.textContent = "Loading the next item…";
    el.stageNote.hidden = false;
    editor.clear();
    frames.show(null);
    updateSidebar();
    return;
  }
  state.clientId = uuid4();
  state.shownAt = performance.now();
  state.draftDirty = false;
  el.card.classList.remove("loading");
  el.card.dataset.itemId = String(task.item);
  el.card.dataset.assignmentId = String(task.id);
  el.card.dataset.split = task.split;
  el.meta.replaceChildren(...describePosition(task));
  showReturned(el.returned, task);
  questions.show(task.item);
  $("#copy-previous").hidden = !(REGIONS && task.image && task.image.video !== null && task.image.video !== undefined);
  if (!task.image) {
    editor.clear();
    el.stageNote.textContent = "This item has no picture (a text item in an image project?). Skip it with S.";
    el.stageNote.hidden = false;
    return;
  }
  el.stageNote.textContent = "Loading the picture…";
  el.stageNote.hidden = false;
  picture(task.image.url).then(
    (image) => {
      if (token !== state.loadToken) return;
      showPicture(task, image, returning);
      el.stageNote.hidden = true;
      el.workspace.dataset.readyItem = String(task.item);
    },
    (error) => {
      if (token !== state.loadToken) return;
      el.stageNote.textContent = `${error.message} Skip it with S, or reload the page.`;
    },
  );
  frames.show(task);
}

function showPicture(task, image, returning) {
  const width = task.image.width || image.naturalWidth;
  const height = task.image.height || image.naturalHeight;
  if (!REGIONS) {
    editor.load(image, width, height, []);
    renderHint();
    return;
  }
  editor.load(image, width, height, []);
  const draft = loadDraft(projectId, task.item);
  let shapes;
  if (draft) {
    shapes = editor.shapesFromRegions(draft.regions, (region) => ({ pending: Boolean(region.pending) }));
    status(`Draft restored: ${shapes.length} shape${shapes.length === 1 ? "" : "s"} from your unsubmitted work.`);
  } else if (returning && state.submitted.has(task.item)) {
    shapes = editor.shapesFromRegions(state.submitted.get(task.item));
  } else if (task.returned && task.returned.answer && Array.isArray(task.returned.answer.regions)) {
    // A reviewer sent the answer back: the annotator fixes the shapes they drew.
    shapes = editor.shapesFromRegions(task.returned.answer.regions);
  } else {
    const known = new Set(state.classes.map((cls) => cls.key));
    shapes = suggestionShapes(task, width, height, known, (key) => editor.colourOf(key), KINDS);
  }
  editor.store.reset(shapes);
  editor.redraw();
  el.card.dataset.draft = draft ? "restored" : "";
  updateSidebar();
}

function describePosition(task) {
  const parts = [h("span", { class: "mono small" }, `Item ${task.item}`)];
  if (task.split === "eval") parts.push(h("span", { class: "badge badge-reviewer" }, "Evaluation item"));
  if (task.image) parts.push(h("span", {}, `${task.image.width}×${task.image.height}`));
  if (task.rank === null || task.rank === undefined) {
    if (task.split !== "eval") parts.push(h("span", { id: "queue-position" }, "Random pick"));
  } else {
    const text = task.model_version ? `#${task.rank} of model v${task.model_version}'s batch` : `#${task.rank} of round ${task.model_version}`;
    parts.push(h("span", { id: "queue-position" }, text));
  }
  return parts;
}

function showEmpty() {
  el.body.hidden = true;
  el.card.dataset.itemId = "";
  el.empty.hidden = false;
  editor.clear();
}

function updateProgress(progress) {
  $("#progress-labeled").textContent = formatNumber(progress.labeled);
  $("#progress-total").textContent = formatNumber(progress.total);
  $("#progress-mine").textContent = formatNumber(progress.mine);
  $("#progress-queue").textContent = formatNumber(progress.queue);
}


// ---- drafts -------------------------------------------------------------------------------

function scheduleDraft() {
  state.draftDirty = true;
  clearTimeout(state.draftTimer);
  state.draftTimer = setTimeout(flushDraft, DRAFT_DELAY_MS);
}

function flushDraft() {
  clearTimeout(state.draftTimer);
  if (!REGIONS || !state.draftDirty || !state.task || !editor.width) return;
  state.draftDirty = false;
  if (!saveDraft(projectId, state.task.item, { regions: editor.draftRegions() })) {
    status("The draft could not be kept in this browser (storage full or private mode).");
  }
}

// ---- actions ------------------------------------------------------------------------------

function submitRegions() {
  const task = state.task;
  if (!task || el.workspace.dataset.readyItem !== String(task.item)) return;
  if (editor.drawingPolygon) {
    status("Finish the polygon first (Enter or click its first vertex), or drop it with Esc.");
    return;
  }
  flushDraft();
  const regions = editor.regions();
  const left = editor.pendingCount;
  queue.submit(
    { item: task.item, regions, duration_ms: Math.round(performance.now() - state.shownAt) },
    {
      clientId: state.clientId,
      describe: `item ${task.item}`,
      onSaved: (annotation, saved) => {
        clearDraft(projectId, saved.item);
        state.submitted.set(saved.item, regions);
        if (state.submitted.size > SUBMITTED_KEPT) state.submitted.delete(state.submitted.keys().next().value);
        const note = left ? ` (${left} suggestion${left === 1 ? "" : "s"} not accepted were left out)` : "";
        status(`Saved ${regions.length} shape${regions.length === 1 ? "" : "s"} for item ${saved.item}${note}.`);
      },
    },
  );
}

function submitClass(key) {
  const task = state.task;
  if (!task || el.workspace.dataset.readyItem !== String(task.item)) return;
  flashClass(key);
  queue.submit(
    { item: task.item, label: key, duration_ms: Math.round(performance.now() - state.shownAt) },
    { clientId: state.clientId, describe: `item ${task.item}` },
  );
}

function skip() {
  if (state.task && state.task.returned) {
    status("A reviewer sent this item back to you: fix your answer and submit it (it cannot be skipped).");
    return;
  }
  if (state.task) {
    clearDraft(projectId, state.task.item);
    state.draftDirty = false;
  }
  queue.skip();
}

async function copyPreviousFrame() {
  const task = state.task;
  if (!task || !task.image || task.image.video === null || task.image.video === undefined) {
    status("C copies the previous frame's shapes, on video frames only.");
    return;
  }
  try {
    const frame = await frames.previousRegions(task);
    if (state.task !== task) return;
    if (!frame) {
      status("No earlier frame of this video has shapes yet.");
      return;
    }
    const regions = frame.regions.map((region) => ({ ...region, from_model: false, model_confidence: null }));
    const count = editor.addShapes(editor.shapesFromRegions(regions), "Copy previous frame");
    status(`Copied ${count} shape${count === 1 ? "" : "s"} from frame ${frame.frame_index}.`);
  } catch (error) {
    message(`Could not copy the previous frame: ${errorMessage(error)}`);
  }
}

// ---- the side panel -------------------------------------------------------------------------

function setupClasses(classes) {
  const assigned = assignShortcuts(classes, RESERVED);
  state.classes = assigned.classes;
  const clashes = assigned.clashes;
  el.palette.replaceChildren(
    ...state.classes.map((cls) =>
      h(
        "button",
        {
          type: "button",
          class: REGIONS ? "class-row" : "class-button",
          style: { "--class-colour": cls.colour },
          dataset: { key: cls.key },
          title: cls.shortcut ? `${cls.name} (${cls.shortcut.toUpperCase()})` : cls.name,
          onclick: () => (REGIONS ? chooseClass(cls.key) : submitClass(cls.key)),
        },
        REGIONS ? h("span", { class: "swatch", style: { background: cls.colour } }) : null,
        cls.shortcut ? h("kbd", {}, cls.shortcut.toUpperCase()) : null,
        h("span", { class: "class-name" }, cls.name),
        REGIONS ? h("span", { class: "class-count", dataset: { countFor: cls.key } }, "") : null,
      ),
    ),
    ...clashes.map((cls) =>
      h("div", { class: "small message-warn" }, `${cls.name}'s hotkey ${cls.hotkey} is taken by a command; click its row.`),
    ),
  );
  renderHelp();
}

function chooseClass(key) {
  const result = editor.setLabel(key);
  const name = editor.nameOf(key);
  if (result === "current") status(`New shapes: ${name}.`);
  updateSidebar();
}

function updateSidebar() {
  if (!editor) return;
  if (REGIONS) {
    const counts = new Map();
    let accepted = 0;
    for (const shape of editor.store.list) {
      if (shape.pending) continue;
      accepted += 1;
      counts.set(shape.label, (counts.get(shape.label) || 0) + 1);
    }
    for (const row of $$(".class-row", el.palette)) {
      const key = row.dataset.key;
      row.classList.toggle("current", key === editor.currentLabel);
      row.setAttribute("aria-pressed", String(key === editor.currentLabel));
      row.querySelector(".class-count").textContent = counts.get(key) ? String(counts.get(key)) : "";
    }
    el.shapeCount.textContent = accepted ? `${formatNumber(accepted)} shape${accepted === 1 ? "" : "s"}` : "No shapes yet.";
    el.shapeCount.dataset.count = String(accepted);
    const pending = editor.pendingCount;
    el.suggestionPanel.hidden = !state.task || (!state.task.suggestions && !pending);
    if (state.task) el.suggestionText.textContent = describeSuggestions(state.task, pending);
    $("#accept-all").disabled = !pending;
    describeSelection(editor.selected);
    $("#edit-undo").disabled = !editor.history.canUndo;
    $("#edit-redo").disabled = !editor.history.canRedo;
    for (const button of $$("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === editor.toolName));
    }
    el.brushSize.value = String(editor.brushRadius);
    el.brushValue.textContent = String(editor.brushRadius);
  }
}

function describeSelection(shape) {
  if (!shape) {
    el.selection.textContent = `New shapes: ${editor.nameOf(editor.currentLabel)}. Click a shape to select it.`;
    el.selection.dataset.kind = "";
    return;
  }
  const b = bounds(shape);
  const size = b ? ` · ${Math.round(b.w)}×${Math.round(b.h)} px` : "";
  let kind = "Mask";
  if (shape.kind === "box") kind = "Box";
  else if (shape.kind === "polygon") kind = `Polygon (${shape.rings.reduce((n, ring) => n + ring.length / 2, 0)} vertices)`;
  const confidence = typeof shape.confidence === "number" ? ` · model ${Math.round(shape.confidence * 100)}%` : "";
  const prefix = shape.pending ? "Suggestion (A accepts): " : "";
  el.selection.textContent = `${prefix}${kind} · ${editor.nameOf(shape.label)}${size}${confidence}`;
  el.selection.dataset.kind = shape.kind;
}

function renderHint() {
  const task = state.task;
  if (REGIONS || !task) {
    el.hint.hidden = true;
    return;
  }
  el.hint.hidden = false;
  if (task.hint) {
    const confidence = task.hint.confidence === null ? "" : ` (${Math.round(task.hint.confidence * 100)}% sure)`;
    el.hint.className = "hint";
    el.hint.textContent = `Model suggests: ${task.hint.name}${confidence}. Press Enter to accept.`;
    selectClass(preselected(task, state.classes.findIndex((cls) => cls.key === task.hint.label)));
  } else {
    el.hint.className = "hint none";
    el.hint.textContent = task.split === "eval" ? "No hint on evaluation items." : "No model suggestion for this image.";
    selectClass(preselected(task, -1));
  }
}

/** A task sent back keeps the annotator's previous class chosen, so Enter resubmits it. */
function preselected(task, otherwise) {
  const previous = task && task.returned && task.returned.answer ? task.returned.answer.label : null;
  const index = previous ? state.classes.findIndex((cls) => cls.key === previous) : -1;
  return index >= 0 ? index : otherwise;
}

function selectClass(index) {
  state.selectedClass = index;
  $$(".class-button", el.palette).forEach((button, i) => {
    button.classList.toggle("selected", i === index);
    button.setAttribute("aria-pressed", String(i === index));
  });
}

function flashClass(key) {
  const button = el.palette.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!button) return;
  button.classList.add("flash");
  setTimeout(() => button.classList.remove("flash"), 180);
}

function updateZoom() {
  if (editor && editor.width) el.zoom.textContent = `${Math.round(editor.view.scale * 100)}%`;
}

// ---- help ---------------------------------------------------------------------------------

function shortcuts() {
  const classKeys = state.classes.filter((cls) => cls.shortcut).map((cls) => cls.shortcut.toUpperCase()).join(" ");
  const common = [
    ["+ / − / 0", "zoom in, out, fit (or the mouse wheel)"],
    ["Space+drag, middle drag", "pan"],
    ["S", "skip this image"],
    ["/", "ask a question about this image"],
    ["Shift+G", "show or hide the labeling guide"],
    ["?", "this help"],
  ];
  if (!REGIONS) {
    return [
      [classKeys || "1…9", "label the image with that class and go on"],
      ["← / →, Enter", "choose a class, submit it"],
      ["U, Z or Ctrl+Z", "take back your last answer"],
      ...common,
    ];
  }
  const rows = [
    [classKeys || "1…9", "class of the selected shape, or of the next new shapes"],
    ["R", "box tool: drag to draw, click to select, drag to move, handles resize (Shift+drag draws over shapes)"],
  ];
  if (KINDS.has("polygon")) {
    rows.push(
      ["P", "polygon tool: click vertices; Enter or a click on the first vertex closes"],
      ["Backspace (drawing)", "take back the last vertex; Esc drops the polygon"],
      ["drag vertex / click edge", "move a vertex / insert one (selected polygon)"],
      ["Alt+click or right-click vertex", "delete that vertex"],
    );
  }
  if (KINDS.has("mask")) rows.push(["B / E", "brush / eraser on the selected mask (a new mask if none)"], ["[ / ]", "brush size"]);
  rows.push(
    ["Tab / Shift+Tab", "select the next / previous shape"],
    ["Delete, Backspace", "delete the selected shape (or dismiss a suggestion)"],
    ["Arrows (Shift: ×10)", "nudge the selected shape"],
    ["Esc", "stop drawing, or clear the selection"],
    ["A / Shift+A", "accept the selected suggestion / all suggestions"],
    ["Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y", "undo / redo an edit"],
    ["H", "hide or show all shapes"],
    ["C", "copy the previous frame's shapes (video frames)"],
    ["Enter", "submit the shapes and go on"],
    ["U", "take back your last submitted answer"],
    ...common,
  );
  return rows;
}

function renderHelp() {
  $("#help-table").replaceChildren(
    ...shortcuts().map(([keys, what]) => h("tr", {}, h("th", {}, keys), h("td", {}, what))),
  );
}

function toggleHelp(show = el.help.hidden) {
  el.help.hidden = !show;
  if (show) $("#help-close").focus();
  else $("#image-canvas").focus();
}

// ---- keyboard -----------------------------------------------------------------------------

function onKeyDown(event) {
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (!el.help.hidden) {
    if (event.key === "Escape" || event.key === "?") {
      event.preventDefault();
      toggleHelp(false);
    }
    return;
  }
  const key = event.key;
  const lower = key.toLowerCase();
  if (event.ctrlKey || event.metaKey) {
    if (!REGIONS && lower === "z" && !event.shiftKey) {
      event.preventDefault();
      if (!event.repeat) queue.takeBack();
    } else if (REGIONS && (lower === "z" || lower === "y")) {
      event.preventDefault();
      if (lower === "y" || event.shiftKey) editor.redo();
      else editor.undo();
      updateSidebar();
    }
    return;
  }
  if (key === " ") {
    event.preventDefault();
    editor.setSpace(true);
    return;
  }
  if (key === "Tab") {
    // Tab cycles the shapes from the canvas; from a button it moves the focus as usual.
    const focus = document.activeElement;
    if (!REGIONS || (focus && focus !== document.body && focus.id !== "image-canvas")) return;
    event.preventDefault();
  }
  if (key === "Enter") event.preventDefault(); // not a click on a focused button
  if (key === "G" && event.shiftKey && !event.altKey) {
    event.preventDefault();
    if (!event.repeat) guide.toggle();
    return;
  }
  if (REGIONS && editor.tool.key(event)) {
    event.preventDefault();
    updateSidebar();
    return;
  }
  if (key === "/") {
    event.preventDefault();
    questions.open();
    return;
  }
  if (handleCommon(event, key)) return;
  if (REGIONS) handleRegionKey(event, key, lower);
  else handleClassKey(event, key, lower);
}

function handleCommon(event, key) {
  switch (key) {
    case "?":
      toggleHelp(true);
      return true;
    case "+":
    case "=":
      editor.view.zoomAt(1.25);
      return true;
    case "-":
    case "_":
      editor.view.zoomAt(0.8);
      return true;
    case "0":
      editor.view.fit();
      return true;
    default:
      return false;
  }
}

function classFor(lower) {
  return RESERVED.has(lower) ? null : state.classes.find((cls) => cls.shortcut === lower) || null;
}

function handleClassKey(event, key, lower) {
  if (event.repeat || event.altKey) return;
  const cls = classFor(lower);
  if (cls) {
    submitClass(cls.key);
    return;
  }
  const count = state.classes.length;
  if (key === "Enter") {
    if (state.selectedClass >= 0) submitClass(state.classes[state.selectedClass].key);
    else if (state.task) status("Choose a class first: its number key, or ←/→ then Enter.");
  } else if (key === "ArrowRight" || key === "ArrowDown") {
    event.preventDefault();
    if (count) selectClass((state.selectedClass + 1) % count);
  } else if (key === "ArrowLeft" || key === "ArrowUp") {
    event.preventDefault();
    if (count) selectClass((state.selectedClass - 1 + count) % count);
  } else if (lower === "s") skip();
  else if (lower === "u" || lower === "z") queue.takeBack();
}

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

function handleRegionKey(event, key, lower) {
  if (ARROWS[key]) {
    event.preventDefault();
    const step = event.shiftKey ? 10 : 1;
    editor.nudge(ARROWS[key][0] * step, ARROWS[key][1] * step);
    return;
  }
  if (event.altKey) return;
  switch (key) {
    case "Enter":
      if (!event.repeat) submitRegions();
      return;
    case "Escape":
      editor.escape();
      updateSidebar();
      return;
    case "Delete":
    case "Backspace":
      event.preventDefault();
      if (!editor.deleteSelected()) status("Select a shape to delete it (click it, or Tab).");
      return;
    case "Tab":
      editor.cycle(event.shiftKey ? -1 : 1);
      return;
    case "[":
      setBrush(editor.brushRadius / 1.25);
      return;
    case "]":
      setBrush(Math.max(editor.brushRadius + 1, editor.brushRadius * 1.25));
      return;
    case "A":
      acceptAll();
      return;
    default:
      break;
  }
  if (event.repeat) return;
  const cls = classFor(lower);
  if (cls) {
    chooseClass(cls.key);
    return;
  }
  switch (lower) {
    case "r":
      chooseTool("box");
      break;
    case "p":
      chooseTool("polygon");
      break;
    case "b":
      chooseTool("brush");
      break;
    case "e":
      chooseTool("eraser");
      break;
    case "h":
      toggleHidden();
      break;
    case "a":
      if (!editor.acceptSelected()) status(editor.pendingCount ? "Select a suggestion first (click it, or Tab); Shift+A accepts all." : "No suggestions to accept.");
      break;
    case "c":
      copyPreviousFrame();
      break;
    case "s":
      skip();
      break;
    case "u":
      queue.takeBack();
      break;
    default:
      break;
  }
}

function onKeyUp(event) {
  if (event.key === " " && editor) editor.setSpace(false);
}

function chooseTool(name) {
  if (!editor.tools[name]) {
    status(`This project has no ${name} tool.`);
    return;
  }
  editor.setTool(name);
  updateSidebar();
}

function setBrush(radius) {
  if (!editor.tools.brush) return;
  editor.setBrush(radius);
  updateSidebar();
}

function toggleHidden() {
  const hidden = editor.toggleHidden();
  const button = $("#hide-button");
  button.setAttribute("aria-pressed", String(hidden));
  button.firstChild.textContent = hidden ? "Show " : "Hide ";
  status(hidden ? "Shapes hidden (H shows them)." : "Shapes shown.");
}

function acceptAll() {
  const count = editor.acceptAll();
  status(count ? `Accepted ${count} suggestion${count === 1 ? "" : "s"}.` : "No suggestions to accept.");
}

// ---- live updates -------------------------------------------------------------------------

const { progressChangedElsewhere, loadJob } = liveUpdates({
  urls, jobs, lastProgressAt: () => queue.lastProgressAt, updateProgress,
});

function onEvent(event) {
  jobs.handle(event);
  if (event.type === "batch.ready") queue.rerank(event);
  else if (event.type === "progress.changed") progressChangedElsewhere();
  else if (event.type === "task.returned" && event.annotator === MY_ID) {
    status("A reviewer sent one of your answers back; it comes next.");
    queue.reopen(event.item);
  } else if (event.type === "comment.added") questions.changed(event.item);
  else if (event.type === "guide.changed") guide.changed(event.version);
}

function onSocketStatus(socketStatus, info) {
  if (socketStatus === "open") {
    // Clear the reconnecting notice only if nothing newer (an error the user must see) replaced it.
    if (el.message.dataset.socket && el.message.textContent === el.message.dataset.socket) {
      delete el.message.dataset.socket;
      showMessage(el.message, "");
    }
    if (info.reconnected) {
      loadJob();
      queue.rerank(null); // a new batch may have been missed while disconnected
      guide.changed(); // an edit may have been missed while disconnected
    }
  } else if (socketStatus === "denied") {
    message("Live updates were refused: your session may have ended. Reload the page.");
  } else if (el.message.hidden) {
    message("Live updates interrupted; reconnecting… (labeling still works)", "warn");
    el.message.dataset.socket = el.message.textContent;
  }
}

// ---- start --------------------------------------------------------------------------------

function wireButtons() {
  for (const node of $$("[data-regions-only]")) node.hidden = !REGIONS;
  for (const node of $$("[data-needs]")) node.hidden = !KINDS.has(node.dataset.needs);
  for (const button of $$("[data-tool]")) button.addEventListener("click", () => chooseTool(button.dataset.tool));
  el.brushSize.addEventListener("input", () => setBrush(Number(el.brushSize.value)));
  $("#zoom-in").addEventListener("click", () => handleCommon(null, "+"));
  $("#zoom-out").addEventListener("click", () => handleCommon(null, "-"));
  $("#zoom-fit").addEventListener("click", () => handleCommon(null, "0"));
  $("#hide-button").addEventListener("click", toggleHidden);
  $("#edit-undo").addEventListener("click", () => {
    editor.undo();
    updateSidebar();
  });
  $("#edit-redo").addEventListener("click", () => {
    editor.redo();
    updateSidebar();
  });
  $("#copy-previous").addEventListener("click", copyPreviousFrame);
  $("#accept-all").addEventListener("click", acceptAll);
  $("#submit-button").addEventListener("click", submitRegions);
  $("#skip-button").addEventListener("click", skip);
  $("#undo-button").addEventListener("click", () => queue.takeBack());
  $("#check-again").addEventListener("click", () => queue.topUp());
  $("#help-button").addEventListener("click", () => toggleHelp(true));
  $("#help-close").addEventListener("click", () => toggleHelp(false));
  el.help.addEventListener("click", (event) => {
    if (event.target === el.help) toggleHelp(false);
  });
  el.message.addEventListener("click", () => showMessage(el.message, ""));
  window.addEventListener("pagehide", flushDraft);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") flushDraft();
  });
}

async function start() {
  pruneDrafts();
  wireButtons();
  let project;
  try {
    project = await api(urls.project);
  } catch (error) {
    message(`Could not load the project: ${errorMessage(error)}`);
    return;
  }
  editor = new RegionEditor($("#image-canvas"), {
    kinds: KINDS,
    classes: project.classes,
    onChange: () => {
      scheduleDraft();
      updateSidebar();
    },
    onSelect: () => updateSidebar(),
    onZoom: updateZoom,
    status,
  });
  setupClasses(project.classes);
  updateSidebar();
  document.addEventListener("keydown", onKeyDown);
  document.addEventListener("keyup", onKeyUp);
  window.addEventListener("blur", () => editor.setSpace(false));
  // For the browser tests and for measuring: the editor, and a synchronous redraw.
  window.labelerImageWorkspace = { editor, redrawNow: () => editor.view.redrawNow(), flushDraft };
  connectProject(projectId, { onEvent, onStatus: onSocketStatus });
  queue.topUp();
  loadJob();
  $("#image-canvas").focus();
}

start();
