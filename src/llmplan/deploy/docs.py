"""The README and ``bench.sh`` written beside the deployment files."""

from __future__ import annotations

from llmplan.deploy.engines import table_for
from llmplan.deploy.hosts import BASE_PORT, INSTALL_PREFIX, shell_join
from llmplan.deploy.kubernetes import KUBERNETES_VERSIONS, metric_name
from llmplan.deploy.service import ServiceSpec

BENCH_RATE_MULTIPLES = (0.5, 1.0, 1.25)
"""Request rates ``bench.sh`` steps through, as multiples of one replica's planned peak
rate: below, at and above the load the plan sized each replica for."""
BENCH_REQUESTS_PER_STEP = 200
"""Requests per rate step: 10 beyond the p95, enough for a p95 with some spread."""


def bench_argv(spec: ServiceSpec, endpoint: str, out: str) -> list[str]:
    """``llmplan bench`` against one replica with the workload's lengths and rates."""
    rate = spec.peak_requests_per_s_per_replica
    rates = ",".join(f"{rate * m:.4g}" for m in BENCH_RATE_MULTIPLES)
    cv = max(spec.input_tokens_cv, spec.output_tokens_cv)
    argv = ["llmplan", "bench", endpoint, "--model", spec.model, "--served-model", spec.model]
    argv += ["--gpu", spec.gpu, "--engine", spec.engine.id, "--precision", spec.precision]
    argv += ["--num-gpus", str(spec.gpus_per_replica), "--tp", str(spec.tp), "--pp", str(spec.pp)]
    if spec.kv_precision != "fp16":
        argv += ["--kv-precision", spec.kv_precision]
    argv += ["--rate", rates, "--requests", str(BENCH_REQUESTS_PER_STEP)]
    argv += ["--input-tokens", str(round(spec.input_tokens_mean))]
    argv += ["--output-tokens", str(round(spec.output_tokens_mean))]
    argv += ["--lengths", "lognormal" if cv > 0 else "fixed"]
    if cv > 0:
        argv += ["--length-cv", f"{cv:.3g}"]
    return [*argv, "--out", out]


def bench_script(specs: list[ServiceSpec]) -> str:
    """``bench.sh [URL]``: measure one replica of each workload (default localhost)."""
    lines = [
        "#!/usr/bin/env bash",
        "# Measure a deployed replica with the workload's lengths and planned rates, then",
        "# calibrate and re-plan (see README.md). Usage: ./bench.sh [http://HOST:PORT]",
        "set -euo pipefail",
        f'ENDPOINT="${{1:-http://localhost:{BASE_PORT}}}"',
    ]
    for spec in specs:
        lines.append(shell_join(bench_argv(spec, "$ENDPOINT", f"measured-{spec.name}.csv")))
    return "\n".join(lines) + "\n"


def _design_lines(spec: ServiceSpec) -> list[str]:
    table = table_for(spec.family)
    return [
        f"## {spec.workload}",
        "",
        f"- option `{spec.option}`: {spec.replicas} replica(s) of {spec.gpus_per_replica} x "
        f"{spec.gpu} ({spec.nodes_per_replica} node(s) each), model `{spec.model}`, "
        f"weights {spec.precision}, KV cache {spec.kv_precision}, tp {spec.tp}, pp {spec.pp}",
        f"- engine {spec.engine.id}, options from {spec.family} {table.version} "
        f"({table.source}; docs {table.docs})",
        f"- longest request {spec.max_model_len:,} tokens (p95 prompt + p95 output): longer "
        f"requests are refused; raise `max_model_len` up to the model's window if needed",
        f"- each replica sized for {spec.peak_requests_per_s_per_replica:.3g} requests/s at "
        f"the peak hour with about {spec.running_per_replica} requests running; "
        + _autoscaler_text(spec),
        *_hybrid_line(spec),
        f"- prefix caching {'on' if spec.prefix_caching else 'off'}; speculative decoding "
        + (spec.speculative.method.value if spec.speculative else "off"),
        "",
    ]


def _autoscaler_text(spec: ServiceSpec) -> str:
    metrics = table_for(spec.family).metrics
    if metrics is None:
        return f"{spec.family} exports no request metrics, so no autoscaler is written"
    return (
        f"the autoscaler keeps {spec.replicas} to {spec.max_replicas} replicas on "
        f"`{metric_name(spec)}` (the engine's `{metrics.running}`)"
    )


def _hybrid_line(spec: ServiceSpec) -> list[str]:
    if spec.option != "hybrid":
        return []
    return [
        f"- hybrid: {spec.replicas} owned replica(s) carry the base demand; point the "
        "autoscaler's extra replicas (or a router) at the burst capacity"
    ]


def _needs_checkpoint(spec: ServiceSpec) -> bool:
    return spec.precision not in table_for(spec.family).base_checkpoint_precisions


def _checkpoint_line(spec: ServiceSpec) -> str:
    if spec.family == "llama.cpp":
        return (
            f"- `{spec.workload}`: a GGUF file of `{spec.model}` in {spec.precision} where "
            "the command's `--model` points (`MODEL_FILE` for the launch script)"
        )
    return f"- `{spec.workload}`: a {spec.precision} checkpoint of `{spec.model}` for the id"


def _fill_in(specs: list[ServiceSpec]) -> list[str]:
    out = [
        "## What you still fill in",
        "",
        "- the engine image tag: `ENGINE_IMAGE_TAG` (compose), `FILL-IN-TAG` (Kubernetes); "
        "pick the engine version named above or check the options against yours",
        "- secrets: a Hugging Face token for gated models (`HF_TOKEN`; Kubernetes: "
        "`kubectl create secret generic hf-token --from-literal=token=...`)",
        "- storage: the model cache (`MODEL_CACHE` for compose, `/var/lib/llmplan/model-cache`"
        " for systemd, the PersistentVolumeClaim's storage class in Kubernetes; it needs "
        "ReadWriteMany or one claim per replica)",
        f"- systemd: the engine installed in `{INSTALL_PREFIX}` (a virtual environment), "
        "copy the units to `/etc/systemd/system/`, then `systemctl enable --now` them "
        "and the health timer",
        "- Kubernetes: label the GPU nodes `llmplan.io/gpu=<GPU id>`; install the NVIDIA "
        "(or AMD) device plugin; expose the running-requests metric to the HPA with the "
        "Prometheus adapter (or KEDA); the LeaderWorkerSet controller for multi-node "
        "replicas; CPU and memory requests for your nodes",
    ]
    out += [_checkpoint_line(s) for s in specs if _needs_checkpoint(s)]
    return [*out, ""]


def readme(specs: list[ServiceSpec], target: str, files: list[str], source: str) -> str:
    """The README of the output folder: the design, the files, what to fill in, and
    measure -> calibrate -> plan."""
    lines = [
        f"# Deployment of {source} (target `{target}`)",
        "",
        "Written by `llmplan deploy` from the plan's chosen design. Every engine option is"
        " in llmplan's table of documented options (`engine-options.yaml`).",
        "",
    ]
    for spec in specs:
        lines += _design_lines(spec)
    lines += ["## Files", "", *(f"- `{f}`" for f in sorted(files)), ""]
    lines += _fill_in(specs)
    versions = ", ".join(KUBERNETES_VERSIONS)
    lines += [
        f"Kubernetes manifests are checked against the OpenAPI schemas of Kubernetes {versions}"
        " (the LeaderWorkerSet's pod templates as PodTemplates).",
        "",
        "## Measure, calibrate, plan again",
        "",
        "```bash",
        f"./bench.sh http://REPLICA:{BASE_PORT}    # writes measured-<workload>.csv",
        *(f"llmplan calibrate measured-{s.name}.csv --out calibration.yaml" for s in specs[:1]),
        "llmplan plan SCENARIO.yaml --calibration calibration.yaml",
        "```",
        "",
    ]
    return "\n".join(lines)
