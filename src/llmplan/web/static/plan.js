// The plan view: running a plan job, the executive summary, the options table, exports.
// While a plan runs, after a cancel or a failure, no earlier result stays on screen and no
// download button is live: the downloads always name the result that is shown.

import { $, api, currencyOf, describe, escapeHtml, fmt, follow, included, notice, optionName, showErrors, showTab, state } from "./core.js";
import { drawCostCharts } from "./charts.js";
import { drawDesignCharts } from "./design.js";
import { setRoute } from "./route.js";

const DOWNLOADS = ["dl-html", "dl-xlsx", "dl-pdf", "print"];

// Hide the shown result and disable its downloads (a new plan runs, or none is left).
function clearPlan(message) {
  state.payload = null; state.planId = null; state.jobId = null;
  state.designRun = (state.designRun || 0) + 1;  // stops the design charts' simulations
  $("plan").hidden = true;
  $("plan-empty").hidden = false; $("plan-empty").textContent = message;
  for (const b of DOWNLOADS) $(b).disabled = true;
}

function refused(err) {
  // a scenario error belongs to the YAML; the others (samples, seed) to the run controls
  const field = (err.body && err.body.field) || "";
  if (!field || field.startsWith("text") || field.startsWith("scenario")) {
    showErrors($("check"), "invalid", err); $("check").className = "check bad";
  } else {
    showErrors($("run-error"), "not run", err); $("run-error").hidden = false;
  }
  notice(`plan refused - ${describe(err)}`, true);
}

export async function runPlan() {
  const samples = Number($("samples").value || 0), seed = Number($("seed").value || 0);
  const unchanged = state.id && state.savedText === $("yaml").value;
  // saved results stay downloadable however many jobs the server has run since
  const body = unchanged
    ? { scenario_id: state.id, scenario_version: state.version, samples, seed, save: true }
    : { text: $("yaml").value, samples, seed, save: true };
  $("run-error").hidden = true;
  let job;
  try {
    job = await api("plans", { method: "POST", body });
  } catch (err) { refused(err); return; }
  clearPlan("Planning...");
  state.jobId = job.id;
  showTab("plan");
  $("progress-box").hidden = false; $("run").disabled = true;
  try {
    job = await follow(job, (j) => { $("progress").value = j.progress; $("stage").textContent = `${j.status}: ${j.stage}`; });
  } finally { $("progress-box").hidden = true; $("run").disabled = false; }
  if (state.jobId !== job.id) return;  // a newer run took over
  if (job.status === "succeeded") {
    state.planId = job.plan_id;
    if (job.plan_id) setRoute("plans", job.plan_id);
    await showPlan(job.result);
    notice(job.result.recommended ? "plan done" : "plan done: no option can serve this scenario", !job.result.recommended);
    return;
  }
  const why = job.error ? describe({ body: job.error, message: job.error.message }) : job.status;
  clearPlan(job.status === "cancelled" ? "The plan was cancelled; run it again to see a result." : `The plan ${job.status}: ${why}`);
  notice(`plan ${job.status}${job.error ? `: ${why}` : ""}`, job.status === "failed");
}

export async function cancelPlan() {
  if (!state.jobId) return;
  const id = state.jobId;
  clearPlan("Cancelling...");
  state.jobId = id;
  await api(`jobs/${id}`, { method: "DELETE" });
  notice("cancelled");
}

async function summaryOf() {
  const path = state.planId ? `plans/${state.planId}/summary` : `jobs/${state.jobId}/summary`;
  return api(path);
}

function drawSummary(s) {
  $("recommended").textContent = s.headline;
  $("summary-design").textContent = s.design;
  $("summary-facts").innerHTML = s.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("");
  $("summary-deciding").innerHTML = s.deciding.length
    ? `<h4>The assumptions that decide it</h4><ol>${s.deciding.map((d) => `<li>${escapeHtml(d)}</li>`).join("")}</ol>` : "";
  $("summary-risks").innerHTML = s.risks.length
    ? `<h4>${s.facts.length ? "Risks" : "Why"}</h4><ul>${s.risks.map((r) => `<li>${escapeHtml(r)}</li>`).join("")}</ul>` : "";
}

function designCell(payload, o) {
  return (o.choices || []).map((c) => {
    if (!c.gpu) {
      const w = payload.scenario.workloads.find((x) => x.name === c.workload) || {};
      return `${escapeHtml(c.workload)}: ${escapeHtml(w.api_model || "API")}`;
    }
    const warn = c.slo_optimistic_only ? ' <span class="risk">[!] SLO only at the optimistic end of the 80 % interval</span>' : "";
    return `${escapeHtml(c.workload)}: ${c.tp * (c.pp || 1)} x ${escapeHtml(c.gpu)} ${escapeHtml(c.precision)} (${escapeHtml(c.engine)})${warn}`;
  }).join("<br>");
}

function optionsTable(payload) {
  const best = payload.recommended && payload.recommended.option;
  const cur = currencyOf(payload);
  const sum = (o, key) => {
    const gpu = (o.choices || []).filter((c) => c.gpu);
    if (!gpu.length || gpu.some((c) => c[key] === undefined)) return "-";
    return fmt(gpu.reduce((a, c) => a + c[key], 0));
  };
  const rows = included(payload).map((o) => `<tr class="${o.option === best ? "best" : ""}">
      <td>${escapeHtml(optionName(o.option))}</td><td>${sum(o, "gpus")}</td><td>${o.servers ? fmt(o.servers) : "-"}</td><td>${sum(o, "replicas")}</td>
      <td class="design">${designCell(payload, o)}</td>
      <td>${fmt(o.npv_usd)}</td><td>${fmt(o.tco_usd)}</td><td>${fmt(o.capex_usd)}</td>
      <td>${o.usd_per_mtok === null ? "-" : Number(o.usd_per_mtok).toFixed(2)}</td>
      <td class="source">${(o.choices || []).map((c) => escapeHtml(c.note || "")).join("<br>")}</td></tr>`);
  $("options").innerHTML = `<tr><th>Option</th><th>GPUs</th><th>Servers</th><th>Replicas</th><th>Design</th>
      <th>NPV, ${cur}</th><th>Total cost, ${cur}</th><th>Purchases, ${cur}</th><th>Per million tokens, ${cur}</th>
      <th>Price and its source</th></tr>${rows.join("")}`;
}

async function showPlan(payload) {
  state.payload = payload;
  $("plan-title").textContent = payload.scenario.name;
  drawSummary(await summaryOf());
  optionsTable(payload);
  const excluded = payload.options.filter((o) => !o.included);
  $("excluded").innerHTML = excluded.length
    ? excluded.map((o) => `<li><strong>${escapeHtml(optionName(o.option))}</strong>: ${escapeHtml(o.excluded_reason || "")}</li>`).join("")
    : "<li>none</li>";
  $("plan").hidden = false; $("plan-empty").hidden = true;
  for (const b of DOWNLOADS) $(b).disabled = false;
  // an impossible scenario has no costs to chart: say so instead of empty charts
  $("charts").hidden = !payload.recommended;
  if (!payload.recommended) return;
  drawCostCharts(payload);
  drawDesignCharts(payload).catch((err) => notice(`design charts: ${describe(err)}`, true));
}

// A saved plan result by id (a shared #/plans/{id} address): shown as when it was run.
export async function openPlan(id) {
  const plan = await api(`plans/${encodeURIComponent(id)}`);
  clearPlan("Loading the saved plan...");
  state.planId = plan.id;
  showTab("plan");
  await showPlan(plan.payload);
  setRoute("plans", plan.id);
  notice(`opened the plan of ${plan.scenario_name}`);
  return plan;
}

export function exportPath(ext) {
  return state.planId ? `plans/${state.planId}/report.${ext}` : `jobs/${state.jobId}/report.${ext}`;
}
