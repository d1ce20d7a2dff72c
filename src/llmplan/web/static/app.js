// llmplan web UI: vanilla JavaScript modules over the REST API (/api/v1), no build step.
// Wires the page's controls to the views and loads the first scenario.

import { compare } from "./compare.js";
import { downloadDeployment } from "./deploy.js";
import { $, describe, download, loadLabels, notice, on, showTab } from "./core.js";
import { applyEdit, applyForm, dirty, exportYaml, importYaml, lineNumbers, loadExample, loadExamples, loadGpus, loadModels, loadSaved, loadSavedList, save, savedInfo, scheduleCheck } from "./editor.js";
import { initForm } from "./form.js";
import { removeScenario, rename, restore, showDiff, showHistory } from "./history.js";
import { cancelPlan, exportPath, openPlan, runPlan } from "./plan.js";
import { routeOf } from "./route.js";
import { loadSchema } from "./schema.js";
import { cancelSimulation, runSimulation, simArrivals } from "./simulate.js";

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.addEventListener("click", async () => {
      showTab(b.dataset.tab);
      if (b.dataset.tab === "history") await showHistory().catch((err) => notice(describe(err), true));
    });
  }
  $("token").value = localStorage.getItem("llmplan-token") || "";
  on("token", "change", async () => { localStorage.setItem("llmplan-token", $("token").value.trim()); await boot(); });
  on("yaml", "input", () => { scheduleCheck(); savedInfo(); lineNumbers(); });
  on("yaml", "scroll", lineNumbers);
  initForm({ edit: applyEdit });
  on("diff", "click", showDiff);
  on("diff-from", "change", showDiff);
  on("diff-to", "change", showDiff);
  on("hist-rename", "click", rename);
  on("hist-delete", "click", removeScenario);
  on("hist-versions", "click", (e) => { const b = e.target.closest("button[data-restore]"); return b ? restore(Number(b.dataset.restore)) : null; });
  // a shared address opens what it names; back and forward too
  window.addEventListener("hashchange", () => { openRoute(); });
  on("load-example", "click", () => loadExample());
  // a reload or a closed tab asks first when the text has edits that are not saved
  window.addEventListener("beforeunload", (e) => { if (dirty()) { e.preventDefault(); e.returnValue = ""; } });
  on("load-saved", "click", () => loadSaved());
  on("save", "click", () => save(false));
  on("save-new", "click", () => save(true));
  on("export", "click", exportYaml);
  on("import", "change", importYaml);
  on("form", "submit", applyForm);
  on("run", "click", runPlan);
  on("deploy", "click", downloadDeployment);
  on("cancel", "click", cancelPlan);
  on("dl-html", "click", () => download(exportPath("html")));
  on("dl-xlsx", "click", () => download(exportPath("xlsx")));
  on("dl-pdf", "click", async () => { notice("printing the PDF..."); await download(exportPath("pdf")); notice("PDF ready"); });
  on("sim-form", "submit", runSimulation);
  on("sim-cancel", "click", cancelSimulation);
  on("sim-form", "change", (e) => { if (e.target.name === "arrivals") simArrivals(); });
  simArrivals();
  on("print", "click", () => { showTab("plan"); window.print(); });
  on("compare", "click", compare);
  await boot();
}

async function boot() {
  try {
    await loadLabels();
    await loadSchema();
    await loadExamples();
    await loadSavedList();
    loadModels();
    loadGpus();
    const problem = await openRoute();
    if (!$("yaml").value) await loadExample(false, false);
    notice(problem || "ready", Boolean(problem));
    document.body.dataset.ready = "1";
  } catch (err) { notice(describe(err), true); }
}

// #/scenarios/{id} loads that saved scenario, #/plans/{id} shows that plan (and its scenario).
// The problem, if what the address names cannot be opened (null: opened, or no address).
async function openRoute() {
  const route = routeOf();
  if (!route) return null;
  try {
    if (route.kind === "scenarios") {
      if (await loadSaved(route.id, true, false)) showTab("editor");
      return null;
    }
    const plan = await openPlan(route.id);
    if (!$("yaml").value && plan.scenario_id) await loadSaved(plan.scenario_id, false, false).catch(() => null);
    return null;
  } catch (err) {
    const problem = `cannot open the saved ${route.kind.slice(0, -1)} ${route.id}: ${describe(err)}`;
    notice(problem, true);
    return problem;
  }
}

document.addEventListener("DOMContentLoaded", start);
