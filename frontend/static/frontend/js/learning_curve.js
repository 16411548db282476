// The learning curve on the dashboard: one line per learner (accuracy solid, macro-F1
// dashed), the simulator's random baseline (grey, dashed) when a simulation ran, and a
// marker at each round where a stopping criterion fired, the criteria named in its tooltip
// and, where they change, in a label. Reviewers and admins get the curve from the
// dashboard API; annotators, who may not read that, from the rounds.

import { CHART_COLOURS, PALETTE, chartFrame, chartText } from "./charts.js";
import { firedLabels, svg } from "./curve.js";

const STOP_COLOUR = "#b42318";
const BASELINE_COLOUR = "#8d97a8";
const METRIC_NAMES = { accuracy: "accuracy", macro_f1: "macro-F1", map50: "mAP50" };
// With one learner the metrics keep the colours the page always had: accuracy blue, macro-F1 orange.
const ONE_LEARNER = ["#2456d3", "#e07b00"];

const numbers = (metrics) => Object.fromEntries(Object.entries(metrics || {}).filter(([, value]) => typeof value === "number"));
const percent = (value) => `${(Number(value) * 100).toFixed(1)}%`;

/** The curve from the rounds API: [{number, learner, labels_used, strategy_used, metrics, stopping}]. */
export function curveFromRounds(rounds) {
  const lines = new Map();
  for (const round of rounds) {
    const learner = round.learner || "model";
    if (!lines.has(learner)) lines.set(learner, []);
    lines.get(learner).push({ round: round.number, labels: round.labels_used, strategy: round.strategy_used, ...numbers(round.metrics) });
  }
  const stops = rounds
    .filter((round) => round.stopping && round.stopping.recommend_stop)
    .map((round) => ({ round: round.number, labels: round.labels_used, criteria: firedLabels(round.stopping) }));
  return curve([...lines].map(([learner, points]) => ({ learner, points })), stops, null);
}

/** The curve from the dashboard API's learning_curve; the rounds, where loaded, give the
 * fired criteria their readable names (the API lists their keys). */
export function curveFromDashboard(learningCurve, rounds = []) {
  const byNumber = new Map(rounds.map((round) => [round.number, round]));
  const lines = Object.entries(learningCurve.lines || {}).map(([learner, points]) => ({ learner, points }));
  const stops = (learningCurve.stops || []).map((stop) => {
    const round = byNumber.get(stop.round);
    const named = round && round.stopping ? firedLabels(round.stopping) : [];
    return { round: stop.round, labels: stop.labels, criteria: named.length ? named : stop.fired || [] };
  });
  return curve(lines, stops, learningCurve.random_baseline || null);
}

function curve(lines, stops, baseline) {
  const has = (metric) => lines.some((line) => line.points.some((point) => typeof point[metric] === "number"));
  const primary = has("accuracy") ? "accuracy" : has("map50") ? "map50" : null;
  const metrics = primary === null ? [] : primary === "accuracy" && has("macro_f1") ? ["accuracy", "macro_f1"] : [primary];
  // The baseline is drawn only against the metric the lines show.
  const comparable = baseline && baseline.metric === primary && (baseline.labels || []).length > 0;
  return { lines, metrics, stops, baseline: comparable ? baseline : null };
}

/** Whether the curve has a point to draw. */
export function curveHasPoints(model) {
  return model.metrics.length > 0;
}

function series(model) {
  const single = model.lines.length === 1;
  const result = [];
  model.lines.forEach((line, lineIndex) => {
    model.metrics.forEach((metric, metricIndex) => {
      const points = line.points.filter((point) => typeof point[metric] === "number");
      if (!points.length) return;
      result.push({
        learner: line.learner,
        metric,
        name: single ? METRIC_NAMES[metric] : `${line.learner} ${METRIC_NAMES[metric]}`,
        colour: single ? ONE_LEARNER[metricIndex] : PALETTE[lineIndex % PALETTE.length],
        dash: metricIndex === 0 ? "" : "5 4",
        points,
      });
    });
  });
  return result;
}

/** About five round steps from low to high. */
function labelTicks(low, high) {
  const rough = (high - low) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough));
  const ticks = [];
  for (let value = Math.ceil(low / step) * step; value <= high + 1e-9; value += step) ticks.push(value);
  return ticks;
}

/** Draw the curve; false (and the chart hidden) when there is nothing to draw. */
export function renderLearningCurve(chart, model) {
  const lines = series(model);
  if (!lines.length) {
    chart.replaceChildren();
    chart.setAttribute("hidden", "");
    return false;
  }
  const baseline = model.baseline;
  const legendEntries = [
    ...lines.map((line) => ({ name: line.name, colour: line.colour, dash: line.dash })),
    ...(baseline ? [{ name: "random sampling (simulated)", colour: BASELINE_COLOUR, dash: "6 4" }] : []),
  ];
  const pad = { left: 42, right: 16, top: 16, bottom: 38 };
  const plotHeight = 170;
  const width = chartFrame(chart, (shown) => pad.top + plotHeight + pad.bottom + layoutLegend(legendEntries, pad.left, shown - pad.right).rows * 18);

  const xs = [
    ...lines.flatMap((line) => line.points.map((point) => point.labels)),
    ...(baseline ? baseline.labels : []),
    ...model.stops.map((stop) => stop.labels),
  ].map(Number);
  let low = Math.min(...xs);
  let high = Math.max(...xs);
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const x = (value) => pad.left + ((value - low) / (high - low)) * (width - pad.left - pad.right);
  const y = (value) => pad.top + (1 - Math.max(0, Math.min(1, value))) * plotHeight;
  const bottom = pad.top + plotHeight;

  for (const tick of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: CHART_COLOURS.grid, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(chartText({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, `${tick * 100}%`));
  }
  for (const tick of labelTicks(low, high)) {
    chart.append(chartText({ x: x(tick), y: bottom + 14, "text-anchor": "middle", "font-size": 10 }, String(tick)));
  }
  chart.append(chartText({ x: width - pad.right, y: bottom + 28, "text-anchor": "end", "font-size": 10 }, "labels used"));

  // Under the lines, so that the points stay on top and keep their tooltips.
  let previous = "";
  for (const stop of model.stops) {
    const at = x(stop.labels);
    const names = stop.criteria.join(", ");
    const marker = svg("g", { class: "stop-marker", "data-round": String(stop.round), "data-criteria": names });
    marker.append(
      svg("line", { x1: at, x2: at, y1: pad.top, y2: bottom, stroke: STOP_COLOUR, "stroke-width": 1.5, "stroke-dasharray": "3 3" }),
      svg("path", { d: `M${at - 5},${pad.top - 7} h10 l-5,7 z`, fill: STOP_COLOUR }),
    );
    // Criteria usually go on firing round after round: name them where they change.
    if (names && names !== previous) {
      const right = at > pad.left + (width - pad.left - pad.right) * 0.7;
      marker.append(chartText({ class: "stop-label", x: at + (right ? -7 : 7), y: pad.top + 4, "text-anchor": right ? "end" : "start", fill: STOP_COLOUR, "font-size": 10 }, names));
    }
    previous = names;
    marker.append(svg("title", {}, `Round ${stop.round}, ${stop.labels} labels: stopping recommended (${names || "criteria not named"})`));
    chart.append(marker);
  }

  if (baseline) {
    const points = baseline.labels.map((labels, index) => [Number(labels), baseline.values[index]]).filter(([, value]) => typeof value === "number");
    const group = svg("g", { class: "baseline", "data-simulation": String(baseline.simulation ?? "") });
    group.append(svg("polyline", { points: points.map(([l, v]) => `${x(l).toFixed(1)},${y(v).toFixed(1)}`).join(" "), fill: "none", stroke: BASELINE_COLOUR, "stroke-width": 2, "stroke-dasharray": "6 4" }));
    for (const [labels, value] of points) {
      const dot = svg("circle", { class: "baseline-point", cx: x(labels), cy: y(value), r: 2.5, fill: BASELINE_COLOUR, "data-labels": String(labels), "data-value": String(value) });
      dot.append(svg("title", {}, `Random sampling in simulation ${baseline.simulation ?? ""}: ${METRIC_NAMES[baseline.metric] || baseline.metric} ${percent(value)} with ${labels} labels`));
      group.append(dot);
    }
    chart.append(group);
  }

  for (const line of lines) {
    const group = svg("g", { class: "series", "data-learner": line.learner, "data-metric": line.metric });
    const path = line.points.map((point) => `${x(point.labels).toFixed(1)},${y(point[line.metric]).toFixed(1)}`).join(" ");
    group.append(svg("polyline", { points: path, fill: "none", stroke: line.colour, "stroke-width": 2, "stroke-dasharray": line.dash }));
    for (const point of line.points) {
      const dot = svg("circle", {
        class: "point", cx: x(point.labels), cy: y(point[line.metric]), r: 3, fill: line.colour,
        "data-round": String(point.round), "data-labels": String(point.labels), "data-value": String(point[line.metric]),
      });
      const strategy = point.strategy ? ` (${point.strategy})` : "";
      dot.append(svg("title", {}, `Round ${point.round}${strategy}, ${line.learner}: ${METRIC_NAMES[line.metric]} ${percent(point[line.metric])} with ${point.labels} labels`));
      group.append(dot);
    }
    chart.append(group);
  }

  const legendTop = bottom + pad.bottom + 4;
  for (const entry of layoutLegend(legendEntries, pad.left, width - pad.right).placed) {
    chart.append(svg("line", { x1: entry.x, x2: entry.x + 18, y1: legendTop + entry.row * 18 - 4, y2: legendTop + entry.row * 18 - 4, stroke: entry.colour, "stroke-width": 2, "stroke-dasharray": entry.dash }));
    chart.append(chartText({ x: entry.x + 23, y: legendTop + entry.row * 18, fill: CHART_COLOURS.text }, entry.name));
  }
  return true;
}

function layoutLegend(entries, left, right) {
  const placed = [];
  let row = 0;
  let x = left;
  for (const entry of entries) {
    const size = 30 + entry.name.length * 6.2;
    if (x > left && x + size > right) {
      row += 1;
      x = left;
    }
    placed.push({ ...entry, x, row });
    x += size + 12;
  }
  return { placed, rows: entries.length ? row + 1 : 0 };
}

/** The numbers the chart shows: a row per point of every line, then the baseline's. */
export function learningCurveCsv(model) {
  const stopsByRound = new Map(model.stops.map((stop) => [stop.round, stop.criteria.join("; ")]));
  const header = ["series", "round", "labels", "strategy", ...model.metrics, "stopping_fired"];
  const rows = model.lines.flatMap((line) =>
    line.points.map((point) => [line.learner, point.round, point.labels, point.strategy || "", ...model.metrics.map((m) => point[m] ?? null), stopsByRound.get(point.round) || ""]),
  );
  if (model.baseline) {
    const name = `random baseline (simulation ${model.baseline.simulation ?? ""})`.replace(" ()", "");
    model.baseline.labels.forEach((labels, index) => {
      rows.push([name, null, labels, "random", model.baseline.values[index] ?? null, ...model.metrics.slice(1).map(() => null), ""]);
    });
  }
  return { header, rows };
}
