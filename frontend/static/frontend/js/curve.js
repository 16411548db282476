// The learning curve as a small SVG line chart: accuracy and macro-F1 by labels used.

const NS = "http://www.w3.org/2000/svg";
const SERIES = [
  ["accuracy", "#2456d3", ""],
  ["macro_f1", "#e07b00", "5 4"], // dashed: on balanced data it often lies on the accuracy line
];

function svg(tag, attrs = {}, text = null) {
  const el = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (text !== null) el.textContent = text;
  return el;
}

export function renderCurve(chart, legend, rounds) {
  const points = rounds.filter((round) => round.metrics && round.metrics.accuracy !== undefined);
  chart.replaceChildren();
  // An SVG element has no `hidden` property: set the attribute.
  chart.toggleAttribute("hidden", points.length === 0);
  legend.hidden = points.length === 0;
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
