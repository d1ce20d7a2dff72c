// The scenario's JSON Schema (GET /api/v1/schema/scenario), read for the form: what each
// field is, its label in words with its unit, and how to build a new list item from it.

import { api, LABELS } from "./core.js";

export const SCHEMA = { root: null };

export async function loadSchema() { SCHEMA.root = await api("schema/scenario"); }

const defOf = (ref) => SCHEMA.root.$defs[ref.split("/").pop()];

// A property's schema with its null alternative and references resolved: {node, nullable}.
export function shape(prop) {
  let node = prop || {}, nullable = false;
  if (node.anyOf) {
    const rest = node.anyOf.filter((x) => x.type !== "null");
    nullable = rest.length < node.anyOf.length;
    node = rest.length === 1 ? rest[0] : { type: "string" };
  }
  if (node.allOf && node.allOf.length === 1) node = node.allOf[0];
  if (node.$ref) node = defOf(node.$ref);
  return { node, nullable };
}

// The schema of one list item: for workloads, the variant of the item's kind.
export function itemShape(list, item) {
  const items = list.items || {};
  if (!items.oneOf) return shape(items).node;
  const variants = items.oneOf.map((x) => shape(x).node);
  const kind = (item && item.kind) || "inference";
  return variants.find((v) => v.properties.kind.const === kind) || variants[0];
}

export function kindsOf(list) {
  return ((list.items || {}).oneOf || []).map((x) => shape(x).node.properties.kind.const);
}

// Words of a field name; a unit suffix after a comma: power_budget_kw -> Power budget, kW.
const WORDS = { usd: "USD", kw: "kW", kwh: "kWh", w: "W", m2: "m²", mtok: "million tokens", gpu: "GPU", gpus: "GPUs",
  tdp: "TDP", fte: "FTE", pue: "PUE", slo: "SLO", api: "API", ttft: "TTFT", tpot: "TPOT", kv: "KV", tp: "TP", pp: "PP",
  lora: "LoRA", p50: "p50", p95: "p95", ms: "ms", s: "s" };
const UNIT_START = new Set(["usd", "kw", "kwh", "w", "ms", "s", "m2", "months", "hours", "tokens"]);

export function label(key) {
  if (LABELS.fields[key]) return LABELS.fields[key][0];
  const words = String(key).split("_");
  const at = words.findIndex((w, n) => n > 0 && UNIT_START.has(w) && words[n - 1] !== "per" && !(w === "tokens" && n === words.length - 1));
  const say = (list) => list.map((w) => WORDS[w] || w).join(" ");
  const head = say(at < 0 ? words : words.slice(0, at));
  const text = head.charAt(0).toUpperCase() + head.slice(1);
  return at < 0 ? text : `${text}, ${say(words.slice(at))}`;
}

// A field path as the API writes it: workloads[0].slo.ttft_ms, overrides.gpus["RTX-4090-24GB"].
export function join(base, key) {
  if (typeof key === "number") return `${base}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return base ? `${base}.${key}` : key;
  return `${base}["${key}"]`;
}

// The fields a new item must have (its required fields; a required object's own required ones).
export function requiredFields(node, prefix = "") {
  const out = [];
  for (const key of node.required || []) {
    const { node: sub } = shape(node.properties[key]);
    if (sub.const !== undefined) continue;
    if (sub.type === "object" && sub.properties) out.push(...requiredFields(sub, `${prefix}${key}.`));
    else out.push([`${prefix}${key}`, node.properties[key]]);
  }
  return out;
}

// The fields of ``value`` that differ from their defaults (what a scenario file would hold).
export function minimal(node, value) {
  const out = {};
  for (const [key, prop] of Object.entries(node.properties || {})) {
    const v = value[key];
    if (v === undefined || v === null || JSON.stringify(v) === JSON.stringify(prop.default)) continue;
    out[key] = withoutNulls(v);
  }
  return out;
}

function withoutNulls(v) {
  if (Array.isArray(v) || v === null || typeof v !== "object") return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x)]));
}
