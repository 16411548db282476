// The agreement page: the pairwise kappa heatmap, Fleiss' kappa overall and per class,
// Krippendorff's alpha, region agreement for shape projects, and the items with the
// lowest agreement, each linked to the review page. Refreshed when answers come in.

import { api, errorMessage } from "./api.js";
import { chartDownloads, clearChart, renderBars, renderHeatmap } from "./charts.js";
import { $, debounce, formatNumber, h, pageConfig, showMessage } from "./dom.js";
import { connectProject } from "./ws.js";

const { projectId } = pageConfig();
const message = $("#message");
let report = null;

const score = (value) => (value === null || value === undefined ? "—" : Number(value).toFixed(2));
const percent = (value) => (value === null || value === undefined ? "—" : `${(Number(value) * 100).toFixed(1)}%`);

function usernames() {
  return new Map((report.annotators || []).map((a) => [a.id, a.username]));
}

/** The annotators that appear in a pair, in the report's (alphabetical) order. */
function pairedAnnotators() {
  const inPairs = new Set((report.pairs || []).flatMap((pair) => [pair.a, pair.b]));
  return (report.annotators || []).filter((a) => inPairs.has(a.id));
}

const isShapes = () => report && report.iou_threshold !== undefined;

function renderSummary() {
  const shapes = isShapes();
  $("#fleiss-stat").hidden = shapes;
  $("#alpha-stat").hidden = shapes;
  $("#iou-stat").hidden = !shapes;
  $("#stat-fleiss").textContent = score(report.fleiss_kappa);
  $("#stat-alpha").textContent = score(report.krippendorff_alpha);
  $("#stat-iou").textContent = shapes ? score(report.iou_threshold) : "–";
  $("#stat-items").textContent = formatNumber(report.items ?? 0);
  $("#stat-overlap").textContent = `labeled by 2 or more; ${report.overlap} annotator${report.overlap === 1 ? "" : "s"} per item${report.sampled ? " (a sample of the answers)" : ""}`;
}

function renderHeatmapCard() {
  const names = usernames();
  const shapes = isShapes();
  $("#heatmap-title").textContent = shapes ? "Pairwise F1 of matched regions" : "Pairwise Cohen's kappa";
  if (shapes) {
    $("#heatmap-caption").textContent = "Each cell: the F1 of the two annotators' regions matched by IoU on the items both labeled. An empty cell: no shared items.";
  }
  const annotators = pairedAnnotators();
  if (annotators.length < 2) {
    clearChart($("#kappa-heatmap"), $("#heatmap-empty"), "No two annotators have labeled the same item yet.");
    return false;
  }
  $("#heatmap-empty").hidden = true;
  const value = (pair) => (shapes ? pair.f1 : pair.kappa);
  const pairs = report.pairs.map((pair) => {
    const who = `${names.get(pair.a)} and ${names.get(pair.b)}`;
    const shared = `${pair.n_items} shared item${pair.n_items === 1 ? "" : "s"}`;
    let title;
    if (!pair.n_items) title = `${who}: no shared items`;
    else if (value(pair) === null) title = `${who}: ${shapes ? "F1" : "kappa"} not defined on ${shared}`;
    else if (shapes) title = `${who}: F1 ${score(pair.f1)}, mean IoU ${score(pair.mean_iou)} on ${shared}`;
    else title = `${who}: kappa ${score(pair.kappa)}, raw agreement ${percent(pair.observed_agreement)} on ${shared}`;
    return { a: pair.a, b: pair.b, value: pair.n_items ? value(pair) : null, title };
  });
  renderHeatmap($("#kappa-heatmap"), annotators, pairs, { scale: shapes ? [0, 1] : [-1, 1] });
  return true;
}

function heatmapCsv() {
  const names = usernames();
  if (isShapes()) {
    return {
      header: ["annotator_a", "annotator_b", "n_items", "mean_iou", "precision", "recall", "f1", "class_kappa"],
      rows: report.pairs.map((p) => [names.get(p.a), names.get(p.b), p.n_items, p.mean_iou, p.precision, p.recall, p.f1, p.kappa]),
    };
  }
  return {
    header: ["annotator_a", "annotator_b", "kappa", "n_items", "observed_agreement"],
    rows: report.pairs.map((p) => [names.get(p.a), names.get(p.b), p.kappa, p.n_items, p.observed_agreement]),
  };
}

function classBars() {
  return Object.entries(report.fleiss_per_class || {}).map(([label, value]) => ({ label, value }));
}

function renderClassCard() {
  const card = $("#class-card");
  card.hidden = isShapes();
  if (card.hidden) return false;
  const bars = classBars();
  if (!bars.length || report.fleiss_kappa === null || report.fleiss_kappa === undefined) {
    clearChart($("#class-chart"), $("#class-empty"), "Not enough shared answers for Fleiss' kappa yet.");
    return false;
  }
  $("#class-empty").hidden = true;
  renderBars($("#class-chart"), bars);
  return true;
}

function renderRegionCard() {
  const card = $("#region-card");
  card.hidden = !isShapes();
  if (card.hidden) return;
  const names = usernames();
  $("#region-caption").textContent = `Regions of the two annotators on the items both labeled, matched at IoU ≥ ${score(report.iou_threshold)}; the first annotator is the reference for precision and recall. Class kappa: on the matched regions.`;
  const rows = report.pairs.map((p) =>
    h(
      "tr",
      { dataset: { a: names.get(p.a), b: names.get(p.b) } },
      h("td", {}, `${names.get(p.a)} – ${names.get(p.b)}`),
      h("td", { class: "num" }, formatNumber(p.n_items)),
      h("td", { class: "num" }, `${formatNumber(p.n_a)} / ${formatNumber(p.n_b)}`),
      h("td", { class: "num" }, formatNumber(p.n_matches)),
      h("td", { class: "num" }, score(p.mean_iou)),
      h("td", { class: "num" }, score(p.precision)),
      h("td", { class: "num" }, score(p.recall)),
      h("td", { class: "num" }, score(p.f1)),
      h("td", { class: "num" }, score(p.kappa)),
    ),
  );
  $("#region-body").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No two annotators have labeled the same image yet."))]));
}

function votesText(votes) {
  return Object.entries(votes || {})
    .sort((x, y) => y[1] - x[1])
    .map(([label, count]) => `${label} ${count}`)
    .join(" · ");
}

function consensusText(row) {
  if (isShapes()) return `consensus regions: ${votesText(row.votes) || "none"}`;
  return `${row.label ? `consensus ${row.label}` : "no consensus"} · ${votesText(row.votes)}`;
}

function renderLowest() {
  const list = $("#lowest-list");
  const rows = report.lowest || [];
  if (!rows.length) {
    list.replaceChildren(h("li", { class: "muted" }, "No item has a consensus from several answers yet."));
    return;
  }
  list.replaceChildren(
    ...rows.map((row) =>
      h(
        "li",
        { dataset: { item: row.item } },
        h(
          "a",
          { class: "item-link", href: `/projects/${projectId}/review/?item=${encodeURIComponent(row.item)}` },
          h("span", { class: "item-agreement", title: "Share of the answers that agree with the consensus" }, percent(row.agreement)),
          h(
            "span",
            { class: "item-body" },
            h("span", { class: "item-line" }, row.text || `Image ${row.item}`),
            h("span", { class: "small muted" }, `#${row.item} · ${consensusText(row)} · ${String(row.status).replace(/_/g, " ")}`),
          ),
        ),
      ),
    ),
  );
}

const downloads = {
  heatmap: chartDownloads({
    csvButton: $("#kappa-csv"), pngButton: $("#kappa-png"), chart: $("#kappa-heatmap"),
    name: `project-${projectId}-pairwise-agreement`, csv: heatmapCsv,
    onError: (text) => showMessage(message, text, "error"),
  }),
  classes: chartDownloads({
    csvButton: $("#class-csv"), pngButton: $("#class-png"), chart: $("#class-chart"),
    name: `project-${projectId}-fleiss-per-class`,
    csv: () => ({ header: ["class", "fleiss_kappa"], rows: classBars().map((bar) => [bar.label, bar.value]) }),
    onError: (text) => showMessage(message, text, "error"),
  }),
  regions: chartDownloads({
    csvButton: $("#region-csv"), name: `project-${projectId}-region-agreement`, csv: heatmapCsv,
  }),
};

async function load() {
  try {
    report = await api(`/api/projects/${projectId}/agreement/`);
  } catch (error) {
    showMessage(message, `Could not load the agreement: ${errorMessage(error)}`, "error");
    return;
  }
  renderSummary();
  downloads.heatmap.enable(renderHeatmapCard());
  downloads.classes.enable(renderClassCard());
  renderRegionCard();
  downloads.regions.enable(isShapes() && report.pairs.length > 0);
  renderLowest();
  document.body.dataset.loaded = "true";
}

const reloadSoon = debounce(load, 1500);
connectProject(projectId, {
  onEvent(event) {
    if (["progress.changed", "review.changed"].includes(event.type)) reloadSoon();
  },
  onStatus(status, info) {
    if (status === "open" && info.reconnected) reloadSoon();
  },
});
load();
