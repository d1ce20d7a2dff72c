// The simulate tab: the form, the simulation job and its results.

import { $, api, describe, escapeHtml, fmt, follow, notice, num, PLOT, showErrors, state } from "./core.js";

const SIM_NUMBERS = ["tp", "pp", "replicas", "rate", "cv", "clients", "think_time_s", "input_tokens", "input_p95",
  "output_tokens", "output_p95", "requests", "seed", "ttft_slo_ms", "tpot_slo_ms", "percentile"];

const SIM_ARRIVALS = { rate: ["rate", "cv"], clients: ["clients", "think_time_s"], find_max_rate: [] };

export function simArrivals() {
  const form = $("sim-form");
  const kind = form.elements.arrivals.value;
  for (const names of Object.values(SIM_ARRIVALS)) for (const n of names) form.elements[n].disabled = true;
  for (const n of SIM_ARRIVALS[kind]) form.elements[n].disabled = false;
}

function simBody() {
  const form = $("sim-form");
  const body = {};
  for (const name of ["model", "gpu", "precision", "kv_precision", "engine", "router"]) {
    const v = form.elements[name].value.trim();
    if (v) body[name] = v;
  }
  for (const name of SIM_NUMBERS) {
    const input = form.elements[name];
    if (!input.disabled && input.value !== "") body[name] = Number(input.value);
  }
  if (form.elements.arrivals.value === "find_max_rate") body.find_max_rate = true;
  return body;
}

export async function runSimulation(event) {
  if (event) event.preventDefault();
  const err = $("sim-error");
  err.hidden = true;
  // no earlier result stays beside a new run or an error
  $("sim-result").hidden = true; $("sim-empty").hidden = false; $("sim-empty").textContent = "Simulating...";
  let job;
  try {
    job = await api("simulate", { method: "POST", body: simBody() });
  } catch (e) {
    $("sim-empty").textContent = "No result: fix the input above.";
    err.hidden = false; showErrors(err, "refused", e);
    const input = e.body && e.body.field && $("sim-form").elements[e.body.field];
    if (input && input.focus) input.focus();
    return;
  }
  state.simJobId = job.id;
  $("sim-progress-box").hidden = false; $("sim-run").disabled = true;
  job = await follow(job, (j) => { $("sim-progress").value = j.progress; $("sim-stage").textContent = `${j.status}: ${j.stage}`; });
  $("sim-progress-box").hidden = true; $("sim-run").disabled = false;
  if (job.status === "succeeded") { showSimulation(job.result); notice("simulation done"); return; }
  const why = job.error ? describe({ body: job.error, message: job.error.message }) : job.status;
  $("sim-empty").textContent = "No result.";
  err.hidden = false; err.textContent = `The simulation ${job.status}: ${why}`;
}

export async function cancelSimulation() {
  if (state.simJobId) { await api(`jobs/${state.simJobId}`, { method: "DELETE" }); notice("simulation cancelled"); }
}

function showSimulation(payload) {
  $("sim-empty").hidden = true;
  const r = payload.result, d = payload.deployment;
  const head = `${r ? r.replicas : ""} x ${escapeHtml(d.model)} (${escapeHtml(d.precision)}) on ${d.tp * d.pp} x ${escapeHtml(d.gpu)}, tp=${d.tp} pp=${d.pp}, ${escapeHtml(d.engine)}`;
  const search = payload.max_rate_per_s !== undefined
    ? `<p><strong>Largest rate meeting the SLO: ${num(payload.max_rate_per_s, 3)} requests/s</strong>
       (misses it at ${num(payload.first_failing_rate_per_s, 3)}; ${payload.search_trials} runs)</p>` : "";
  if (!r) {
    $("sim-result").hidden = false;
    $("sim-summary").innerHTML = `<h3>${head}</h3>${search}<p>No rate meets the SLO.</p>`;
    $("sim-latency").innerHTML = ""; for (const c of ["chart-sim-queue", "chart-sim-kv"]) Plotly.purge(c);
    return;
  }
  const slo = r.slo || {};
  const sloText = slo.ttft_ms || slo.tpot_ms
    ? `<li>p${slo.percentile} within targets (TTFT ${slo.ttft_ms ?? "-"} ms, TPOT ${slo.tpot_ms ?? "-"} ms):
       <strong>${slo.met ? "yes" : "NO"}</strong>; ${num(100 * r.slo_attainment, 1)} % of requests met it;
       goodput ${num(r.goodput_requests_per_s, 3)} requests/s</li>` : "";
  $("sim-summary").innerHTML = `<h3>${head}</h3>${search}<ul>
    <li>${fmt(r.requests)} requests in ${num(r.duration_s, 1)} s simulated: ${num(r.requests_per_s, 3)} requests/s,
      ${fmt(r.output_tokens_per_s)} output tokens/s</li>
    <li>preemptions: ${fmt(r.preemptions)}${r.clipped_requests ? `; requests cut to fit: ${fmt(r.clipped_requests)}` : ""}</li>${sloText}</ul>`;
  const cols = Object.keys(r.ttft);
  $("sim-latency").innerHTML = `<tr><th>metric</th>${cols.map((c) => `<th>${escapeHtml(c.replace("_ms", ""))}</th>`).join("")}</tr>`
    + ["ttft", "tpot", "itl", "e2e"].map((m) => `<tr><td>${m.toUpperCase()}</td>${cols.map((c) => `<td>${num(r[m][c])}</td>`).join("")}</tr>`).join("");
  $("sim-result").hidden = false;
  const s = r.series;
  const layout = (title, y) => ({ title: { text: title, font: { size: 14 } }, margin: { t: 40, l: 60, r: 10, b: 50 }, xaxis: { title: { text: "time (s)" } }, yaxis: { title: { text: y } } });
  Plotly.newPlot("chart-sim-queue", [
    { x: s.time_s, y: s.queue, mode: "lines", name: "queued" },
    { x: s.time_s, y: s.running, mode: "lines", name: "running" },
  ], layout("Requests queued and running over time", "requests"), PLOT);
  Plotly.newPlot("chart-sim-kv", [{ x: s.time_s, y: s.kv_utilisation.map((v) => 100 * v), mode: "lines", name: "KV-cache use", fill: "tozeroy" }],
    { ...layout("KV-cache use over time", "% of capacity"), yaxis: { title: { text: "% of capacity" }, range: [0, 105] } }, PLOT);
}
