// The project dashboard: progress, the learning curve, the model job, the stopping advice
// and drift report of the latest round; for reviewers and admins the charts of progress,
// classes, pool uncertainty and annotators; for admins retraining, settings and the
// configuration file, simulations, imports and members. Kept live by the project websocket.

import { api, errorMessage, projectApi } from "./api.js";
import { chartDownloads } from "./charts.js";
import { setupConfigFile } from "./config_file.js";
import { firedLabels, renderHistogram } from "./curve.js";
import { setupDashboardCharts } from "./dashboard_charts.js";
import { $, debounce, formatNumber, formatScore, formatTime, h, pageConfig, showMessage } from "./dom.js";
import { setupImporter } from "./importer.js";
import { JobIndicator } from "./jobs.js";
import { curveFromDashboard, curveFromRounds, curveHasPoints, learningCurveCsv, renderLearningCurve } from "./learning_curve.js";
import { setupMembers } from "./members.js";
import { setupSettings } from "./settings.js";
import { setupSimulation } from "./simulation.js";
import { connectProject } from "./ws.js";

const { projectId } = pageConfig();
const urls = projectApi(projectId);
const message = $("#message");
const jobs = new JobIndicator($("#job-status"), { text: $("#job-text"), bar: $("#job-bar") });
let rounds = [];
// The dashboard API's learning curve (reviewers and admins): per learner, with the random
// baseline. Annotators' curve comes from the rounds.
let dashboardCurve = null;
let curve = curveFromRounds([]);

const curveDownloads = chartDownloads({
  csvButton: $("#curve-csv"), pngButton: $("#curve-png"), chart: $("#curve"), name: `project-${projectId}-learning-curve`,
  csv: () => learningCurveCsv(curve),
  onError: (text) => showMessage(message, text, "error"),
});

function drawCurve() {
  curve = dashboardCurve ? curveFromDashboard(dashboardCurve, rounds) : curveFromRounds(rounds);
  const drawn = curveHasPoints(curve) && renderLearningCurve($("#curve"), curve);
  if (!drawn) $("#curve").setAttribute("hidden", "");
  const legend = $("#curve-legend");
  legend.hidden = !drawn;
  legend.querySelector("[data-legend=stop]").hidden = !drawn || curve.stops.length === 0;
  $("#curve-empty").hidden = drawn;
  curveDownloads.enable(drawn);
}

async function loadProgress() {
  try {
    const p = await api(urls.progress);
    $("#stat-labeled").textContent = formatNumber(p.labeled);
    $("#stat-labeled-of").textContent = `of ${formatNumber(p.total)} items`;
    $("#stat-remaining").textContent = formatNumber(p.remaining);
    $("#stat-eval").textContent = formatNumber(p.eval_labeled);
    $("#stat-eval-of").textContent = `of ${formatNumber(p.eval_total)} evaluation items`;
    $("#stat-queue").textContent = formatNumber(p.queue);
  } catch (error) {
    showMessage(message, `Could not load the progress: ${errorMessage(error)}`, "error");
  }
}

function seconds(value) {
  return value === undefined || value === null ? "—" : Number(value).toFixed(2);
}

const CRITERION_STATE = { fired: "fired", warning: "warning", waiting: "not yet" };

function renderStopping(latest) {
  const banner = $("#stopping-banner");
  const list = $("#stopping-criteria");
  const stopping = latest && latest.stopping;
  const criteria = (stopping && stopping.criteria) || [];
  list.replaceChildren(
    ...criteria.map((c) => {
      const state = c.fired ? (c.warning ? "warning" : "fired") : "waiting";
      return h(
        "li",
        { class: `criterion criterion-${state}`, dataset: { key: c.key, fired: c.fired ? "true" : "false" } },
        h("span", { class: "criterion-state" }, CRITERION_STATE[state]),
        h("strong", {}, c.label || c.key),
        h("span", { class: "criterion-message" }, c.message || ""),
      );
    }),
  );
  if (!latest) {
    $("#stopping-round").textContent = "Checked after every round. The criteria only advise: nothing stops by itself.";
    showMessage(banner, "No rounds yet.", "info");
    return;
  }
  $("#stopping-round").textContent = `After round ${latest.number}, with ${formatNumber(latest.labels_used)} labels. The criteria only advise: nothing stops by itself.`;
  if (!stopping || !Array.isArray(stopping.criteria)) {
    showMessage(banner, "This round has no stopping advice.", "info");
  } else if (!criteria.length) {
    showMessage(banner, "No stopping criteria are set for this project.", "info");
  } else if (stopping.recommend_stop) {
    showMessage(banner, `The criteria recommend stopping: ${firedLabels(stopping).join(", ")}. More labels are unlikely to help much; labeling goes on until you decide to stop.`, "warn");
  } else {
    showMessage(banner, `None of the ${criteria.length} criteria has fired yet: keep labeling.`, "ok");
  }
}

function renderDrift(latest) {
  const drift = latest && latest.drift;
  const section = $("#drift-section");
  const known = Boolean(drift && typeof drift.message === "string");
  section.hidden = !known;
  showMessage($("#drift-alert"), known && drift.alert ? drift.message : "", "warn");
  if (!known) return;
  $("#drift-text").textContent = drift.message;
  renderHistogram($("#drift-histogram"), drift.histogram);
}

async function loadRounds() {
  try {
    rounds = await api(urls.rounds);
  } catch (error) {
    showMessage(message, `Could not load the rounds: ${errorMessage(error)}`, "error");
    return;
  }
  const body = $("#rounds-body");
  if (!rounds.length) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No rounds yet.")));
  } else {
    body.replaceChildren(
      ...rounds
        .slice()
        .reverse()
        .map((round) => {
          const strategy = round.strategy_used === round.strategy ? round.strategy_used : `${round.strategy_used} (asked: ${round.strategy})`;
          const t = round.timings || {};
          return h(
            "tr",
            { dataset: { round: round.number } },
            h("td", { class: "num" }, round.number, round.model_version ? h("span", { class: "muted small" }, ` v${round.model_version}`) : null),
            h("td", { class: "num" }, formatNumber(round.labels_used)),
            h(
              "td",
              { title: round.note || "" },
              strategy,
              round.learner ? h("span", { class: "muted small" }, ` · ${round.learner}`) : null,
              round.stopping && round.stopping.recommend_stop ? h("span", { class: "stop-flag", title: `Stopping recommended: ${firedLabels(round.stopping).join(", ")}` }, " ▼ stop advised") : null,
              round.note ? h("div", { class: "small muted" }, round.note) : null,
            ),
            h("td", { class: "num" }, formatScore(round.metrics?.accuracy)),
            h("td", { class: "num" }, formatScore(round.metrics?.macro_f1)),
            h("td", { class: "num", title: `from a pool of ${round.pool_size}` }, formatNumber(round.selected)),
            h("td", { class: "num" }, seconds(t.fit_s)),
            h("td", { class: "num" }, seconds(t.score_s)),
            h("td", { class: "num" }, seconds(t.select_s)),
            h("td", { class: "small muted when" }, formatTime(round.created_at)),
          );
        }),
    );
  }
  drawCurve();
  renderStopping(rounds[rounds.length - 1]);
  renderDrift(rounds[rounds.length - 1]);
}

async function loadJob() {
  const mark = jobs.version;
  try {
    const [latest] = await api(urls.jobs);
    if (jobs.version === mark) jobs.fromJob(latest || null);
  } catch (error) {
    jobs.set("failed", `Could not load the job state: ${errorMessage(error)}`);
  }
}

function setupRetrain() {
  const button = $("#retrain-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    button.disabled = true;
    const mark = jobs.version;
    try {
      const job = await api(urls.jobs, { method: "POST" });
      // Push events may have overtaken this answer; they are newer.
      if (jobs.version === mark) jobs.fromJob(job);
    } catch (error) {
      showMessage(message, `Could not start a round: ${errorMessage(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
}

const progressSoon = debounce(loadProgress, 800);
const charts = setupDashboardCharts(`${urls.project}dashboard/`, {
  name: `project-${projectId}`,
  onData(data) {
    dashboardCurve = data.learning_curve || null;
    drawCurve();
  },
});
const chartsSoon = () => charts && charts.refreshSoon();
// Settings and simulations both list the strategies: one request for the two.
// Only the strategies that fit this kind of project (detection ones for image regions).
const projectKind = document.body.dataset.projectKind || "";
const strategies = $("#settings-form")
  ? api(`/api/strategies/?project_kind=${encodeURIComponent(projectKind)}`)
  : Promise.resolve([]);
strategies.catch(() => {}); // each user reports a failure in its own panel
let simulation = null;
const importer = setupImporter(urls.import, { onImported: progressSoon });

connectProject(projectId, {
  onEvent(event) {
    jobs.handle(event);
    if (event.type === "batch.ready") {
      loadRounds();
      progressSoon();
      chartsSoon();
    } else if (event.type === "progress.changed") {
      progressSoon();
      chartsSoon();
    } else if (event.type === "import.progress") {
      importer.onProgress(event);
    } else if (String(event.type).startsWith("simulation.")) {
      if (simulation) simulation.refresh();
      // A finished simulation may bring a new random baseline for the learning curve.
      if (event.type === "simulation.finished" && event.state === "succeeded") chartsSoon();
    }
  },
  onStatus(status, info) {
    if (status === "open" && info.reconnected) {
      loadJob();
      loadRounds();
      loadProgress();
      chartsSoon();
    } else if (status === "denied") {
      showMessage(message, "Live updates were refused: your session may have ended. Reload the page.", "error");
    }
  },
});

loadProgress();
loadRounds();
loadJob();
setupRetrain();
let members = null;
const settings = setupSettings(urls, strategies, {
  onSaved(project) {
    if (members) members.setProject(project);
    chartsSoon(); // target shares may have changed
  },
});
members = setupMembers(urls, document.body.dataset.username, settings.then((panel) => panel && panel.project)) || null;
setupConfigFile(`${urls.project}config/`, {
  onApplied() {
    settings.then((panel) => panel && panel.reload());
    chartsSoon();
  },
});
setupSimulation(urls, strategies).then((panel) => (simulation = panel || null));
window.addEventListener("resize", debounce(drawCurve, 200));
