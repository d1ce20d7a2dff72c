"""Benchmarking an OpenAI-compatible endpoint and importing other tools' results.

``llmplan bench`` drives the endpoint (:mod:`.client`), summarises each load step
(:mod:`.summary`) and writes rows of the measurements CSV schema (:mod:`.csvout`) that
``llmplan validate`` and ``llmplan calibrate`` read; :mod:`.importers` turns result files of
vLLM's ``benchmark_serving``, GuideLLM and AIPerf into the same rows. Importing this
package does not import httpx: only :mod:`.client` needs it.
"""

from llmplan.bench.csvout import Labels, StepMetrics, from_summary, rows, write_csv
from llmplan.bench.importers import ImportFormat, import_results
from llmplan.bench.workload import (
    Api,
    BenchConfig,
    LengthDist,
    LengthSpec,
    LoadStep,
    StepKind,
    make_prompt,
    parse_steps,
)

__all__ = [
    "Api",
    "BenchConfig",
    "ImportFormat",
    "Labels",
    "LengthDist",
    "LengthSpec",
    "LoadStep",
    "StepKind",
    "StepMetrics",
    "from_summary",
    "import_results",
    "make_prompt",
    "parse_steps",
    "rows",
    "write_csv",
]
