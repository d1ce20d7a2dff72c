// The plan's cost charts: cumulative cost, cost by line, cost against volume, the tornado of
// the recommended option (with the inputs' low and high values) and the Monte Carlo spread.
// Every option keeps its colour and its place in every chart; every axis names its unit.

import { $, currencyOf, fieldName, fieldValue, included, lineColour, lineName, optionColour, optionName, ordered, PLOT } from "./core.js";

const VOLUME_FIELD = "inference_volume_multiple";

export function layout(title, x, y, extra = {}) {
  return {
    title: { text: title, font: { size: window.innerWidth < 600 ? 12 : 14 } }, margin: { t: 40, l: 80, r: 20, b: 60 },
    xaxis: { title: { text: x }, automargin: true }, yaxis: { title: { text: y }, separatethousands: true, automargin: true },
    legend: { orientation: "h", y: -0.25 }, separators: ".,", ...extra,
  };
}

function cumulative(payload, cur) {
  const opts = included(payload);
  const curves = Object.fromEntries(opts.map((o) => [o.option, o.cumulative_usd]));
  const traces = opts.map((o) => ({ x: o.cumulative_usd.map((_, i) => i), y: o.cumulative_usd, mode: "lines", name: optionName(o.option), line: { color: optionColour(o.option) } }));
  const points = payload.breakeven.filter((b) => b.month !== null && curves[b.option]);
  if (points.length) traces.push({
    x: points.map((b) => b.month), y: points.map((b) => curves[b.option][b.month]), mode: "markers", name: "Break-even",
    marker: { symbol: "x", size: 11, color: "black" }, text: points.map((b) => `${optionName(b.option)} no dearer than ${optionName(b.versus)} from here`),
    hovertemplate: "%{text}<br>month %{x}<extra></extra>",
  });
  Plotly.newPlot("chart-cumulative", traces, layout("Cumulative cost per option (x: break-even)", "Month", `Cumulative cost, ${cur}`), PLOT);
}

function breakdown(payload, cur) {
  const opts = included(payload);
  const lines = [...new Set(opts.flatMap((o) => Object.keys(o.lines_usd)))].sort()
    .filter((line) => opts.some((o) => o.lines_usd[line]));
  Plotly.newPlot("chart-breakdown", lines.map((line) => ({
    type: "bar", name: lineName(line), marker: { color: lineColour(line) },
    x: opts.map((o) => optionName(o.option)), y: opts.map((o) => o.lines_usd[line] || 0),
  })), layout("Total cost by line over the horizon (undiscounted)", "Option", `Cost, ${cur}`, { barmode: "relative" }), PLOT);
}

// NPV of each option at the tornado's low and high volume and at the forecast (1 x).
export function volumePoints(payload) {
  const sens = payload.sensitivity || {};
  const bar = (sens.tornado || []).find((b) => b.field === VOLUME_FIELD);
  const base = sens.base_npv_usd || {};
  if (!bar) return {};
  const out = {};
  for (const o of included(payload)) {
    const n = o.option;
    if (n in bar.low_usd && n in bar.high_usd && n in base) out[n] = [[bar.low_value, bar.low_usd[n]], [1, base[n]], [bar.high_value, bar.high_usd[n]]];
  }
  return out;
}

function volume(payload, cur) {
  const points = volumePoints(payload);
  if (Object.keys(points).length < 2) { $("chart-volume").textContent = "No cost-against-volume chart: it needs two options and the volume sensitivity."; return; }
  const traces = Object.entries(points).map(([n, v]) => ({
    x: v.map((p) => p[0]), y: v.map((p) => p[1]), mode: "lines+markers", name: optionName(n), line: { color: optionColour(n) },
  }));
  const shapes = [], annotations = [];
  for (const b of payload.breakeven.filter((x) => x.volume_multiple !== null && x.volume_multiple !== undefined)) {
    shapes.push({ type: "line", x0: b.volume_multiple, x1: b.volume_multiple, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "gray" } });
    annotations.push({ x: Math.log10(b.volume_multiple), yref: "paper", y: 1, showarrow: false, text: `${optionName(b.option)} = ${optionName(b.versus)}` });
  }
  Plotly.newPlot("chart-volume", traces, layout("Cost against volume: where each option is cheapest", "Volume, multiple of the forecast (log scale)", `Net present value, ${cur}`,
    { xaxis: { type: "log", title: { text: "Volume, multiple of the forecast (log scale)" } }, shapes, annotations }), PLOT);
}

function tornado(payload, cur) {
  const best = payload.recommended && payload.recommended.option;
  const sens = payload.sensitivity || {};
  const base = best && sens.base_npv_usd ? sens.base_npv_usd[best] : undefined;
  const bars = (sens.tornado || []).filter((b) => best in b.low_usd).reverse();
  if (!bars.length || base === undefined) { $("chart-tornado").textContent = "No sensitivity analysis in this plan."; return; }
  // each input with the low and high values it was moved to
  const names = bars.map((b) => `${fieldName(b.field)}<br><span style="font-size:11px">${fieldValue(b.field, b.low_value)} to ${fieldValue(b.field, b.high_value)}</span>`);
  const trace = (key, value, label, color) => ({
    type: "bar", orientation: "h", name: label, y: names, x: bars.map((b) => b[key][best] - base), marker: { color },
    customdata: bars.map((b) => fieldValue(b.field, b[value])), hovertemplate: `${label}: %{customdata}<br>NPV change %{x:,.0f} ${cur}<extra></extra>`,
  });
  Plotly.newPlot("chart-tornado", [trace("low_usd", "low_value", "Low value of the input", "#6b8fd6"), trace("high_usd", "high_value", "High value of the input", "#f28e2b")],
    layout(`What moves the cost of ${optionName(best)}`, `Change in net present value, ${cur}`, "",
      { barmode: "overlay", height: 140 + 40 * names.length, margin: { t: 40, l: 10, r: 20, b: 60 } }), PLOT);
}

function monteCarlo(payload, cur) {
  const mc = (payload.sensitivity || {}).monte_carlo;
  if (!(mc && mc.samples > 0 && mc.npv_usd_p10_p50_p90)) { $("chart-montecarlo").textContent = "No Monte Carlo draws in this plan (Monte Carlo draws was set to 0)."; return; }
  const names = ordered(Object.keys(mc.npv_usd_p10_p50_p90));
  const q = names.map((n) => mc.npv_usd_p10_p50_p90[n]);
  Plotly.newPlot("chart-montecarlo", [
    { type: "bar", name: "NPV, median (bars: P10-P90)", x: names.map(optionName), y: q.map((v) => v[1]), marker: { color: names.map(optionColour) },
      error_y: { type: "data", symmetric: false, array: q.map((v) => v[2] - v[1]), arrayminus: q.map((v) => v[1] - v[0]) } },
    { type: "scatter", mode: "markers", name: "Probability of being cheapest", x: names.map(optionName), y: names.map((n) => mc.probability_cheapest[n]), yaxis: "y2", marker: { size: 12, symbol: "diamond", color: "black" } },
  ], layout(`Uncertainty: ${mc.samples.toLocaleString("en-US")} Monte Carlo draws (seed ${mc.seed})`, "Option", `Net present value, ${cur}`,
    { margin: { t: 40, l: 80, r: 70, b: 60 }, yaxis2: { title: { text: "Probability of being cheapest" }, overlaying: "y", side: "right", range: [0, 1.05], tickformat: ".0%" } }), PLOT);
}

export function drawCostCharts(payload) {
  const cur = currencyOf(payload);
  for (const id of ["chart-cumulative", "chart-breakdown", "chart-volume", "chart-tornado", "chart-montecarlo"]) { Plotly.purge(id); $(id).textContent = ""; }
  cumulative(payload, cur);
  breakdown(payload, cur);
  volume(payload, cur);
  tornado(payload, cur);
  monteCarlo(payload, cur);
}
