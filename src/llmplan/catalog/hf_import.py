"""Turn a Hugging Face ``config.json`` into a :class:`~llmplan.catalog.schema.ModelSpec`.

``load_hf_config`` reads the file (a path, a folder, or, only when asked, a Hub download);
``model_spec_from_hf_config`` maps its fields. Both raise :class:`~llmplan.errors.InputError`
with ``field="config.json"`` and a one-line message naming the config key at fault.

A config.json has no published parameter count, so ``params_total_b`` and ``params_active_b``
are counted from the mapped fields by :func:`llmplan.catalog.params.count_params`; ``notes``
says so. Multimodal configs (Gemma 3, Llama 4) keep the language model under ``text_config``:
only that part is mapped. Where released configs leave a field to the transformers default
(Gemma 3 omits ``vocab_size``; Falcon omits ``max_position_embeddings``), that default is used
and listed in ``notes``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llmplan.catalog.params import count_params
from llmplan.catalog.schema import MlaSpec, MlpKind, ModelSpec, MoeSpec, SlidingWindowSpec
from llmplan.errors import InputError

_FIELD = "config.json"
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")

# model_type spellings that share one mapping ("gemma3_text" -> "gemma3" is done by suffix).
_KIND_ALIASES = {"RefinedWeb": "falcon", "RefinedWebModel": "falcon"}
# Families whose transformers config class ties the LM head to the embedding by default.
_TIED_BY_DEFAULT = frozenset({"gemma", "gemma2", "gemma3", "falcon"})
# Llama-style field names but a plain (two-matrix, ungated) feed-forward block.
_PLAIN_MLP = frozenset({"gpt_neox", "phi", "starcoder2"})
# transformers config-class defaults that released config.json files rely on.
_DEFAULTS: dict[str, dict[str, int]] = {
    "gemma3": {
        "vocab_size": 262_208,
        "max_position_embeddings": 131_072,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "sliding_window": 4096,
    },
    "falcon": {"max_position_embeddings": 2048},
}
# One global layer in this many when neither layer_types nor sliding_window_pattern says.
_GLOBAL_EVERY = {"gemma2": 2, "gemma3": 6}


def _error(message: str) -> InputError:
    """An InputError on config.json, its message prefixed with the field."""
    return InputError(f"{_FIELD}: {message}", field=_FIELD)


class _Reader:
    """Typed look-ups in one config mapping; every error names the key and the model_type."""

    def __init__(self, cfg: Mapping[str, Any], *, model_type: str, kind: str, prefix: str = ""):
        self.cfg = cfg
        self.model_type = model_type
        self.kind = kind
        self.prefix = prefix
        self.defaults = _DEFAULTS.get(kind, {})
        self.defaulted: list[str] = []

    def error(self, what: str) -> InputError:
        return _error(f"{what} (model_type '{self.model_type}')")

    def get(self, *keys: str) -> tuple[str, Any]:
        """First non-null value among ``keys``, else a family default, else ``(keys[0], None)``."""
        for key in keys:
            if self.cfg.get(key) is not None:
                return key, self.cfg[key]
        for key in keys:
            if key in self.defaults:
                self.defaulted.append(key)
                return key, self.defaults[key]
        return keys[0], None

    def opt_int(self, *keys: str, minimum: int = 0) -> int | None:
        key, value = self.get(*keys)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            kind = "a positive integer" if minimum > 0 else "a non-negative integer"
            shown = repr(value)[:40]
            raise self.error(f"'{self.prefix}{key}' must be {kind}, got {shown}")
        return value

    def need_int(self, *keys: str) -> int:
        value = self.opt_int(*keys, minimum=1)
        if value is None:
            raise self.error(f"missing '{self.prefix}{keys[0]}'")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.cfg.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"'{self.prefix}{key}' must be true or false, got {value!r}")
        return value


def _kind(model_type: str) -> str:
    """The mapping a model_type uses: ``gemma3_text`` -> gemma3, ``RefinedWeb`` -> falcon."""
    return _KIND_ALIASES.get(model_type, model_type.removesuffix("_text"))


def _text_reader(config: Mapping[str, Any], model_type: str) -> _Reader:
    """A reader on ``text_config`` when the config nests its language model there."""
    outer = _Reader(config, model_type=model_type, kind=_kind(model_type))
    text = config.get("text_config")
    if text is None:
        return outer
    if not isinstance(text, Mapping):
        raise outer.error("'text_config' must be an object")
    inner = text.get("model_type")
    kind = _kind(inner if isinstance(inner, str) and inner else model_type)
    return _Reader(text, model_type=model_type, kind=kind, prefix="text_config.")


def _head_dim(r: _Reader, hidden: int, heads: int) -> int:
    """Attention head width: MLA's q/k width, else ``head_dim``, else hidden / heads."""
    rope = r.opt_int("qk_rope_head_dim", minimum=1)
    nope = r.opt_int("qk_nope_head_dim", minimum=1)
    if r.cfg.get("kv_lora_rank") is not None and rope and nope:
        return rope + nope
    return r.opt_int("head_dim", minimum=1) or hidden // heads


def _llama_fields(r: _Reader) -> dict[str, Any]:
    """Llama-style names, used by most families and by unknown model_types."""
    hidden = r.need_int("hidden_size", "n_embd", "d_model")
    heads = r.need_int("num_attention_heads", "n_head", "n_heads")
    dense_ffn = ("intermediate_size_mlp",) if r.kind == "llama4" else ()
    return {
        "num_layers": r.need_int("num_hidden_layers", "n_layer", "num_layers"),
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_kv_heads": r.opt_int("num_key_value_heads", "num_kv_heads", minimum=1) or heads,
        "head_dim": _head_dim(r, hidden, heads),
        "intermediate_size": r.need_int(*dense_ffn, "intermediate_size", "ffn_dim"),
        "vocab_size": r.need_int("vocab_size"),
        "max_context_tokens": r.need_int("max_position_embeddings", "n_positions", "seq_length"),
        "mlp": MlpKind.PLAIN if r.kind in _PLAIN_MLP else MlpKind.GATED,
    }


def _falcon_fields(r: _Reader) -> dict[str, Any]:
    """Falcon: plain GELU MLP 4x wide; KV heads from the decoder generation."""
    hidden = r.need_int("hidden_size", "n_embed")
    heads = r.need_int("num_attention_heads", "n_head")
    if r.flag("new_decoder_architecture", r.model_type == "RefinedWeb"):
        kv_heads = r.opt_int("num_kv_heads", "n_head_kv", minimum=1) or heads
    else:
        kv_heads = 1 if r.flag("multi_query", True) else heads
    return {
        "num_layers": r.need_int("num_hidden_layers", "n_layer"),
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_kv_heads": kv_heads,
        "head_dim": r.opt_int("head_dim", minimum=1) or hidden // heads,
        "intermediate_size": r.opt_int("ffn_hidden_size", minimum=1) or 4 * hidden,
        "vocab_size": r.need_int("vocab_size"),
        "max_context_tokens": r.need_int("max_position_embeddings"),
        "mlp": MlpKind.PLAIN,
    }


def _gpt2_style_fields(r: _Reader) -> dict[str, Any]:
    """GPT-J / GPT-2 names (n_embd, n_layer, n_head); plain MLP of n_inner or 4 * n_embd."""
    hidden = r.need_int("n_embd", "hidden_size")
    heads = r.need_int("n_head", "num_attention_heads")
    return {
        "num_layers": r.need_int("n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "num_kv_heads": heads,
        "head_dim": hidden // heads,
        "intermediate_size": r.opt_int("n_inner", minimum=1) or 4 * hidden,
        "vocab_size": r.need_int("vocab_size"),
        "max_context_tokens": r.need_int("n_positions", "max_position_embeddings"),
        "mlp": MlpKind.PLAIN,
    }


def _core_fields(r: _Reader) -> dict[str, Any]:
    if r.kind == "falcon":
        return _falcon_fields(r)
    if r.kind in ("gptj", "gpt2", "codegen"):
        return _gpt2_style_fields(r)
    return _llama_fields(r)


def _shared_experts(r: _Reader, expert_width: int) -> tuple[int, int | None]:
    """(count, width or None for the routed experts' width) of always-on experts."""
    if r.kind == "llama4":
        return 1, None
    qwen_width = r.opt_int("shared_expert_intermediate_size")
    if qwen_width:
        return 1, None if qwen_width == expert_width else qwen_width
    return r.opt_int("n_shared_experts", "num_shared_experts") or 0, None


def _dense_layers(r: _Reader) -> int:
    """Leading dense layers; Qwen's mlp_only_layers are counted as such (same totals)."""
    first_dense = r.opt_int("first_k_dense_replace")
    if first_dense is not None:
        return first_dense
    mlp_only = r.cfg.get("mlp_only_layers")
    return len(mlp_only) if isinstance(mlp_only, list) else 0


def _moe(r: _Reader) -> MoeSpec | None:
    """Mixture-of-experts layout, or None for a dense model."""
    experts = r.opt_int("n_routed_experts", "num_local_experts", "num_experts")
    if experts is None or experts <= 1:
        return None
    width = r.opt_int("moe_intermediate_size", minimum=1) or r.need_int("intermediate_size")
    shared, shared_width = _shared_experts(r, width)
    interval_keys = ("interleave_moe_layer_step", "moe_layer_freq", "decoder_sparse_step")
    return MoeSpec(
        num_experts=experts,
        experts_per_token=r.need_int("num_experts_per_tok", "experts_per_token", "moe_topk"),
        shared_experts=shared,
        expert_intermediate_size=width,
        shared_expert_intermediate_size=shared_width,
        dense_layers=_dense_layers(r),
        moe_layer_interval=r.opt_int(*interval_keys, minimum=1) or 1,
    )


def _mla(r: _Reader) -> MlaSpec | None:
    """Multi-head latent attention (DeepSeek-V2/V3, Kimi K2), or None."""
    kv_lora_rank = r.opt_int("kv_lora_rank", minimum=1)
    if kv_lora_rank is None:
        return None
    return MlaSpec(
        kv_lora_rank=kv_lora_rank,
        q_lora_rank=r.opt_int("q_lora_rank", minimum=1),
        qk_rope_head_dim=r.need_int("qk_rope_head_dim"),
        qk_nope_head_dim=r.need_int("qk_nope_head_dim"),
        v_head_dim=r.need_int("v_head_dim"),
    )


def _global_layer_every(r: _Reader) -> int | None:
    """One global layer in how many (0: all local); None when no layer is local."""
    layer_types = r.cfg.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or not layer_types:
            raise r.error(f"'{r.prefix}layer_types' must be a non-empty list")
        local = sum(1 for kind in layer_types if kind == "sliding_attention")
        if local == 0:
            return None
        full = len(layer_types) - local
        return round(len(layer_types) / full) if full else 0
    pattern = r.opt_int("sliding_window_pattern", minimum=1)
    return pattern if pattern is not None else _GLOBAL_EVERY.get(r.kind, 0)


def _sliding_window(r: _Reader, context: int) -> SlidingWindowSpec | None:
    """Local attention, unless switched off (Qwen: use_sliding_window false) or context-wide."""
    if not r.flag("use_sliding_window", True):
        return None
    window = r.opt_int("sliding_window", "sliding_window_size")
    if not window or window >= context:
        return None
    every = _global_layer_every(r)
    if every is None:
        return None
    return SlidingWindowSpec(window_tokens=window, global_layer_every=every)


def _tied(config: Mapping[str, Any], r: _Reader) -> bool:
    """tie_word_embeddings from text_config, then the top level, then the family default."""
    for source in (r, _Reader(config, model_type=r.model_type, kind=r.kind)):
        if source.cfg.get("tie_word_embeddings") is not None:
            return source.flag("tie_word_embeddings", False)
    return r.kind in _TIED_BY_DEFAULT


def _notes(config: Mapping[str, Any], r: _Reader) -> str:
    notes = [
        "Imported from config.json; the parameter counts are computed from the architecture "
        "fields by llmplan.catalog.params.count_params (config.json carries no published count)."
    ]
    if r.prefix:
        notes.append("Language model only (text_config): the vision encoder is not counted.")
    if r.defaulted:
        notes.append(f"transformers defaults assumed for: {', '.join(sorted(set(r.defaulted)))}.")
    if r.cfg.get("attention_chunk_size"):
        notes.append("Chunked local attention (attention_chunk_size) is not modelled.")
    mtp = r.cfg.get("num_nextn_predict_layers")
    if isinstance(mtp, int) and mtp > 0:
        notes.append(f"The {mtp} multi-token-prediction layer(s) are not counted.")
    if r.cfg.get("mlp_only_layers"):
        notes.append("mlp_only_layers are counted as leading dense layers.")
    return " ".join(notes)


def _billions(count: float) -> float:
    return float(f"{count / 1e9:.4g}")


def _model_type(config: Mapping[str, Any]) -> str:
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise _error("missing 'model_type'")
    return model_type


def model_spec_from_hf_config(
    config: Mapping[str, Any], model_id: str, *, source: str, source_date: dt.date
) -> ModelSpec:
    """Map a Hugging Face ``config.json`` (already parsed) to a :class:`ModelSpec`.

    ``family`` is the config's ``model_type``; the parameter counts are computed (see module
    docstring). Raises :class:`InputError` naming the missing or malformed config key.
    """
    if not isinstance(config, Mapping):
        raise _error(f"the top level must be a JSON object, got {type(config).__name__}")
    model_type = _model_type(config)
    r = _text_reader(config, model_type)
    try:
        fields = _core_fields(r)
        fields |= {
            "id": model_id,
            "family": model_type,
            "tie_word_embeddings": _tied(config, r),
            "moe": _moe(r),
            "mla": _mla(r),
            "sliding_window": _sliding_window(r, fields["max_context_tokens"]),
            "source": source,
            "source_date": source_date,
        }
        fields["notes"] = _notes(config, r)
        counts = count_params(ModelSpec.model_validate({**fields, "params_total_b": 1.0}))
        active = _billions(counts.active) if fields["moe"] is not None else None
        fields |= {"params_total_b": _billions(counts.total), "params_active_b": active}
        return ModelSpec.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(exc, model_type) from None


def _invalid(exc: ValidationError, model_type: str) -> InputError:
    """One line from a pydantic error: the first problem, where it is, and the model_type."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "model"
    what = str(first["msg"]).replace("\n", " ")
    return _error(f"{where}: {what} (model_type '{model_type}')")


def _read_json(path: Path) -> dict[str, Any]:
    """Parse ``path`` as a JSON object; any failure is one InputError line naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise _error(f"{path} is not valid JSON ({exc.msg} at {where})") from None
    if not isinstance(data, dict):
        got = type(data).__name__
        raise _error(f"{path} must hold a JSON object at the top level, got {got}")
    return data


def _download(repo_id: str) -> Path:
    """Fetch ``config.json`` of a Hub repository with huggingface_hub (imported only here)."""
    try:
        hub = importlib.import_module("huggingface_hub")
    except ImportError:
        msg = "downloading from the Hugging Face Hub needs pip install 'llmplan[hub]'"
        raise _error(msg) from None
    try:
        return Path(hub.hf_hub_download(repo_id=repo_id, filename="config.json"))
    except Exception as exc:  # any hub or network failure becomes one line for the user
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        raise _error(f"could not download config.json of '{repo_id}' ({reason})") from exc


def load_hf_config(path_or_id: str, *, allow_network: bool = False) -> tuple[dict[str, Any], str]:
    """Read a config.json from a file, a folder holding one, or (when allowed) the Hub.

    Returns the parsed config and its source: the absolute path, or
    ``huggingface.co/<id>/blob/main/config.json``. No network call is made unless
    ``allow_network`` is true.
    """
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise _error(f"folder {path.resolve()} has no config.json")
        path = path / "config.json"
    if path.is_file():
        resolved = path.resolve()
        return _read_json(resolved), str(resolved)
    if not _HUB_ID.fullmatch(path_or_id):
        raise _error(f"'{path_or_id}' does not exist and is not a Hub id of the form org/name")
    if not allow_network:
        hint = "downloading it from the Hugging Face Hub needs --online"
        raise _error(f"'{path_or_id}' does not exist locally; {hint}")
    config = _read_json(_download(path_or_id))
    return config, f"huggingface.co/{path_or_id}/blob/main/config.json"
