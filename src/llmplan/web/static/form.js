// The scenario form: every field of the scenario, drawn from its JSON Schema (schema.js), filled
// from the checked scenario (defaults shown). An edit changes the YAML text through
// POST /api/v1/yaml/edit, in place where the value stands, so comments and integers stay; a
// YAML edit re-fills the form. Lists (workloads, price quotes) and maps (GPU overrides) have
// add and remove buttons; a new item asks for its required fields first (a "draft").

import { $, escapeHtml, showErrors } from "./core.js";
import { itemShape, join, kindsOf, label, minimal, requiredFields, SCHEMA, shape } from "./schema.js";

const SECTIONS = ["workloads", "constraints", "finance", "capacity", "overrides", "candidates"];
const opened = new Set(["workloads"]);
let draft = null;  // {op: "append"|"set", path, node, seed, title}
let scenario = null;
let hooks = { edit: async () => {} };

export function initForm(h) {
  hooks = h;
  const form = $("form-fields");
  form.addEventListener("change", (e) => changed(e.target));
  form.addEventListener("click", (e) => { const b = e.target.closest("button[data-action]"); if (b) act(b); });
  form.addEventListener("toggle", (e) => { if (e.target.dataset.section) (e.target.open ? opened.add : opened.delete).call(opened, e.target.dataset.section); }, true);
}

// --- drawing ----------------------------------------------------------------------------
const attr = (v) => escapeHtml(v === null || v === undefined ? "" : v);

const LISTS = { model: "models", draft_model: "models", open_model: "models", gpu: "gpus" };

function input(prop, key, path, value, nullable, text = label(key)) {
  const { node } = shape(prop);
  const title = attr(prop.description || node.description || "");
  const list = LISTS[key] ? ` list="${LISTS[key]}"` : "";
  const common = `name="${attr(path)}" data-path="${attr(path)}" data-nullable="${nullable ? 1 : 0}"${list}`;
  const wrap = (html) => `<label title="${title}"><span>${escapeHtml(text)}</span>${html}</label>`;
  if (node.enum) {
    const none = nullable ? `<option value="">(none)</option>` : "";
    return wrap(`<select ${common} data-kind="text">${none}${node.enum.map((o) => `<option${o === value ? " selected" : ""}>${escapeHtml(o)}</option>`).join("")}</select>`);
  }
  if (node.type === "boolean") return wrap(`<input type="checkbox" ${common} data-kind="bool"${value ? " checked" : ""}>`);
  if (node.type === "number" || node.type === "integer") {
    const min = node.minimum ?? node.exclusiveMinimum, max = node.maximum ?? node.exclusiveMaximum;
    const bounds = `${min !== undefined ? ` min="${min}"` : ""}${max !== undefined ? ` max="${max}"` : ""}`;
    return wrap(`<input type="number" step="any"${bounds} ${common} data-kind="number" value="${attr(value)}">`);
  }
  if (node.type === "array") return wrap(`<input ${common} data-kind="list" data-item="${attr((shape(node.items).node || {}).type)}" value="${attr((value || []).join(", "))}" placeholder="comma-separated">`);
  const type = node.format === "date" ? "date" : "text";
  return wrap(`<input type="${type}" ${common} data-kind="text" value="${attr(value)}">`);
}

function enumList(prop, key, path, value) {
  const { node: item } = shape(shape(prop).node.items);
  const boxes = item.enum.map((o) => `<label class="tick"><input type="checkbox" data-group="${attr(path)}" value="${attr(o)}"${(value || []).includes(o) ? " checked" : ""}> ${escapeHtml(o)}</label>`);
  return `<fieldset class="ticks" title="${attr(prop.description || "")}"><legend>${escapeHtml(label(key))}</legend>${boxes.join("")}</fieldset>`;
}

function field(prop, key, path, value) {
  const { node, nullable } = shape(prop);
  if (node.const !== undefined) return "";
  if (node.type === "array") {
    const { node: item } = shape(node.items || {});
    if (item.enum) return enumList(prop, key, path, value);
    if (item.type === "object" || (node.items || {}).oneOf) return objectList(node, key, path, value || []);
    return input(prop, key, path, value, nullable);
  }
  if (node.type === "object" && node.additionalProperties && !node.properties) return objectMap(node, key, path, value || {});
  if (node.type === "object" || node.properties) {
    if (value === null || value === undefined) return nullObject(node, key, path);
    return `<fieldset><legend title="${attr(prop.description || "")}">${escapeHtml(label(key))}</legend>${fields(node, path, value)}${nullable ? button("remove", path, "Remove", "remove") : ""}</fieldset>`;
  }
  return input(prop, key, path, value, nullable);
}

function fields(node, path, value) {
  return Object.entries(node.properties || {}).map(([k, p]) => field(p, k, join(path, k), value[k])).join("");
}

const button = (action, path, text, cls = "") => `<button type="button" class="${cls}" data-action="${action}" data-path="${attr(path)}">${escapeHtml(text)}</button>`;

function kindSelect(list, path, item) {
  const kinds = kindsOf(list);
  if (kinds.length < 2) return "";
  const options = kinds.map((k) => `<option${k === (item.kind || "inference") ? " selected" : ""}>${k}</option>`).join("");
  return `<label><span>Kind</span><select data-kind-of="${attr(path)}">${options}</select></label>`;
}

function objectList(list, key, path, items, titled = true) {
  const single = key.replace(/s$/, "");
  const drawn = items.map((item, i) => {
    const at = join(path, i), node = itemShape(list, item);
    const title = `${label(single)} ${i + 1}${item.name ? `: ${item.name}` : ""}`;
    return `<fieldset class="item"><legend>${escapeHtml(title)}</legend>${kindSelect(list, at, item)}
      ${draftAt(at)}${fields(node, at, item)}${button("remove", at, `Remove ${label(single).toLowerCase()}`, "remove")}</fieldset>`;
  });
  const add = button("add", path, `Add ${label(single).toLowerCase()}`);
  const legend = titled ? `<legend>${escapeHtml(label(key))}</legend>` : "";
  return `<fieldset class="list">${legend}${drawn.join("")}${draftAt(path)}${add}</fieldset>`;
}

function objectMap(node, key, path, value) {
  const { node: item } = shape(node.additionalProperties);
  const drawn = Object.entries(value).map(([k, v]) => {
    const at = join(path, k);
    return `<fieldset class="item"><legend>${escapeHtml(k)}</legend>${fields(item, at, v || {})}${button("remove", at, `Remove ${k}`, "remove")}</fieldset>`;
  });
  const picker = `<label><span>Add for</span><input data-map-key="${attr(path)}" list="gpus" placeholder="GPU id"></label>${button("add-key", path, "Add")}`;
  return `<fieldset class="list" title="${attr(node.description || "")}"><legend>${escapeHtml(label(key))}</legend>${drawn.join("")}${draftAt(path)}${picker}</fieldset>`;
}

function nullObject(node, key, path) {
  return `<fieldset><legend>${escapeHtml(label(key))}</legend><span class="muted">not set</span> ${button("set-new", path, "Set")}${draftAt(path)}</fieldset>`;
}

// A new item's required fields, asked before it is written (a file must stay valid).
function draftAt(path) {
  if (!draft || draft.path !== path) return "";
  const props = draft.node.properties || {};
  // an inference workload needs a volume too (one of three fields: the first asked for)
  const volume = props.requests_per_day && !(draft.node.required || []).includes("requests_per_day") ? [["requests_per_day", props.requests_per_day]] : [];
  const required = requiredFields(draft.node);
  // nothing required (a GPU override): every field, the file needs at least one
  const asked = required.length ? [...required, ...volume] : Object.entries(props).filter(([, p]) => shape(p).node.type !== "array");
  const inputs = asked.map(([rel, prop]) => {
    const { node, nullable } = shape(prop);
    const seed = rel.split(".").reduce((o, k) => (o ? o[k] : undefined), draft.seed);
    const text = rel.split(".").map(label).join(", ");
    return input(prop, rel.split(".").pop(), `draft.${rel}`, seed ?? (node.enum ? node.enum[0] : ""), nullable, text);
  });
  return `<fieldset class="draft"><legend>${escapeHtml(draft.title)}</legend>${inputs.join("")}
    ${button("draft-ok", path, draft.op === "append" ? "Add" : "Apply", "primary")} ${button("draft-cancel", path, "Cancel")}</fieldset>`;
}

export function renderForm(checked) {
  if (!SCHEMA.root) return;
  scenario = checked;
  const root = SCHEMA.root;
  const simple = Object.entries(root.properties).filter(([k]) => !SECTIONS.includes(k));
  const head = simple.map(([k, p]) => field(p, k, k, checked[k])).join("");
  const sections = SECTIONS.map((k) => `<details data-section="${k}"${opened.has(k) ? " open" : ""}>
    <summary>${escapeHtml(label(k))}</summary>${sectionBody(root.properties[k], k, checked[k])}</details>`);
  place(head + sections.join(""));
}

function sectionBody(prop, key, value) {
  const { node } = shape(prop);
  if (node.type === "array") return objectList(node, key, key, value || [], false);
  return fields(node, key, value || {});
}

// New HTML replaces the form only where its fields changed; values are refreshed in place.
function place(html) {
  const box = $("form-fields");
  const fresh = document.createElement("div");
  fresh.innerHTML = html;
  const names = (el) => [...el.querySelectorAll("[data-path],[data-group],legend,.draft")].map((x) => x.dataset.path || x.dataset.group || x.textContent).join("|");
  if (names(fresh) !== names(box)) {
    const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.name : null;
    box.innerHTML = html;
    if (focused) { const again = box.querySelector(`[name="${CSS.escape(focused)}"]`); if (again) again.focus(); }
    return;
  }
  const old = [...box.querySelectorAll("input,select")], now = [...fresh.querySelectorAll("input,select")];
  old.forEach((el, i) => {
    if (el === document.activeElement || !now[i]) return;
    if (el.type === "checkbox") el.checked = now[i].checked; else el.value = now[i].value;
  });
}

// --- editing ----------------------------------------------------------------------------
function valueOf(el) {
  const nullable = el.dataset.nullable === "1";
  if (el.dataset.kind === "bool") return el.checked;
  if (el.dataset.kind === "number") return el.value === "" ? null : Number(el.value);
  if (el.dataset.kind === "list") {
    const parts = el.value.split(",").map((s) => s.trim()).filter(Boolean);
    const items = ["number", "integer"].includes(el.dataset.item) ? parts.map(Number) : parts;
    return items.length || !nullable ? items : null;
  }
  return el.value === "" && nullable ? null : el.value;
}

async function changed(el) {
  if (el.dataset.group) {
    const boxes = $("form-fields").querySelectorAll(`input[data-group="${CSS.escape(el.dataset.group)}"]`);
    return hooks.edit({ set: { [el.dataset.group]: [...boxes].filter((b) => b.checked).map((b) => b.value) } });
  }
  if (el.dataset.kindOf) return changeKind(el.dataset.kindOf, el.value);
  if (!el.dataset.path || el.dataset.path.startsWith("draft.")) return null;
  const ok = await hooks.edit({ set: { [el.dataset.path]: valueOf(el) } });
  el.classList.toggle("bad", !ok);  // the message is above the form and in the bar
  return ok;
}

const at = (path) => path.replace(/\["([^"]+)"\]/g, ".$1").split(/\.|\[|\]/).filter(Boolean)
  .reduce((o, k) => (o === undefined || o === null ? undefined : o[/^\d+$/.test(k) ? Number(k) : k]), scenario);

function listNode(path) {
  const top = path.split(/[.[]/)[0];
  const { node } = shape(SCHEMA.root.properties[top]);
  return top === path ? node : shape(node.properties[path.slice(top.length + 1)]).node;
}

function changeKind(path, kind) {
  const item = at(path) || {};
  const list = listNode(path.replace(/\[\d+\]$/, ""));
  const node = itemShape(list, { kind });
  draft = { op: "set", path, node, seed: { kind, name: item.name, model: item.model }, title: `Change to ${kind}: fill in` };
  renderForm(scenario);
}

function newName(items, base) {
  const names = new Set(items.map((x) => x.name));
  for (let n = items.length + 1; ; n += 1) if (!names.has(`${base}-${n}`)) return `${base}-${n}`;
}

async function act(b) {
  const path = b.dataset.path, action = b.dataset.action;
  if (action === "remove") return hooks.edit({ remove: [path] });
  if (action === "draft-cancel") { draft = null; return renderForm(scenario); }
  if (action === "draft-ok") return confirmDraft();
  if (action === "add-key") {
    const key = $("form-fields").querySelector(`input[data-map-key="${CSS.escape(path)}"]`).value.trim();
    if (!key) return null;
    draft = { op: "set", path, target: join(path, key), node: shape(fieldNode(path).additionalProperties).node, seed: {}, title: `${key}: fill in at least one` };
    return renderForm(scenario);
  }
  const node = shape(SCHEMA.root.properties[path] || {}).node;
  if (action === "add" && path === "workloads") {  // a copy of the last workload, renamed
    const items = scenario.workloads, last = items[items.length - 1];
    const copy = { kind: last.kind, ...minimal(itemShape(node, last), last), name: newName(items, last.kind === "finetune" ? "finetune" : "workload") };
    return hooks.edit({ append: { workloads: copy } });
  }
  const list = action === "add" ? listNode(path) : null;
  const item = list ? itemShape(list, {}) : fieldNode(path);
  draft = { op: action === "add" ? "append" : "set", path, node: item, seed: {}, title: `New ${label(path.split(".").pop()).toLowerCase()}: fill in` };
  return renderForm(scenario);
}

function fieldNode(path) {
  const parts = path.split(".");
  let node = shape(SCHEMA.root.properties[parts[0].replace(/\[\d+\]$/, "")]).node;
  if (/\[\d+\]$/.test(parts[0])) node = itemShape(node, at(parts[0]));
  for (const k of parts.slice(1)) node = shape(node.properties[k]).node;
  return node;
}

async function confirmDraft() {
  const value = { ...(draft.seed.kind ? { kind: draft.seed.kind } : {}) };
  for (const el of $("form-fields").querySelectorAll(".draft input[data-path], .draft select[data-path]")) {
    const keys = el.dataset.path.slice("draft.".length).split(".");
    const parent = keys.slice(0, -1).reduce((o, k) => (o[k] = o[k] || {}), value);
    const v = valueOf(el);
    if (v !== null && v !== "") parent[keys[keys.length - 1]] = v;
  }
  const { op } = draft, path = draft.target || draft.path;
  const ok = await hooks.edit(op === "append" ? { append: { [path]: value } } : { set: { [path]: value } });
  if (ok) { draft = null; renderForm(scenario); }
}

export function formError(err) {
  const box = $("form-error");
  if (!err) { box.hidden = true; return; }
  showErrors(box, "not applied", err); box.hidden = false;
}
