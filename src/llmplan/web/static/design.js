// Charts of the recommended design: memory per GPU and simulated latency against load.

import { $, api, describe, escapeHtml, follow, included, PLOT, state } from "./core.js";

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

export async function drawDesignCharts(payload) {
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
