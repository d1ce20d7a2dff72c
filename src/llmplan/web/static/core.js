// Shared by every view: the REST client, notices, tabs, formatting, job polling.

const API = "/api/v1";

export const $ = (id) => document.getElementById(id);

export const state = { id: null, version: null, savedText: null, baseline: "", jobId: null, planId: null, payload: null, checked: null };

// Names in words with units and one colour per option and cost line (/web/labels.json, shared with the report).
export const LABELS = { options: {}, lines: {}, fields: {}, option_order: [], option_colours: {}, line_colours: {} };

export async function loadLabels() {
  try { Object.assign(LABELS, await (await fetch("/web/labels.json")).json()); } catch (e) { /* raw names then */ }
}

const spelt = (name) => { const t = String(name).replace(/_+/g, " ").trim(); return t.charAt(0).toUpperCase() + t.slice(1); };
export const optionName = (o) => LABELS.options[o] || spelt(o);
export const lineName = (l) => LABELS.lines[l] || spelt(l);
export const fieldName = (f) => (LABELS.fields[f] ? LABELS.fields[f][0] : spelt(f));
export const optionColour = (o) => LABELS.option_colours[o] || "#555";
export const lineColour = (l) => LABELS.line_colours[l] || "#555";

export function fieldValue(field, v) {
  const kind = LABELS.fields[field] ? LABELS.fields[field][1] : "number";
  if (typeof v !== "number") return String(v);
  if (kind === "percent") return `${(v * 100).toLocaleString("en-US", { maximumSignificantDigits: 3 })} %`;
  if (kind === "multiple") return `${v.toLocaleString("en-US", { maximumSignificantDigits: 3 })} x`;
  if (kind === "usd_rate") return v.toLocaleString("en-US", { maximumFractionDigits: Math.abs(v) >= 10 ? 0 : Math.abs(v) >= 1 ? 2 : 3 });
  if (kind === "ratio") return v.toLocaleString("en-US", { maximumFractionDigits: 2 });
  return v.toLocaleString("en-US", { maximumFractionDigits: Math.abs(v) >= 100 ? 0 : 3 });
}

export const money = (v, currency = "USD") => (v === null || v === undefined ? "-" : `${fmt(v)} ${currency}`);

export function currencyOf(payload) {
  return payload.currency || (payload.scenario.finance || {}).currency || "USD";
}

// Options in the one order every table and chart uses.
export function ordered(names) {
  const order = LABELS.option_order;
  const rank = (n) => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...names].sort((a, b) => rank(a) - rank(b) || String(a).localeCompare(String(b)));
}

export const fmt = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 0 }));

export const num = (v, digits = 1) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

export const PLOT = { responsive: true, displaylogo: false };

export class HttpError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status; this.body = body || {};
  }
}

export async function api(path, { method = "GET", body, headers = {}, raw = false } = {}) {
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

// One line naming the field once (the API's messages already start with it).
export function describe(err) {
  const b = err.body || {};
  const message = b.message || err.message || String(err);
  return b.field && !message.startsWith(b.field) ? `${b.field}: ${message}` : message;
}

// Every error of an answer, one per line (the API lists them in errors[]).
export function describeAll(err) {
  const list = (err.body && err.body.errors) || [];
  return list.length > 1 ? list.map((e) => e.message) : [describe(err)];
}

export function showErrors(box, prefix, err) {
  const lines = describeAll(err);
  box.innerHTML = lines.length > 1
    ? `${escapeHtml(prefix)} - ${lines.length} errors:<ul>${lines.map((l) => `<li>${escapeHtml(l)}</li>`).join("")}</ul>`
    : `${escapeHtml(prefix)} - ${escapeHtml(lines[0])}`;
}

export function notice(text, bad = false) {
  const n = $("notice");
  n.textContent = text; n.style.color = bad ? "#ffb4b4" : "#fff";
}

export async function download(path) {
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

export function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
  for (const c of document.querySelectorAll(`#tab-${name} .chart`)) if (c.data) Plotly.Plots.resize(c);
}

export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

export function included(payload) {
  const byName = Object.fromEntries(payload.options.filter((o) => o.included).map((o) => [o.option, o]));
  return ordered(Object.keys(byName)).map((n) => byName[n]);
}

const FINISHED = ["succeeded", "failed", "cancelled"];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function follow(job, onProgress) {
  while (!FINISHED.includes(job.status)) {
    if (onProgress) onProgress(job);
    await sleep(300);
    job = await api(`jobs/${job.id}?wait=1`);
  }
  return job;
}

export function on(id, event, handler) {
  $(id).addEventListener(event, async (e) => {
    try { await handler(e); } catch (err) { notice(describe(err), true); }
  });
}
