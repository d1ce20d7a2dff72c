// The scenario editor: live validation, the form, examples, saved versions, import and export.

import { $, api, describe, escapeHtml, notice, showErrors, state } from "./core.js";
import { formError, renderForm } from "./form.js";
import { setRoute } from "./route.js";

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
    renderForm(answer.scenario);
    return answer.scenario;
  } catch (err) {
    showErrors(box, "invalid", err); box.className = "check bad";
    return null;
  }
}

// The text last loaded or saved: edits beyond it are asked about before they are dropped.
function setText(text, baseline = false) {
  $("yaml").value = text; state.checked = null; lineNumbers();
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

// Form edits go one after the other, each on the text the previous one left.
let editing = Promise.resolve(true);

export function applyEdit(edit) {
  editing = editing.then(async () => {
    try {
      const text = await api("yaml/edit", { method: "POST", body: { text: $("yaml").value, ...edit } });
      setText(text); savedInfo(); formError(null); notice("form applied to the YAML");
      return true;
    } catch (err) {
      formError(err); notice(`not applied - ${describe(err)}`, true);
      return false;
    }
  });
  return editing;
}

// "Apply" (or Enter): send the focused field's value if its change event has not gone yet.
export async function applyForm(event) {
  event.preventDefault();
  const el = document.activeElement;
  if (el && $("form").contains(el) && el.dataset.path) el.dispatchEvent(new Event("change", { bubbles: true }));
  await editing;
}

export function lineNumbers() {
  const count = $("yaml").value.split("\n").length;
  const gutter = $("yaml-lines");
  if (Number(gutter.dataset.count) !== count) {
    gutter.textContent = Array.from({ length: count }, (_, i) => i + 1).join("\n");
    gutter.dataset.count = count;
  }
  gutter.scrollTop = $("yaml").scrollTop;
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

export async function loadExample(ask = true, route = true) {
  const name = $("examples").value;
  if (ask && !mayDiscard(`Load the example ${name}`)) return;
  const answer = await api(`examples/${encodeURIComponent(name)}`);
  const text = answer.text || await api("yaml", { method: "POST", body: { scenario: answer.scenario } });
  Object.assign(state, { id: null, version: null, savedText: null });
  setText(text, true); savedInfo(); if (route) setRoute(null);
  notice(`loaded example ${name}`);
}

export async function loadSaved(id = $("saved").value, ask = true, route = true) {
  if (!id) return false;
  if (ask && !mayDiscard("Load the saved scenario")) return false;
  const meta = await api(`scenarios/${encodeURIComponent(id)}`);
  const response = await api(`scenarios/${encodeURIComponent(id)}/yaml?version=${meta.version}`, { raw: true });
  const text = await response.text();
  Object.assign(state, { id, version: meta.version, name: meta.name, savedText: text });
  setText(text, true); savedInfo(); $("conflict").hidden = true;
  if ([...$("saved").options].some((o) => o.value === id)) $("saved").value = id;
  if (route) setRoute("scenarios", id);
  notice(`loaded ${meta.name} v${meta.version}`);
  return true;
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
    Object.assign(state, { id: answer.id, version: answer.version, name: answer.name, savedText: text, baseline: text });
    savedInfo(); await loadSavedList(); $("saved").value = answer.id;
    setRoute("scenarios", answer.id);
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
  setText(await file.text(), true); savedInfo(); setRoute(null); notice(`imported ${file.name}`);
  event.target.value = "";
}
