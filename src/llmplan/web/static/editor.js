// The scenario editor: live validation, the form, examples, saved versions, import and export.

import { $, api, describe, escapeHtml, notice, showErrors, state } from "./core.js";

let checkTimer = null;

export function scheduleCheck() { clearTimeout(checkTimer); checkTimer = setTimeout(check, 400); }

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
    showErrors(box, "invalid", err); box.className = "check bad";
    return null;
  }
}

// The text last loaded or saved: edits beyond it are asked about before they are dropped.
function setText(text, baseline = false) {
  $("yaml").value = text; state.checked = null;
  if (baseline) state.baseline = text;
  scheduleCheck();
}

export const dirty = () => $("yaml").value !== state.baseline;

// Before an action that replaces the text: true to go on.
export function mayDiscard(what) {
  return !dirty() || window.confirm(`Your edits to this scenario are not saved. ${what} anyway and lose them?`);
}

export function savedInfo() {
  const changed = dirty();
  $("saved-info").textContent = state.id
    ? `saved scenario ${state.id.slice(0, 8)}, version ${state.version}${changed ? " (edited, not saved)" : ""}`
    : `not saved${changed && state.baseline ? " (edited)" : ""}`;
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

// Where each form field lives in the file (POST /yaml/edit changes it there, nothing else).
const PATHS = {
  model: "workloads[0].model",
  requests_per_day: "workloads[0].requests_per_day",
  ttft_ms: "workloads[0].slo.ttft_ms",
  tpot_ms: "workloads[0].slo.tpot_ms",
  percentile: "workloads[0].slo.percentile",
  horizon_months: "finance.horizon_months",
  electricity_usd_per_kwh: "finance.electricity_usd_per_kwh",
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

export async function applyForm(event) {
  event.preventDefault();
  const scenario = state.checked || await check();
  if (!scenario) { notice("fix the YAML first", true); return; }
  const form = $("form");
  const changes = {};
  for (const [name, where] of Object.entries(FORM)) {
    const input = form.elements[name];
    if (input.disabled || input.value === "") continue;
    const [obj, key] = where(scenario);
    const value = input.type === "number" ? Number(input.value) : input.value;
    if (!obj || obj[key] !== value) changes[PATHS[name]] = value;
  }
  if (!Object.keys(changes).length) { notice("nothing to apply"); return; }
  try {
    setText(await api("yaml/edit", { method: "POST", body: { text: $("yaml").value, set: changes } }));
    savedInfo(); notice("form applied");
  } catch (err) {
    showErrors($("check"), "invalid", err); $("check").className = "check bad";
  }
}

export async function loadExamples() {
  const list = await api("examples");
  $("examples").innerHTML = list.map((e) => `<option value="${e.name}">${e.name}</option>`).join("");
}

export async function loadSavedList() {
  const list = await api("scenarios?limit=500");
  const options = list.items.map((s) => `<option value="${s.id}">${escapeHtml(s.name)} (v${s.version})</option>`).join("");
  $("saved").innerHTML = options;
  $("cmp-a").innerHTML = options; $("cmp-b").innerHTML = options;
  if (list.items.length > 1) $("cmp-b").selectedIndex = 1;
}

export async function loadModels() {
  try {
    const list = await api("catalog/models?limit=500");
    const items = list.items || list;
    $("models").innerHTML = items.map((m) => `<option value="${m.id || m.name}">`).join("");
  } catch (e) { /* the datalist is a convenience */ }
}

export async function loadGpus() {
  try {
    const list = await api("catalog/gpus?limit=500");
    $("gpus").innerHTML = (list.items || list).map((g) => `<option value="${g.id}">`).join("");
  } catch (e) { /* the datalist is a convenience */ }
}

export async function loadExample(ask = true) {
  const name = $("examples").value;
  if (ask && !mayDiscard(`Load the example ${name}`)) return;
  const answer = await api(`examples/${encodeURIComponent(name)}`);
  const text = answer.text || await api("yaml", { method: "POST", body: { scenario: answer.scenario } });
  Object.assign(state, { id: null, version: null, savedText: null });
  setText(text, true); savedInfo(); notice(`loaded example ${name}`);
}

export async function loadSaved(id = $("saved").value, ask = true) {
  if (!id) return;
  if (ask && !mayDiscard("Load the saved scenario")) return;
  const response = await api(`scenarios/${id}/yaml`, { raw: true });
  const text = await response.text();
  const meta = await api(`scenarios/${id}`);
  Object.assign(state, { id, version: meta.version, savedText: text });
  setText(text, true); savedInfo(); $("conflict").hidden = true;
  notice(`loaded ${meta.name} v${meta.version}`);
}

export async function save(asNew, force = false) {
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
    Object.assign(state, { id: answer.id, version: answer.version, savedText: text, baseline: text });
    savedInfo(); await loadSavedList(); $("saved").value = answer.id;
    notice(`saved ${answer.name} v${answer.version}`);
  } catch (err) {
    if (err.status === 409) return showConflict(err);
    notice(`not saved - ${describe(err)}`, true);
    showErrors($("check"), "invalid", err); $("check").className = "check bad";
  }
}

function showConflict(err) {
  const box = $("conflict");
  box.hidden = false;
  box.innerHTML = `<strong>Conflict (409):</strong> ${escapeHtml(err.body.message || "someone else saved a newer version")}.
    Your text is not saved. <button id="c-load">Load the latest version (drop my edits)</button>
    <button id="c-new">Save mine as a new scenario</button> <button id="c-force">Overwrite with mine</button>`;
  $("c-load").onclick = () => loadSaved(state.id, false);
  $("c-new").onclick = () => save(true);
  $("c-force").onclick = () => save(false, true);
  notice("save conflict", true);
}

export function exportYaml() {
  const blob = new Blob([$("yaml").value], { type: "application/yaml" });
  const a = document.createElement("a");
  const name = (state.checked && state.checked.name) || "scenario";
  a.href = URL.createObjectURL(blob);
  a.download = `${name.replace(/[^A-Za-z0-9_-]+/g, "-").toLowerCase()}.yaml`;
  document.body.appendChild(a); a.click(); a.remove();
}

export async function importYaml(event) {
  const file = event.target.files[0];
  if (!file) return;
  if (!mayDiscard(`Import ${file.name}`)) { event.target.value = ""; return; }
  Object.assign(state, { id: null, version: null, savedText: null });
  setText(await file.text(), true); savedInfo(); notice(`imported ${file.name}`);
  event.target.value = "";
}
