// The labeling workspace: one item at a time, keyboard first.
//
// The page holds the current task and the next one (claimed with want: 2), so the next
// item appears at once on submit while the answer is saved and the queue topped up in
// the background. All writes go through one serial chain, in the order the user made
// them; a write that fails on the network is retried with the same client_id, which the
// server stores once.

import { api, errorMessage, isTransient, projectApi, sleep, uuid4 } from "./api.js";
import { JobIndicator } from "./jobs.js";
import { $, formatNumber, h, pageConfig, showMessage } from "./dom.js";
import { connectProject } from "./ws.js";
import { assignShortcuts } from "./hotkeys.js";
import { liveUpdates, rerankNotice } from "./live.js";
import { questionsPanel, showReturned } from "./returned.js";
import { guidePanel } from "./guide_panel.js";

const { projectId, role } = pageConfig();
const MY_ID = Number($("#workspace").dataset.userId);
const urls = projectApi(projectId);
const RESERVED = new Set(["s", "z", "h", "?"]);
const HINT_STORAGE = "labeler.showHint";

const el = {
  card: $("#item-card"),
  meta: $("#item-meta"),
  text: $("#item-text"),
  hint: $("#hint"),
  empty: $("#empty"),
  buttons: $("#class-buttons"),
  legend: $("#shortcut-legend"),
  message: $("#message"),
  notice: $("#rerank-notice"),
  labeled: $("#progress-labeled"),
  total: $("#progress-total"),
  mine: $("#progress-mine"),
  queue: $("#progress-queue"),
  hintButton: $("#hint-button"),
  returned: $("#returned-banner"),
};

const state = {
  classes: [], // [{key, name, colour, shortcut}] in class order
  current: null, // the task on screen
  clientId: null, // made once per display of the current task
  shownAt: 0,
  upcoming: [], // claimed, not shown yet
  finished: new Set(), // assignment ids answered or skipped on this page
  returnedItems: new Set(), // items a reviewer sent back while this page was open
  selected: -1, // index into classes, for Enter
  hintOn: readHintSetting(),
  lastProgressAt: 0,
};

const jobs = new JobIndicator($("#job-indicator"), { bar: $("#job-bar"), compact: true });
const questions = questionsPanel({
  details: $("#questions"), panel: $("#questions-panel"), count: $("#questions-count"), message: el.message, projectId, role,
});
const guide = guidePanel({ panel: $("#guide-panel"), toggleButton: $("#guide-toggle"), projectId, role, keyLabel: "?" });

// ---- the serial chain of server calls -------------------------------------------------

let chain = Promise.resolve();
function enqueue(operation) {
  const run = chain.then(operation);
  chain = run.catch(() => {});
  return run;
}

let retrying = false;
async function withRetry(call, what, { acceptAfterRetry = () => false } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await call();
      if (retrying) {
        // Clear the retry warning only, not an error reported meanwhile.
        if (!el.message.hidden && el.message.textContent === retrying) showMessage(el.message, "");
        retrying = false;
      }
      return result;
    } catch (error) {
      if (attempt > 0 && acceptAfterRetry(error)) return null;
      if (!isTransient(error)) throw error;
      const delay = Math.min(10000, 500 * 2 ** attempt);
      retrying = `${what}: ${errorMessage(error)} Retrying in ${Math.ceil(delay / 1000)} s…`;
      showMessage(el.message, retrying, "warn");
      await sleep(delay);
    }
  }
}

function reportError(error, prefix = "") {
  const text = errorMessage(error);
  showMessage(el.message, prefix ? `${prefix}: ${text}` : text, "error");
}

let statusTimer = null;
function status(text) {
  const line = $("#status");
  line.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    if (line.textContent === text) line.textContent = "";
  }, 5000);
}

// ---- claiming ---------------------------------------------------------------------------

let topUpWaiting = false;
function topUp() {
  if (topUpWaiting) return;
  topUpWaiting = true;
  enqueue(async () => {
    topUpWaiting = false;
    const result = await withRetry(() => api(urls.claim, { method: "POST", body: { want: 2 } }), "Loading items");
    applyClaim(result);
  }).catch((error) => {
    topUpWaiting = false;
    reportError(error, "Could not load items");
  });
}

/** Take the server's open tasks: keep the one on screen, the rest become the queue. */
function applyClaim(result) {
  updateProgress(result.progress);
  let tasks = result.tasks.filter((task) => !state.finished.has(task.id) || reopened(task));
  if (state.current) {
    tasks = tasks.filter((task) => task.id !== state.current.id);
  } else if (tasks.length) {
    display(tasks.shift());
  }
  state.upcoming = tasks;
  if (!state.current) showEmpty();
}

/** The model made a new batch (event), or one may have been missed while the live channel
 * was down (no event): swap the queue behind the current item, never the item itself. */
function rerank(event) {
  enqueue(async () => {
    const keep = state.current ? [state.current.id] : [];
    const body = { want: 2, release_except: keep };
    const result = await withRetry(() => api(urls.claim, { method: "POST", body }), "Loading the new queue");
    applyClaim(result);
    if (event) showRerankNotice(event);
  }).catch((error) => reportError(error, "Could not load the re-ranked queue"));
}

const showRerankNotice = rerankNotice(el.notice);

// ---- actions ----------------------------------------------------------------------------

function submit(key) {
  const task = state.current;
  if (!task) return;
  const payload = {
    item: task.item,
    label: key,
    client_id: state.clientId,
    duration_ms: Math.round(performance.now() - state.shownAt),
  };
  state.finished.add(task.id);
  flashButton(key);
  advance();
  enqueue(() => withRetry(() => api(urls.annotations, { method: "POST", body: payload }), "Saving your answer")).catch(
    (error) => {
      state.finished.delete(task.id);
      reportError(error, `Your answer for “${snippet(task.text)}” was not saved`);
    },
  );
  topUp();
}

function skip() {
  const task = state.current;
  if (!task) return;
  if (task.returned) {
    status("A reviewer sent this item back to you: fix your answer and submit it (it cannot be skipped).");
    return;
  }
  state.finished.add(task.id);
  advance();
  enqueue(() =>
    withRetry(() => api(urls.skip(task.id), { method: "POST" }), "Skipping", {
      acceptAfterRetry: (error) => error.status === 403,
    }),
  ).then(
    () => status(`Skipped “${snippet(task.text)}”.`),
    (error) => {
      state.finished.delete(task.id);
      reportError(error, "Could not skip");
    },
  );
  topUp();
}

function undo() {
  enqueue(async () => {
    // Not retried: undo is not idempotent, a lost answer to a landed undo would undo twice.
    const task = await api(urls.undo, { method: "POST" });
    state.finished.delete(task.id);
    state.upcoming = [state.current, ...state.upcoming].filter((other) => other && other.id !== task.id);
    display(task);
    status("Undone: your last answer was taken back. Label the item again.");
  }).catch((error) => reportError(error, "Nothing undone"));
  topUp();
}

function advance() {
  display(state.upcoming.shift() || null);
}

function toggleHint() {
  state.hintOn = !state.hintOn;
  try {
    localStorage.setItem(HINT_STORAGE, state.hintOn ? "1" : "0");
  } catch {
    // private mode: the setting lasts for this page only
  }
  renderHint();
}

function readHintSetting() {
  try {
    return localStorage.getItem(HINT_STORAGE) === "1";
  } catch {
    return false;
  }
}

// ---- rendering --------------------------------------------------------------------------

function display(task) {
  state.current = task;
  el.empty.hidden = true;
  el.card.hidden = false;
  if (!task) {
    el.card.classList.add("loading");
    el.card.dataset.itemId = "";
    el.card.dataset.assignmentId = "";
    el.meta.replaceChildren();
    el.text.textContent = "Loading the next item…";
    el.hint.hidden = true;
    showReturned(el.returned, null);
    questions.show(null);
    select(-1);
    return;
  }
  state.clientId = uuid4();
  state.shownAt = performance.now();
  el.card.classList.remove("loading");
  el.card.dataset.itemId = String(task.item);
  el.card.dataset.assignmentId = String(task.id);
  el.card.dataset.split = task.split;
  el.meta.replaceChildren(...describePosition(task));
  el.text.textContent = task.text;
  showReturned(el.returned, task);
  questions.show(task.item);
  renderHint();
}

function describePosition(task) {
  if (task.split === "eval") {
    return [h("span", { class: "badge badge-reviewer" }, "Evaluation item"), "Your answer measures the model; no hint is shown."];
  }
  if (task.rank === null || task.rank === undefined) {
    return [h("span", { id: "queue-position" }, "Random pick (not from the model's batch)")];
  }
  const text = task.hint
    ? `Item ${task.rank} of the batch from model v${task.model_version}`
    : `Item ${task.rank} of round ${task.model_version}'s batch (random: no model yet)`;
  return [h("span", { id: "queue-position" }, text)];
}

function renderHint() {
  el.hintButton.setAttribute("aria-pressed", String(state.hintOn));
  const task = state.current;
  if (!state.hintOn || !task) {
    el.hint.hidden = true;
    select(preselected(task, -1));
    return;
  }
  el.hint.hidden = false;
  if (task.hint) {
    const confidence = task.hint.confidence === null ? "" : ` (${Math.round(task.hint.confidence * 100)}% sure)`;
    el.hint.className = "hint";
    el.hint.textContent = `Model suggests: ${task.hint.name}${confidence}. Press Enter to accept.`;
    select(preselected(task, state.classes.findIndex((cls) => cls.key === task.hint.label)));
  } else {
    el.hint.className = "hint none";
    el.hint.textContent = task.split === "eval" ? "No hint on evaluation items." : "No model suggestion for this item.";
    select(preselected(task, -1));
  }
}

/** A task sent back keeps the annotator's previous answer chosen, so Enter resubmits it. */
function preselected(task, otherwise) {
  const previous = task && task.returned && task.returned.answer ? task.returned.answer.label : null;
  const index = previous ? state.classes.findIndex((cls) => cls.key === previous) : -1;
  return index >= 0 ? index : otherwise;
}

function showEmpty() {
  el.card.hidden = true;
  el.card.dataset.itemId = "";
  el.empty.hidden = false;
}

function select(index) {
  state.selected = index;
  el.buttons.querySelectorAll(".class-button").forEach((button, i) => {
    button.classList.toggle("selected", i === index);
    button.setAttribute("aria-pressed", String(i === index));
  });
}

function flashButton(key) {
  const button = el.buttons.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!button) return;
  button.classList.add("flash");
  setTimeout(() => button.classList.remove("flash"), 180);
}

function updateProgress(progress) {
  if (!progress) return;
  state.lastProgressAt = Date.now();
  el.labeled.textContent = formatNumber(progress.labeled);
  el.total.textContent = formatNumber(progress.total);
  el.mine.textContent = formatNumber(progress.mine);
  el.queue.textContent = formatNumber(progress.queue);
}

function setupClasses(classes) {
  const assigned = assignShortcuts(classes, RESERVED);
  state.classes = assigned.classes;
  const reservedClashes = assigned.clashes;
  el.buttons.replaceChildren(
    ...state.classes.map((cls) =>
      h(
        "button",
        {
          type: "button",
          class: "class-button",
          style: { "--class-colour": cls.colour },
          dataset: { key: cls.key },
          title: cls.shortcut ? `${cls.name} (${cls.shortcut.toUpperCase()})` : cls.name,
          onclick: () => submit(cls.key),
        },
        cls.shortcut ? h("kbd", {}, cls.shortcut.toUpperCase()) : null,
        cls.name,
      ),
    ),
  );
  const keys = (...names) => names.map((name) => h("kbd", {}, name));
  el.legend.replaceChildren(
    ...state.classes.filter((cls) => cls.shortcut).map((cls) => h("span", {}, keys(cls.shortcut.toUpperCase()), " ", cls.name)),
    h("span", {}, keys("←", "→"), " choose, ", keys("Enter"), " submit choice"),
    h("span", {}, keys("S"), " skip"),
    h("span", {}, keys("Z"), " or ", keys("Ctrl+Z"), " undo"),
    h("span", {}, keys("H"), " model hint"),
    h("span", {}, keys("/"), " ask a question"),
    h("span", {}, keys("?"), " labeling guide"),
    ...reservedClashes.map((cls) =>
      h("span", { class: "message-warn" }, `${cls.name}'s hotkey ${cls.hotkey} is taken by a command; use its button.`),
    ),
  );
  renderHint();
}

// ---- keyboard ---------------------------------------------------------------------------

function onKeyDown(event) {
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  const key = event.key.toLowerCase();
  if ((event.ctrlKey || event.metaKey) && key === "z" && !event.shiftKey) {
    event.preventDefault();
    if (!event.repeat) undo();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Enter" || event.key === " ") {
    // Keep focused buttons from also being clicked by the key.
    event.preventDefault();
  }
  if (event.repeat) return;
  if (event.key === "/") {
    event.preventDefault();
    questions.open();
    return;
  }
  if (event.key === "?") {
    event.preventDefault();
    guide.toggle();
    return;
  }
  const cls = state.classes.find((candidate) => candidate.shortcut === key);
  if (cls && !RESERVED.has(key)) {
    event.preventDefault();
    submit(cls.key);
    return;
  }
  const count = state.classes.length;
  switch (event.key) {
    case "Enter":
      if (state.selected >= 0) submit(state.classes[state.selected].key);
      else if (state.current) status("Choose a class first: its number key, or ←/→ then Enter.");
      break;
    case "ArrowRight":
    case "ArrowDown":
      event.preventDefault();
      if (count) select((state.selected + 1) % count);
      break;
    case "ArrowLeft":
    case "ArrowUp":
      event.preventDefault();
      if (count) select((state.selected - 1 + count) % count);
      break;
    default:
      if (key === "s") skip();
      else if (key === "z") undo();
      else if (key === "h") toggleHint();
  }
}

// ---- live updates -----------------------------------------------------------------------

const { progressChangedElsewhere, loadJob } = liveUpdates({
  urls, jobs, lastProgressAt: () => state.lastProgressAt, updateProgress,
});

function onEvent(event) {
  jobs.handle(event);
  if (event.type === "batch.ready") rerank(event);
  else if (event.type === "progress.changed") progressChangedElsewhere();
  else if (event.type === "task.returned" && event.annotator === MY_ID) taskReturned(event);
  else if (event.type === "comment.added") questions.changed(event.item);
  else if (event.type === "guide.changed") guide.changed(event.version);
}

/** A reviewer sent one of this annotator's answers back: it comes next, even if answered here. */
function taskReturned(event) {
  state.returnedItems.add(event.item);
  status("A reviewer sent one of your answers back; it comes next.");
  topUp();
}

function reopened(task) {
  if (!task.returned || !state.returnedItems.has(task.item)) return false;
  state.returnedItems.delete(task.item);
  state.finished.delete(task.id);
  return true;
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
      rerank(null); // a new batch may have been missed while disconnected
      guide.changed(); // an edit may have been missed while disconnected
    }
  } else if (socketStatus === "denied") {
    showMessage(el.message, "Live updates were refused: your session may have ended. Reload the page.", "error");
  } else if (el.message.hidden) {
    showMessage(el.message, "Live updates interrupted; reconnecting… (labeling still works)", "warn");
    el.message.dataset.socket = el.message.textContent;
  }
}

// ---- start ------------------------------------------------------------------------------

function start() {
  document.addEventListener("keydown", onKeyDown);
  $("#skip-button").addEventListener("click", skip);
  $("#undo-button").addEventListener("click", undo);
  el.hintButton.addEventListener("click", toggleHint);
  $("#check-again").addEventListener("click", topUp);
  el.message.addEventListener("click", () => showMessage(el.message, ""));
  document.querySelector(".ws-actions").append(h("span", { id: "status", class: "small muted", role: "status" }));

  connectProject(projectId, { onEvent, onStatus: onSocketStatus });
  api(urls.project)
    .then((project) => setupClasses(project.classes))
    .catch((error) => reportError(error, "Could not load the classes"));
  topUp();
  loadJob();
}

function snippet(text) {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

start();
