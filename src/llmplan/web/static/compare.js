// Two saved scenarios side by side (planned if their latest plan is stale).

import { $, api, describe, escapeHtml, fmt, follow, HttpError, included, optionName, ordered, PLOT } from "./core.js";

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

export async function compare() {
  const ids = [$("cmp-a").value, $("cmp-b").value];
  if (!ids[0] || !ids[1]) { $("cmp-status").textContent = "save two scenarios first"; return; }
  try {
    const results = [];
    for (const id of ids) results.push(await planOf(id));
    $("cmp-status").textContent = "";
    const names = ordered([...new Set(results.flatMap(([, p]) => p.options.map((o) => o.option)))]);
    const npv = (p, name) => { const o = p.options.find((x) => x.option === name); return o && o.included ? fmt(o.npv_usd) : "excluded"; };
    const head = `<tr><th></th>${results.map(([m]) => `<th>${escapeHtml(m.name)} (v${m.version})</th>`).join("")}</tr>`;
    const rec = `<tr class="best"><td>Recommended</td>${results.map(([, p]) => `<td>${escapeHtml(p.recommended ? optionName(p.recommended.option) : "none")}</td>`).join("")}</tr>`;
    const rows = names.map((n) => `<tr><td>NPV of ${escapeHtml(optionName(n))}, USD</td>${results.map(([, p]) => `<td>${npv(p, n)}</td>`).join("")}</tr>`);
    $("cmp-table").innerHTML = head + rec + rows.join("");
    Plotly.newPlot("chart-compare", results.map(([m, p]) => ({
      type: "bar", name: m.name, x: included(p).map((o) => optionName(o.option)), y: included(p).map((o) => o.npv_usd),
    })), { title: { text: "Net present value per option", font: { size: 14 } }, barmode: "group", xaxis: { title: { text: "Option" } },
      yaxis: { title: { text: "Net present value, USD" }, separatethousands: true }, legend: { orientation: "h", y: -0.25 } }, PLOT);
  } catch (err) { $("cmp-status").textContent = `compare failed: ${describe(err)}`; }
}
