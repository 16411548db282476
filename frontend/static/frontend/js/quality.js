// The quality page: each annotator's record against gold and peers (flagged under the
// project's thresholds), gold accuracy over time, the model-label disagreements queue
// with its outcome counts, and for admins the gold items and qualification resets.

import { api, errorMessage } from "./api.js";
import { chartDownloads, clearChart, renderLines } from "./charts.js";
import { $, debounce, formatNumber, h, pageConfig, showMessage } from "./dom.js";
import { connectProject } from "./ws.js";

const { projectId, role } = pageConfig();
const isAdmin = role === "admin";
const base = `/api/projects/${projectId}/`;
const message = $("#message");
let quality = { thresholds: {}, annotators: [], over_time: [] };
let classes = [];
let hasRegions = false;
let memberIds = new Map(); // username -> membership id (annotators only)

const percent = (value) => (value === null || value === undefined ? "—" : `${(Number(value) * 100).toFixed(1)}%`);
const decimal = (value, digits = 2) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
const whole = (value) => (value === null || value === undefined ? "—" : Math.round(Number(value)).toLocaleString("en-US"));
const reviewUrl = (item) => `/projects/${projectId}/review/?item=${encodeURIComponent(item)}`;

// ---------------------------------------------------------------------------------------
// Annotators

function renderThresholds() {
  const t = quality.thresholds || {};
  $("#thresholds").textContent = `Flagged below ${percent(t.min_accuracy)} gold accuracy or a gold kappa of ${decimal(t.min_kappa)} (set in the project settings). Gold kappa needs two gold checks; peer agreement counts the items with a consensus.`;
}

function qualificationCell(row) {
  if (!isAdmin) return null;
  const memberId = memberIds.get(row.username);
  if (memberId === undefined) return h("td", { class: "muted small" }, "not an annotator here");
  return h(
    "td",
    {},
    h("button", { type: "button", class: "btn-small reset-qualification", onclick: (event) => resetQualification(row.username, memberId, event.target) }, "Reset qualification"),
  );
}

function renderAnnotators() {
  const body = $("#quality-body");
  const t = quality.thresholds || {};
  const columns = isAdmin ? 11 : 10;
  if (!quality.annotators.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: columns, class: "muted" }, "Nobody has answered in this project yet.")));
    return;
  }
  body.replaceChildren(
    ...quality.annotators.map((row) => {
      const lowAccuracy = row.gold_accuracy !== null && row.gold_accuracy < t.min_accuracy;
      const lowKappa = row.gold_kappa !== null && row.gold_kappa < t.min_kappa;
      return h(
        "tr",
        { class: row.flagged ? "flagged" : "", dataset: { username: row.username, flagged: row.flagged ? "true" : "false" } },
        h("td", {}, row.username, row.flagged ? h("span", { class: "flag-badge", title: row.flags.join("; ") }, "below threshold") : null),
        h("td", { class: "num" }, formatNumber(row.answers)),
        h("td", { class: "num" }, formatNumber(row.gold_checks)),
        h("td", { class: lowAccuracy ? "num below" : "num", dataset: { metric: "gold_accuracy" } }, percent(row.gold_accuracy)),
        h("td", { class: lowKappa ? "num below" : "num", dataset: { metric: "gold_kappa" } }, decimal(row.gold_kappa)),
        h("td", { class: "num", dataset: { metric: "peer_agreement" } }, percent(row.peer_agreement)),
        h("td", { class: "num", title: `${formatNumber(row.reviewed)} reviewed`, dataset: { metric: "rejection_rate" } }, percent(row.rejection_rate)),
        h("td", { class: "num", dataset: { metric: "seconds_per_item" } }, decimal(row.seconds_per_item, 1)),
        h("td", { class: "num", dataset: { metric: "items_per_hour" } }, whole(row.items_per_hour)),
        h("td", { class: "flags-cell" }, row.flags.length ? h("ul", { class: "flags" }, row.flags.map((flag) => h("li", {}, flag))) : h("span", { class: "muted small" }, "none")),
        qualificationCell(row),
      );
    }),
  );
}

function annotatorsCsv() {
  const fields = ["username", "answers", "gold_checks", "gold_accuracy", "gold_kappa", "peer_agreement", "reviewed", "rejection_rate", "seconds_per_item", "items_per_hour"];
  return {
    header: [...fields, "flags"],
    rows: quality.annotators.map((row) => [...fields.map((field) => row[field]), row.flags.join("; ")]),
  };
}

async function resetQualification(username, memberId, button) {
  if (!window.confirm(`Let ${username} take the qualification set again? Their answers on it are deleted.`)) return;
  button.disabled = true;
  const note = $("#qualification-message");
  try {
    await api(`${base}members/${memberId}/qualification/reset/`, { method: "POST" });
    showMessage(note, `${username} can take the qualification set again.`, "ok");
    loadQuality();
  } catch (error) {
    showMessage(note, `Not reset: ${errorMessage(error)}`, "error");
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// Gold accuracy over time

function overTime() {
  const days = [...new Set(quality.over_time.map((row) => String(row.day)))].sort();
  const names = [...new Set(quality.over_time.filter((row) => row.gold_checks > 0).map((row) => row.username))].sort();
  const series = names.map((name) => ({
    name,
    points: days.map((day) => {
      const row = quality.over_time.find((r) => r.username === name && String(r.day) === day);
      const y = row && row.gold_checks > 0 ? row.gold_accuracy : null;
      return { x: day, y, title: row && y !== null ? `${name}, ${day}: ${percent(y)} of ${row.gold_checks} gold checks` : "" };
    }),
  }));
  return { days, series };
}

function renderOverTime() {
  const { days, series } = overTime();
  const chart = $("#accuracy-chart");
  if (!series.length) {
    clearChart(chart, $("#over-time-empty"), "No gold answers yet: mark gold items and set a gold fraction in the project settings.");
    return false;
  }
  $("#over-time-empty").hidden = true;
  renderLines(chart, days, series);
  return true;
}

const accuracyDownloads = chartDownloads({
  csvButton: $("#accuracy-csv"), pngButton: $("#accuracy-png"), chart: $("#accuracy-chart"),
  name: `project-${projectId}-gold-accuracy`,
  csv: () => ({
    header: ["day", "annotator", "answers", "gold_checks", "gold_accuracy"],
    rows: quality.over_time.map((row) => [String(row.day), row.username, row.answers, row.gold_checks, row.gold_accuracy]),
  }),
  onError: (text) => showMessage(message, text, "error"),
});
const annotatorDownloads = chartDownloads({ csvButton: $("#quality-csv"), name: `project-${projectId}-annotator-quality`, csv: annotatorsCsv });

async function loadQuality() {
  try {
    quality = await api(`${base}quality/`);
  } catch (error) {
    showMessage(message, `Could not load the annotators' quality: ${errorMessage(error)}`, "error");
    return;
  }
  renderThresholds();
  renderAnnotators();
  annotatorDownloads.enable(quality.annotators.length > 0);
  accuracyDownloads.enable(renderOverTime());
}

// ---------------------------------------------------------------------------------------
// Disagreements

const outcomeSelect = $("#disagreement-outcome");
const disagreementMessage = $("#disagreement-message");
const OUTCOME_TEXT = { confirmed: "label confirmed", corrected: "label corrected", relabel: "sent for re-labeling" };

function renderCounts(counts) {
  for (const key of ["open", "confirmed", "corrected", "relabel", "human_error", "model_weakness"]) {
    $(`#count-${key}`).textContent = formatNumber(counts[key] ?? 0);
  }
}

function disagreementActions(row) {
  if (row.outcome !== "open") {
    return h("td", { class: "small muted" }, `${OUTCOME_TEXT[row.outcome] || row.outcome}${row.settled_by ? ` by ${row.settled_by}` : ""}`);
  }
  const choices = classes.filter((cls) => cls.key !== row.human_label);
  const picker = h(
    "select",
    { "aria-label": `Class for item ${row.item}`, class: "correct-class" },
    choices.map((cls) => h("option", { value: cls.key, selected: cls.key === row.model_label }, cls.name && cls.name !== cls.key ? `${cls.name} (${cls.key})` : cls.key)),
  );
  const reason = h("input", { type: "text", class: "relabel-reason", placeholder: "reason (optional)", "aria-label": `Why item ${row.item} needs re-labeling`, maxlength: 500 });
  const buttons = [];
  const act = (outcome, body) => async () => {
    buttons.forEach((button) => (button.disabled = true));
    try {
      await api(`${base}disagreements/${row.id}/settle/`, { method: "POST", body: { outcome, ...body() } });
      showMessage(disagreementMessage, `Item ${row.item}: ${OUTCOME_TEXT[outcome]}.`, "ok");
      loadDisagreements();
    } catch (error) {
      showMessage(disagreementMessage, `Item ${row.item} not settled: ${errorMessage(error)}`, "error");
      buttons.forEach((button) => (button.disabled = false));
    }
  };
  const confirm = h("button", { type: "button", class: "btn-small confirm-label", onclick: act("confirmed", () => ({})) }, "Confirm label");
  const correct = h("button", { type: "button", class: "btn-small correct-label", onclick: act("corrected", () => ({ label: picker.value })) }, "Correct");
  const relabel = h("button", { type: "button", class: "btn-small relabel", onclick: act("relabel", () => ({ reason: reason.value.trim() })) }, "Send for re-labeling");
  buttons.push(confirm, correct, relabel);
  if (!choices.length || hasRegions) {
    correct.disabled = true;
    correct.title = hasRegions ? "Correct shapes on the review page." : "No other class to pick.";
  }
  return h(
    "td",
    {},
    h(
      "div",
      { class: "disagreement-actions" },
      confirm,
      h("span", { class: "group" }, picker, correct),
      h("span", { class: "group" }, reason, relabel),
    ),
  );
}

function renderDisagreements(rows) {
  const body = $("#disagreements-body");
  if (!rows.length) {
    const what = outcomeSelect.value === "open" ? "No open disagreements: the model agrees with the labels, or no round has checked them yet." : "None.";
    body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "muted" }, what)));
    return;
  }
  body.replaceChildren(
    ...rows.map((row) =>
      h(
        "tr",
        { dataset: { disagreementId: row.id, item: row.item } },
        h("td", {}, h("a", { href: reviewUrl(row.item) }, `#${row.item}`)),
        h("td", { class: "item-text-cell" }, row.image ? h("img", { class: "thumb", src: row.image, alt: `Item ${row.item}`, loading: "lazy" }) : null, row.text),
        h("td", {}, h("span", { class: "label-pill human-label" }, row.human_label ?? "—")),
        h("td", {}, h("span", { class: "label-pill model model-label" }, row.model_label ?? "—")),
        h("td", { class: "num" }, percent(row.confidence)),
        h("td", { class: "num" }, row.round ?? "—"),
        disagreementActions(row),
      ),
    ),
  );
}

let disagreementRequest = 0;
async function loadDisagreements() {
  const mine = ++disagreementRequest;
  try {
    const data = await api(`${base}disagreements/?outcome=${encodeURIComponent(outcomeSelect.value)}`);
    if (mine !== disagreementRequest) return; // a newer filter was chosen meanwhile
    renderCounts(data.counts);
    renderDisagreements(data.disagreements);
  } catch (error) {
    showMessage(disagreementMessage, `Could not load the disagreements: ${errorMessage(error)}`, "error");
  }
}

/** Only the counts: a live refresh must not wipe a reason being typed in the list. */
async function loadCounts() {
  try {
    renderCounts((await api(`${base}disagreements/?outcome=open`)).counts);
  } catch {
    // the next full load reports it
  }
}

// ---------------------------------------------------------------------------------------
// Gold items (admins)

const goldMessage = $("#gold-message");

function goldAnswer(row) {
  if (row.gold && row.gold.label) return row.gold.label;
  if (row.gold && Array.isArray(row.gold.regions)) return `${row.gold.regions.length} region${row.gold.regions.length === 1 ? "" : "s"}`;
  return "—";
}

function renderGold(rows) {
  const body = $("#gold-body");
  if (!rows.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No gold items yet.")));
    return;
  }
  body.replaceChildren(
    ...rows.map((row) =>
      h(
        "tr",
        { dataset: { item: row.id } },
        h("td", { class: "num" }, h("a", { href: reviewUrl(row.id) }, `#${row.id}`)),
        h("td", { class: "item-text-cell" }, row.text || (row.image ? "(image)" : "")),
        h("td", {}, h("span", { class: "label-pill gold-answer" }, goldAnswer(row))),
        h("td", { class: "num" }, h("button", { type: "button", class: "btn-small btn-danger unmark-gold", onclick: (event) => unmarkGold(row.id, event.target) }, "Unmark")),
      ),
    ),
  );
}

async function loadGold() {
  try {
    renderGold(await api(`${base}gold/`));
  } catch (error) {
    showMessage(goldMessage, `Could not load the gold items: ${errorMessage(error)}`, "error");
  }
}

async function unmarkGold(itemId, button) {
  button.disabled = true;
  try {
    await api(`${base}items/${itemId}/gold/`, { method: "DELETE" });
    showMessage(goldMessage, `Item ${itemId} is no longer gold.`, "ok");
    loadGold();
  } catch (error) {
    button.disabled = false;
    showMessage(goldMessage, `Not unmarked: ${errorMessage(error)}`, "error");
  }
}

function setupGold() {
  const form = $("#gold-form");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = $("#gold-item").value.trim();
    const itemId = Number(raw);
    if (!raw || !Number.isInteger(itemId) || itemId < 1) {
      showMessage(goldMessage, "Enter the id of the item (a whole number; it is on the review page and in exports).", "error");
      return;
    }
    const label = $("#gold-label").value;
    const body = label && !hasRegions ? { label } : {};
    try {
      const item = await api(`${base}items/${itemId}/gold/`, { method: "POST", body });
      showMessage(goldMessage, `Item ${itemId} is gold, with the known answer ${goldAnswer(item)}.`, "ok");
      form.reset();
      loadGold();
    } catch (error) {
      showMessage(goldMessage, `Not marked: ${errorMessage(error)}`, "error");
    }
  });
}

// ---------------------------------------------------------------------------------------

async function loadProject() {
  try {
    const project = await api(base);
    classes = project.classes || [];
    hasRegions = ["detection", "segmentation"].includes(project.kind);
    const goldLabel = $("#gold-label");
    if (goldLabel) goldLabel.append(...classes.map((cls) => h("option", { value: cls.key }, cls.name && cls.name !== cls.key ? `${cls.name} (${cls.key})` : cls.key)));
  } catch (error) {
    showMessage(message, `Could not load the project: ${errorMessage(error)}`, "error");
  }
}

async function loadMembers() {
  if (!isAdmin) return;
  try {
    const members = await api(`${base}members/`);
    memberIds = new Map(members.filter((m) => m.role === "annotator").map((m) => [m.username, m.id]));
  } catch (error) {
    showMessage($("#qualification-message"), `Could not load the members: ${errorMessage(error)}`, "error");
  }
}

outcomeSelect.addEventListener("change", loadDisagreements);
setupGold();

const refreshSoon = debounce(() => {
  loadQuality();
  loadCounts();
}, 1500);
connectProject(projectId, {
  onEvent(event) {
    if (["progress.changed", "review.changed", "batch.ready"].includes(event.type)) refreshSoon();
  },
  onStatus(status, info) {
    if (status === "open" && info.reconnected) refreshSoon();
  },
});

await Promise.all([loadProject(), loadMembers()]);
await Promise.all([loadQuality(), loadDisagreements(), isAdmin ? loadGold() : null]);
document.body.dataset.loaded = "true";
