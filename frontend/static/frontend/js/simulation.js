// "Simulate before you choose" (admins): replays strategies on the labeled items as a
// server job, polls the list every 2 s until it is done, then plots the mean accuracy of
// each strategy by labels with a band of ±1 standard deviation, and a table of how many
// labels each needed to reach 95% of the accuracy with every label.

import { api, ApiError, errorMessage, fieldErrors } from "./api.js";
import { svg } from "./curve.js";
import { $, $$, formatNumber, formatScore, formatTime, h, showMessage } from "./dom.js";

const POLL_MS = 2000;
const COLOURS = ["#2456d3", "#e07b00", "#17803d", "#b42318", "#7b3fb5", "#0f7c8c", "#8a5a00", "#c2185b"];
const PRESELECTED = new Set(["random", "margin"]);
const FIELDS = ["initial", "batch", "budget", "seeds"];
const ACTIVE = new Set(["queued", "running"]);

const last = (values) => (values && values.length ? values[values.length - 1] : null);

function plot(chart, result, names) {
  const entries = Object.entries(result.strategies || {}).filter(([, s]) => (s.labels || []).length && Array.isArray(s.accuracy_mean));
  chart.replaceChildren();
  if (!entries.length) return;
  const width = chart.clientWidth || 640;
  const height = 220;
  const pad = { left: 40, right: 12, top: 10, bottom: 24 };
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = entries.flatMap(([, s]) => s.labels);
  const std = (s, i) => (s.accuracy_std && s.accuracy_std[i]) || 0;
  const ys = entries.flatMap(([, s]) => s.accuracy_mean.flatMap((m, i) => [m - std(s, i), m + std(s, i)]));
  const full = typeof result.full_accuracy === "number" ? result.full_accuracy : null;
  if (full !== null) ys.push(full, full * 0.95);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  const y0 = Math.max(0, Math.min(...ys) - 0.02);
  const y1 = Math.min(1, Math.max(...ys) + 0.02);
  const x = (v) => pad.left + ((v - x0) / (x1 - x0)) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);

  for (const tick of [y0, (y0 + y1) / 2, y1]) {
    chart.append(svg("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), "stroke-dasharray": tick === y0 ? "" : "2 3" }));
    chart.append(svg("text", { x: pad.left - 6, y: y(tick) + 3, "text-anchor": "end" }, `${(tick * 100).toFixed(0)}%`));
  }
  chart.append(svg("text", { x: x(x0), y: height - 6, "text-anchor": "start" }, `${x0} labels`));
  chart.append(svg("text", { x: x(x1), y: height - 6, "text-anchor": "end" }, `${x1}`));
  if (full !== null) {
    for (const [value, text] of [[full, "all labels"], [full * 0.95, "95% of that"]]) {
      chart.append(svg("line", { class: "reference", x1: pad.left, x2: width - pad.right, y1: y(value), y2: y(value) }));
      // Above its line, or below it where the line runs along the top edge.
      const at = y(value) - pad.top < 12 ? y(value) + 11 : y(value) - 3;
      chart.append(svg("text", { x: width - pad.right, y: at, "text-anchor": "end" }, `${text} ${(value * 100).toFixed(1)}%`));
    }
  }
  entries.forEach(([key, s], index) => {
    const colour = COLOURS[index % COLOURS.length];
    const upper = s.labels.map((l, i) => `${x(l).toFixed(1)},${y(Math.min(1, s.accuracy_mean[i] + std(s, i))).toFixed(1)}`);
    const lower = s.labels.map((l, i) => `${x(l).toFixed(1)},${y(Math.max(0, s.accuracy_mean[i] - std(s, i))).toFixed(1)}`).reverse();
    chart.append(svg("polygon", { class: "band", points: [...upper, ...lower].join(" "), fill: colour, "fill-opacity": 0.14, "data-strategy": key }));
    const line = s.labels.map((l, i) => `${x(l).toFixed(1)},${y(s.accuracy_mean[i]).toFixed(1)}`).join(" ");
    const path = svg("polyline", { points: line, fill: "none", stroke: colour, "stroke-width": 2, "data-strategy": key });
    path.append(svg("title", {}, `${names[key] || key}: ${formatScore(last(s.accuracy_mean))} with ${last(s.labels)} labels`));
    chart.append(path);
  });
}

function legendItems(result, names) {
  return Object.keys(result.strategies || {}).map((key, index) =>
    h("span", {}, h("span", { class: "swatch", style: { background: COLOURS[index % COLOURS.length] } }), names[key] || key),
  );
}

function tableRows(result, names) {
  const reached = result.labels_to_95pct || {};
  return Object.entries(result.strategies || {}).map(([key, s]) => {
    const std = last(s.accuracy_std);
    const labels = reached[key];
    return h(
      "tr",
      { dataset: { strategy: key } },
      h("td", {}, names[key] || key),
      h("td", { class: "num" }, labels === null || labels === undefined ? h("span", { class: "muted" }, "not reached") : formatNumber(labels)),
      h("td", { class: "num" }, formatScore(last(s.accuracy_mean)), std ? h("span", { class: "muted small" }, ` ± ${(std * 100).toFixed(1)}`) : null),
      h("td", { class: "num" }, formatScore(last(s.macro_f1_mean))),
      h("td", { class: "num" }, typeof s.seconds_per_round === "number" ? s.seconds_per_round.toFixed(3) : "—"),
    );
  });
}

export async function setupSimulation(urls, strategiesPromise = api("/api/strategies/")) {
  const form = $("#simulation-form");
  if (!form) return;
  const url = `${urls.project}simulations/`;
  const message = $("#simulation-message");
  const state = $("#sim-state");
  const button = $("#sim-run");
  const names = {};
  let watching = null; // the id of the run being waited for
  let timer = null;
  let shown = null; // [id, state] of the run drawn, to redraw only on change

  function show(runs) {
    const newest = watching ? runs.find((run) => run.id === watching) || runs[0] : runs[0];
    const active = Boolean(newest && ACTIVE.has(newest.state));
    button.disabled = active;
    if (!newest) {
      state.textContent = "No simulation yet.";
    } else if (active) {
      state.textContent = newest.state === "queued" ? "Simulation queued…" : "Simulation running…";
    } else if (newest.state === "failed") {
      state.textContent = "";
      showMessage(message, `The last simulation failed: ${newest.error || "no reason given"}`, "error");
    } else {
      state.textContent = `Last run ${formatTime(newest.created_at)}.`;
    }
    const done = runs.find((run) => run.state === "succeeded" && run.result && run.result.strategies);
    $("#sim-result").hidden = !done;
    if (!done || (shown && shown[0] === done.id)) return active;
    shown = [done.id];
    const config = done.config || {};
    const full = typeof done.result.full_accuracy === "number" ? ` Accuracy with every labeled item: ${formatScore(done.result.full_accuracy)}.` : "";
    $("#sim-caption").textContent =
      `Run of ${formatTime(done.created_at)}: ${config.initial ?? "?"} initial labels, batches of ${config.batch ?? "?"}, ` +
      `up to ${config.budget ?? "?"} labels, mean of ${config.seeds ?? "?"} seeds.${full}`;
    plot($("#sim-chart"), done.result, names);
    $("#sim-legend").replaceChildren(...legendItems(done.result, names), h("span", {}, "bands: ± 1 standard deviation"));
    $("#sim-body").replaceChildren(...tableRows(done.result, names));
    return active;
  }

  async function poll() {
    clearTimeout(timer);
    let active = Boolean(watching);
    try {
      active = show(await api(url));
    } catch (error) {
      showMessage(message, `Could not load the simulations: ${errorMessage(error)}`, "error");
    }
    if (active) timer = setTimeout(poll, POLL_MS);
    else watching = null;
  }

  try {
    const strategies = await strategiesPromise;
    for (const s of strategies) names[s.key] = s.label;
    $("#sim-strategies").replaceChildren(
      h("legend", {}, "Strategies"),
      ...strategies
        .filter((s) => s.key !== "mix")
        .map((s) =>
          h("label", { class: "check", title: s.description || "" },
            h("input", { type: "checkbox", name: "strategies", value: s.key, checked: PRESELECTED.has(s.key) }), ` ${s.label}`),
        ),
    );
  } catch (error) {
    showMessage(message, `Could not load the strategies: ${errorMessage(error)}`, "error");
  }
  poll();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    $$("[data-error-for]", form).forEach((slot) => (slot.textContent = ""));
    showMessage(message, "");
    const body = { strategies: $$("input[name=strategies]:checked", form).map((box) => box.value) };
    if (!body.strategies.length) {
      $("#sim-strategies-error").textContent = "Choose at least one strategy.";
      return;
    }
    for (const name of FIELDS) {
      const raw = form.elements[name].value.trim();
      body[name] = raw === "" ? raw : Number(raw);
    }
    button.disabled = true;
    try {
      const run = await api(url, { method: "POST", body });
      watching = run.id;
      state.textContent = "Simulation queued…";
      timer = setTimeout(poll, POLL_MS);
    } catch (error) {
      button.disabled = false;
      const fields = error instanceof ApiError && error.status === 400 ? fieldErrors(error.body) : {};
      let placed = false;
      for (const [name, text] of Object.entries(fields)) {
        const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
        if (slot) {
          slot.textContent = text;
          placed = true;
        }
      }
      showMessage(message, placed ? "Not started: fix the marked fields." : `Could not start the simulation: ${errorMessage(error)}`, "error");
    }
  });

  return { refresh: poll };
}
