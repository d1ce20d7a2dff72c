// The plan view: running a plan job, its tables, cost charts and exports.

import { $, api, describe, escapeHtml, fmt, follow, included, notice, PLOT, showTab, state } from "./core.js";
import { drawDesignCharts } from "./design.js";

export async function runPlan() {
  const samples = Number($("samples").value || 0), seed = Number($("seed").value || 0);
  const unchanged = state.id && state.savedText === $("yaml").value;
  const body = unchanged
    ? { scenario_id: state.id, scenario_version: state.version, samples, seed }
    : { text: $("yaml").value, samples, seed };
  let job;
  try {
    job = await api("plans", { method: "POST", body });
  } catch (err) {
    $("check").textContent = `invalid - ${describe(err)}`; $("check").className = "check bad";
    notice(`plan refused - ${describe(err)}`, true);
    return;
  }
  state.jobId = job.id; state.planId = null;
  showTab("plan");
  $("progress-box").hidden = false; $("run").disabled = true;
  job = await follow(job, (j) => { $("progress").value = j.progress; $("stage").textContent = `${j.status}: ${j.stage}`; });
  $("progress-box").hidden = true; $("run").disabled = false;
  if (job.status === "succeeded") {
    state.planId = job.plan_id;
    showPlan(job.result);
    notice("plan done");
  } else {
    const why = job.error ? describe({ body: job.error, message: job.error.message }) : job.status;
    notice(`plan ${job.status}: ${why}`, job.status === "failed");
    $("plan-empty").textContent = `The plan ${job.status}: ${why}`;
  }
}

export async function cancelPlan() {
  if (state.jobId) { await api(`jobs/${state.jobId}`, { method: "DELETE" }); notice("cancelled"); }
}

function showPlan(payload) {
  state.payload = payload;
  $("plan").hidden = false; $("plan-empty").hidden = true;
  for (const b of ["dl-html", "dl-xlsx", "dl-pdf", "print"]) $(b).disabled = false;
  $("plan-title").textContent = payload.scenario.name;
  const best = payload.recommended;
  $("recommended").innerHTML = best
    ? `<h3>Recommended: ${escapeHtml(best.option)} - NPV ${fmt(best.npv_usd)} USD</h3>
       <ul>${best.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>
       ${best.risks && best.risks.length ? `<strong>Risks</strong><ul>${best.risks.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>` : ""}`
    : "<h3>No option can serve this scenario</h3>";
  const rows = included(payload).map((o) => `<tr class="${best && o.option === best.option ? "best" : ""}">
      <td>${escapeHtml(o.option)}</td><td>${fmt(o.npv_usd)}</td><td>${fmt(o.tco_usd)}</td><td>${fmt(o.capex_usd)}</td>
      <td>${fmt(o.opex_usd)}</td><td>${o.usd_per_mtok === null ? "-" : Number(o.usd_per_mtok).toFixed(3)}</td>
      <td>${escapeHtml((o.choices || []).map((c) => [c.gpu, c.precision, c.engine, c.slo_optimistic_only ? "[!] SLO only at the optimistic end of the 80 % interval" : ""].filter(Boolean).join(" ")).join("; "))}</td></tr>`);
  $("options").innerHTML = `<tr><th>option</th><th>NPV, USD</th><th>TCO, USD</th><th>capex, USD</th><th>opex, USD</th>
      <th>USD / M tokens</th><th>choices</th></tr>${rows.join("")}`;
  const excluded = payload.options.filter((o) => !o.included);
  $("excluded").innerHTML = excluded.length
    ? excluded.map((o) => `<li><strong>${escapeHtml(o.option)}</strong>: ${escapeHtml(o.excluded_reason || "")}</li>`).join("")
    : "<li>none</li>";
  drawCharts(payload);
  drawDesignCharts(payload).catch((err) => notice(`design charts: ${describe(err)}`, true));
}

function drawCharts(payload) {
  const opts = included(payload);
  const layout = (title, extra = {}) => ({ title: { text: title, font: { size: 14 } }, margin: { t: 40, l: 70, r: 10, b: 50 }, ...extra });
  // cumulative cost with break-even points
  const curves = Object.fromEntries(opts.map((o) => [o.option, o.cumulative_usd]));
  const traces = opts.map((o) => ({ x: o.cumulative_usd.map((_, i) => i), y: o.cumulative_usd, mode: "lines", name: o.option }));
  const points = payload.breakeven.filter((b) => b.month !== null && curves[b.option]);
  if (points.length) traces.push({
    x: points.map((b) => b.month), y: points.map((b) => curves[b.option][b.month]), mode: "markers", name: "break-even",
    marker: { symbol: "x", size: 11, color: "black" }, text: points.map((b) => `${b.option} no dearer than ${b.versus} from here`),
    hovertemplate: "%{text}<br>month %{x}<extra></extra>",
  });
  Plotly.newPlot("chart-cumulative", traces, layout("Cumulative cost per option (x: break-even)", { xaxis: { title: { text: "month" } }, yaxis: { title: { text: "USD" } } }), PLOT);
  // TCO breakdown
  const lines = [...new Set(opts.flatMap((o) => Object.keys(o.lines_usd)))].sort();
  Plotly.newPlot("chart-breakdown", lines.map((line) => ({ type: "bar", name: line, x: opts.map((o) => o.option), y: opts.map((o) => o.lines_usd[line] || 0) })),
    layout("TCO by line (undiscounted)", { barmode: "relative", yaxis: { title: { text: "USD" } } }), PLOT);
  // tornado
  const best = payload.recommended && payload.recommended.option;
  const sens = payload.sensitivity || {};
  const bars = sens.tornado || [];
  const base = best && sens.base_npv_usd ? sens.base_npv_usd[best] : undefined;
  if (bars.length && base !== undefined) {
    const names = bars.map((b) => b.field).reverse();
    const trace = (key, label) => ({ type: "bar", orientation: "h", name: label, y: names, x: bars.map((b) => b[key][best] - base).reverse() });
    Plotly.newPlot("chart-tornado", [trace("low_usd", "low value"), trace("high_usd", "high value")],
      layout(`Sensitivity of ${best}: NPV change, USD`, { barmode: "overlay", margin: { t: 40, l: 200, r: 10, b: 40 } }), PLOT);
  } else { $("chart-tornado").textContent = "No sensitivity analysis in this plan."; }
  // Monte Carlo
  const mc = sens.monte_carlo;
  if (mc && mc.samples > 0 && mc.npv_usd_p10_p50_p90) {
    const names = Object.keys(mc.npv_usd_p10_p50_p90);
    const q = names.map((n) => mc.npv_usd_p10_p50_p90[n]);
    Plotly.newPlot("chart-montecarlo", [
      { type: "bar", name: "NPV P50 (bars: P10-P90)", x: names, y: q.map((v) => v[1]),
        error_y: { type: "data", symmetric: false, array: q.map((v) => v[2] - v[1]), arrayminus: q.map((v) => v[1] - v[0]) } },
      { type: "scatter", mode: "markers", name: "probability cheapest", x: names, y: names.map((n) => mc.probability_cheapest[n]), yaxis: "y2", marker: { size: 12, symbol: "diamond" } },
    ], layout(`Monte Carlo (${mc.samples} draws, seed ${mc.seed})`, { margin: { t: 40, l: 70, r: 60, b: 50 }, yaxis: { title: { text: "NPV, USD" } }, yaxis2: { title: { text: "P(cheapest)" }, overlaying: "y", side: "right", range: [0, 1.05] }, legend: { orientation: "h" } }), PLOT);
  } else { $("chart-montecarlo").textContent = "No Monte Carlo draws in this plan (samples = 0)."; }
}

export function exportPath(ext) {
  return state.jobId ? `jobs/${state.jobId}/report.${ext}` : `plans/${state.planId}/report.${ext}`;
}
