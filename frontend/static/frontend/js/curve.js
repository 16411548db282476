// The learning curve as a small SVG line chart: accuracy and macro-F1 by labels used,
// with a marker at each round where the stopping criteria recommended stopping. Also the
// small SVG helpers the drift histogram and the simulation chart share.

const NS = "http://www.w3.org/2000/svg";
const SERIES = [
  ["accuracy", "#2456d3", ""],
  ["macro_f1", "#e07b00", "5 4"], // dashed: on balanced data it often lies on the accuracy line
];
const STOP_COLOUR = "#b42318";

export function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== null) el.textContent = text;
  return el;
}

/** The labels of the criteria that fired in a round's stopping advice. */
export function firedLabels(stopping) {
  const criteria = (stopping && stopping.criteria) || [];
  const fired = criteria.filter((c) => c.fired).map((c) => c.label || c.key);
  return fired.length ? fired : ((stopping && stopping.fired) || []);
}

export function renderCurve(chart, legend, rounds) {
  const points = rounds.filter((round) => round.metrics && round.metrics.accuracy !== undefined);
  chart.replaceChildren();
  // An SVG element has no `hidden` property: set the attribute.
  chart.toggleAttribute("hidden", points.length === 0);
  legend.hidden = points.length === 0;
  const stops = points.filter((round) => round.stopping && round.stopping.recommend_stop);
  const stopLegend = legend.querySelector("[data-legend=stop]");
  if (stopLegend) stopLegend.hidden = stops.length === 0;
  if (!points.length) return;
  const width = chart.clientWidth || 640;
  const height = 170;
  const pad = { left: 36, right: 12, top: 10, bottom: 24 };
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const xs = points.map((round) => round.labels_used);
  let low = Math.min(...xs);
  let high = Math.max(...xs);
  if (low === high) {
    low -= 1;
    high += 1;
  }
  const x = (value) => pad.left + ((value - low) / (high - low)) * (width - pad.left - pad.right);
  const y = (value) => pad.top + (1 - value) * (height - pad.top - pad.bottom);

  for (const tick of [0, 0.5, 1]) {
    chart.append(svg("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(svg("text", { x: pad.left - 6, y: y(tick) + 3, "text-anchor": "end" }, `${tick * 100}%`));
  }
  chart.append(svg("text", { x: x(Math.min(...xs)), y: height - 6, "text-anchor": "start" }, `${Math.min(...xs)} labels`));
  if (Math.max(...xs) !== Math.min(...xs)) {
    chart.append(svg("text", { x: x(Math.max(...xs)), y: height - 6, "text-anchor": "end" }, `${Math.max(...xs)}`));
  }
  // Under the lines, so the dots stay on top and keep their tooltips.
  for (const round of stops) {
    const at = x(round.labels_used);
    const marker = svg("g", { class: "stop-marker", "data-round": round.number });
    marker.append(
      svg("line", { x1: at, x2: at, y1: pad.top, y2: height - pad.bottom, stroke: STOP_COLOUR, "stroke-width": 1.5, "stroke-dasharray": "3 3" }),
      svg("path", { d: `M${at - 5},${pad.top - 6} h10 l-5,7 z`, fill: STOP_COLOUR }),
      svg("title", {}, `Round ${round.number}, ${round.labels_used} labels: stopping recommended (${firedLabels(round.stopping).join(", ")})`),
    );
    chart.append(marker);
  }
  for (const [metric, colour, dash] of SERIES) {
    const series = points.filter((round) => round.metrics[metric] !== undefined);
    if (!series.length) continue;
    const path = series.map((round) => `${x(round.labels_used).toFixed(1)},${y(round.metrics[metric]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { points: path, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": dash }));
    for (const round of series) {
      const dot = svg("circle", { cx: x(round.labels_used), cy: y(round.metrics[metric]), r: 3, fill: colour });
      dot.append(svg("title", {}, `Round ${round.number}: ${metric} ${(round.metrics[metric] * 100).toFixed(1)}% with ${round.labels_used} labels`));
      chart.append(dot);
    }
  }
}

const HISTOGRAM_SERIES = [
  ["reference", "#8d97a8", "labeled items"],
  ["new", "#e07b00", "new items"],
];

/** Side-by-side bars of two distributions over the same bins: {edges, new, reference}, as fractions. */
export function renderHistogram(chart, histogram) {
  const edges = (histogram && histogram.edges) || [];
  const bins = edges.length - 1;
  chart.replaceChildren();
  chart.toggleAttribute("hidden", bins < 1);
  if (bins < 1) return;
  const width = 360;
  const height = 96;
  const pad = { left: 34, right: 6, top: 8, bottom: 18 };
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const values = HISTOGRAM_SERIES.flatMap(([name]) => histogram[name] || []);
  const top = Math.max(0.01, ...values);
  const slot = (width - pad.left - pad.right) / bins;
  const bar = slot * 0.4;
  const y = (value) => pad.top + (1 - value / top) * (height - pad.top - pad.bottom);
  chart.append(svg("line", { class: "axis", x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0) }));
  chart.append(svg("text", { x: pad.left - 4, y: y(top) + 7, "text-anchor": "end" }, `${Math.round(top * 100)}%`));
  chart.append(svg("text", { x: pad.left, y: height - 5, "text-anchor": "start" }, "certain"));
  chart.append(svg("text", { x: width - pad.right, y: height - 5, "text-anchor": "end" }, "uncertain"));
  HISTOGRAM_SERIES.forEach(([name, colour, label], offset) => {
    (histogram[name] || []).forEach((value, index) => {
      const rect = svg("rect", {
        class: `bar-${name}`,
        x: (pad.left + index * slot + slot * 0.1 + offset * bar).toFixed(1),
        y: y(value).toFixed(1),
        width: bar.toFixed(1),
        height: Math.max(0, y(0) - y(value)).toFixed(1),
        fill: colour,
      });
      const range = `${Number(edges[index]).toFixed(1)}–${Number(edges[index + 1]).toFixed(1)}`;
      rect.append(svg("title", {}, `${(value * 100).toFixed(0)}% of the ${label} have uncertainty ${range}`));
      chart.append(rect);
    });
  });
}
