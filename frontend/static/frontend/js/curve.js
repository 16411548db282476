// Small SVG pieces of the dashboard: the element builder the charts share, the names of
// the stopping criteria that fired in a round, and the drift histogram (new items against
// the labeled ones). The learning curve itself is drawn by learning_curve.js.

const NS = "http://www.w3.org/2000/svg";

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
