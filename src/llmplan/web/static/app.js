// llmplan web UI: vanilla JavaScript modules over the REST API (/api/v1), no build step.
// Wires the page's controls to the views and loads the first scenario.

import { compare } from "./compare.js";
import { downloadDeployment } from "./deploy.js";
import { $, describe, download, loadLabels, notice, on, showTab } from "./core.js";
import { applyForm, dirty, exportYaml, importYaml, loadExample, loadExamples, loadGpus, loadModels, loadSaved, loadSavedList, save, savedInfo, scheduleCheck } from "./editor.js";
import { cancelPlan, exportPath, runPlan } from "./plan.js";
import { cancelSimulation, runSimulation, simArrivals } from "./simulate.js";

async function start() {
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("token").value = localStorage.getItem("llmplan-token") || "";
  on("token", "change", async () => { localStorage.setItem("llmplan-token", $("token").value.trim()); await boot(); });
  on("yaml", "input", () => { scheduleCheck(); savedInfo(); });
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
    await loadExamples();
    await loadSavedList();
    loadModels();
    loadGpus();
    if (!$("yaml").value) await loadExample(false);
    notice("ready");
    document.body.dataset.ready = "1";
  } catch (err) { notice(describe(err), true); }
}

document.addEventListener("DOMContentLoaded", start);
