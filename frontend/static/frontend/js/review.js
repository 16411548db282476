// The review page, keyboard first: the queue on the left (J/K), the selected item on the
// right with every answer side by side; approve (A), reject with a reason (R), correct (C)
// the focused answer, decide a tie (D). Below, the item's history and its comment threads.
// Every refusal from the API is shown on the page; the queue follows "review.changed".

import { api, errorMessage } from "./api.js";
import { CommentsPanel } from "./comments.js";
import { $, $$, debounce, formatNumber, formatScore, formatTime, h, pageConfig, showMessage } from "./dom.js";
import { assignShortcuts } from "./hotkeys.js";
import { Viewport } from "./image/canvas.js";
import { bounds, fromRegion } from "./image/shapes.js";
import { connectProject } from "./ws.js";

const { projectId } = pageConfig();
const root = $("#review");
const MY_ID = Number(root.dataset.userId);
const KIND = root.dataset.kind;
const REGIONS = KIND === "detection" || KIND === "segmentation";
const REASONS = ["all", "pending", "consensus", "questions"];
const QUEUE_LIMIT = 200;
// One colour per annotator on the image, in answer order; far apart from each other.
const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324"];
const UNDECIDED = new Set(["tie", "below_quorum"]);
const REVIEW_STATUS = { none: "Not reviewed", pending: "Awaiting review", approved: "Approved", rejected: "Sent back" };
const CONSENSUS_STATUS = {
  agreed: "Agreed",
  tie: "Tie: a reviewer decides",
  below_quorum: "Below the quorum: a reviewer decides",
  reviewed: "Decided by a reviewer",
};
const CONSENSUS_METHOD = {
  single: "one answer",
  majority: "majority vote",
  region_vote: "regions matched by overlap, kept by majority",
  reviewer: "a reviewer's decision",
};
const POLICIES = {
  none: "no review policy: only ties and short quorums come here",
  all: "every submission is reviewed",
  random: "a random share of submissions is reviewed",
  low_agreement: "items below the agreement threshold are reviewed",
  disagreements: "items the model contradicts are reviewed",
  low_quality: "submissions of annotators under their thresholds are reviewed",
};
const ACTIONS = {
  submitted: "submitted an answer",
  resubmitted: "fixed and resubmitted",
  approved: "approved",
  rejected: "sent back",
  corrected: "corrected and approved",
  decided: "decided the item",
  commented: "commented",
  resolved: "resolved a question",
  disagreement: "settled a model disagreement",
  gold: "set the gold answer",
};

const base = `/api/projects/${projectId}/`;
const urls = {
  project: base,
  queue: (reason) => `${base}review/queue/?reason=${encodeURIComponent(reason)}&limit=${QUEUE_LIMIT}`,
  item: (id) => `${base}review/items/${id}/`,
  answer: (id, action) => `${base}annotations/${id}/${action}/`,
  decide: (id) => `${base}items/${id}/decide/`,
};

const el = {
  message: $("#message"),
  status: $("#status"),
  policy: $("#review-policy"),
  filters: $("#queue-filters"),
  queue: $("#queue-list"),
  queueEmpty: $("#queue-empty"),
  queueLoading: $("#queue-loading"),
  detailBox: $("#review-detail"),
  detailEmpty: $("#detail-empty"),
  detail: $("#detail"),
  meta: $("#item-meta"),
  text: $("#review-text"),
  image: $("#review-image"),
  layers: $("#layer-toggles"),
  canvas: $("#review-canvas"),
  stageNote: $("#review-stage-note"),
  consensus: $("#consensus"),
  decide: $("#decide-panel"),
  decideClasses: $("#decide-classes"),
  decideConfirm: $("#decide-confirm"),
  decideCancel: $("#decide-cancel"),
  answers: $("#answers"),
  history: $("#history"),
};

const state = {
  classes: [], // [{key, name, colour, shortcut}]
  reason: "all",
  queue: [],
  counts: null,
  itemId: null,
  detail: null, // {item, answers, consensus, history, comments}
  focusId: null, // the focused answer's id
  mode: null, // {kind: "reject" | "correct" | "shapes" | "decide", answerId, picked}
  hidden: new Set(), // answer ids whose shapes are not drawn
  busy: false,
  stale: false, // the item changed while a form was open
};

const comments = new CommentsPanel($("#comments"), {
  projectId,
  username: document.body.dataset.username || "",
  canResolveAll: true,
  onError: (text) => showMessage(el.message, text, "error"),
  prompt: "Comment or answer on this item",
  sendLabel: "Post",
});

// ---- messages ---------------------------------------------------------------------------

function report(error, prefix) {
  showMessage(el.message, `${prefix}: ${errorMessage(error)}`, "error");
}

let statusTimer = null;
function status(text) {
  el.status.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => {
    if (el.status.textContent === text) el.status.textContent = "";
  }, 6000);
}

function clearError() {
  if (el.message.dataset.kind === "error") showMessage(el.message, "");
}

// ---- classes ------------------------------------------------------------------------------

function classOf(key) {
  return state.classes.find((cls) => cls.key === key) || null;
}

function className(key) {
  if (key === null || key === undefined) return "no class";
  const cls = classOf(key);
  return cls ? cls.name : key;
}

function classChip(key) {
  const cls = classOf(key);
  return h("span", { class: "class-chip", style: { "--class-colour": cls ? cls.colour : "#8d97a8" }, dataset: { key: key || "" } }, className(key));
}

// ---- the queue ----------------------------------------------------------------------------

let queueToken = 0;
async function loadQueue() {
  const token = ++queueToken;
  try {
    const data = await api(urls.queue(state.reason));
    if (token !== queueToken) return;
    state.queue = data.items;
    state.counts = data.counts;
    renderQueue();
  } catch (error) {
    if (token === queueToken) report(error, "Could not load the review queue");
  } finally {
    if (token === queueToken) el.queueLoading.hidden = true;
  }
}

const refreshQueueSoon = debounce(loadQueue, 300);

function renderQueue() {
  const counts = state.counts || {};
  $("#count-all").textContent = state.reason === "all" ? queueCount() : "";
  $("#count-pending").textContent = formatNumber(counts.pending ?? 0);
  $("#count-undecided").textContent = formatNumber(counts.undecided ?? 0);
  $("#count-questions").textContent = formatNumber(counts.questions ?? 0);
  for (const button of $$("[data-reason]", el.filters)) {
    button.setAttribute("aria-pressed", String(button.dataset.reason === state.reason));
  }
  el.queue.dataset.count = String(state.queue.length);
  el.queueEmpty.hidden = state.queue.length > 0;
  el.queue.replaceChildren(...state.queue.map((item) => renderQueueEntry(item)));
  el.queue.querySelector("[aria-current]")?.scrollIntoView({ block: "nearest" });
  if (state.detail) renderMeta(state.detail.item);
}

function queueCount() {
  const count = state.queue.length;
  return count >= QUEUE_LIMIT ? `${formatNumber(count)}+` : formatNumber(count);
}

function renderQueueEntry(item) {
  const pending = item.answers.filter((answer) => answer.review_status === "pending").length;
  const consensus = item.consensus && UNDECIDED.has(item.consensus.status) ? item.consensus.status : "";
  const current = item.id === state.itemId;
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: "queue-entry",
        "aria-current": current ? "true" : null,
        dataset: { itemId: String(item.id) },
        onclick: () => openItem(item.id),
      },
      h("span", { class: "mono small" }, `#${item.id}`),
      h("span", { class: "queue-snippet" }, item.image ? `Image ${item.image.width}×${item.image.height}` : snippet(item.text, 90)),
      h(
        "span",
        { class: "queue-badges" },
        pending ? h("span", { class: "badge badge-pending" }, `${pending} pending`) : null,
        consensus ? h("span", { class: "badge badge-undecided" }, consensus === "tie" ? "tie" : "below quorum") : null,
      ),
    ),
  );
}

function setReason(reason) {
  if (!REASONS.includes(reason) || reason === state.reason) return;
  state.reason = reason;
  el.queueLoading.hidden = false;
  rememberInUrl();
  loadQueue();
}

function cycleReason() {
  setReason(REASONS[(REASONS.indexOf(state.reason) + 1) % REASONS.length]);
}

/** J/K: the next or previous item of the queue; from an item that left the queue, its neighbour by id. */
function moveInQueue(step) {
  const ids = state.queue.map((item) => item.id);
  if (!ids.length) {
    status("Nothing waits for review here.");
    return;
  }
  let index = ids.indexOf(state.itemId);
  if (index >= 0) index += step;
  else if (state.itemId === null) index = step > 0 ? 0 : ids.length - 1;
  else if (step > 0) index = ids.findIndex((id) => id > state.itemId);
  else index = ids.findLastIndex((id) => id < state.itemId);
  if (index < 0 || index >= ids.length) {
    status(step > 0 ? "That was the last item of the queue." : "That was the first item of the queue.");
    return;
  }
  openItem(ids[index]);
}

// ---- one item -----------------------------------------------------------------------------

let itemToken = 0;
async function openItem(itemId) {
  if (state.mode) endMode();
  const changed = itemId !== state.itemId;
  state.itemId = itemId;
  if (changed) {
    state.focusId = null;
    state.hidden.clear();
  }
  rememberInUrl();
  renderQueue();
  await loadItem({ focus: true });
}

async function loadItem({ focus = false } = {}) {
  const itemId = state.itemId;
  if (itemId === null) return;
  const token = ++itemToken;
  try {
    const detail = await api(urls.item(itemId));
    if (token !== itemToken) return;
    if (state.mode) {
      // A form opened while this was loading: drawing the item again would wipe what is
      // being typed in it. Closing the form loads the item again (endMode).
      state.stale = true;
      return;
    }
    state.detail = detail;
    state.stale = false;
    renderDetail({ focus });
  } catch (error) {
    if (token === itemToken) report(error, `Could not load item ${itemId}`);
  }
}

/** A live change to the item on screen: reload now, or once the open form is closed. */
function itemChangedElsewhere() {
  if (state.mode || state.busy) state.stale = true;
  else loadItem();
}
const itemChangedSoon = debounce(itemChangedElsewhere, 250);

function renderDetail({ focus = false } = {}) {
  const { item, answers } = state.detail;
  el.detailEmpty.hidden = true;
  el.detail.hidden = false;
  el.detailBox.dataset.itemId = String(item.id);
  el.detailBox.dataset.itemStatus = item.status;
  if (!answers.some((answer) => answer.id === state.focusId)) state.focusId = firstToReview(answers);
  renderMeta(item);
  if (item.image) {
    el.text.hidden = true;
    showImage(item, answers);
  } else {
    el.image.hidden = true;
    el.text.hidden = false;
    el.text.textContent = item.text;
  }
  renderConsensus();
  renderDecide();
  renderAnswers();
  renderHistory();
  comments.setThreads(item.id, state.detail.comments);
  if (focus || document.activeElement === document.body || !document.activeElement) focusAnswer(state.focusId);
}

function firstToReview(answers) {
  const open = answers.find((answer) => answer.review_status === "pending" && reviewable(answer));
  const any = open || answers.find(reviewable) || answers[0];
  return any ? any.id : null;
}

/** Whether this reviewer may decide on the answer (never their own, never an import). */
function reviewable(answer) {
  return answer.annotator_id !== null && answer.annotator_id !== MY_ID;
}

function renderMeta(item) {
  const inQueue = state.queue.some((entry) => entry.id === item.id);
  const parts = [
    h("span", { class: "mono", id: "item-number" }, `Item ${item.id}`),
    h("span", { class: "badge", id: "item-status", dataset: { status: item.status } }, item.status === "labeled" ? "labeled" : "not labeled"),
    item.final_label ? h("span", {}, "Final: ", classChip(item.final_label)) : "",
    item.split === "eval" ? h("span", { class: "badge badge-reviewer" }, "evaluation item") : "",
    item.is_gold ? h("span", { class: "badge badge-admin" }, "gold") : "",
    inQueue ? "" : h("span", { class: "small muted", id: "not-in-queue" }, "Not waiting in this queue."),
  ];
  el.meta.replaceChildren(...parts.filter(Boolean));
}

function renderConsensus() {
  const consensus = state.detail.consensus;
  el.consensus.dataset.status = consensus ? consensus.status : "";
  if (!consensus) {
    el.consensus.replaceChildren(
      h("h2", {}, "Consensus"),
      h("p", { class: "small muted" }, state.detail.answers.length === 1
        ? "No vote: one answer settles this item."
        : "None yet: it forms once the item has all the answers it needs."),
    );
    return;
  }
  const votes = Object.entries(consensus.votes || {}).sort((a, b) => b[1] - a[1]);
  el.consensus.replaceChildren(
    h("h2", {}, "Consensus ", h("span", { class: `badge consensus-badge`, dataset: { status: consensus.status } }, CONSENSUS_STATUS[consensus.status] || consensus.status)),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Result"),
      h("dd", { id: "consensus-label" }, REGIONS ? `${(consensus.regions || []).length} merged shapes` : consensus.label ? classChip(consensus.label) : "none"),
      h("dt", {}, "Votes"),
      h(
        "dd",
        { id: "consensus-votes" },
        votes.length ? votes.map(([key, count], i) => [i ? " · " : "", className(key), " ", h("b", {}, String(count))]) : "—",
      ),
      h("dt", {}, "Agreement"),
      h("dd", { id: "consensus-agreement" }, formatScore(consensus.agreement)),
      h("dt", {}, "Answers"),
      h("dd", {}, formatNumber(consensus.annotators)),
      h("dt", {}, "How"),
      h("dd", {}, CONSENSUS_METHOD[consensus.method] || consensus.method, consensus.decided_by ? ` by ${consensus.decided_by}` : ""),
    ),
  );
}

function undecided() {
  const consensus = state.detail && state.detail.consensus;
  return Boolean(consensus && UNDECIDED.has(consensus.status));
}

function renderDecide() {
  const show = undecided() && !REGIONS;
  el.decide.hidden = !show;
  if (!show) return;
  const deciding = state.mode && state.mode.kind === "decide";
  el.decide.classList.toggle("active", Boolean(deciding));
  el.decideClasses.replaceChildren(...classChoices(deciding ? state.mode.picked : null, (key) => {
    startMode({ kind: "decide", answerId: null, picked: key });
  }));
  el.decideConfirm.disabled = !(deciding && state.mode.picked);
  el.decideCancel.hidden = !deciding;
}

function classChoices(picked, onPick) {
  return state.classes.map((cls) =>
    h(
      "button",
      {
        type: "button",
        class: "class-button class-choice",
        style: { "--class-colour": cls.colour },
        dataset: { key: cls.key },
        "aria-pressed": String(cls.key === picked),
        onclick: () => onPick(cls.key),
      },
      cls.shortcut ? h("kbd", {}, cls.shortcut.toUpperCase()) : null,
      cls.name,
    ),
  );
}

// ---- answers ------------------------------------------------------------------------------

function answerColour(index) {
  return PALETTE[index % PALETTE.length];
}

function renderAnswers() {
  const answers = state.detail.answers;
  el.answers.dataset.count = String(answers.length);
  if (!answers.length) {
    el.answers.replaceChildren(h("p", { class: "muted small" }, "No answers on this item yet."));
    return;
  }
  el.answers.replaceChildren(...answers.map((answer, index) => renderAnswer(answer, index)));
}

function renderAnswer(answer, index) {
  const mine = answer.annotator_id === MY_ID;
  const imported = answer.annotator_id === null;
  const focused = answer.id === state.focusId;
  const mode = state.mode && state.mode.answerId === answer.id ? state.mode : null;
  const card = h(
    "article",
    {
      class: `answer-card${focused ? " focused" : ""}`,
      tabindex: "0",
      "aria-label": `Answer of ${answer.annotator || "an import"}`,
      dataset: { answerId: String(answer.id), annotator: answer.annotator || "", reviewStatus: answer.review_status },
      onfocusin: () => setFocus(answer.id),
    },
    h(
      "header",
      { class: "answer-head" },
      item().image ? h("span", { class: "swatch", style: { background: answerColour(index) } }) : null,
      h("b", { class: "answer-author" }, answer.annotator || "imported"),
      h("span", { class: "badge review-badge", dataset: { status: answer.review_status } }, REVIEW_STATUS[answer.review_status] || answer.review_status),
    ),
    h("div", { class: "answer-body" }, describeAnswer(answer)),
    answer.review_reason
      ? h("p", { class: "answer-reason" }, answer.review_status === "rejected" ? "Sent back" : "Last sent back", answer.reviewed_by ? ` by ${answer.reviewed_by}` : "", ": ", h("q", {}, answer.review_reason))
      : null,
    h(
      "p",
      { class: "small muted answer-facts" },
      answer.reviewed_by && answer.review_status === "approved" ? `Approved by ${answer.reviewed_by}. ` : "",
      `Answered ${formatTime(answer.created_at)}`,
      changedLater(answer) ? `, changed ${formatTime(answer.updated_at)}` : "",
      typeof answer.duration_ms === "number" ? ` in ${(answer.duration_ms / 1000).toFixed(1)} s` : "",
      answer.gold_score !== null && answer.gold_score !== undefined ? ` · gold score ${formatScore(answer.gold_score)}` : "",
    ),
  );
  if (mine || imported) {
    card.append(h("p", { class: "small muted" }, mine ? "Your own answer: another reviewer decides on it." : "An imported answer: not reviewed here."));
  }
  const actions = h("div", { class: "answer-actions" });
  if (!mine && !imported) {
    actions.append(
      h("button", {
        type: "button", class: "btn-small approve-button", title: "Approve (A)",
        disabled: answer.review_status === "approved" || answer.review_status === "rejected",
        onclick: () => approve(answer),
      }, "Approve ", h("kbd", {}, "A")),
      h("button", {
        type: "button", class: "btn-small reject-button", title: "Send back with a reason (R)",
        disabled: answer.review_status === "rejected",
        onclick: () => openReject(answer),
      }, "Reject ", h("kbd", {}, "R")),
    );
    if (!REGIONS) {
      actions.append(h("button", {
        type: "button", class: "btn-small correct-button", title: "Correct the class (C)", onclick: () => openCorrect(answer),
      }, "Correct ", h("kbd", {}, "C")));
    }
  }
  if (REGIONS && answer.regions.length && shapeTargets(answer).length) {
    actions.append(h("button", {
      type: "button", class: "btn-small use-shapes-button", title: "Use these shapes as another answer's correction (C)",
      onclick: () => openCorrect(answer),
    }, "Use these shapes… ", h("kbd", {}, "C")));
  }
  if (actions.childElementCount) card.append(actions);
  if (mode && mode.kind === "reject") card.append(rejectForm(answer));
  if (mode && mode.kind === "correct") card.append(correctPanel(answer));
  if (mode && mode.kind === "shapes") card.append(shapesPanel(answer));
  return card;
}

/** Changed after it was first stored (a fix or a correction), not just saved twice at once. */
function changedLater(answer) {
  return Boolean(answer.updated_at) && Date.parse(answer.updated_at) - Date.parse(answer.created_at) > 2000;
}

function describeAnswer(answer) {
  if (!REGIONS) return answer.label ? classChip(answer.label) : h("span", { class: "muted" }, "no class");
  const counts = new Map();
  for (const region of answer.regions) counts.set(region.label, (counts.get(region.label) || 0) + 1);
  const total = answer.regions.length;
  return h(
    "span",
    { class: "answer-shapes", dataset: { shapes: String(total) } },
    total ? `${total} shape${total === 1 ? "" : "s"}: ` : "No shapes.",
    [...counts].map(([key, count], i) => [i ? ", " : "", `${count} ${className(key)}`]),
  );
}

function item() {
  return state.detail.item;
}

function answerById(id) {
  return state.detail ? state.detail.answers.find((answer) => answer.id === id) || null : null;
}

function setFocus(answerId) {
  if (state.focusId === answerId) return;
  state.focusId = answerId;
  for (const card of $$(".answer-card", el.answers)) {
    card.classList.toggle("focused", Number(card.dataset.answerId) === answerId);
  }
  if (item() && item().image) viewport?.redraw();
}

function focusAnswer(answerId) {
  if (answerId === null) return;
  const card = el.answers.querySelector(`.answer-card[data-answer-id="${answerId}"]`);
  if (card) {
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }
  setFocus(answerId);
}

function moveFocus(step) {
  const answers = state.detail ? state.detail.answers : [];
  if (!answers.length) return;
  const index = answers.findIndex((answer) => answer.id === state.focusId);
  const next = answers[(index + step + answers.length) % answers.length];
  focusAnswer(next.id);
}

function focusedAnswer() {
  return answerById(state.focusId);
}

// ---- modes: the reason box, the class picker, the shapes' target ------------------------------

function startMode(mode) {
  state.mode = mode;
  rerenderForMode();
}

function endMode() {
  const wasAnswer = state.mode && state.mode.answerId;
  state.mode = null;
  if (state.stale) loadItem();
  else if (state.detail) rerenderForMode();
  if (wasAnswer) focusAnswer(wasAnswer);
}

function rerenderForMode() {
  if (!state.detail) return;
  renderAnswers();
  renderDecide();
  const mode = state.mode;
  if (mode && mode.kind === "reject") {
    el.answers.querySelector(`.answer-card[data-answer-id="${mode.answerId}"] .reject-reason`)?.focus();
  }
  if (mode && mode.answerId) {
    const panel = el.answers.querySelector(`.answer-card[data-answer-id="${mode.answerId}"] :is(.reject-form, .correct-panel)`);
    panel?.scrollIntoView({ block: "nearest" });
  }
}

function openReject(answer) {
  if (!answer || !reviewable(answer)) {
    status(answer ? "You cannot review this answer." : "Focus an answer first (← →).");
    return;
  }
  if (answer.review_status === "rejected") {
    status("This answer is already sent back; its annotator is fixing it.");
    return;
  }
  setFocus(answer.id);
  startMode({ kind: "reject", answerId: answer.id, draft: "" });
}

function rejectForm(answer) {
  const reason = h("textarea", {
    class: "reject-reason", rows: "3", "aria-required": "true", "aria-label": "Why is this answer sent back?",
    placeholder: "What should the annotator fix? (Enter sends, Shift+Enter new line, Esc cancels)",
  });
  reason.value = state.mode.draft || "";
  reason.addEventListener("input", () => {
    if (state.mode) state.mode.draft = reason.value;
  });
  const form = h(
    "form",
    {
      class: "reject-form",
      onsubmit: (event) => {
        event.preventDefault();
        reject(answer, reason.value);
      },
    },
    h("label", {}, "Reason for sending it back"),
    reason,
    h("div", { class: "form-actions" },
      h("button", { type: "submit", class: "btn-small btn-primary reject-send" }, "Send back ", h("kbd", {}, "Enter")),
      h("button", { type: "button", class: "btn-small", onclick: endMode }, "Cancel ", h("kbd", {}, "Esc")),
    ),
  );
  reason.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      endMode();
    }
  });
  return form;
}

function openCorrect(answer) {
  if (!answer) {
    status("Focus an answer first (← →).");
    return;
  }
  setFocus(answer.id);
  if (REGIONS) {
    const targets = shapeTargets(answer);
    if (!answer.regions.length || !targets.length) {
      status("Correcting shapes copies one answer's shapes onto another; this item has no other answer to correct.");
      return;
    }
    startMode({ kind: "shapes", answerId: answer.id, picked: targets.length === 1 ? targets[0].id : null });
    return;
  }
  if (!reviewable(answer)) {
    status("You cannot correct this answer.");
    return;
  }
  startMode({ kind: "correct", answerId: answer.id, picked: null });
}

function correctPanel(answer) {
  const picked = state.mode.picked;
  return h(
    "div",
    { class: "correct-panel" },
    h("div", { class: "small" }, `Correct ${answer.annotator}'s answer to (a class key, then Enter):`),
    h("div", { class: "class-choices" }, classChoices(picked, (key) => pick(key))),
    h("div", { class: "form-actions" },
      h("button", {
        type: "button", class: "btn-small btn-primary correct-confirm", disabled: !picked,
        onclick: () => confirmMode(),
      }, picked ? `Correct to ${className(picked)} ` : "Correct ", h("kbd", {}, "Enter")),
      h("button", { type: "button", class: "btn-small", onclick: endMode }, "Cancel ", h("kbd", {}, "Esc")),
    ),
  );
}

/** The answers whose shapes a reviewer may replace with another's. */
function shapeTargets(source) {
  return state.detail.answers.filter((answer) => answer.id !== source.id && reviewable(answer));
}

function shapesPanel(source) {
  const picked = state.mode.picked;
  const targets = shapeTargets(source);
  return h(
    "div",
    { class: "correct-panel shapes-panel" },
    h("div", { class: "small" }, `Use ${source.annotator || "this answer"}'s ${source.regions.length} shapes as the corrected answer of (← → choose, Enter applies):`),
    h(
      "div",
      { class: "target-choices", role: "group" },
      targets.map((target) =>
        h("button", {
          type: "button", class: "btn-small target-choice", dataset: { answerId: String(target.id) },
          "aria-pressed": String(target.id === picked),
          onclick: () => pick(target.id),
        }, target.annotator),
      ),
    ),
    h("div", { class: "form-actions" },
      h("button", {
        type: "button", class: "btn-small btn-primary shapes-confirm", disabled: !picked, onclick: () => confirmMode(),
      }, "Apply ", h("kbd", {}, "Enter")),
      h("button", { type: "button", class: "btn-small", onclick: endMode }, "Cancel ", h("kbd", {}, "Esc")),
    ),
  );
}

function openDecide() {
  if (REGIONS) {
    status("Shape projects settle by region vote: correct one answer's shapes instead (C).");
    return;
  }
  if (!undecided()) {
    status("Only ties and items below the quorum need a decision.");
    return;
  }
  startMode({ kind: "decide", answerId: null, picked: null });
  el.decide.scrollIntoView({ block: "nearest" });
}

function pick(value) {
  if (!state.mode) return;
  state.mode.picked = value;
  rerenderForMode();
}

function confirmMode() {
  const mode = state.mode;
  if (!mode || !mode.picked) {
    status(mode && mode.kind === "shapes" ? "Choose whose answer gets these shapes first." : "Choose a class first: its key, or its button.");
    return;
  }
  if (mode.kind === "correct") correctLabel(answerById(mode.answerId), mode.picked);
  else if (mode.kind === "shapes") correctShapes(answerById(mode.answerId), answerById(mode.picked));
  else if (mode.kind === "decide") decideItem(mode.picked);
}

// ---- decisions ----------------------------------------------------------------------------

/**
 * One POST; on success the item and the queue are reloaded and the focus goes on to the
 * next answer awaiting review; on refusal the server's words are shown.
 */
async function send(url, body, { done, failed, answerId = null }) {
  if (state.busy) return false;
  state.busy = true;
  try {
    await api(url, { method: "POST", body });
    clearError();
    status(done);
    state.mode = null;
    state.busy = false;
    await loadItem();
    loadQueue();
    if (answerId !== null) focusNextPending(answerId);
    return true;
  } catch (error) {
    report(error, failed);
    return false;
  } finally {
    state.busy = false;
  }
}

function focusNextPending(afterId) {
  const answers = state.detail ? state.detail.answers : [];
  const start = answers.findIndex((answer) => answer.id === afterId);
  const ordered = [...answers.slice(start + 1), ...answers.slice(0, start + 1)];
  const next = ordered.find((answer) => answer.review_status === "pending" && reviewable(answer));
  if (next) focusAnswer(next.id);
}

function approve(answer) {
  if (!answer) {
    status("Focus an answer first (← →).");
    return;
  }
  if (!reviewable(answer)) {
    status("You cannot review this answer.");
    return;
  }
  if (answer.review_status === "approved") {
    status(`${answer.annotator}'s answer is approved already.`);
    return;
  }
  send(urls.answer(answer.id, "approve"), undefined, {
    done: `Approved ${answer.annotator}'s answer.`,
    failed: `${answer.annotator}'s answer was not approved`,
    answerId: answer.id,
  });
}

function reject(answer, reason) {
  if (!reason.trim()) {
    showMessage(el.message, "Write why the answer is sent back, so its annotator knows what to fix.", "error");
    el.answers.querySelector(".reject-reason")?.focus();
    return;
  }
  send(urls.answer(answer.id, "reject"), { reason }, {
    done: `Sent ${answer.annotator}'s answer back.`,
    failed: `${answer.annotator}'s answer was not sent back`,
    answerId: answer.id,
  });
}

function correctLabel(answer, key) {
  send(urls.answer(answer.id, "correct"), { label: key }, {
    done: `Corrected ${answer.annotator}'s answer to ${className(key)}.`,
    failed: `${answer.annotator}'s answer was not corrected`,
    answerId: answer.id,
  });
}

function correctShapes(source, target) {
  if (!source || !target) return;
  const regions = source.regions.map(({ label, kind, geometry, from_model, model_confidence }) => ({
    label, kind, geometry, from_model, model_confidence,
  }));
  send(urls.answer(target.id, "correct"), { regions }, {
    done: `${target.annotator}'s answer now has ${source.annotator}'s ${regions.length} shapes.`,
    failed: `${target.annotator}'s answer was not corrected`,
  });
}

function decideItem(key) {
  send(urls.decide(state.itemId), { label: key }, {
    done: `Item ${state.itemId} decided: ${className(key)}.`,
    failed: `Item ${state.itemId} was not decided`,
  });
}

// ---- the image with every answer's shapes -------------------------------------------------

let viewport = null;
let layers = []; // [{answerId, annotator, colour, shapes}]
const pictures = new Map();

function picture(url) {
  if (!pictures.has(url)) {
    const promise = new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error("The picture could not be loaded."));
      image.src = url;
    });
    promise.catch(() => pictures.delete(url));
    pictures.set(url, promise);
    if (pictures.size > 6) pictures.delete(pictures.keys().next().value);
  }
  return pictures.get(url);
}

function showImage(shown, answers) {
  el.image.hidden = false;
  if (!viewport) viewport = new Viewport(el.canvas, { draw: drawLayers });
  const width = shown.image.width;
  const height = shown.image.height;
  layers = REGIONS
    ? answers.map((answer, index) => ({
      answerId: answer.id,
      annotator: answer.annotator || "imported",
      colour: answerColour(index),
      shapes: answer.regions.map((region) => fromRegion(region, width, height, answerColour(index))).filter(Boolean),
    }))
    : [];
  renderLayerToggles();
  const sameImage = viewport.image && el.canvas.dataset.itemId === String(shown.id);
  if (sameImage) {
    viewport.redraw();
    return;
  }
  el.canvas.dataset.itemId = "";
  el.stageNote.textContent = "Loading the picture…";
  el.stageNote.hidden = false;
  picture(shown.image.url).then(
    (image) => {
      if (!state.detail || state.detail.item.id !== shown.id) return;
      el.stageNote.hidden = true;
      el.canvas.dataset.itemId = String(shown.id);
      viewport.setImage(image, width || image.naturalWidth, height || image.naturalHeight);
    },
    (error) => {
      el.stageNote.textContent = error.message;
    },
  );
}

function renderLayerToggles() {
  el.layers.hidden = !layers.length;
  el.layers.replaceChildren(
    ...layers.map((layer) =>
      h(
        "label",
        { class: "check layer-toggle", dataset: { answerId: String(layer.answerId), annotator: layer.annotator } },
        h("input", {
          type: "checkbox",
          checked: !state.hidden.has(layer.answerId),
          onchange: (event) => setLayerShown(layer.answerId, event.target.checked),
        }),
        h("span", { class: "swatch", style: { background: layer.colour } }),
        `${layer.annotator} (${layer.shapes.length})`,
      ),
    ),
  );
}

function setLayerShown(answerId, shown) {
  if (shown) state.hidden.delete(answerId);
  else state.hidden.add(answerId);
  const box = el.layers.querySelector(`[data-answer-id="${answerId}"] input`);
  if (box) box.checked = shown;
  viewport?.redraw();
}

function toggleFocusedLayer() {
  if (!layers.length) {
    status("No shapes to show or hide on this item.");
    return;
  }
  const answerId = state.focusId;
  if (!layers.some((layer) => layer.answerId === answerId)) return;
  setLayerShown(answerId, state.hidden.has(answerId));
}

function traceShape(path, shape) {
  if (shape.kind === "box") {
    const { x, y, w, h: height } = shape.box;
    path.rect(x, y, w, height);
  } else if (shape.kind === "polygon") {
    for (const ring of shape.rings) {
      path.moveTo(ring[0], ring[1]);
      for (let i = 2; i < ring.length; i += 2) path.lineTo(ring[i], ring[i + 1]);
      path.closePath();
    }
  }
}

function drawLayers(ctx, view) {
  let drawn = 0;
  const visible = layers.filter((layer) => !state.hidden.has(layer.answerId));
  view.applyImageTransform();
  const unit = 1 / view.scale;
  for (const layer of visible) {
    const path = new Path2D();
    for (const shape of layer.shapes) {
      if (shape.kind === "mask") {
        ctx.globalAlpha = 0.4;
        ctx.drawImage(shape.mask.canvas, 0, 0);
        ctx.globalAlpha = 1;
      } else traceShape(path, shape);
      drawn += 1;
    }
    ctx.globalAlpha = 0.1;
    ctx.fillStyle = layer.colour;
    ctx.fill(path, "evenodd");
    ctx.globalAlpha = 1;
    ctx.lineWidth = (layer.answerId === state.focusId ? 3 : 2) * unit;
    ctx.strokeStyle = layer.colour;
    ctx.stroke(path);
  }
  view.applyScreenTransform();
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const layer of visible) {
    for (const shape of layer.shapes) {
      const box = bounds(shape);
      if (!box) continue;
      const p = view.toScreen(box.x, box.y);
      const text = `${layer.annotator}: ${className(shape.label)}`;
      const top = p.y >= 16 ? p.y - 16 : p.y;
      ctx.fillStyle = layer.colour;
      ctx.fillRect(p.x, top, ctx.measureText(text).width + 6, 16);
      ctx.fillStyle = "#fff";
      ctx.fillText(text, p.x + 3, top + 14);
    }
  }
  el.canvas.dataset.shapesDrawn = String(drawn);
  el.canvas.dataset.layersShown = visible.map((layer) => layer.annotator).join(",");
}

// ---- history ------------------------------------------------------------------------------

function renderHistory() {
  const events = state.detail.history;
  const answers = new Map(state.detail.answers.map((answer) => [answer.id, answer]));
  el.history.dataset.actions = events.map((event) => event.action).join(",");
  if (!events.length) {
    el.history.replaceChildren(h("li", { class: "muted small" }, "Nothing happened to this item yet."));
    return;
  }
  el.history.replaceChildren(
    ...events.map((event) => {
      const answer = event.annotation ? answers.get(event.annotation) : null;
      const whose = answer && answer.annotator && answer.annotator !== event.actor ? ` ${answer.annotator}'s answer` : "";
      const detail = event.detail || {};
      return h(
        "li",
        { class: "event", dataset: { action: event.action } },
        h("time", { class: "small muted", datetime: event.created_at }, formatTime(event.created_at)),
        h("div", {}, h("b", {}, event.actor || "someone"), " ", ACTIONS[event.action] || event.action, whose),
        detail.reason ? h("div", { class: "small event-reason" }, event.action === "resubmitted" ? "Had been sent back for: " : "Reason: ", h("q", {}, detail.reason)) : null,
        detail.before || detail.after
          ? h("div", { class: "small event-change" }, describeSnapshot(detail.before), " → ", describeSnapshot(detail.after))
          : null,
      );
    }),
  );
}

function describeSnapshot(snapshot) {
  if (!snapshot || !Object.keys(snapshot).length) return "nothing";
  if (Array.isArray(snapshot.regions)) return `${snapshot.regions.length} shape${snapshot.regions.length === 1 ? "" : "s"}`;
  const label = className(snapshot.label);
  return snapshot.status ? `${label} (${CONSENSUS_STATUS[snapshot.status] || snapshot.status})` : label;
}

// ---- keyboard -----------------------------------------------------------------------------

function onKeyDown(event) {
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const key = event.key;
  const lower = key.toLowerCase();
  const mode = state.mode;
  if (mode && mode.kind !== "reject") {
    handlePicking(event, mode, key, lower);
    return;
  }
  if (event.repeat && !["j", "k", "arrowdown", "arrowup"].includes(lower)) return;
  switch (lower) {
    case "j":
    case "arrowdown":
      event.preventDefault();
      moveInQueue(1);
      return;
    case "k":
    case "arrowup":
      event.preventDefault();
      moveInQueue(-1);
      return;
    case "arrowright":
      event.preventDefault();
      moveFocus(1);
      return;
    case "arrowleft":
      event.preventDefault();
      moveFocus(-1);
      return;
    case "a":
      approve(focusedAnswer());
      return;
    case "r":
      event.preventDefault(); // the key must not land in the reason box
      openReject(focusedAnswer());
      return;
    case "c":
      openCorrect(focusedAnswer());
      return;
    case "d":
      openDecide();
      return;
    case "v":
      toggleFocusedLayer();
      return;
    case "f":
      cycleReason();
      return;
    case "/":
      event.preventDefault();
      comments.focus();
      return;
    case "escape":
      if (mode) endMode();
      return;
    default:
  }
}

function handlePicking(event, mode, key, lower) {
  if (key === "Escape") {
    event.preventDefault();
    endMode();
    return;
  }
  if (key === "Enter") {
    event.preventDefault();
    confirmMode();
    return;
  }
  if (mode.kind === "shapes") {
    if (key === "ArrowRight" || key === "ArrowLeft") {
      event.preventDefault();
      const targets = shapeTargets(answerById(mode.answerId));
      const index = targets.findIndex((target) => target.id === mode.picked);
      const step = key === "ArrowRight" ? 1 : -1;
      pick(targets[(index + step + targets.length) % targets.length].id);
    }
    return;
  }
  const cls = state.classes.find((candidate) => candidate.shortcut === lower);
  if (cls) {
    event.preventDefault();
    pick(cls.key);
  } else if (key === "ArrowRight" || key === "ArrowLeft") {
    event.preventDefault();
    const index = state.classes.findIndex((candidate) => candidate.key === mode.picked);
    const step = key === "ArrowRight" ? 1 : -1;
    const count = state.classes.length;
    if (count) pick(state.classes[(index + step + count) % count].key);
  }
}

// ---- the URL, live updates, start -----------------------------------------------------------

function rememberInUrl() {
  const params = new URLSearchParams();
  if (state.itemId !== null) params.set("item", String(state.itemId));
  if (state.reason !== "all") params.set("reason", state.reason);
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function onEvent(event) {
  if (event.type === "review.changed") {
    refreshQueueSoon();
    if (event.item === state.itemId) itemChangedSoon();
  } else if (event.type === "comment.added" && event.item === state.itemId) {
    itemChangedSoon(); // the threads and the history
  } else if (event.type === "task.returned" || event.type === "progress.changed") {
    refreshQueueSoon();
  }
}

function onSocketStatus(socketStatus, info) {
  if (socketStatus === "open") {
    // Clear the reconnecting notice only if nothing newer (an error the user must see) replaced it.
    if (el.message.dataset.socket && el.message.textContent === el.message.dataset.socket) {
      delete el.message.dataset.socket;
      showMessage(el.message, "");
    }
    if (info.reconnected) {
      loadQueue();
      if (state.itemId !== null) itemChangedElsewhere();
    }
  } else if (socketStatus === "denied") {
    showMessage(el.message, "Live updates were refused: your session may have ended. Reload the page.", "error");
  } else if (el.message.hidden) {
    showMessage(el.message, "Live updates interrupted; reconnecting… (reviewing still works)", "warn");
    el.message.dataset.socket = el.message.textContent;
  }
}

async function start() {
  document.addEventListener("keydown", onKeyDown);
  for (const button of $$("[data-reason]", el.filters)) button.addEventListener("click", () => setReason(button.dataset.reason));
  el.decideConfirm.addEventListener("click", confirmMode);
  el.decideCancel.addEventListener("click", endMode);
  el.message.addEventListener("click", () => showMessage(el.message, ""));
  const params = new URLSearchParams(location.search);
  if (REASONS.includes(params.get("reason"))) state.reason = params.get("reason");
  const requested = Number(params.get("item"));
  connectProject(projectId, { onEvent, onStatus: onSocketStatus });
  try {
    const project = await api(urls.project);
    state.classes = assignShortcuts(project.classes, new Set()).classes;
    const policy = (project.review && project.review.policy) || "none";
    el.policy.textContent = `Policy: ${POLICIES[policy] || policy}.`;
    el.policy.dataset.policy = policy;
  } catch (error) {
    report(error, "Could not load the project's classes");
  }
  await loadQueue();
  if (Number.isInteger(requested) && requested > 0) openItem(requested);
  else if (state.queue.length) openItem(state.queue[0].id);
}

function snippet(text, length) {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat;
}

start();
