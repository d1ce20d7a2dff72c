// Charts of the recommended design: memory per GPU and simulated latency against load.

import { $, api, describe, escapeHtml, follow, included, num, optionName, PLOT, state } from "./core.js";

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
  $("latency-note").textContent = "";
  if (!design) {
    for (const id of ["chart-latency", "chart-memory"]) $(id).textContent = "No self-hosted design in this plan (latency and memory charts need one).";
    return;
  }
  const { option, choice: c, workload: w } = design;
  const base = { model: w.model, gpu: c.gpu, tp: c.tp, pp: c.pp || 1, precision: c.precision, engine: c.engine };
  if (c.kv_precision) base.kv_precision = c.kv_precision;
  if (c.ep) base.ep = c.ep;  // the replica's expert layout (a disaggregated unit's replicas)
  if (c.dp_attention) base.dp_attention = true;
  const tokens = (d) => Math.max(1, Math.round(d.mean));
  const recommended = payload.recommended && payload.recommended.option === option;
  // plain text: it is shown with textContent
  const label = `${recommended ? "recommended" : "cheapest self-hosted"} ${optionName(option)}: ${w.model} on ${c.tp * (c.pp || 1)} x ${c.gpu} (${c.precision}${c.layout ? ", " + c.layout : ""})`;
  const checked = (payload.simulation || []).find((x) => x.workload === w.name);
  await Promise.all([drawMemory(base, w, c), drawLatency(base, w, c, label, tokens, checked)]);
}

async function drawMemory(base, w, c) {
  const context = Math.round(w.input_tokens.mean + w.output_tokens.mean);
  let batch = 1;
  try {
    const at = await api("perf", { method: "POST", body: { ...base, input_tokens: Math.round(w.input_tokens.mean), output_tokens: Math.round(w.output_tokens.mean), request_rate: c.max_requests_per_s_per_replica || 1 } });
    batch = Math.max(1, Math.ceil(at.batch || 1));
  } catch (e) { /* the memory chart still works with a batch of 1 */ }
  try {
    const m = await api("memory", { method: "POST", body: { ...base, context, batch } });
    const gib = (b) => b / 2 ** 30 / (m.num_gpus || 1);
    const parts = [["Weights", m.weights_bytes], ["KV cache", m.kv_cache_bytes], ["Activations", m.activation_bytes], ["Runtime overhead", m.overhead_bytes]];
    const traces = parts.map(([name, bytes]) => ({ type: "bar", name, x: ["per GPU"], y: [gib(bytes)], hovertemplate: `${name}: %{y:.1f} GiB<extra></extra>` }));
    const capacity = m.gpu_memory_bytes / 2 ** 30;
    Plotly.newPlot("chart-memory", traces, {
      title: { text: `Memory per GPU, ${escapeHtml(c.gpu)}<br><sub>${batch} sequences of ${context.toLocaleString()} tokens: ${m.fits ? "fits" : "does NOT fit"}</sub>`, font: { size: 14 } },
      annotations: [{ xref: "paper", x: 1, y: capacity, yanchor: "bottom", xanchor: "right", showarrow: false, text: `${escapeHtml(c.gpu)}: ${capacity.toFixed(0)} GiB` }],
      barmode: "stack", margin: { t: 60, l: 60, r: 10, b: 40 }, legend: { orientation: "h", y: -0.15 }, yaxis: { title: { text: "Memory per GPU, GiB" }, range: [0, Math.max(capacity, m.per_gpu_bytes / 2 ** 30) * 1.08] },
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: capacity, y1: capacity, line: { color: "black", dash: "dash" } }],
    }, PLOT);
  } catch (err) { $("chart-memory").textContent = `Memory breakdown unavailable: ${describe(err)}`; }
}

// What the plan used, and why the curve may say otherwise: printed under the chart.
function latencyNote(c, pct, capacity, points, checked) {
  const plan = `The plan sized the fleet with its roofline model: p${pct} TTFT ${num(c.ttft_ms, 0)} ms and TPOT ${num(c.tpot_ms, 1)} ms `
    + `at its capacity of ${num(capacity, 3)} requests/s per replica (diamonds). These are the figures the decision used.`;
  const curve = " The curve is the discrete-event simulator on one replica at the workload's mean lengths; it adds queueing, so it rises faster near full load.";
  const sim = checked
    ? ` The plan checked its busiest hour with the same simulator: p${checked.percentile} TTFT ${num(checked.ttft_ms, 0)} ms at ${num(checked.rate_per_s / (checked.replicas || 1), 3)} requests/s per replica `
      + `(circle), ${checked.meets_slo ? "within" : "NOT within"} the targets.` : "";
  const at = points.find((p) => Math.abs(p.rate - capacity) < 1e-9);
  const gap = at && c.ttft_ms > 0 && at.ttft / c.ttft_ms > 2
    ? ` At the plan's capacity the simulator gives ${num(at.ttft, 0)} ms, ${num(at.ttft / c.ttft_ms, 1)} x the plan's figure: treat that capacity as optimistic and keep the headroom the plan keeps (it loads replicas below capacity).` : "";
  return plan + curve + sim + gap;
}

async function drawLatency(base, w, c, label, tokens, checked) {
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
  if (run !== state.designRun) return;
  $("chart-latency").textContent = "";
  const x = points.map((p) => p.rate);
  const traces = [
    { x, y: points.map((p) => p.ttft), mode: "lines+markers", name: `TTFT p${pct}, simulated`, line: { color: "#1f77b4" } },
    { x, y: points.map((p) => p.tpot), mode: "lines+markers", name: `TPOT p${pct}, simulated`, yaxis: "y2", line: { color: "#ff7f0e" } },
    { x: [capacity], y: [c.ttft_ms], mode: "markers", name: "TTFT the plan used", marker: { symbol: "diamond", size: 13, color: "#1f77b4", line: { color: "black", width: 1 } } },
    { x: [capacity], y: [c.tpot_ms], mode: "markers", name: "TPOT the plan used", yaxis: "y2", marker: { symbol: "diamond", size: 13, color: "#ff7f0e", line: { color: "black", width: 1 } } },
  ];
  if (checked) traces.push({ x: [checked.rate_per_s / (checked.replicas || 1)], y: [checked.ttft_ms], mode: "markers", name: "Plan's simulated busiest hour", marker: { symbol: "circle-open", size: 14, color: "black" } });
  const shapes = [{ type: "line", x0: capacity, x1: capacity, yref: "paper", y0: 0, y1: 1, line: { dash: "dot", color: "gray" } }];
  if (slo.ttft_ms) traces.push({ x: [x[0], x[x.length - 1]], y: [slo.ttft_ms, slo.ttft_ms], mode: "lines", name: "TTFT target", line: { dash: "dash", color: "#1f77b4" } });
  if (slo.tpot_ms) traces.push({ x: [x[0], x[x.length - 1]], y: [slo.tpot_ms, slo.tpot_ms], mode: "lines", name: "TPOT target", yaxis: "y2", line: { dash: "dash", color: "#ff7f0e" } });
  Plotly.newPlot("chart-latency", traces, {
    title: { text: "Latency against load, one replica<br><sub>dotted: the plan's capacity per replica</sub>", font: { size: 14 } },
    margin: { t: 60, l: 70, r: 70, b: 50 }, xaxis: { title: { text: "Requests/s per replica" } },
    yaxis: { title: { text: "Time to first token, ms (log scale)" }, type: "log", dtick: 1, tickformat: ",.0f" },
    yaxis2: { title: { text: "Time per output token, ms" }, type: "linear", overlaying: "y", side: "right", tickmode: "auto", nticks: 5, rangemode: "tozero", showgrid: false, tickformat: ",.0f" },
    legend: { orientation: "h", y: -0.3 }, shapes,
  }, PLOT);
  $("latency-note").textContent = `Design: ${label}. ${latencyNote(c, pct, capacity, points, checked)}`;
}
