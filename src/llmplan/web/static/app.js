// llmplan web UI: vanilla JavaScript over the REST API (/api/v1), no build step.
"use strict";

const API = "/api/v1";
const $ = (id) => document.getElementById(id);
const state = { id: null, version: null, savedText: null, jobId: null, planId: null, payload: null, checked: null };
const fmt = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 }));
const PLOT = { responsive: true, displaylogo: false };

// --- HTTP ---------------------------------------------------------------------------------
class HttpError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status; this.body = body || {};
  }
}

async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
  const token = localStorage.getItem("llmplan-token");
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) $("token-box").hidden = false;
  if (!response.ok) {
    let err = null;
    try { err = await response.json(); } catch (e) { err = { message: response.statusText }; }
    throw new HttpError(response.status, err);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function describe(err) {
  const b = err.body || {};
  return b.field ? `${b.field}: ${b.message}` : (err.message || String(err));
}

function notice(text, bad = false) {
  const n = $("notice");
  n.textContent = text; n.style.color = bad ? "#ffb4b4" : "#fff";
}

async function download(path) {
  try {
    const response = await api(path, { raw: true });
    const blob = await response.blob();
    const disposition = response.headers.get("content-disposition") || "";
    const match = /filename="([^"]+)"/.exec(disposition);
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = match ? match[1] : path.split("/").pop();
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  } catch (err) { notice(`download failed: ${describe(err)}`, true); }
}

// --- tabs ---------------------------------------------------------------------------------
function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
  for (const c of document.querySelectorAll(`#tab-${name} .chart`)) if (c.data) Plotly.Plots.resize(c);
}

// --- the editor ---------------------------------------------------------------------------
let checkTimer = null;
function scheduleCheck() { clearTimeout(checkTimer); checkTimer = setTimeout(check, 400); }

async function check() {
  const box = $("check");
  const text = $("yaml").value;
  if (!text.trim()) { box.textContent = "empty"; box.className = "check bad"; return null; }
  try {
    const answer = await api("scenarios/check", { method: "POST", body: { text } });
    state.checked = answer.scenario;
    box.textContent = `valid: ${answer.scenario.name}`; box.className = "check ok";
    fillForm(answer.scenario);
    return answer.scenario;
  } catch (err) {
    box.textContent = `invalid - ${describe(err)}`; box.className = "check bad";
    return null;
  }
}

function setText(text) { $("yaml").value = text; state.checked = null; scheduleCheck(); }

function savedInfo() {
  const changed = state.savedText !== null && state.savedText !== $("yaml").value;
  $("saved-info").textContent = state.id
    ? `saved scenario ${state.id.slice(0, 8)}, version ${state.version}${changed ? " (edited, not saved)" : ""}`
    : "not saved";
}

const FORM = {
  model: (s) => [s.workloads[0], "model"],
  requests_per_day: (s) => [s.workloads[0], "requests_per_day"],
  ttft_ms: (s) => [s.workloads[0].slo, "ttft_ms"],
  tpot_ms: (s) => [s.workloads[0].slo, "tpot_ms"],
  percentile: (s) => [s.workloads[0].slo, "percentile"],
  horizon_months: (s) => [s.finance, "horizon_months"],
  electricity_usd_per_kwh: (s) => [s.finance, "electricity_usd_per_kwh"],
};

function fillForm(scenario) {
  const form = $("form");
  for (const [name, where] of Object.entries(FORM)) {
    const input = form.elements[name];
    if (document.activeElement === input) continue;
    try {
      const [obj, key] = where(scenario);
      input.value = obj && obj[key] !== null && obj[key] !== undefined ? obj[key] : "";
      input.disabled = !obj;
    } catch (e) { input.value = ""; input.disabled = true; }
  }
}

async function applyForm(event) {
  event.preventDefault();
  const scenario = state.checked ? structuredClone(state.checked) : await check();
  if (!scenario) { notice("fix the YAML first", true); return; }
  const form = $("form");
  for (const [name, where] of Object.entries(FORM)) {
    const input = form.elements[name];
    if (input.disabled || input.value === "") continue;
    const [obj, key] = where(scenario);
    if (obj) obj[key] = input.type === "number" ? Number(input.value) : input.value;
  }
  try {
    setText(await api("yaml", { method: "POST", body: { scenario } }));
    notice("form applied");
  } catch (err) {
    $("check").textContent = `invalid - ${describe(err)}`; $("check").className = "check bad";
  }
}

async function loadExamples() {
  const list = await api("examples");
  $("examples").innerHTML = list.map((e) => `<option value="${e.name}">${e.name}</option>`).join("");
}

async function loadSavedList() {
  const list = await api("scenarios?limit=500");
  const options = list.items.map((s) => `<option value="${s.id}">${escapeHtml(s.name)} (v${s.version})</option>`).join("");
  $("saved").innerHTML = options;
  $("cmp-a").innerHTML = options; $("cmp-b").innerHTML = options;
  if (list.items.length > 1) $("cmp-b").selectedIndex = 1;
}

async function loadModels() {
  try {
    const list = await api("catalog/models?limit=500");
    const items = list.items || list;
    $("models").innerHTML = items.map((m) => `<option value="${m.id || m.name}">`).join("");
  } catch (e) { /* the datalist is a convenience */ }
}

async function loadGpus() {
  try {
    const list = await api("catalog/gpus?limit=500");
    $("gpus").innerHTML = (list.items || list).map((g) => `<option value="${g.id}">`).join("");
  } catch (e) { /* the datalist is a convenience */ }
}

async function loadExample() {
  const name = $("examples").value;
  const answer = await api(`examples/${encodeURIComponent(name)}`);
  const text = await api("yaml", { method: "POST", body: { scenario: answer.scenario } });
  Object.assign(state, { id: null, version: null, savedText: null });
  setText(text); savedInfo(); notice(`loaded example ${name}`);
}

async function loadSaved(id = $("saved").value) {
  if (!id) return;
  const response = await api(`scenarios/${id}/yaml`, { raw: true });
  const text = await response.text();
  const meta = await api(`scenarios/${id}`);
  Object.assign(state, { id, version: meta.version, savedText: text });
  setText(text); savedInfo(); $("conflict").hidden = true;
  notice(`loaded ${meta.name} v${meta.version}`);
}

async function save(asNew, force = false) {
  const text = $("yaml").value;
  $("conflict").hidden = true;
  try {
    let answer;
    if (asNew || !state.id) {
      answer = await api("scenarios", { method: "POST", body: { text } });
    } else {
      const ifMatch = force ? "*" : `"${state.version}"`;
      answer = await api(`scenarios/${state.id}`, { method: "PUT", body: { text }, headers: { "If-Match": ifMatch } });
    }
    Object.assign(state, { id: answer.id, version: answer.version, savedText: text });
    savedInfo(); await loadSavedList(); $("saved").value = answer.id;
    notice(`saved ${answer.name} v${answer.version}`);
  } catch (err) {
    if (err.status === 409) return showConflict(err);
    notice(`not saved - ${describe(err)}`, true);
    $("check").textContent = `invalid - ${describe(err)}`; $("check").className = "check bad";
  }
}

function showConflict(err) {
  const box = $("conflict");
  box.hidden = false;
  box.innerHTML = `<strong>Conflict (409):</strong> ${escapeHtml(err.body.message || "someone else saved a newer version")}.
    Your text is not saved. <button id="c-load">Load the latest version (drop my edits)</button>
    <button id="c-new">Save mine as a new scenario</button> <button id="c-force">Overwrite with mine</button>`;
  $("c-load").onclick = () => loadSaved(state.id);
  $("c-new").onclick = () => save(true);
  $("c-force").onclick = () => save(false, true);
  notice("save conflict", true);
}

function exportYaml() {
  const blob = new Blob([$("yaml").value], { type: "application/yaml" });
  const a = document.createElement("a");
  const name = (state.checked && state.checked.name) || "scenario";
  a.href = URL.createObjectURL(blob);
  a.download = `${name.replace(/[^A-Za-z0-9_-]+/g, "-").toLowerCase()}.yaml`;
  document.body.appendChild(a); a.click(); a.remove();
}

async function importYaml(event) {
  const file = event.target.files[0];
  if (!file) return;
  Object.assign(state, { id: null, version: null, savedText: null });
  setText(await file.text()); savedInfo(); notice(`imported ${file.name}`);
  event.target.value = "";
}

// --- plans --------------------------------------------------------------------------------
const FINISHED = ["succeeded", "failed", "cancelled"];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function follow(job, onProgress) {
  while (!FINISHED.includes(job.status)) {
    if (onProgress) onProgress(job);
    await sleep(300);
    job = await api(`jobs/${job.id}?wait=1`);
  }
  return job;
}

async function runPlan() {
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

async function cancelPlan() {
  if (state.jobId) { await api(`jobs/${state.jobId}`, { method: "DELETE" }); notice("cancelled"); }
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function included(payload) {
  return payload.options.filter((o) => o.included).sort((a, b) => a.npv_usd - b.npv_usd);
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
      <td>${escapeHtml((o.choices || []).map((c) => [c.gpu, c.precision, c.engine].filter(Boolean).join(" ")).join("; "))}</td></tr>`);
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

function exportPath(ext) {
  return state.jobId ? `jobs/${state.jobId}/report.${ext}` : `plans/${state.planId}/report.${ext}`;
}

// --- simulate -----------------------------------------------------------------------------
const SIM_NUMBERS = ["tp", "pp", "replicas", "rate", "cv", "clients", "think_time_s", "input_tokens", "input_p95",
  "output_tokens", "output_p95", "requests", "seed", "ttft_slo_ms", "tpot_slo_ms", "percentile"];
const SIM_ARRIVALS = { rate: ["rate", "cv"], clients: ["clients", "think_time_s"], find_max_rate: [] };

function simArrivals() {
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

async function runSimulation(event) {
  if (event) event.preventDefault();
  const err = $("sim-error");
  err.hidden = true;
  let job;
  try {
    job = await api("simulate", { method: "POST", body: simBody() });
  } catch (e) {
    err.hidden = false; err.textContent = `refused - ${describe(e)}`;
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
  err.hidden = false; err.textContent = `The simulation ${job.status}: ${why}`;
}

async function cancelSimulation() {
  if (state.simJobId) { await api(`jobs/${state.simJobId}`, { method: "DELETE" }); notice("simulation cancelled"); }
}

const num = (v, digits = 1) => (v === null || v === undefined ? "-" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits }));

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

// --- the recommended design: latency vs load, memory per GPU ---------------------------------
function designOf(payload) {
  // the recommended option's first self-hosted choice, else the cheapest option that has one
  const options = included(payload);
  const best = payload.recommended && options.find((o) => o.option === payload.recommended.option);
  const ordered = best ? [best, ...options.filter((o) => o !== best)] : options;
  for (const o of ordered) {
    const choice = (o.choices || []).find((c) => c.gpu && c.tp);
    if (!choice) continue;
    const workload = payload.scenario.workloads.find((w) => w.name === choice.workload);
    if (!workload || !workload.model) continue;
    return { option: o.option, choice, workload };
  }
  return null;
}

const LOAD_FRACTIONS = [0.2, 0.4, 0.6, 0.8, 0.9, 1.0, 1.1, 1.25];
const LOAD_REQUESTS = 1500;

async function drawDesignCharts(payload) {
  state.designRun = (state.designRun || 0) + 1;  // a newer plan view stops older simulations
  const design = designOf(payload);
  for (const id of ["chart-latency", "chart-memory"]) { Plotly.purge(id); $(id).textContent = ""; }
  if (!design) {
    for (const id of ["chart-latency", "chart-memory"]) $(id).textContent = "No self-hosted design in this plan (latency and memory charts need one).";
    return;
  }
  const { option, choice: c, workload: w } = design;
  const base = { model: w.model, gpu: c.gpu, tp: c.tp, pp: c.pp || 1, precision: c.precision, engine: c.engine };
  if (c.kv_precision) base.kv_precision = c.kv_precision;
  const tokens = (d) => Math.max(1, Math.round(d.mean));
  const recommended = payload.recommended && payload.recommended.option === option;
  const label = `${recommended ? "recommended" : "cheapest self-hosted"} ${escapeHtml(option)}: ${escapeHtml(w.model)} on ${c.tp * (c.pp || 1)} x ${escapeHtml(c.gpu)} (${escapeHtml(c.precision)})`;
  await Promise.all([drawMemory(base, w, c, label), drawLatency(base, w, c, label, tokens)]);
}

async function drawMemory(base, w, c, label) {
  const context = Math.round(w.input_tokens.mean + w.output_tokens.mean);
  let batch = 1;
  try {
    const at = await api("perf", { method: "POST", body: { ...base, input_tokens: Math.round(w.input_tokens.mean), output_tokens: Math.round(w.output_tokens.mean), request_rate: c.max_requests_per_s_per_replica || 1 } });
    batch = Math.max(1, Math.ceil(at.batch || 1));
  } catch (e) { /* the memory chart still works with a batch of 1 */ }
  try {
    const m = await api("memory", { method: "POST", body: { ...base, context, batch } });
    const gib = (b) => b / 2 ** 30 / (m.num_gpus || 1);
    const parts = [["weights", m.weights_bytes], ["KV cache", m.kv_cache_bytes], ["activations", m.activation_bytes], ["overhead", m.overhead_bytes]];
    const traces = parts.map(([name, bytes]) => ({ type: "bar", name, x: ["per GPU"], y: [gib(bytes)], hovertemplate: `${name}: %{y:.1f} GiB<extra></extra>` }));
    const capacity = m.gpu_memory_bytes / 2 ** 30;
    Plotly.newPlot("chart-memory", traces, {
      title: { text: `Memory per GPU<br><sub>${label}; ${batch} sequences of ${context.toLocaleString()} tokens: ${m.fits ? "fits" : "does NOT fit"}</sub>`, font: { size: 14 } },
      annotations: [{ xref: "paper", x: 1, y: capacity, yanchor: "bottom", xanchor: "right", showarrow: false, text: `${escapeHtml(c.gpu)}: ${capacity.toFixed(0)} GiB` }],
      barmode: "stack", margin: { t: 60, l: 60, r: 10, b: 40 }, yaxis: { title: { text: "GiB" }, range: [0, Math.max(capacity, m.per_gpu_bytes / 2 ** 30) * 1.08] },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: capacity, y1: capacity, line: { color: "black", dash: "dash" } }],
    }, PLOT);
  } catch (err) { $("chart-memory").textContent = `Memory breakdown unavailable: ${describe(err)}`; }
}

async function drawLatency(base, w, c, label, tokens) {
  const capacity = c.max_requests_per_s_per_replica;
  if (!capacity) { $("chart-latency").textContent = "No per-replica capacity in this plan."; return; }
  const slo = w.slo || {};
  const body = { ...base, input_tokens: tokens(w.input_tokens), output_tokens: tokens(w.output_tokens), requests: LOAD_REQUESTS, seed: 0 };
  // a lognormal through the mean and p95 (up to ~3.8 x the mean), else fixed at the mean
  for (const [d, key] of [[w.input_tokens, "input_p95"], [w.output_tokens, "output_p95"]]) {
    if (d.p95 > d.mean && d.p95 < 3.8 * d.mean) body[key] = d.p95;
  }
  const pct = slo.percentile || 95;
  const key = `p${pct}_ms`;
  const points = [], run = state.designRun;
  $("chart-latency").textContent = "Simulating latency against load...";
  for (const f of LOAD_FRACTIONS) {
    if (run !== state.designRun) return;
    const rate = capacity * f;
    try {
      let job = await api("simulate?wait=30", { method: "POST", body: { ...body, rate, percentile: pct } });
      job = await follow(job);
      if (job.status !== "succeeded" || !job.result.result) continue;
      const r = job.result.result;
      const at = (m) => (r[m][key] !== undefined ? r[m][key] : r[m].p95_ms);
      points.push({ rate, ttft: at("ttft"), tpot: at("tpot") });
    } catch (err) { $("chart-latency").textContent = `Latency vs load unavailable: ${describe(err)}`; return; }
  }
  $("chart-latency").textContent = "";
  const x = points.map((p) => p.rate);
  const traces = [
    { x, y: points.map((p) => p.ttft), mode: "lines+markers", name: `TTFT p${pct}` },
    { x, y: points.map((p) => p.tpot), mode: "lines+markers", name: `TPOT p${pct}`, yaxis: "y2" },
  ];
  const shapes = [{ type: "line", x0: capacity, x1: capacity, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "gray" } }];
  if (slo.ttft_ms) traces.push({ x: [x[0], x[x.length - 1]], y: [slo.ttft_ms, slo.ttft_ms], mode: "lines", name: "TTFT target", line: { dash: "dash", color: "#1f77b4" } });
  if (slo.tpot_ms) traces.push({ x: [x[0], x[x.length - 1]], y: [slo.tpot_ms, slo.tpot_ms], mode: "lines", name: "TPOT target", yaxis: "y2", line: { dash: "dash", color: "#ff7f0e" } });
  Plotly.newPlot("chart-latency", traces, {
    title: { text: `Latency vs load (simulated, one replica)<br><sub>${label}; dotted: the plan's capacity per replica</sub>`, font: { size: 14 } },
    margin: { t: 60, l: 60, r: 60, b: 50 }, xaxis: { title: { text: "requests/s per replica" } },
    yaxis: { title: { text: "TTFT, ms" }, type: "log" }, yaxis2: { title: { text: "TPOT, ms" }, overlaying: "y", side: "right" },
    legend: { orientation: "h", y: -0.25 }, shapes,
  }, PLOT);
}

// --- compare ------------------------------------------------------------------------------
async function planOf(scenarioId) {
  const meta = await api(`scenarios/${scenarioId}`);
  const saved = await api(`plans?scenario_id=${scenarioId}&limit=1`);
  const latest = saved.items[0];
  if (latest && latest.scenario_version === meta.version) return [meta, (await api(`plans/${latest.id}`)).payload];
  $("cmp-status").textContent = `planning ${meta.name}...`;
  const job = await follow(await api("plans", { method: "POST", body: { scenario_id: scenarioId, samples: 0 } }));
  if (job.status !== "succeeded") throw new HttpError(500, job.error || { message: `plan ${job.status}` });
  return [meta, job.result];
}

async function compare() {
  const ids = [$("cmp-a").value, $("cmp-b").value];
  if (!ids[0] || !ids[1]) { $("cmp-status").textContent = "save two scenarios first"; return; }
  try {
    const results = [];
    for (const id of ids) results.push(await planOf(id));
    $("cmp-status").textContent = "";
    const names = [...new Set(results.flatMap(([, p]) => p.options.map((o) => o.option)))];
    const npv = (p, name) => { const o = p.options.find((x) => x.option === name); return o && o.included ? fmt(o.npv_usd) : "excluded"; };
    const head = `<tr><th></th>${results.map(([m]) => `<th>${escapeHtml(m.name)} (v${m.version})</th>`).join("")}</tr>`;
    const rec = `<tr class="best"><td>recommended</td>${results.map(([, p]) => `<td>${escapeHtml(p.recommended ? p.recommended.option : "none")}</td>`).join("")}</tr>`;
    const rows = names.map((n) => `<tr><td>NPV ${escapeHtml(n)}, USD</td>${results.map(([, p]) => `<td>${npv(p, n)}</td>`).join("")}</tr>`);
    $("cmp-table").innerHTML = head + rec + rows.join("");
    Plotly.newPlot("chart-compare", results.map(([m, p]) => ({
      type: "bar", name: m.name, x: included(p).map((o) => o.option), y: included(p).map((o) => o.npv_usd),
    })), { title: { text: "NPV per option", font: { size: 14 } }, barmode: "group", yaxis: { title: { text: "USD" } } }, PLOT);
  } catch (err) { $("cmp-status").textContent = `compare failed: ${describe(err)}`; }
}

// --- start --------------------------------------------------------------------------------
function on(id, event, handler) {
  $(id).addEventListener(event, async (e) => {
    try { await handler(e); } catch (err) { notice(describe(err), true); }
  });
}

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("token").value = localStorage.getItem("llmplan-token") || "";
  on("token", "change", async () => { localStorage.setItem("llmplan-token", $("token").value.trim()); await boot(); });
  on("yaml", "input", () => { scheduleCheck(); savedInfo(); });
  on("load-example", "click", loadExample);
  on("load-saved", "click", () => loadSaved());
  on("save", "click", () => save(false));
  on("save-new", "click", () => save(true));
  on("export", "click", exportYaml);
  on("import", "change", importYaml);
  on("form", "submit", applyForm);
  on("run", "click", runPlan);
  on("cancel", "click", cancelPlan);
  on("dl-html", "click", () => download(exportPath("html")));
  on("dl-xlsx", "click", () => download(exportPath("xlsx")));
  on("dl-pdf", "click", async () => { notice("printing the PDF..."); await download(exportPath("pdf")); notice("PDF ready"); });
  on("sim-form", "submit", runSimulation);
  on("sim-cancel", "click", cancelSimulation);
  on("sim-form", "change", (e) => { if (e.target.name === "arrivals") simArrivals(); });
  simArrivals();
  on("print", "click", () => { showTab("plan"); window.print(); });
  on("compare", "click", compare);
  await boot();
}

async function boot() {
  try {
    await loadExamples();
    await loadSavedList();
    loadModels();
    loadGpus();
    if (!$("yaml").value) await loadExample();
    notice("ready");
    document.body.dataset.ready = "1";
  } catch (err) { notice(describe(err), true); }
}

document.addEventListener("DOMContentLoaded", start);
