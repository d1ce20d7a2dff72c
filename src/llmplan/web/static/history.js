// The history of the saved scenario in the editor: its versions, the line diff between two
// of them (GET /scenarios/{id}/diff), restoring a version, renaming and deleting it.

import { $, api, escapeHtml, notice, showErrors, state } from "./core.js";
import { loadSaved, loadSavedList, mayDiscard, savedInfo } from "./editor.js";
import { setRoute } from "./route.js";

const SIGN = { same: " ", added: "+", removed: "-" };

function failed(err) { showErrors($("hist-error"), "refused", err); $("hist-error").hidden = false; }

export async function showHistory() {
  const has = Boolean(state.id);
  $("hist").hidden = !has; $("hist-empty").hidden = has; $("hist-error").hidden = true;
  if (!has) return;
  const [meta, versions] = await Promise.all([api(`scenarios/${state.id}`), api(`scenarios/${state.id}/versions`)]);
  $("hist-name").textContent = `${meta.name}: ${versions.length} version${versions.length > 1 ? "s" : ""}`;
  $("hist-new-name").value = meta.name;
  const row = (v) => `<tr><td>${v.version}${v.version === meta.latest_version ? " (current)" : ""}</td>
    <td>${escapeHtml(new Date(v.created_at).toLocaleString())}</td><td>${escapeHtml(v.name)}</td><td>${escapeHtml(v.note)}</td>
    <td>${v.version === meta.latest_version ? "" : `<button data-restore="${v.version}">Restore</button>`}</td></tr>`;
  $("hist-versions").innerHTML = `<tr><th>Version</th><th>Saved</th><th>Name</th><th>Note</th><th></th></tr>${versions.map(row).join("")}`;
  const options = versions.map((v) => `<option value="${v.version}">version ${v.version}</option>`).join("");
  $("diff-from").innerHTML = options; $("diff-to").innerHTML = options;
  $("diff-to").value = String(versions[0].version);
  $("diff-from").value = String(versions[Math.min(1, versions.length - 1)].version);
  await showDiff();
}

export async function showDiff() {
  const d = await api(`scenarios/${state.id}/diff?from=${$("diff-from").value}&to=${$("diff-to").value}`);
  $("diff-stats").textContent = d.added || d.removed
    ? `version ${d.from_version} -> ${d.to_version}: ${d.added} line${d.added === 1 ? "" : "s"} added, ${d.removed} removed`
    : `versions ${d.from_version} and ${d.to_version} are the same`;
  $("diff-view").innerHTML = d.lines.map((l) => `<div class="d-${l.kind}"><span class="ln">${l.from_line ?? ""}</span><span class="ln">${l.to_line ?? ""}</span><span class="sg">${SIGN[l.kind]}</span>${escapeHtml(l.text)}</div>`).join("");
}

async function reloaded(message) {
  await loadSaved(state.id, false); await loadSavedList(); await showHistory(); notice(message);
}

export async function restore(version) {
  if (!mayDiscard(`Restore version ${version}`)) return;
  try {
    const answer = await api(`scenarios/${state.id}/restore`, { method: "POST", body: { version, expected_version: state.version } });
    await reloaded(`version ${version} restored as version ${answer.version}`);
  } catch (err) { failed(err); }
}

export async function rename() {
  if (!mayDiscard("Rename the scenario")) return;
  try {
    const name = $("hist-new-name").value.trim();
    const answer = await api(`scenarios/${state.id}/rename`, { method: "POST", body: { name, expected_version: state.version } });
    await reloaded(`renamed to ${answer.name} (version ${answer.version})`);
  } catch (err) { failed(err); }
}

export async function removeScenario() {
  const name = $("hist-new-name").value;
  if (!window.confirm(`Delete "${name}" with every version and saved plan? The text stays in the editor, unsaved.`)) return;
  try {
    await api(`scenarios/${state.id}`, { method: "DELETE", headers: { "If-Match": `"${state.version}"` } });
  } catch (err) { failed(err); return; }
  Object.assign(state, { id: null, version: null, savedText: null, baseline: "" });
  savedInfo(); await loadSavedList(); setRoute(null); await showHistory();
  notice(`deleted ${name}`);
}
