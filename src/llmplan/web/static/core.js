// Shared by every view: the REST client, notices, tabs, formatting, job polling.

const API = "/api/v1";

export const $ = (id) => document.getElementById(id);

export const state = { id: null, version: null, savedText: null, jobId: null, planId: null, payload: null, checked: null };

export const fmt = (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 }));

export const num = (v, digits = 1) => (v === null || v === undefined ? "-" : Number(v).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits }));

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

export function describe(err) {
  const b = err.body || {};
  return b.field ? `${b.field}: ${b.message}` : (err.message || String(err));
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
  return payload.options.filter((o) => o.included).sort((a, b) => a.npv_usd - b.npv_usd);
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
