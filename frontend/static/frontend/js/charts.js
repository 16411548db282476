// Charts of the agreement and quality pages, drawn as SVG in the page, and their
// downloads: the numbers as CSV, the picture as PNG (the SVG painted on a canvas).
// Colours and fonts are attributes on the elements rather than stylesheet rules, so the
// PNG, which sees no stylesheet, looks like the page.

import { svg } from "./curve.js";
import { h } from "./dom.js";

const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif';
const TEXT = "#1c2230";
const MUTED = "#5d6678";
const GRID = "#c3c9d4";
const EMPTY = "#f0f2f5";
export const PALETTE = ["#2456d3", "#e07b00", "#17703a", "#b42318", "#7b3fb8", "#0f8a8a", "#8a5a00", "#c2185b"];

// Kappa and alpha run from -1 (systematic disagreement) through 0 (chance) to 1.
const NEGATIVE = [180, 35, 24];
const NEUTRAL = [244, 245, 247];
const POSITIVE = [36, 86, 211];

function text(attrs, content) {
  return svg("text", { "font-family": FONT, "font-size": 11, fill: MUTED, ...attrs }, content);
}

function mix(from, to, share) {
  const channel = (i) => Math.round(from[i] + (to[i] - from[i]) * share);
  return `rgb(${channel(0)}, ${channel(1)}, ${channel(2)})`;
}

/** The fill of a value on the -1..1 scale: red below 0, blue above, pale near 0. */
export function agreementColour(value) {
  const clamped = Math.max(-1, Math.min(1, Number(value)));
  return mix(NEUTRAL, clamped < 0 ? NEGATIVE : POSITIVE, Math.abs(clamped));
}

function sized(chart, width, height) {
  chart.replaceChildren();
  chart.setAttribute("viewBox", `0 0 ${width} ${height}`);
  chart.setAttribute("width", width);
  chart.setAttribute("height", height);
  chart.removeAttribute("hidden");
}

/** An empty chart: hidden, with a note shown in its place. */
export function clearChart(chart, note, message) {
  chart.replaceChildren();
  chart.setAttribute("hidden", "");
  if (note) {
    note.textContent = message;
    note.hidden = !message;
  }
}

/** A symmetric matrix of pair values, names on both axes and the value in each cell.
 * names: [{id, username}]; pairs: [{a, b, value, title}] by user id. A pair without a
 * value (no shared items, or undefined) is an empty cell; the diagonal is grey. */
export function renderHeatmap(chart, names, pairs, { format = (v) => v.toFixed(2), scale = [-1, 1] } = {}) {
  const byPair = new Map();
  for (const pair of pairs) {
    byPair.set(`${pair.a}:${pair.b}`, pair);
    byPair.set(`${pair.b}:${pair.a}`, pair);
  }
  const cell = 56;
  const longest = Math.max(4, ...names.map((n) => String(n.username).length));
  const left = Math.min(170, 14 + longest * 7);
  const top = Math.min(130, 18 + longest * 5);
  const legendHeight = 44;
  const width = Math.max(left + names.length * cell + 16, 300);
  const height = top + names.length * cell + legendHeight;
  sized(chart, width, height);
  names.forEach((name, index) => {
    const middle = left + index * cell + cell / 2;
    chart.append(text({ x: left - 8, y: top + index * cell + cell / 2 + 4, "text-anchor": "end", fill: TEXT }, name.username));
    chart.append(text({ x: middle, y: top - 8, "text-anchor": "start", fill: TEXT, transform: `rotate(-40 ${middle} ${top - 8})` }, name.username));
  });
  names.forEach((row, r) => {
    names.forEach((column, c) => {
      const x = left + c * cell;
      const y = top + r * cell;
      const pair = r === c ? null : byPair.get(`${row.id}:${column.id}`);
      const value = pair && pair.value !== null && pair.value !== undefined ? Number(pair.value) : null;
      const group = svg("g", {
        class: r === c ? "cell diagonal" : "cell",
        "data-row": row.username,
        "data-col": column.username,
        "data-value": value === null ? "" : String(value),
      });
      const fill = r === c ? "#dde1e8" : value === null ? EMPTY : agreementColour(scaled(value, scale));
      group.append(svg("rect", { x: x + 1, y: y + 1, width: cell - 2, height: cell - 2, rx: 3, fill, stroke: "#ffffff" }));
      if (value !== null) {
        const dark = Math.abs(scaled(value, scale)) > 0.55;
        group.append(text({ x: x + cell / 2, y: y + cell / 2 + 4, "text-anchor": "middle", "font-size": 13, "font-weight": 600, fill: dark ? "#ffffff" : TEXT }, format(value)));
      }
      const title = r === c ? row.username : (pair && pair.title) || `${row.username} and ${column.username}: no shared items`;
      group.append(svg("title", {}, title));
      chart.append(group);
    });
  });
  // The colour scale, as steps (a gradient would need ids in a page with several charts).
  const legendTop = top + names.length * cell + 16;
  const steps = 20;
  const legendWidth = Math.min(220, width - left - 10);
  for (let i = 0; i < steps; i += 1) {
    const value = scale[0] + ((scale[1] - scale[0]) * (i + 0.5)) / steps;
    chart.append(svg("rect", { x: left + (i * legendWidth) / steps, y: legendTop, width: legendWidth / steps + 0.5, height: 10, fill: agreementColour(scaled(value, scale)) }));
  }
  chart.append(text({ x: left, y: legendTop + 24, "text-anchor": "start" }, format(scale[0])));
  chart.append(text({ x: left + legendWidth / 2, y: legendTop + 24, "text-anchor": "middle" }, format((scale[0] + scale[1]) / 2)));
  chart.append(text({ x: left + legendWidth, y: legendTop + 24, "text-anchor": "end" }, format(scale[1])));
}

/** A value on [low, high] moved to the colour scale's -1..1 (0..1 scales use its blue half). */
function scaled(value, [low, high]) {
  return low < 0 ? value : (value - low) / (high - low);
}

/** Vertical bars of values on -1..1 (missing values get a note instead of a bar).
 * bars: [{label, value, title}] */
export function renderBars(chart, bars, { format = (v) => v.toFixed(2) } = {}) {
  const slot = 72;
  const pad = { left: 40, right: 12, top: 18, bottom: 30 };
  const width = Math.max(300, pad.left + bars.length * slot + pad.right);
  const height = 190;
  sized(chart, width, height);
  const values = bars.map((b) => b.value).filter((v) => v !== null && v !== undefined);
  const low = Math.min(0, ...values);
  const y = (value) => pad.top + ((1 - value) / (1 - low)) * (height - pad.top - pad.bottom);
  for (const tick of low < 0 ? [low, 0, 0.5, 1] : [0, 0.5, 1]) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: GRID, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(text({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, tick.toFixed(tick === 0 || tick === 1 ? 0 : 1)));
  }
  bars.forEach((bar, index) => {
    const x = pad.left + index * slot + slot * 0.2;
    const barWidth = slot * 0.6;
    const group = svg("g", { class: "bar", "data-label": bar.label, "data-value": bar.value === null || bar.value === undefined ? "" : String(bar.value) });
    if (bar.value === null || bar.value === undefined) {
      group.append(text({ x: x + barWidth / 2, y: y(0) - 6, "text-anchor": "middle" }, "n/a"));
    } else {
      const top = Math.min(y(bar.value), y(0));
      group.append(svg("rect", { x, y: top, width: barWidth, height: Math.max(1, Math.abs(y(bar.value) - y(0))), rx: 2, fill: barColour(bar.value) }));
      const above = bar.value >= 0;
      group.append(text({ x: x + barWidth / 2, y: above ? y(bar.value) - 5 : y(bar.value) + 13, "text-anchor": "middle", fill: TEXT, "font-weight": 600 }, format(bar.value)));
    }
    group.append(text({ x: x + barWidth / 2, y: height - 10, "text-anchor": "middle", fill: TEXT }, truncate(bar.label, 11)));
    group.append(svg("title", {}, bar.title || `${bar.label}: ${bar.value === null || bar.value === undefined ? "not defined" : format(bar.value)}`));
    chart.append(group);
  });
}

// Bars near 0 keep enough colour to be seen.
function barColour(value) {
  return agreementColour((value < 0 ? -1 : 1) * Math.max(0.35, Math.abs(value)));
}

/** Lines over days, one per series, on a 0..1 axis; a missing value breaks the line.
 * series: [{name, points: [{x, y, title}]}]; xs: the days in order. */
export function renderLines(chart, xs, series, { format = (v) => `${Math.round(v * 100)}%` } = {}) {
  const pad = { left: 42, right: 16, top: 12, bottom: 34 };
  const legendRows = Math.ceil(series.length / 4);
  // Drawn at the width it is shown at, so its text keeps the page's size.
  chart.removeAttribute("hidden");
  chart.removeAttribute("width");
  const width = Math.max(chart.clientWidth || 0, 360);
  const plotHeight = 170;
  const height = pad.top + plotHeight + pad.bottom + legendRows * 18;
  sized(chart, width, height);
  const span = Math.max(1, xs.length - 1);
  const x = (index) => (xs.length === 1 ? (pad.left + width - pad.right) / 2 : pad.left + (index / span) * (width - pad.left - pad.right));
  const y = (value) => pad.top + (1 - value) * plotHeight;
  for (const tick of [0, 0.5, 1]) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: GRID, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(text({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, format(tick)));
  }
  const every = Math.max(1, Math.ceil(xs.length / 8));
  xs.forEach((day, index) => {
    if (index % every === 0 || index === xs.length - 1) {
      chart.append(text({ x: x(index), y: pad.top + plotHeight + 16, "text-anchor": "middle", "font-size": 10 }, day));
    }
  });
  const position = new Map(xs.map((day, index) => [day, index]));
  series.forEach((line, index) => {
    const colour = PALETTE[index % PALETTE.length];
    const group = svg("g", { class: "series", "data-name": line.name });
    let run = [];
    const flush = () => {
      if (run.length > 1) group.append(svg("polyline", { points: run.join(" "), fill: "none", stroke: colour, "stroke-width": 2 }));
      run = [];
    };
    for (const point of line.points) {
      if (point.y === null || point.y === undefined) {
        flush();
        continue;
      }
      const px = x(position.get(point.x));
      const py = y(point.y);
      run.push(`${px.toFixed(1)},${py.toFixed(1)}`);
      const dot = svg("circle", { cx: px, cy: py, r: 3.5, fill: colour, class: "point", "data-x": point.x, "data-y": String(point.y) });
      dot.append(svg("title", {}, point.title || `${line.name}, ${point.x}: ${format(point.y)}`));
      group.append(dot);
    }
    flush();
    chart.append(group);
    const legendX = pad.left + (index % 4) * 150;
    const legendY = pad.top + plotHeight + pad.bottom + Math.floor(index / 4) * 18;
    chart.append(svg("rect", { x: legendX, y: legendY - 9, width: 11, height: 11, rx: 2, fill: colour }));
    chart.append(text({ x: legendX + 16, y: legendY, fill: TEXT }, truncate(line.name, 20)));
  });
}

function truncate(value, length) {
  const text = String(value);
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

// ---------------------------------------------------------------------------------------
// Downloads

/** A spreadsheet cell: quoted when needed; text that a spreadsheet would run as a
 * formula (=, +, -, @ first) gets a leading apostrophe, since names and texts are user input. */
function csvCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header, rows) {
  return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 5000);
}

/** The chart as a PNG blob, at twice its size for sharp text, on white. */
export async function chartPng(chart) {
  const width = Number(chart.getAttribute("width")) || chart.clientWidth;
  const height = Number(chart.getAttribute("height")) || chart.clientHeight;
  const copy = chart.cloneNode(true);
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  copy.setAttribute("width", width);
  copy.setAttribute("height", height);
  copy.removeAttribute("class");
  copy.removeAttribute("style");
  copy.prepend(svg("rect", { x: 0, y: 0, width, height, fill: "#ffffff" }));
  const source = new XMLSerializer().serializeToString(copy);
  const url = URL.createObjectURL(new Blob([source], { type: "image/svg+xml;charset=utf-8" }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = width * 2;
    canvas.height = height * 2;
    const context = canvas.getContext("2d");
    context.scale(2, 2);
    context.drawImage(image, 0, 0, width, height);
    return await new Promise((resolve, reject) => {
      canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("The browser could not make the PNG."))), "image/png");
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Wire a chart's CSV and PNG buttons. csv() -> {header, rows} of what the chart shows
 * now; onError(message) reports a failed PNG. Both stay disabled until enable(true). */
export function chartDownloads({ csvButton, pngButton, chart, name, csv, onError = () => {} }) {
  const buttons = [csvButton, pngButton].filter(Boolean);
  if (csvButton) {
    csvButton.addEventListener("click", () => {
      const { header, rows } = csv();
      saveBlob(new Blob([toCsv(header, rows)], { type: "text/csv;charset=utf-8" }), `${name}.csv`);
    });
  }
  if (pngButton && chart) {
    pngButton.addEventListener("click", async () => {
      pngButton.disabled = true;
      try {
        saveBlob(await chartPng(chart), `${name}.png`);
      } catch (error) {
        onError(`Could not make the PNG: ${(error && error.message) || error}`);
      } finally {
        pngButton.disabled = false;
      }
    });
  }
  const enable = (on) => buttons.forEach((button) => (button.disabled = !on));
  enable(false);
  return { enable };
}

// ---------------------------------------------------------------------------------------
// Counts and shares: the project dashboard's bars and histograms

export { text as chartText };
export const CHART_COLOURS = { text: TEXT, muted: MUTED, grid: GRID };

/** Empty the chart and size it to the width it is shown at (360 px at least), so its
 * text keeps the page's size; height is a number or a function of that width (a legend
 * may need more rows on a narrow chart). Returns the width. */
export function chartFrame(chart, height) {
  chart.removeAttribute("hidden");
  chart.removeAttribute("width");
  const width = Math.max(chart.clientWidth || 0, 360);
  sized(chart, width, typeof height === "function" ? height(width) : height);
  return width;
}

/** Round steps from 0 up to at least `top`, about `most` of them; whole numbers when `whole`. */
export function axisTicks(top, { most = 4, whole = true } = {}) {
  if (!(top > 0)) return [0, 1];
  const rough = top / most;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  if (whole) step = Math.max(1, Math.round(step));
  const ticks = [0];
  while (ticks[ticks.length - 1] < top - 1e-9) ticks.push(Number((ticks.length * step).toFixed(6)));
  return ticks;
}

const wholeNumber = (value) => Math.round(Number(value)).toLocaleString("en-US");

/** How many category labels to skip so that they do not overlap. */
function labelEvery(slot, longest) {
  return Math.max(1, Math.ceil((longest * 6.2 + 8) / Math.max(1, slot)));
}

/** A legend row under the plot: coloured marks with names, wrapped to the width. */
function legend(chart, entries, { left, top, width }) {
  let x = left;
  let y = top;
  for (const entry of entries) {
    const label = truncate(entry.name, 28);
    const size = 24 + label.length * 6.2;
    if (x > left && x + size > width) {
      x = left;
      y += 18;
    }
    if (entry.line) {
      chart.append(svg("line", { x1: x, x2: x + 16, y1: y - 4, y2: y - 4, stroke: entry.colour, "stroke-width": entry.width || 2, "stroke-dasharray": entry.dash || "" }));
    } else {
      chart.append(svg("rect", { x, y: y - 9, width: 11, height: 11, rx: 2, fill: entry.colour }));
    }
    chart.append(text({ x: x + (entry.line ? 20 : 16), y, fill: TEXT }, label));
    x += size + 14;
  }
  return y;
}

/** Rows that a legend of these names takes at this width (for sizing the chart first). */
function legendRows(names, left, width) {
  let rows = names.length ? 1 : 0;
  let x = left;
  for (const name of names) {
    const size = 24 + truncate(name, 28).length * 6.2;
    if (x > left && x + size > width) {
      rows += 1;
      x = left;
    }
    x += size + 14;
  }
  return rows;
}

/** Columns of counts, one per category, each stacked from its series (one series: plain
 * bars). categories: [{key, label}]; series: [{name, values (one per category), colour}].
 * Each segment is a rect.segment with data-category, data-series and data-value; each
 * column a g.column with data-category and data-total, its total written on top. */
export function renderStackedBars(chart, categories, series, { format = wholeNumber, unit = "" } = {}) {
  const pad = { left: 44, right: 14, top: 18, bottom: 30 };
  const plotHeight = 170;
  const names = series.length > 1 ? series.map((s) => s.name) : [];
  const width = chartFrame(chart, (shown) => {
    const rows = legendRows(names, pad.left, shown - pad.right);
    return pad.top + plotHeight + pad.bottom + rows * 18 + (rows ? 6 : 0);
  });
  const totals = categories.map((_, index) => series.reduce((sum, s) => sum + (Number(s.values[index]) || 0), 0));
  const ticks = axisTicks(Math.max(1, ...totals));
  const top = ticks[ticks.length - 1];
  const y = (value) => pad.top + (1 - value / top) * plotHeight;
  for (const tick of ticks) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: GRID, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(text({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, format(tick)));
  }
  const slot = (width - pad.left - pad.right) / Math.max(1, categories.length);
  const barWidth = Math.max(2, Math.min(46, slot * 0.72));
  const every = labelEvery(slot, Math.max(...categories.map((c) => String(c.label).length)));
  categories.forEach((category, index) => {
    const middle = pad.left + index * slot + slot / 2;
    const column = svg("g", { class: "column", "data-category": category.key, "data-total": String(totals[index]) });
    let base = 0;
    series.forEach((s, seriesIndex) => {
      const value = Number(s.values[index]) || 0;
      if (value <= 0) return;
      const rect = svg("rect", {
        class: "segment", x: (middle - barWidth / 2).toFixed(1), y: y(base + value).toFixed(1), width: barWidth.toFixed(1),
        height: Math.max(0.5, y(base) - y(base + value)).toFixed(1), fill: s.colour || PALETTE[seriesIndex % PALETTE.length],
        "data-category": category.key, "data-series": s.name, "data-value": String(value),
      });
      const what = series.length > 1 ? `${s.name}, ${category.label}` : category.label;
      rect.append(svg("title", {}, `${what}: ${format(value)}${unit ? ` ${unit}` : ""}`));
      column.append(rect);
      base += value;
    });
    if (totals[index] > 0 && barWidth >= 14) {
      column.append(text({ x: middle, y: y(totals[index]) - 4, "text-anchor": "middle", "font-size": 10, fill: TEXT, class: "total" }, format(totals[index])));
    }
    if (index % every === 0 || index === categories.length - 1) {
      const room = Math.max(4, Math.floor((slot * every) / 6.2));
      column.append(text({ x: middle, y: pad.top + plotHeight + 16, "text-anchor": "middle", "font-size": 10 }, truncate(category.label, room)));
    }
    chart.append(column);
  });
  if (names.length) {
    legend(chart, series.map((s, index) => ({ name: s.name, colour: s.colour || PALETTE[index % PALETTE.length] })), {
      left: pad.left, top: pad.top + plotHeight + pad.bottom + 10, width: width - pad.right,
    });
  }
}

const percentText = (value) => `${Math.round(Number(value) * 100)}%`;

/** Bars of shares (0..1) with a target mark on each bar that has one.
 * bars: [{key, label, value, target, note, title}]. Each bar is a g.bar with data-key,
 * data-value and data-target; its mark a g.target-marker with data-target. */
export function renderTargetBars(chart, bars, { colour = PALETTE[0], targetColour = TEXT, valueName = "share", targetName = "target" } = {}) {
  const pad = { left: 44, right: 14, top: 18, bottom: 30 };
  const plotHeight = 170;
  const hasTargets = bars.some((bar) => bar.target !== null && bar.target !== undefined);
  const width = chartFrame(chart, pad.top + plotHeight + pad.bottom + 24);
  const highest = Math.max(0.05, ...bars.map((bar) => Number(bar.value) || 0), ...bars.map((bar) => Number(bar.target) || 0));
  const ticks = axisTicks(Math.min(1, highest * 1.1), { whole: false });
  const top = ticks[ticks.length - 1];
  const y = (value) => pad.top + (1 - Math.min(value, top) / top) * plotHeight;
  for (const tick of ticks) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: GRID, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(text({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, percentText(tick)));
  }
  const slot = (width - pad.left - pad.right) / Math.max(1, bars.length);
  const barWidth = Math.max(4, Math.min(56, slot * 0.6));
  const every = labelEvery(slot, Math.max(...bars.map((bar) => String(bar.label).length)));
  bars.forEach((bar, index) => {
    const middle = pad.left + index * slot + slot / 2;
    const value = Number(bar.value) || 0;
    const target = bar.target === null || bar.target === undefined ? null : Number(bar.target);
    const group = svg("g", { class: "bar", "data-key": bar.key, "data-value": String(value), "data-target": target === null ? "" : String(target) });
    group.append(svg("rect", { x: (middle - barWidth / 2).toFixed(1), y: y(value).toFixed(1), width: barWidth.toFixed(1), height: Math.max(0.5, y(0) - y(value)).toFixed(1), rx: 2, fill: colour }));
    const label = bar.note ?? percentText(value);
    if (barWidth >= 18) group.append(text({ x: middle, y: Math.min(y(value), target === null ? Infinity : y(target)) - 5, "text-anchor": "middle", "font-size": 10, fill: TEXT, "font-weight": 600 }, label));
    if (index % every === 0) {
      group.append(text({ x: middle, y: pad.top + plotHeight + 16, "text-anchor": "middle", "font-size": 10, fill: TEXT }, truncate(bar.label, Math.max(4, Math.floor((slot * every) / 6.2)))));
    }
    group.append(svg("title", {}, bar.title || `${bar.label}: ${percentText(value)}${target === null ? "" : `, ${targetName} ${percentText(target)}`}`));
    if (target !== null) {
      const reach = Math.min(slot * 0.45, barWidth / 2 + 8);
      const marker = svg("g", { class: "target-marker", "data-target": String(target) });
      marker.append(
        svg("line", { x1: middle - reach, x2: middle + reach, y1: y(target), y2: y(target), stroke: targetColour, "stroke-width": 2.5 }),
        svg("path", { d: `M${(middle - reach - 5).toFixed(1)},${(y(target) - 4).toFixed(1)} l5,4 l-5,4 z`, fill: targetColour }),
      );
      group.append(marker);
    }
    chart.append(group);
  });
  const entries = [{ name: valueName, colour }];
  if (hasTargets) entries.push({ name: targetName, colour: targetColour, line: true, width: 2.5 });
  legend(chart, entries, { left: pad.left, top: pad.top + plotHeight + pad.bottom + 12, width: width - pad.right });
}

/** A histogram of counts over contiguous bins, with the mean marked.
 * histogram: {edges, counts, mean}. Each bin is a rect.bin with data-low, data-high and
 * data-count; the mean a g.mean-marker with data-mean. */
export function renderCountHistogram(chart, histogram, { colour = PALETTE[1], lowText = "", highText = "", what = "items", valueName = "value" } = {}) {
  const edges = histogram.edges.map(Number);
  const counts = histogram.counts.map(Number);
  const pad = { left: 44, right: 14, top: 14, bottom: 34 };
  const plotHeight = 150;
  const width = chartFrame(chart, pad.top + plotHeight + pad.bottom);
  const low = edges[0];
  const high = edges[edges.length - 1] === low ? low + 1 : edges[edges.length - 1];
  const ticks = axisTicks(Math.max(1, ...counts));
  const top = ticks[ticks.length - 1];
  const x = (value) => pad.left + ((value - low) / (high - low)) * (width - pad.left - pad.right);
  const y = (value) => pad.top + (1 - value / top) * plotHeight;
  for (const tick of ticks) {
    chart.append(svg("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: GRID, "stroke-width": 1, "stroke-dasharray": tick === 0 ? "" : "2 3" }));
    chart.append(text({ x: pad.left - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 10 }, wholeNumber(tick)));
  }
  const every = Math.max(1, Math.ceil(edges.length / 11));
  edges.forEach((edge, index) => {
    if (index % every === 0 || index === edges.length - 1) {
      chart.append(text({ x: x(edge), y: pad.top + plotHeight + 14, "text-anchor": "middle", "font-size": 10 }, String(Number(edge.toFixed(2)))));
    }
  });
  if (lowText) chart.append(text({ x: pad.left, y: pad.top + plotHeight + 28, "text-anchor": "start", "font-size": 10 }, lowText));
  if (highText) chart.append(text({ x: width - pad.right, y: pad.top + plotHeight + 28, "text-anchor": "end", "font-size": 10 }, highText));
  counts.forEach((count, index) => {
    const left = x(edges[index]);
    const right = x(edges[index + 1]);
    const rect = svg("rect", {
      class: "bin", x: (left + 0.5).toFixed(1), y: y(count).toFixed(1), width: Math.max(0.5, right - left - 1).toFixed(1),
      height: Math.max(0, y(0) - y(count)).toFixed(1), fill: colour,
      "data-low": String(edges[index]), "data-high": String(edges[index + 1]), "data-count": String(count),
    });
    rect.append(svg("title", {}, `${wholeNumber(count)} ${what} with ${valueName} ${edges[index]}–${edges[index + 1]}`));
    chart.append(rect);
  });
  if (histogram.mean !== null && histogram.mean !== undefined) {
    const at = x(Number(histogram.mean));
    const marker = svg("g", { class: "mean-marker", "data-mean": String(histogram.mean) });
    const caption = `mean ${Number(histogram.mean).toFixed(2)}`;
    marker.append(
      svg("line", { x1: at, x2: at, y1: pad.top, y2: y(0), stroke: TEXT, "stroke-width": 1.5, "stroke-dasharray": "4 3" }),
      text({ x: at + (at > width * 0.75 ? -4 : 4), y: pad.top + 9, "text-anchor": at > width * 0.75 ? "end" : "start", fill: TEXT }, caption),
      svg("title", {}, `${caption} over ${wholeNumber(histogram.items ?? counts.reduce((a, b) => a + b, 0))} ${what}`),
    );
    chart.append(marker);
  }
}
