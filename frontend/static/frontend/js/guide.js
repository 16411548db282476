// The labeling guide page. Every member reads the guide here. Admins edit it: each save is
// a new version, refused when someone else saved since the editor loaded its text; they
// look back through the versions and restore one, and accept or decline the edits the
// other members propose. Annotators and reviewers propose edits and follow their fate.
// The guide's HTML comes from the server, sanitised; every other text goes in as text.

import { ApiError, NetworkError, api, csrfToken, errorMessage } from "./api.js";
import { $, debounce, formatTime, h, pageConfig, showMessage } from "./dom.js";
import { connectProject } from "./ws.js";

const { projectId, role } = pageConfig();
const isAdmin = role === "admin";
const HISTORY_PAGE = 20;
const DIFF_CONTEXT = 3; // unchanged lines kept on each side of a change
// Beyond this many line pairs the changed middle is shown as replaced whole: the table
// of common lines would take too long and too much memory.
const DIFF_MAX_CELLS = 4_000_000;

const base = `/api/projects/${projectId}/guide/`;
const urls = {
  guide: base,
  revisions: (before) => `${base}revisions/?limit=${HISTORY_PAGE}${before ? `&before=${before}` : ""}`,
  revision: (version) => `${base}revisions/${version}/`,
  restore: (version) => `${base}revisions/${version}/restore/`,
  proposals: `${base}proposals/?limit=200`,
  newProposal: `${base}proposals/`,
  proposal: (id) => `${base}proposals/${id}/`,
  accept: (id) => `${base}proposals/${id}/accept/`,
  decline: (id) => `${base}proposals/${id}/decline/`,
  images: `${base}images/`,
};

const el = {
  message: $("#message"),
  meta: $("#guide-meta"),
  html: $("#guide-html"),
  editor: $("#guide-body"),
  editorState: $("#editor-state"),
  note: $("#guide-note"),
  save: $("#guide-save"),
  discard: $("#guide-discard"),
  conflict: $("#conflict"),
  unsavedCopy: $("#unsaved-copy"),
  proposalBody: $("#proposal-body"),
  proposalNote: $("#proposal-note"),
  proposalList: $("#proposal-list"),
  revisionList: $("#revision-list"),
  revisionView: $("#revision-view"),
};

const state = {
  guide: null, // {body, html, version, updated_by, updated_at}
  editorBase: null, // admins: the saved {version, body} the editor's text started from
  proposalBase: "", // others: the guide text the proposal box was filled with
  saving: false,
  changedWhileSaving: false,
  revisions: [],
  moreRevisions: false,
  proposals: [],
  proposalDetails: new Map(), // id -> {body, html}; a proposal's text never changes
  revisionBodies: new Map(), // version -> body, for comparing a decided proposal
  comparing: new Set(), // proposal ids whose comparison is shown
  declining: new Map(), // proposal id -> the reason being written
  busy: new Set(), // proposal ids with an accept or decline under way
};

function say(text, kind = "ok") {
  showMessage(el.message, text, kind);
}

function fail(prefix, error) {
  say(`${prefix}: ${errorMessage(error)}`, "error");
}

// ---- the guide ------------------------------------------------------------------------

async function loadGuide() {
  applyGuide(await api(urls.guide));
}

function applyGuide(guide) {
  const previous = state.guide;
  state.guide = guide;
  document.body.dataset.guideVersion = String(guide.version);
  el.meta.textContent = guide.version
    ? `Version ${guide.version} · last changed by ${guide.updated_by || "a former member"}, ${formatTime(guide.updated_at)}`
    : "No guide yet.";
  renderGuide(guide);
  if (isAdmin) syncEditor(guide);
  else syncProposalBox(guide, previous);
}

function renderGuide(guide) {
  if (!guide.html) {
    const empty = isAdmin
      ? "Nothing saved yet: write the guide in the editor and save it."
      : "This project has no guide yet. You can propose one below.";
    el.html.replaceChildren(h("p", { class: "muted guide-empty" }, empty));
    return;
  }
  // The server's HTML is sanitised (no scripts, no outside pictures): the one HTML this
  // page inserts as such.
  el.html.innerHTML = guide.html;
}

// ---- the editor (admins) ----------------------------------------------------------------

function editorDirty() {
  return Boolean(state.editorBase) && el.editor.value !== state.editorBase.body;
}

function loadIntoEditor(guide) {
  el.editor.value = guide.body;
  state.editorBase = { version: guide.version, body: guide.body };
  el.conflict.hidden = true;
  showEditorState();
}

/** A newer guide: taken into the editor, unless the admin has unsaved changes there. */
function syncEditor(guide) {
  if (!state.editorBase || !editorDirty()) {
    loadIntoEditor(guide);
  } else if (guide.version !== state.editorBase.version) {
    showConflict(
      `The guide changed while you edited it: it is now version ${guide.version}${guide.updated_by ? ` (by ${guide.updated_by})` : ""}, ` +
        `you started from version ${state.editorBase.version}. Saving would be refused; load the current guide, then apply your edit again.`,
    );
  }
  showEditorState();
}

function showEditorState() {
  if (!state.editorBase) return;
  const dirty = editorDirty();
  el.editorState.dataset.dirty = String(dirty);
  el.discard.disabled = !dirty;
  const saved = state.editorBase.version ? `version ${state.editorBase.version}` : "nothing saved yet";
  el.editorState.textContent = dirty
    ? `Unsaved changes (the preview shows the saved ${saved}; save to see them rendered)`
    : `Saved: ${saved}`;
}

function showConflict(text) {
  $("#conflict-text").textContent = text;
  el.conflict.hidden = false;
}

async function save() {
  if (state.saving) return;
  const note = el.note.value.trim();
  if (!editorDirty()) {
    say("Nothing to save: the text is the saved version.", "info");
    return;
  }
  state.saving = true;
  state.changedWhileSaving = false;
  el.save.disabled = true;
  const before = state.guide.version;
  try {
    const body = { body: el.editor.value, note, base_version: state.editorBase.version };
    const guide = await api(urls.guide, { method: "PUT", body });
    loadIntoEditor(guide);
    el.note.value = "";
    el.unsavedCopy.hidden = true;
    applyGuide(guide);
    say(guide.version > before ? `Saved as version ${guide.version}.` : "No change: the text is the saved version.");
    refreshLists();
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      showConflict(errorMessage(error));
      say("", "info");
    } else {
      fail("The guide was not saved", error);
    }
  } finally {
    state.saving = false;
    el.save.disabled = false;
    if (state.changedWhileSaving) onGuideChanged();
  }
}

/** After a conflict: the current guide in the editor, the admin's own text kept to copy from. */
async function reloadAfterConflict() {
  const mine = el.editor.value;
  try {
    const guide = await api(urls.guide);
    $("#unsaved-text").value = mine;
    el.unsavedCopy.hidden = false;
    el.unsavedCopy.open = true;
    loadIntoEditor(guide);
    applyGuide(guide);
    say(`Loaded version ${guide.version}. Your text is kept under “Your text that was not saved”: copy what you need and save again.`, "info");
  } catch (error) {
    fail("Could not load the guide", error);
  }
}

function discardChanges() {
  loadIntoEditor(state.guide);
  el.editor.focus();
}

// ---- pictures -----------------------------------------------------------------------------

/** Multipart upload; the answer holds the Markdown that shows the picture. */
async function uploadImage(file) {
  const form = new FormData();
  form.append("file", file);
  let response;
  try {
    response = await fetch(urls.images, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
  } catch (error) {
    throw new NetworkError(error);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Puts `text` at the cursor, on a line of its own. */
function insertAtCursor(textarea, text) {
  const start = textarea.selectionStart ?? textarea.value.length;
  const end = textarea.selectionEnd ?? start;
  const before = textarea.value.slice(0, start);
  const after = textarea.value.slice(end);
  const lead = before && !before.endsWith("\n") ? "\n" : "";
  const tail = after.startsWith("\n") ? "" : "\n";
  textarea.setRangeText(`${lead}${text}${tail}`, start, end, "end");
  textarea.focus();
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

function wireImageUpload(textarea) {
  const input = $("#image-input");
  const button = $("#insert-image");
  if (!input || !button) return;
  button.addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const files = Array.from(input.files || []);
    input.value = ""; // the same file can be chosen again
    button.disabled = true;
    try {
      for (const file of files) {
        say(`Uploading ${file.name}…`, "info");
        const stored = await uploadImage(file);
        insertAtCursor(textarea, stored.markdown);
        say(`${file.name} inserted at the cursor.${isAdmin ? " Save to show it in the guide." : ""}`);
      }
    } catch (error) {
      fail("The picture was not uploaded", error);
    } finally {
      button.disabled = false;
    }
  });
}

// ---- proposing (annotators and reviewers) -----------------------------------------------

/** The proposal box follows the guide until the member starts changing it. */
function syncProposalBox(guide, previous) {
  const box = el.proposalBody;
  if (!box) return;
  if (!previous || box.value === state.proposalBase) {
    box.value = guide.body;
    state.proposalBase = guide.body;
  }
}

async function sendProposal(event) {
  event.preventDefault();
  if (!state.guide) return; // the guide did not load; the message says so
  const button = $("#proposal-submit");
  const body = el.proposalBody.value;
  if (body === state.guide.body) {
    say("Change the text first: it is the same as the guide.", "error");
    el.proposalBody.focus();
    return;
  }
  button.disabled = true;
  try {
    const proposal = await api(urls.newProposal, { method: "POST", body: { body, note: el.proposalNote.value.trim() } });
    el.proposalNote.value = "";
    el.proposalBody.value = state.guide.body;
    state.proposalBase = state.guide.body;
    say(`Proposal #${proposal.id} sent: an admin will accept or decline it. Follow it in “Your proposals”.`);
    await loadProposals();
  } catch (error) {
    fail("The proposal was not sent", error);
  } finally {
    button.disabled = false;
  }
}

// ---- history ------------------------------------------------------------------------------

async function loadRevisions({ more = false } = {}) {
  const before = more && state.revisions.length ? state.revisions[state.revisions.length - 1].version : null;
  try {
    const page = await api(urls.revisions(before));
    state.revisions = more ? [...state.revisions, ...page] : page;
    state.moreRevisions = page.length === HISTORY_PAGE;
    renderRevisions();
  } catch (error) {
    fail("Could not load the history", error);
  }
}

function renderRevisions() {
  const current = state.guide ? state.guide.version : 0;
  $("#revisions-empty").hidden = state.revisions.length > 0;
  $("#revisions-more").hidden = !state.moreRevisions;
  el.revisionList.replaceChildren(
    ...state.revisions.map((revision) => {
      const isCurrent = revision.version === current;
      return h(
        "li",
        { class: "revision", dataset: { version: String(revision.version), current: String(isCurrent) } },
        h(
          "div",
          { class: "revision-head" },
          h("b", {}, `Version ${revision.version}`),
          h("span", { class: "small" }, revision.author || "a former member"),
          h("time", { class: "small muted", datetime: revision.created_at }, formatTime(revision.created_at)),
          revision.proposal ? h("span", { class: "small muted" }, `from proposal #${revision.proposal}`) : null,
          isCurrent ? h("span", { class: "badge" }, "current") : null,
        ),
        revision.note ? h("p", { class: "revision-note" }, revision.note) : null,
        h(
          "div",
          { class: "revision-actions" },
          h("button", { type: "button", class: "btn-small revision-show", onclick: () => showRevision(revision.version) }, "View"),
          isAdmin && !isCurrent
            ? h("button", {
              type: "button", class: "btn-small revision-restore", onclick: (event) => restore(revision.version, event.currentTarget),
            }, "Restore")
            : null,
        ),
      );
    }),
  );
}

async function showRevision(version) {
  try {
    const revision = await api(urls.revision(version));
    state.revisionBodies.set(version, revision.body);
    const current = state.guide;
    el.revisionView.dataset.version = String(version);
    const head = h(
      "div",
      { class: "row" },
      h("h3", { class: "grow" }, `Version ${version}`, h("span", { class: "small muted" }, ` · ${revision.author || "a former member"}, ${formatTime(revision.created_at)}`)),
      isAdmin && version !== current.version
        ? h("button", { type: "button", class: "btn-small", onclick: (event) => restore(version, event.currentTarget) }, "Restore this version")
        : null,
      h("button", { type: "button", class: "btn-small", onclick: closeRevision }, "Close"),
    );
    const changes = version === current.version
      ? null
      : h(
        "details",
        { class: "revision-diff" },
        h("summary", { class: "small" }, `What changed from it to the current version ${current.version}`),
        diffTable(revision.body, current.body, `Version ${version}`, `Now (version ${current.version})`),
      );
    el.revisionView.replaceChildren(...[head, revisionHtml(revision), changes].filter(Boolean));
    el.revisionView.hidden = false;
    el.revisionView.scrollIntoView({ block: "nearest" });
  } catch (error) {
    fail(`Could not load version ${version}`, error);
  }
}

function revisionHtml(revision) {
  const box = h("div", { class: "guide-html revision-html" });
  if (revision.html) box.innerHTML = revision.html; // sanitised by the server
  else box.append(h("p", { class: "muted" }, "(empty)"));
  return box;
}

function closeRevision() {
  el.revisionView.hidden = true;
  el.revisionView.replaceChildren();
  delete el.revisionView.dataset.version;
}

async function restore(version, button) {
  button.disabled = true;
  const before = state.guide.version;
  try {
    const guide = await api(urls.restore(version), { method: "POST", body: {} });
    applyGuide(guide);
    say(guide.version > before
      ? `Version ${version} restored: the guide is now version ${guide.version}.`
      : `Version ${version} has the same text as the current guide: nothing changed.`);
    closeRevision();
    refreshLists();
  } catch (error) {
    button.disabled = false;
    fail(`Version ${version} was not restored`, error);
  }
}

// ---- proposals ------------------------------------------------------------------------------

async function loadProposals() {
  try {
    const proposals = await api(urls.proposals);
    // Open ones first, each group newest first as the server sends them.
    state.proposals = [...proposals.filter((p) => p.status === "open"), ...proposals.filter((p) => p.status !== "open")];
    renderProposals();
  } catch (error) {
    fail("Could not load the proposals", error);
  }
}

const STATUS_TEXT = { open: "waiting for an admin", accepted: "accepted", declined: "declined" };

function renderProposals() {
  const open = state.proposals.filter((p) => p.status === "open").length;
  $("#proposals-count").textContent = state.proposals.length ? `· ${open} open` : "";
  $("#proposals-empty").hidden = state.proposals.length > 0;
  const focused = document.activeElement && document.activeElement.classList.contains("decline-reason-input")
    ? document.activeElement.closest(".proposal").dataset.proposalId
    : null;
  el.proposalList.replaceChildren(...state.proposals.map(renderProposal));
  if (focused) el.proposalList.querySelector(`.proposal[data-proposal-id="${focused}"] .decline-reason-input`)?.focus();
}

function renderProposal(proposal) {
  const current = state.guide ? state.guide.version : 0;
  const comparing = state.comparing.has(proposal.id);
  return h(
    "li",
    { class: "proposal", dataset: { proposalId: String(proposal.id), status: proposal.status, stale: String(proposal.stale) } },
    h(
      "div",
      { class: "proposal-head" },
      h("b", {}, `#${proposal.id}`),
      h("span", { class: "small proposal-author" }, `by ${proposal.author || "a former member"}`),
      h("time", { class: "small muted", datetime: proposal.created_at }, formatTime(proposal.created_at)),
      h("span", { class: "badge proposal-status", dataset: { status: proposal.status } }, STATUS_TEXT[proposal.status] || proposal.status),
      h("span", { class: "small muted" }, `written against version ${proposal.base_version}`),
    ),
    proposal.note ? h("p", { class: "proposal-note" }, proposal.note) : null,
    proposal.stale
      ? h("div", { class: "stale-warning" },
        `The guide has changed since this was written (version ${proposal.base_version}, now ${current}): ` +
          "accepting it replaces the changes made since. The comparison shows everything accepting would change.")
      : null,
    proposal.status === "accepted"
      ? h("p", { class: "small proposal-decision" },
        `Accepted${proposal.decided_by ? ` by ${proposal.decided_by}` : ""}, ${formatTime(proposal.decided_at)}` +
          (proposal.accepted_as ? `: it became version ${proposal.accepted_as}.` : "."))
      : null,
    proposal.status === "declined"
      ? h("p", { class: "decline-reason" },
        `Declined${proposal.decided_by ? ` by ${proposal.decided_by}` : ""}, ${formatTime(proposal.decided_at)}: `,
        proposal.decline_reason ? h("b", { class: "decline-reason-text" }, proposal.decline_reason) : "no reason given.")
      : null,
    h(
      "div",
      { class: "proposal-actions" },
      h("button", {
        type: "button", class: "btn-small proposal-compare", "aria-expanded": String(comparing),
        onclick: () => toggleComparison(proposal),
      }, comparing ? "Hide the text" : "Compare"),
      isAdmin && proposal.status === "open" ? adminButtons(proposal) : null,
    ),
    isAdmin && proposal.status === "open" && state.declining.has(proposal.id) ? declineForm(proposal) : null,
    comparing ? proposalDetail(proposal) : null,
  );
}

function adminButtons(proposal) {
  const busy = state.busy.has(proposal.id);
  return [
    h("button", { type: "button", class: "btn-small btn-primary proposal-accept", disabled: busy, onclick: () => accept(proposal) }, "Accept"),
    h("button", {
      type: "button", class: "btn-small btn-danger proposal-decline", disabled: busy,
      onclick: () => {
        if (!state.declining.has(proposal.id)) state.declining.set(proposal.id, "");
        renderProposals();
        el.proposalList.querySelector(`.proposal[data-proposal-id="${proposal.id}"] .decline-reason-input`)?.focus();
      },
    }, "Decline…"),
  ];
}

function declineForm(proposal) {
  const input = h("input", {
    type: "text", class: "decline-reason-input", maxlength: "500", "aria-label": "Why it is declined, for its author",
    placeholder: "Why, for its author (optional)", value: state.declining.get(proposal.id) || "",
  });
  input.addEventListener("input", () => state.declining.set(proposal.id, input.value));
  return h(
    "form",
    { class: "decline-form", onsubmit: (event) => { event.preventDefault(); decline(proposal, input.value.trim()); } },
    input,
    h(
      "div",
      { class: "form-actions" },
      h("button", { type: "submit", class: "btn-small btn-danger decline-confirm", disabled: state.busy.has(proposal.id) }, "Decline the proposal"),
      h("button", {
        type: "button", class: "btn-small",
        onclick: () => {
          state.declining.delete(proposal.id);
          renderProposals();
        },
      }, "Cancel"),
    ),
  );
}

/** The proposal beside what it changes: an open one against the guide as it is now (what
 * accepting would do), a decided one against the version it was written against. */
function proposalDetail(proposal) {
  const box = h("div", { class: "proposal-detail" });
  const detail = state.proposalDetails.get(proposal.id);
  if (!detail) {
    box.append(h("p", { class: "small muted" }, "Loading the text…"));
    return box;
  }
  const open = proposal.status === "open";
  const before = open ? state.guide.body : state.revisionBodies.get(proposal.base_version);
  if (before === undefined) {
    box.append(h("p", { class: "small muted" }, "Loading the text…"));
    return box;
  }
  const beforeTitle = open ? `Now (version ${state.guide.version})` : `Version ${proposal.base_version}`;
  const rendered = h("div", { class: "guide-html" });
  if (detail.html) rendered.innerHTML = detail.html; // sanitised by the server
  box.append(
    diffTable(before, detail.body, beforeTitle, `Proposed (#${proposal.id})`),
    h("details", { class: "proposal-rendered" }, h("summary", { class: "small" }, "As the guide would look"), rendered),
  );
  return box;
}

async function toggleComparison(proposal) {
  if (state.comparing.has(proposal.id)) {
    state.comparing.delete(proposal.id);
    renderProposals();
    return;
  }
  state.comparing.add(proposal.id);
  renderProposals();
  try {
    if (!state.proposalDetails.has(proposal.id)) {
      const detail = await api(urls.proposal(proposal.id));
      state.proposalDetails.set(proposal.id, { body: detail.body, html: detail.html });
    }
    const version = proposal.base_version;
    if (proposal.status !== "open" && !state.revisionBodies.has(version)) {
      state.revisionBodies.set(version, version ? (await api(urls.revision(version))).body : "");
    }
    renderProposals();
  } catch (error) {
    state.comparing.delete(proposal.id);
    renderProposals();
    fail(`Could not load proposal #${proposal.id}`, error);
  }
}

async function accept(proposal) {
  state.busy.add(proposal.id);
  renderProposals();
  try {
    const result = await api(urls.accept(proposal.id), { method: "POST" });
    applyGuide(result.guide);
    const stale = result.stale
      ? ` It was written against version ${result.proposal.base_version}, so the changes saved since then were replaced; the history keeps them.`
      : "";
    say(`Proposal #${proposal.id} accepted: the guide is now version ${result.guide.version}.${stale}`, result.stale ? "warn" : "ok");
  } catch (error) {
    fail(`Proposal #${proposal.id} was not accepted`, error);
  } finally {
    state.busy.delete(proposal.id);
    refreshLists();
  }
}

async function decline(proposal, reason) {
  state.busy.add(proposal.id);
  renderProposals();
  try {
    await api(urls.decline(proposal.id), { method: "POST", body: { reason } });
    state.declining.delete(proposal.id);
    say(`Proposal #${proposal.id} declined.${reason ? " Its author sees your reason." : ""}`);
  } catch (error) {
    fail(`Proposal #${proposal.id} was not declined`, error);
  } finally {
    state.busy.delete(proposal.id);
    await loadProposals();
  }
}

// ---- line diff -----------------------------------------------------------------------------

/** The text's lines; the newline that ends the last one does not start another. */
function splitLines(text) {
  if (!text) return [];
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** Line operations turning `a` into `b`: {op: "=" | "-" | "+", line}. */
function lineDiff(oldText, newText) {
  const a = splitLines(oldText);
  const b = splitLines(newText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start += 1;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA -= 1;
    endB -= 1;
  }
  const same = (line) => ({ op: "=", line });
  return [
    ...a.slice(0, start).map(same),
    ...middleDiff(a.slice(start, endA), b.slice(start, endB)),
    ...a.slice(endA).map(same),
  ];
}

/** Longest common subsequence of the lines that differ (the ends are trimmed already). */
function middleDiff(x, y) {
  const n = x.length;
  const m = y.length;
  if (n * m > DIFF_MAX_CELLS) {
    return [...x.map((line) => ({ op: "-", line })), ...y.map((line) => ({ op: "+", line }))];
  }
  // lengths[i * (m + 1) + j]: the common subsequence of x[i..] and y[j..]
  const width = m + 1;
  const lengths = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lengths[i * width + j] = x[i] === y[j]
        ? lengths[(i + 1) * width + j + 1] + 1
        : Math.max(lengths[(i + 1) * width + j], lengths[i * width + j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      ops.push({ op: "=", line: x[i] });
      i += 1;
      j += 1;
    } else if (lengths[(i + 1) * width + j] >= lengths[i * width + j + 1]) {
      ops.push({ op: "-", line: x[i] });
      i += 1;
    } else {
      ops.push({ op: "+", line: y[j] });
      j += 1;
    }
  }
  for (; i < n; i += 1) ops.push({ op: "-", line: x[i] });
  for (; j < m; j += 1) ops.push({ op: "+", line: y[j] });
  return ops;
}

/** Side-by-side rows: removed lines paired with the added ones that replace them, and
 * long unchanged stretches folded to a count. */
function diffRows(ops) {
  const rows = [];
  let removed = [];
  let added = [];
  const flush = () => {
    for (let k = 0; k < Math.max(removed.length, added.length); k += 1) {
      rows.push({ kind: "change", old: removed[k] ?? null, new: added[k] ?? null });
    }
    removed = [];
    added = [];
  };
  for (const { op, line } of ops) {
    if (op === "-") removed.push(line);
    else if (op === "+") added.push(line);
    else {
      flush();
      rows.push({ kind: "same", old: line, new: line });
    }
  }
  flush();
  const changed = rows.map((row, index) => (row.kind === "change" ? index : -1)).filter((index) => index >= 0);
  if (!changed.length) return [];
  const near = (index) => changed.some((at) => Math.abs(at - index) <= DIFF_CONTEXT);
  const folded = [];
  for (let index = 0; index < rows.length; index += 1) {
    if (rows[index].kind === "change" || near(index)) {
      folded.push(rows[index]);
      continue;
    }
    const last = folded[folded.length - 1];
    if (last && last.kind === "skip") last.rows.push(rows[index]);
    else folded.push({ kind: "skip", rows: [rows[index]] });
  }
  // Folding one or two lines would save nothing.
  return folded.flatMap((row) => (row.kind !== "skip" ? [row] : row.rows.length < 3 ? row.rows : [{ kind: "skip", count: row.rows.length }]));
}

function diffTable(oldText, newText, oldTitle, newTitle) {
  const rows = diffRows(lineDiff(oldText, newText));
  if (!rows.length) return h("p", { class: "small muted guide-diff-none" }, "No difference in the text.");
  const cell = (text, kind) => h("td", { class: kind }, text === null ? "" : text || " ");
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "guide-diff" },
      h("thead", {}, h("tr", {}, h("th", {}, oldTitle), h("th", {}, newTitle))),
      h(
        "tbody",
        {},
        rows.map((row) => {
          if (row.kind === "skip") {
            return h("tr", { class: "diff-skip" }, h("td", { colspan: "2" }, `… ${row.count} unchanged line${row.count === 1 ? "" : "s"} …`));
          }
          if (row.kind === "same") return h("tr", {}, cell(row.old, "diff-same"), cell(row.new, "diff-same"));
          return h(
            "tr",
            { class: "diff-change" },
            cell(row.old, row.old === null ? "diff-empty" : "diff-removed"),
            cell(row.new, row.new === null ? "diff-empty" : "diff-added"),
          );
        }),
      ),
    ),
  );
}

// ---- live updates ---------------------------------------------------------------------------

const refreshLists = debounce(() => {
  loadRevisions();
  loadProposals();
}, 300);

async function onGuideChanged() {
  try {
    await loadGuide();
  } catch (error) {
    fail("Could not load the changed guide", error);
  }
  refreshLists();
}

function onEvent(event) {
  if (event.type === "guide.changed") {
    if (state.saving) state.changedWhileSaving = true;
    else if (!state.guide || event.version > state.guide.version) onGuideChanged();
  } else if (event.type === "guide.proposal") {
    refreshLists();
  }
}

// ---- start --------------------------------------------------------------------------------

function wire() {
  el.message.addEventListener("click", () => showMessage(el.message, ""));
  $("#revisions-more").addEventListener("click", () => loadRevisions({ more: true }));
  if (isAdmin) {
    el.save.addEventListener("click", save);
    el.discard.addEventListener("click", discardChanges);
    $("#conflict-reload").addEventListener("click", reloadAfterConflict);
    el.editor.addEventListener("input", debounce(showEditorState, 250));
    el.editor.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        save();
      }
    });
    wireImageUpload(el.editor);
  } else {
    $("#propose-form").addEventListener("submit", sendProposal);
    $("#proposal-reset").addEventListener("click", () => {
      if (!state.guide) return;
      el.proposalBody.value = state.guide.body;
      state.proposalBase = state.guide.body;
    });
    wireImageUpload(el.proposalBody);
  }
}

async function start() {
  wire();
  connectProject(projectId, {
    onEvent,
    onStatus(status, info) {
      if (status === "open" && info.reconnected) onGuideChanged();
    },
  });
  try {
    await loadGuide();
  } catch (error) {
    fail("Could not load the guide", error);
    return;
  }
  await Promise.all([loadRevisions(), loadProposals()]);
  document.body.dataset.loaded = "true";
}

start();
