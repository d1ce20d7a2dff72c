"""Launch commands of vLLM, SGLang and TensorRT-LLM for a :class:`ServiceSpec`.

Every option comes from the engine's row of ``data/engine-options.yaml`` by role
(:mod:`llmplan.deploy.options`); values come from the spec (the plan's design) and the
engine profile's documented limits (``max_num_seqs``, ``max_batched_tokens``,
``gpu_memory_utilization``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import yaml

from llmplan.deploy.options import EngineOptions, engine_options
from llmplan.deploy.service import ServiceSpec
from llmplan.errors import ConfigurationError

LAUNCH_ENGINES = ("vllm", "sglang", "trtllm", "llama.cpp")
EXTRA_CONFIG_FILE = "extra-llm-api-options.yaml"
"""TensorRT-LLM's options file, written beside the launch command."""
ALL_GPU_LAYERS = "-1"
"""llama.cpp: every layer on the GPUs (split over the visible ones)."""


@dataclass(frozen=True)
class Paths:
    """Where the files an engine reads will be: TensorRT-LLM's options file and a
    llama.cpp GGUF file (``{name}`` is the service's name)."""

    config: str = EXTRA_CONFIG_FILE
    gguf: str = "models/{name}.gguf"


@dataclass(frozen=True)
class NodeRole:
    """Where one process of a multi-node replica stands: its rank and rank 0's address
    (shell or Kubernetes variable references, substituted at start-up)."""

    nodes: int
    rank: str
    leader_address: str


@dataclass(frozen=True)
class Launch:
    """A launch command, the files it reads and what the operator must know."""

    family: str
    argv: list[str]
    files: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def table_for(family: str) -> EngineOptions:
    tables = engine_options()
    if family not in tables:
        raise ConfigurationError(
            f"no launch command for engine '{family}'; allowed: {', '.join(LAUNCH_ENGINES)}",
            field="target",
        )
    return tables[family]


def _weights(table: EngineOptions, spec: ServiceSpec) -> tuple[list[str], list[str]]:
    args: list[str] = []
    notes: list[str] = []
    if spec.precision not in table.base_checkpoint_precisions:
        notes.append(
            f"{spec.precision} weights: point the model argument at a {spec.precision} "
            f"checkpoint of {spec.model} (the id names the unquantised weights)"
        )
    if not table.precisions:
        return args, notes
    values = table.precisions.get(spec.precision)
    if values is None:
        raise ConfigurationError(
            f"precision '{spec.precision}' has no {spec.family} setting; allowed: "
            + ", ".join(sorted(table.precisions)),
            field="precision",
        )
    if values.dtype is not None:
        args += [table.option("dtype"), values.dtype]
    if values.quantization is not None:
        args += [table.option("quantization"), values.quantization]
    return args, notes


def _kv(table: EngineOptions, spec: ServiceSpec) -> str:
    value = table.kv_formats.get(spec.kv_precision)
    if value is None:
        raise ConfigurationError(
            f"KV-cache precision '{spec.kv_precision}' has no {spec.family} setting; "
            f"allowed: {', '.join(sorted(table.kv_formats))}",
            field="kv_precision",
        )
    return value


def _spec_method(table: EngineOptions, spec: ServiceSpec) -> str:
    assert spec.speculative is not None
    return table.speculative_methods[spec.speculative.method.value]


def _parallel(table: EngineOptions, spec: ServiceSpec) -> list[str]:
    args = [table.option("tensor_parallel"), str(spec.tp)]
    if spec.dp_attention and spec.family == "vllm":
        # vLLM runs attention DP as data-parallel ranks of one GPU, EP = TP x DP
        args = [table.option("tensor_parallel"), "1", table.option("data_parallel"), str(spec.tp)]
    if spec.pp > 1:
        args += [table.option("pipeline_parallel"), str(spec.pp)]
    return args


def _limits(table: EngineOptions, spec: ServiceSpec) -> list[str]:
    profile = spec.engine
    return [
        table.option("max_model_len"), str(spec.max_model_len),
        table.option("max_num_seqs"), str(profile.max_num_seqs),
        table.option("max_batched_tokens"), str(profile.max_batched_tokens),
        table.option("memory_fraction"), f"{profile.gpu_memory_utilization:g}",
    ]  # fmt: skip


def _vllm(spec: ServiceSpec, port: str, node: NodeRole | None, paths: Paths) -> Launch:
    t = table_for("vllm")
    weights, notes = _weights(t, spec)
    argv = [*t.command, spec.model, t.option("served_name"), spec.model]
    argv += [t.option("host"), "0.0.0.0", t.option("port"), port, *_parallel(t, spec)]
    if spec.ep > 1 or spec.dp_attention:
        argv.append(t.option("expert_parallel"))
    argv += [*weights, t.option("kv_cache_dtype"), _kv(t, spec), *_limits(t, spec)]
    argv.append(t.option("prefix_caching_on" if spec.prefix_caching else "prefix_caching_off"))
    if spec.engine.chunked_prefill:
        argv.append(t.option("chunked_prefill"))
    if spec.speculative is not None:
        spec_json: dict[str, object] = {
            "method": _spec_method(t, spec),
            "num_speculative_tokens": spec.speculative.draft_tokens,
        }
        if spec.speculative.draft_model is not None:
            spec_json["model"] = spec.speculative.draft_model.id
        argv += [t.option("speculative"), json.dumps(spec_json, separators=(",", ":"))]
    if node is not None:
        argv += [t.option("distributed_backend"), "ray"]
        notes.append("multi-node: the leader starts a Ray head, the workers join it")
    return Launch("vllm", argv, notes=notes)


def _sglang(spec: ServiceSpec, port: str, node: NodeRole | None, paths: Paths) -> Launch:
    t = table_for("sglang")
    weights, notes = _weights(t, spec)
    argv = [*t.command, t.option("model"), spec.model, t.option("served_name"), spec.model]
    argv += [t.option("host"), "0.0.0.0", t.option("port"), port, *_parallel(t, spec)]
    if spec.ep > 1:
        argv += [t.option("expert_parallel"), str(spec.ep)]
    if spec.dp_attention:
        argv += [t.option("dp_attention"), t.option("data_parallel"), str(spec.tp)]
    argv += [*weights, t.option("kv_cache_dtype"), _kv(t, spec), *_limits(t, spec)]
    if not spec.prefix_caching:
        argv.append(t.option("prefix_caching_off"))
    if spec.speculative is not None:
        argv += [t.option("speculative"), _spec_method(t, spec)]
        argv += [t.option("speculative_tokens"), str(spec.speculative.draft_tokens + 1)]
        if spec.speculative.draft_model is not None:
            argv += [t.option("speculative_draft"), spec.speculative.draft_model.id]
    argv.append(t.option("metrics"))
    if node is not None:
        argv += [t.option("nnodes"), str(node.nodes), t.option("node_rank"), node.rank]
        argv += [t.option("dist_init_addr"), node.leader_address]
    return Launch("sglang", argv, notes=notes)


def _trtllm(spec: ServiceSpec, port: str, node: NodeRole | None, paths: Paths) -> Launch:
    if spec.gpu_vendor != "NVIDIA":
        raise ConfigurationError(
            f"TensorRT-LLM runs on NVIDIA GPUs only, the design uses {spec.gpu}; "
            "allowed targets: vllm, sglang, docker-compose, systemd, kubernetes",
            field="target",
        )
    if node is not None:
        raise ConfigurationError(
            "multi-node TensorRT-LLM replicas (MPI launch) are not generated; "
            "choose a design within one node or the vllm / sglang engine",
            field="target",
        )
    t = table_for("trtllm")
    _, notes = _weights(t, spec)
    argv = [*t.command, spec.model, t.option("host"), "0.0.0.0", t.option("port"), port]
    argv += [t.option("backend"), "pytorch", *_parallel(t, spec)]
    if spec.ep > 1:
        argv += [t.option("expert_parallel"), str(spec.ep)]
    argv += _limits(t, spec)
    if spec.engine.chunked_prefill:
        argv.append(t.option("chunked_prefill"))
    argv += [t.option("extra_config"), paths.config]
    return Launch("trtllm", argv, {EXTRA_CONFIG_FILE: _trtllm_config(t, spec)}, notes)


def trtllm_config(spec: ServiceSpec) -> dict[str, object]:
    """The LLM API options file's content (keys listed in the table's ``config_keys``)."""
    t = table_for("trtllm")
    config: dict[str, object] = {
        "kv_cache_config": {"dtype": _kv(t, spec), "enable_block_reuse": spec.prefix_caching}
    }
    if spec.precision in ("fp16", "bf16"):
        config["dtype"] = "float16" if spec.precision == "fp16" else "bfloat16"
    if spec.dp_attention:
        config["enable_attention_dp"] = True
    if spec.speculative is not None:
        spec_config: dict[str, object] = {
            "decoding_type": _spec_method(t, spec),
            "max_draft_len": spec.speculative.draft_tokens,
        }
        if spec.speculative.draft_model is not None:
            spec_config["speculative_model_dir"] = spec.speculative.draft_model.id
        config["speculative_config"] = spec_config
    return config


def _trtllm_config(table: EngineOptions, spec: ServiceSpec) -> str:
    head = f"# TensorRT-LLM LLM API options ({table.version}); keys: {table.config_source}\n"
    return head + yaml.safe_dump(trtllm_config(spec), sort_keys=False)


def _llamacpp(spec: ServiceSpec, port: str, node: NodeRole | None, paths: Paths) -> Launch:
    if node is not None:
        raise ConfigurationError(
            "llama.cpp replicas run on one node; choose a design within one node",
            field="target",
        )
    t = table_for("llama.cpp")
    gguf = paths.gguf.replace("{name}", spec.name)
    notes = [f"{gguf}: a GGUF file of {spec.model} in {spec.precision} (the weights' format)"]
    argv = [*t.command, t.option("model"), gguf, t.option("served_name"), spec.model]
    argv += [t.option("host"), "0.0.0.0", t.option("port"), port]
    argv += [t.option("max_model_len"), str(spec.max_model_len)]
    argv += [t.option("max_batched_tokens"), str(spec.engine.max_batched_tokens)]
    argv += [t.option("gpu_layers"), ALL_GPU_LAYERS]
    kv = _kv(t, spec)
    argv += [t.option("kv_cache_dtype"), kv, t.option("kv_cache_dtype_v"), kv]
    argv += [t.option("prefix_caching"), str(spec.prefix_caching)]
    argv += [t.option("interrupt"), "False"]
    if spec.speculative is not None:
        method = t.speculative_methods.get(spec.speculative.method.value)
        if method is None:
            raise ConfigurationError(
                f"llama.cpp's server drafts by {', '.join(t.speculative_methods)} only, "
                f"the design uses {spec.speculative.method.value}",
                field="target",
            )
        argv += [t.option("speculative"), method]
        argv += [t.option("speculative_tokens"), str(spec.speculative.draft_tokens)]
    return Launch("llama.cpp", argv, notes=notes)


_BUILDERS = {"vllm": _vllm, "sglang": _sglang, "trtllm": _trtllm, "llama.cpp": _llamacpp}


def launch(
    spec: ServiceSpec, port: str, node: NodeRole | None = None, paths: Paths | None = None
) -> Launch:
    """The launch command of ``spec`` on its engine, serving on ``port`` (a number or a
    variable reference); ``paths``: where the files the engine reads will be."""
    builder = _BUILDERS.get(spec.family)
    if builder is None:
        raise ConfigurationError(
            f"no launch command for engine '{spec.engine.id}'; the deploy targets support "
            f"{', '.join(LAUNCH_ENGINES)} (set candidates.engines in the scenario)",
            field="target",
        )
    return builder(spec, port, node, paths or Paths())
