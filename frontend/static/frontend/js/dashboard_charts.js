// The dashboard's charts for reviewers and admins, from GET /api/projects/<id>/dashboard/:
// progress with the time to finish at the current pace, answers per day (in all and per
// annotator), labels per class against the target shares, the pool's uncertainty in a
// chosen round with its drift report, and each annotator's pace and quality. Each chart
// downloads as CSV and PNG. The cards are only in the page for reviewers and admins;
// annotators may not read that API.

import { api, errorMessage } from "./api.js";
import { PALETTE, chartDownloads, clearChart, renderCountHistogram, renderStackedBars, renderTargetBars } from "./charts.js";
import { $, debounce, formatNumber, h, showMessage } from "./dom.js";

const DAY_MS = 86_400_000;
const MAX_DAYS = 60; // the charts show the last two months; the CSV has every day
const PACE_DAYS = 7; // the API's pace is that of the last week
const FLAGGED = "#b42318";

const percent = (value) => (value === null || value === undefined ? "—" : `${(Number(value) * 100).toFixed(1)}%`);
const decimal = (value, digits = 2) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
const whole = (value) => (value === null || value === undefined ? "—" : formatNumber(Math.round(Number(value))));

/** "2024-05-03" -> "May 3" (the day as the server counted it, in UTC). */
function shortDay(day) {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
}

/** Every day from the first to the last, gaps filled, at most the last MAX_DAYS. */
export function dayRange(days) {
  if (!days.length) return [];
  const sorted = [...days].sort();
  const last = Date.parse(`${sorted[sorted.length - 1]}T00:00:00Z`);
  const first = Math.max(Date.parse(`${sorted[0]}T00:00:00Z`), last - (MAX_DAYS - 1) * DAY_MS);
  const range = [];
  for (let at = first; at <= last; at += DAY_MS) range.push(new Date(at).toISOString().slice(0, 10));
  return range;
}

/** A duration in days as words: "about 5 days", "about 3 weeks". */
export function durationInWords(days) {
  if (days < 1 / 24) return "less than an hour";
  if (days < 1) {
    const hours = Math.round(days * 24);
    return `about ${hours} hour${hours === 1 ? "" : "s"}`;
  }
  if (days < 10) {
    const rounded = Math.round(days * 2) / 2;
    return `about ${rounded} day${rounded === 1 ? "" : "s"}`;
  }
  if (days < 60) return `about ${Math.round(days / 7)} weeks`;
  if (days < 730) return `about ${Math.round(days / 30.4)} months`;
  return `about ${Math.round(days / 365)} years`;
}

/** When a large project's figures were counted (they come from a snapshot seconds old). */
export function countedAt(asOf) {
  if (!asOf) return "";
  const when = new Date(asOf);
  return Number.isNaN(when.getTime()) ? "" : ` Counted at ${when.toLocaleTimeString("en-GB")}.`;
}

/** The time to finish at the current pace, in a sentence. */
export function paceSentence(progress) {
  if (!progress.total) return "No items yet: import some to start.";
  if (!progress.remaining) return "Every item is labeled.";
  const remaining = `${formatNumber(progress.remaining)} remaining item${progress.remaining === 1 ? "" : "s"}`;
  if (!progress.pace_per_day || progress.days_to_finish === null || progress.days_to_finish === undefined) {
    return `No answers in the last ${PACE_DAYS} days, so there is no pace to estimate when the ${remaining} will be done.`;
  }
  const pace = Number(progress.pace_per_day);
  const days = Number(progress.days_to_finish);
  const when = days < 730
    ? `, around ${new Date(Date.now() + days * DAY_MS).toLocaleDateString("en-US", { month: "long", day: "numeric", year: days > 300 ? "numeric" : undefined })}`
    : "";
  return `At the pace of the last ${PACE_DAYS} days (${pace.toLocaleString("en-US", { maximumFractionDigits: 1 })} answers a day), the ${remaining} take ${durationInWords(days)} more${when}.`;
}

/** Calls `load` at most once per `wait` ms however many times it is asked to, never two
 * at once, and once more after a running load if asked meanwhile. */
function coalesce(load, wait) {
  let timer = null;
  let running = false;
  let again = false;
  async function run() {
    timer = null;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      await load();
    } finally {
      running = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }
  function schedule() {
    if (timer === null) timer = setTimeout(run, wait);
  }
  return schedule;
}

export function setupDashboardCharts(url, { name, onData = () => {}, refreshMs = 2000 } = {}) {
  if (!$("#progress-card")) return null;
  const message = $("#dashboard-message");
  let data = null;
  let chosenRound = null; // null: follow the latest round
  let stale = false;

  const download = (key, csv) =>
    chartDownloads({
      csvButton: $(`#${key}-csv`), pngButton: $(`#${key}-png`), chart: $(`#${key}-chart`), name: `${name}-${key}`, csv,
      onError: (text) => showMessage(message, text, "error"),
    });

  // ------------------------------------------------------------------ progress

  const answers = download("answers", () => ({
    header: ["day", "answers"],
    rows: data.progress.per_day.map((row) => [row.day, row.answers]),
  }));
  const annotatorDays = download("annotator-days", () => ({
    header: ["day", "annotator", "answers"],
    rows: data.progress.per_annotator.map((row) => [row.day, row.annotator, row.answers]),
  }));

  function renderProgress(progress) {
    $("#progress-labeled").textContent = formatNumber(progress.labeled);
    $("#progress-in-review").textContent = formatNumber(progress.in_review);
    $("#progress-remaining").textContent = formatNumber(progress.remaining);
    $("#progress-total").textContent = `of ${formatNumber(progress.total)} items`;
    const share = progress.total ? progress.labeled / progress.total : 0;
    $("#progress-meter > span").style.width = `${(share * 100).toFixed(1)}%`;
    $("#progress-pace").textContent = paceSentence(progress) + countedAt(data.as_of);

    const days = dayRange(progress.per_day.map((row) => row.day));
    const categories = days.map((day) => ({ key: day, label: shortDay(day) }));
    const shown = new Set(days);
    if (!days.length) {
      clearChart($("#answers-chart"), $("#answers-empty"), "No answers yet.");
      clearChart($("#annotator-days-chart"), $("#annotator-days-empty"), "No answers yet.");
      answers.enable(false);
      annotatorDays.enable(false);
      return;
    }
    const perDay = new Map(progress.per_day.map((row) => [row.day, row.answers]));
    const earlier = progress.per_day.some((row) => !shown.has(row.day));
    $("#answers-empty").textContent = earlier ? `The last ${MAX_DAYS} days; the CSV has every day.` : "";
    $("#answers-empty").hidden = !earlier;
    renderStackedBars($("#answers-chart"), categories, [{ name: "answers", values: days.map((day) => perDay.get(day) || 0), colour: PALETTE[0] }], { unit: "answers" });
    answers.enable(true);

    const annotators = [...new Set(progress.per_annotator.filter((row) => shown.has(row.day)).map((row) => row.annotator))].sort();
    const cell = new Map(progress.per_annotator.map((row) => [`${row.day}\u0000${row.annotator}`, row.answers]));
    $("#annotator-days-empty").hidden = true;
    renderStackedBars(
      $("#annotator-days-chart"),
      categories,
      annotators.map((annotator, index) => ({
        name: annotator,
        values: days.map((day) => cell.get(`${day}\u0000${annotator}`) || 0),
        colour: PALETTE[index % PALETTE.length],
      })),
      { unit: "answers" },
    );
    annotatorDays.enable(true);
  }

  // ------------------------------------------------------------------ classes

  const classes = download("classes", () => ({
    header: ["key", "name", "count", "share", "target"],
    rows: data.classes.classes.map((c) => [c.key, c.name, c.count, c.share, c.target]),
  }));

  function renderClasses(distribution) {
    const list = distribution.classes || [];
    const targets = list.some((c) => c.target !== null && c.target !== undefined);
    $("#classes-caption").textContent = targets
      ? `Share of the ${formatNumber(distribution.total)} labels per class; the dark marks are the target shares of class-balanced sampling.`
      : `Share of the ${formatNumber(distribution.total)} labels per class. No target shares are set (Settings, sampling options).`;
    if (!list.length || !distribution.total) {
      clearChart($("#classes-chart"), $("#classes-empty"), list.length ? "No labels yet." : "The project has no classes.");
      classes.enable(list.length > 0);
      return;
    }
    $("#classes-empty").hidden = true;
    renderTargetBars(
      $("#classes-chart"),
      list.map((c) => ({
        key: c.key, label: c.name || c.key, value: c.share, target: c.target,
        note: `${formatNumber(c.count)} · ${Math.round(c.share * 100)}%`,
        title: `${c.name || c.key}: ${formatNumber(c.count)} labels, ${percent(c.share)}${c.target === null || c.target === undefined ? "" : `; target ${percent(c.target)}`}`,
      })),
      { valueName: "share of the labels", targetName: "target share" },
    );
    classes.enable(true);
  }

  // ------------------------------------------------------------------ uncertainty

  const roundSelect = $("#uncertainty-round");
  const uncertaintyRounds = () => (data ? data.uncertainty.rounds.filter((r) => r.histogram && (r.histogram.counts || []).length) : []);
  const selectedRound = () => {
    const rounds = uncertaintyRounds();
    return rounds.find((r) => r.round === chosenRound) || rounds[rounds.length - 1] || null;
  };
  const uncertainty = download("uncertainty", () => {
    const round = selectedRound();
    const { edges, counts } = round.histogram;
    return { header: ["round", "uncertainty_from", "uncertainty_to", "items"], rows: counts.map((count, i) => [round.round, edges[i], edges[i + 1], count]) };
  });
  roundSelect.addEventListener("change", () => {
    const rounds = uncertaintyRounds();
    const value = Number(roundSelect.value);
    chosenRound = rounds.length && value === rounds[rounds.length - 1].round ? null : value;
    renderUncertainty();
  });

  function renderUncertainty() {
    const rounds = uncertaintyRounds();
    $("#drift-badge").hidden = !data.uncertainty.drift_alert;
    const round = selectedRound();
    roundSelect.replaceChildren(
      ...rounds
        .slice()
        .reverse()
        .map((r, index) => h("option", { value: r.round, selected: round && r.round === round.round }, index === 0 ? `${r.round} (latest)` : String(r.round))),
    );
    roundSelect.disabled = rounds.length < 2;
    const drift = $("#uncertainty-drift");
    if (!round) {
      clearChart($("#uncertainty-chart"), $("#uncertainty-empty"), data.uncertainty.rounds.length ? "The rounds so far kept no uncertainty of the pool." : "No rounds yet.");
      showMessage(drift, "");
      uncertainty.enable(false);
      return;
    }
    $("#uncertainty-empty").hidden = true;
    renderCountHistogram($("#uncertainty-chart"), round.histogram, {
      lowText: "sure", highText: "no idea", what: "pool items", valueName: "uncertainty",
    });
    $("#uncertainty-chart").dataset.round = String(round.round);
    const report = round.drift || {};
    if (typeof report.message === "string" && report.message) {
      showMessage(drift, report.alert ? `Drift alert in round ${round.round}: ${report.message}` : `Round ${round.round}: ${report.message}`, report.alert ? "warn" : "info");
      drift.dataset.alert = report.alert ? "true" : "false";
    } else {
      showMessage(drift, "");
    }
    uncertainty.enable(true);
  }

  // ------------------------------------------------------------------ annotators

  const QUALITY_FIELDS = ["username", "answers", "items_per_hour", "seconds_per_item", "gold_accuracy", "gold_kappa", "peer_agreement", "rejection_rate"];
  const throughput = download("throughput", () => ({
    header: [...QUALITY_FIELDS, "flagged", "flags"],
    rows: data.annotators.map((row) => [...QUALITY_FIELDS.map((field) => row[field]), row.flagged ? "yes" : "no", (row.flags || []).join("; ")]),
  }));

  function renderAnnotators(rows) {
    const body = $("#annotators-body");
    if (!rows.length) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "Nobody has answered in this project yet.")));
      clearChart($("#throughput-chart"), $("#throughput-empty"), "No answers yet.");
      throughput.enable(false);
      return;
    }
    body.replaceChildren(
      ...rows.map((row) =>
        h(
          "tr",
          { class: row.flagged ? "flagged" : "", dataset: { username: row.username, flagged: row.flagged ? "true" : "false" } },
          h("td", {}, row.username),
          h("td", { class: "num", dataset: { metric: "answers" } }, formatNumber(row.answers)),
          h("td", { class: "num", dataset: { metric: "items_per_hour" } }, whole(row.items_per_hour)),
          h("td", { class: "num", dataset: { metric: "seconds_per_item" } }, decimal(row.seconds_per_item, 1)),
          h("td", { class: "num", dataset: { metric: "gold_accuracy" } }, percent(row.gold_accuracy)),
          h("td", { class: "num", dataset: { metric: "gold_kappa" } }, decimal(row.gold_kappa)),
          h("td", { class: "num", dataset: { metric: "peer_agreement" } }, percent(row.peer_agreement)),
          h("td", { class: "num", dataset: { metric: "rejection_rate" } }, percent(row.rejection_rate)),
          h("td", { class: "flags-cell" }, row.flags && row.flags.length ? h("ul", { class: "flags" }, row.flags.map((flag) => h("li", {}, flag))) : h("span", { class: "muted small" }, "none")),
        ),
      ),
    );
    const timed = rows.filter((row) => row.items_per_hour !== null && row.items_per_hour !== undefined);
    if (!timed.length) {
      clearChart($("#throughput-chart"), $("#throughput-empty"), "No answer has a recorded duration yet, so there is no pace to show.");
    } else {
      $("#throughput-empty").hidden = true;
      // Flagged annotators are a series of their own, so they stand out in red.
      const pace = (flagged) => timed.map((row) => (Boolean(row.flagged) === flagged ? Math.round(row.items_per_hour) : 0));
      renderStackedBars(
        $("#throughput-chart"),
        timed.map((row) => ({ key: row.username, label: row.username })),
        [
          { name: "items per hour", values: pace(false), colour: PALETTE[0] },
          { name: "items per hour, flagged", values: pace(true), colour: FLAGGED },
        ],
        { unit: "items per hour" },
      );
    }
    throughput.enable(true);
  }

  // ------------------------------------------------------------------ loading

  function render() {
    renderProgress(data.progress);
    renderClasses(data.classes);
    renderUncertainty();
    renderAnnotators(data.annotators || []);
  }

  async function load() {
    if (document.hidden) {
      stale = true; // a tab in the background asks again when it is shown
      return;
    }
    try {
      data = await api(url);
    } catch (error) {
      showMessage(message, `Could not load the dashboard's charts: ${errorMessage(error)}`, "error");
      return;
    }
    showMessage(message, "");
    render();
    onData(data);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && stale) {
      stale = false;
      load();
    }
  });
  // Drawn at the width they are shown at.
  window.addEventListener("resize", debounce(() => data && render(), 250));

  load();
  return { load, refreshSoon: coalesce(load, refreshMs) };
}
