"""Tests for llmplan.catalog.hf_import: config.json -> ModelSpec, and reading config.json.

The fixtures in tests/fixtures/hf_configs/ are the published config.json files of each model
(some trimmed to the architecture fields). Published parameter counts come from each model
card or technical report; tolerances are stated per check.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from llmplan.catalog.hf_import import load_hf_config, model_spec_from_hf_config
from llmplan.catalog.schema import MlpKind, ModelSpec
from llmplan.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures" / "hf_configs"
DATE = dt.date(2025, 6, 1)


def config(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def spec(name: str, cfg: dict[str, Any] | None = None) -> ModelSpec:
    org, model = name.split("__")
    return model_spec_from_hf_config(
        config(name) if cfg is None else cfg,
        f"{org}/{model}",
        source=f"https://huggingface.co/{org}/{model}/blob/main/config.json",
        source_date=DATE,
    )


def dims(model: ModelSpec) -> tuple[int, ...]:
    """(layers, hidden, heads, kv heads, head dim, ffn width, vocab, context)."""
    return (
        model.num_layers,
        model.hidden_size,
        model.num_attention_heads,
        model.num_kv_heads,
        model.head_dim,
        model.intermediate_size,
        model.vocab_size,
        model.max_context_tokens,
    )


# --------------------------------------------------------------------------- field mapping


def test_llama_3_1_8b_maps_dense_gqa_fields() -> None:
    model = spec("meta-llama__Llama-3.1-8B")
    assert dims(model) == (32, 4096, 32, 8, 128, 14336, 128256, 131072)
    assert model.id == "meta-llama/Llama-3.1-8B"
    assert model.family == "llama"
    assert model.mlp is MlpKind.GATED
    assert not model.tie_word_embeddings
    assert model.moe is None and model.mla is None and model.sliding_window is None
    assert model.params_active_b is None
    assert model.source_date == DATE
    assert "count_params" in model.notes


def test_mixtral_maps_eight_experts_top_two() -> None:
    model = spec("mistralai__Mixtral-8x7B-v0.1")
    assert dims(model) == (32, 4096, 32, 8, 128, 14336, 32000, 32768)
    assert model.moe is not None
    assert (model.moe.num_experts, model.moe.experts_per_token) == (8, 2)
    assert model.moe.expert_intermediate_size == 14336
    assert model.moe.shared_experts == 0
    assert model.sliding_window is None  # "sliding_window": null


def test_qwen3_moe_uses_head_dim_and_moe_intermediate_size() -> None:
    model = spec("Qwen__Qwen3-30B-A3B")
    # head_dim 128 is explicit: hidden / heads would give 64.
    assert dims(model) == (48, 2048, 32, 4, 128, 6144, 151936, 40960)
    assert model.family == "qwen3_moe"
    assert model.moe is not None
    assert (model.moe.num_experts, model.moe.experts_per_token) == (128, 8)
    assert model.moe.expert_intermediate_size == 768
    assert model.moe.dense_layers == 0 and model.moe.moe_layer_interval == 1


def test_deepseek_v3_maps_mla_and_shared_expert() -> None:
    model = spec("deepseek-ai__DeepSeek-V3")
    assert dims(model)[:4] == (61, 7168, 128, 128)
    assert model.head_dim == 128 + 64  # qk_nope_head_dim + qk_rope_head_dim
    assert model.max_context_tokens == 163840
    assert model.mla is not None
    mla = model.mla
    assert (mla.kv_lora_rank, mla.q_lora_rank) == (512, 1536)
    assert (mla.qk_rope_head_dim, mla.qk_nope_head_dim, mla.v_head_dim) == (64, 128, 128)
    assert model.moe is not None
    moe = model.moe
    assert (moe.num_experts, moe.experts_per_token, moe.shared_experts) == (256, 8, 1)
    assert (moe.expert_intermediate_size, moe.dense_layers) == (2048, 3)
    assert model.intermediate_size == 18432  # the three dense layers' FFN
    assert "multi-token-prediction" in model.notes


def test_deepseek_v2_lite_has_no_query_compression() -> None:
    model = spec("deepseek-ai__DeepSeek-V2-Lite-Chat")
    assert model.mla is not None and model.mla.q_lora_rank is None
    assert model.moe is not None
    assert (model.moe.num_experts, model.moe.shared_experts, model.moe.dense_layers) == (64, 2, 1)
    # Published: 15.7B total (DeepSeek-V2 paper / model card).
    assert model.params_total_b == pytest.approx(15.7, rel=0.03)


def test_kimi_k2_model_type_is_mapped_like_deepseek_v3() -> None:
    # Kimi K2 ships DeepSeek-V3's field names under model_type "kimi_k2": the same mapping applies.
    cfg = config("deepseek-ai__DeepSeek-V3") | {"model_type": "kimi_k2"}
    model = spec("moonshotai__Kimi-K2-Instruct", cfg)
    assert model.family == "kimi_k2"
    assert model.mla is not None and model.moe is not None


def test_gpt_oss_maps_alternating_sliding_window_and_experts() -> None:
    model = spec("openai__gpt-oss-20b")
    assert dims(model) == (24, 2880, 64, 8, 64, 2880, 201088, 131072)
    assert model.sliding_window is not None
    assert model.sliding_window.window_tokens == 128
    assert model.sliding_window.global_layer_every == 2
    assert model.moe is not None
    assert (model.moe.num_experts, model.moe.experts_per_token) == (32, 4)


def test_gemma_3_27b_reads_text_config_with_gemma3_defaults() -> None:
    model = spec("google__gemma-3-27b-it")
    # vocab_size and max_position_embeddings are not in the file: Gemma3TextConfig defaults.
    assert dims(model) == (62, 5376, 32, 16, 128, 21504, 262208, 131072)
    assert model.family == "gemma3"
    assert model.tie_word_embeddings  # gemma family default
    assert model.sliding_window is not None
    assert model.sliding_window.window_tokens == 1024
    assert model.sliding_window.global_layer_every == 6  # five local layers, then one global
    assert "text_config" in model.notes
    assert "vocab_size" in model.notes and "max_position_embeddings" in model.notes


def test_gemma3_text_layer_types_override_the_default_pattern() -> None:
    cfg = config("google__gemma-3-27b-it")
    text = dict(cfg["text_config"])
    text["layer_types"] = (["sliding_attention"] * 3 + ["full_attention"]) * 15 + [
        "sliding_attention"
    ] * 2
    model = spec("google__gemma-3-27b-it", cfg | {"text_config": text})
    assert model.sliding_window is not None
    assert model.sliding_window.global_layer_every == 4


def test_llama4_maverick_interleaves_moe_and_dense_layers() -> None:
    model = spec("meta-llama__Llama-4-Maverick-17B-128E-Instruct")
    # intermediate_size_mlp is the dense layers' FFN; intermediate_size the experts'.
    assert dims(model) == (48, 5120, 40, 8, 128, 16384, 202048, 1048576)
    assert model.family == "llama4"
    assert model.moe is not None
    moe = model.moe
    assert (moe.num_experts, moe.experts_per_token, moe.shared_experts) == (128, 1, 1)
    assert (moe.expert_intermediate_size, moe.moe_layer_interval) == (8192, 2)
    assert not model.tie_word_embeddings
    assert "attention_chunk_size" in model.notes


def test_gptj_uses_gpt2_names_and_plain_4x_mlp() -> None:
    model = spec("EleutherAI__gpt-j-6b")
    # n_inner is null: 4 * n_embd.
    assert dims(model) == (28, 4096, 16, 16, 256, 16384, 50400, 2048)
    assert model.mlp is MlpKind.PLAIN
    assert not model.tie_word_embeddings


def test_falcon_40b_new_decoder_uses_kv_groups_and_tied_head() -> None:
    model = spec("tiiuae__falcon-40b-instruct")
    # No max_position_embeddings in the file: FalconConfig's default 2048.
    assert dims(model) == (60, 8192, 128, 8, 64, 32768, 65024, 2048)
    assert model.mlp is MlpKind.PLAIN
    assert model.tie_word_embeddings  # FalconConfig leaves the PretrainedConfig default, True


def test_falcon_old_decoder_is_multi_query() -> None:
    cfg = config("tiiuae__falcon-40b-instruct") | {"new_decoder_architecture": False}
    assert spec("tiiuae__falcon-40b-instruct", cfg).num_kv_heads == 1
    cfg["multi_query"] = False
    assert spec("tiiuae__falcon-40b-instruct", cfg).num_kv_heads == 128


def test_mistral_7b_slides_on_every_layer() -> None:
    model = spec("mistralai__Mistral-7B-v0.1")
    assert model.sliding_window is not None
    assert model.sliding_window.window_tokens == 4096
    assert model.sliding_window.global_layer_every == 0


def test_qwen2_sliding_window_is_off_when_use_sliding_window_is_false() -> None:
    cfg = config("Qwen__Qwen2-7B-Instruct")
    assert cfg["sliding_window"] == 131072 and cfg["use_sliding_window"] is False
    assert spec("Qwen__Qwen2-7B-Instruct").sliding_window is None


def test_phi3_mini_keeps_its_sliding_window() -> None:
    model = spec("microsoft__Phi-3-mini-4k-instruct")
    assert model.head_dim == 96  # 3072 / 32
    assert model.sliding_window is not None
    assert (model.sliding_window.window_tokens, model.sliding_window.global_layer_every) == (
        2047,
        0,
    )
    # Published: 3.8B (Phi-3 technical report).
    assert model.params_total_b == pytest.approx(3.8, rel=0.03)


def test_unknown_model_type_falls_back_to_llama_names() -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"model_type": "my_llama_fork"}
    model = spec("acme__fork", cfg)
    assert model.family == "my_llama_fork"
    assert dims(model) == (32, 4096, 32, 8, 128, 14336, 128256, 131072)


def test_num_kv_heads_defaults_to_multi_head_attention() -> None:
    cfg = config("meta-llama__Llama-3.1-8B")
    del cfg["num_key_value_heads"]
    assert spec("meta-llama__Llama-3.1-8B", cfg).num_kv_heads == 32


# --------------------------------------------------------------------- parameter counts
# (name, published total in billions, published active in billions or None, tolerance)
PUBLISHED = [
    ("meta-llama__Llama-3.1-8B", 8.03, None, 0.03),
    ("mistralai__Mixtral-8x7B-v0.1", 46.7, 12.9, 0.03),
    ("Qwen__Qwen3-30B-A3B", 30.5, 3.3, 0.03),
    ("deepseek-ai__DeepSeek-V3", 671.0, 37.0, 0.03),
    ("google__gemma-3-27b-it", 27.0, None, 0.03),  # language model part
    ("meta-llama__Llama-4-Maverick-17B-128E-Instruct", 400.0, 17.0, 0.03),
    ("EleutherAI__gpt-j-6b", 6.05, None, 0.03),
    ("mistralai__Mistral-7B-v0.1", 7.24, None, 0.03),
    # The Falcon-40B card says "40B", a round figure; the architecture holds 41.3B.
    ("tiiuae__falcon-40b-instruct", 40.0, None, 0.04),
]


@pytest.mark.parametrize(("name", "total_b", "active_b", "rel"), PUBLISHED)
def test_counted_params_match_published(
    name: str, total_b: float, active_b: float | None, rel: float
) -> None:
    model = spec(name)
    assert model.params_total_b == pytest.approx(total_b, rel=rel)
    if active_b is not None:
        assert model.params_active_b == pytest.approx(active_b, rel=rel)


def test_gpt_oss_20b_counts_match_openai_model_card() -> None:
    model = spec("openai__gpt-oss-20b")
    assert model.params_total_b == pytest.approx(20.9, rel=0.03)
    # OpenAI's 3.6B active leaves out the input embedding (a table look-up, not a matmul);
    # count_params keeps it in the active count, so take it out to compare.
    assert model.params_active_b is not None
    input_embedding_b = model.vocab_size * model.hidden_size / 1e9
    assert model.params_active_b - input_embedding_b == pytest.approx(3.6, rel=0.03)


# ------------------------------------------------------------------------ malformed input


def test_missing_key_names_the_key_and_the_model_type() -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"model_type": "foo"}
    del cfg["num_hidden_layers"]
    with pytest.raises(InputError) as caught:
        spec("acme__foo", cfg)
    assert str(caught.value) == "config.json: missing 'num_hidden_layers' (model_type 'foo')"
    assert caught.value.field == "config.json"


def test_missing_key_inside_text_config_is_named_with_its_path() -> None:
    cfg = config("google__gemma-3-27b-it")
    cfg["text_config"] = {k: v for k, v in cfg["text_config"].items() if k != "hidden_size"}
    with pytest.raises(InputError, match=r"missing 'text_config\.hidden_size'"):
        spec("google__gemma-3-27b-it", cfg)


@pytest.mark.parametrize("bad", ["32", 32.5, True, None, -4, [32]])
def test_non_integer_layer_count_is_rejected(bad: object) -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"num_hidden_layers": bad}
    with pytest.raises(InputError) as caught:
        spec("meta-llama__Llama-3.1-8B", cfg)
    assert caught.value.field == "config.json"
    assert "'num_hidden_layers'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_integral_float_layer_count_is_accepted() -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"num_hidden_layers": 32.0}
    assert spec("meta-llama__Llama-3.1-8B", cfg).num_layers == 32


def test_heads_not_divisible_by_kv_heads_is_one_input_error_line() -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"num_key_value_heads": 5}
    with pytest.raises(InputError, match="multiple of num_kv_heads") as caught:
        spec("meta-llama__Llama-3.1-8B", cfg)
    assert caught.value.field == "config.json"
    assert "\n" not in str(caught.value)


def test_non_boolean_tie_word_embeddings_is_rejected() -> None:
    cfg = config("meta-llama__Llama-3.1-8B") | {"tie_word_embeddings": "no"}
    with pytest.raises(InputError, match="'tie_word_embeddings' must be true or false"):
        spec("meta-llama__Llama-3.1-8B", cfg)


def test_non_dict_top_level_is_rejected() -> None:
    with pytest.raises(InputError, match="top level must be a JSON object, got list") as caught:
        model_spec_from_hf_config([1, 2], "x/y", source="https://example.org", source_date=DATE)  # type: ignore[arg-type]
    assert caught.value.field == "config.json"


def test_missing_model_type_is_rejected() -> None:
    cfg = config("meta-llama__Llama-3.1-8B")
    del cfg["model_type"]
    with pytest.raises(InputError, match="missing 'model_type'"):
        spec("meta-llama__Llama-3.1-8B", cfg)


# ------------------------------------------------------------------------ load_hf_config


def test_load_from_directory(tmp_path: Path) -> None:
    text = (FIXTURES / "mistralai__Mixtral-8x7B-v0.1.json").read_text(encoding="utf-8")
    (tmp_path / "config.json").write_text(text, encoding="utf-8")
    cfg, source = load_hf_config(str(tmp_path))
    assert cfg["model_type"] == "mixtral"
    assert source == str((tmp_path / "config.json").resolve())


def test_load_from_file() -> None:
    path = FIXTURES / "openai__gpt-oss-20b.json"
    cfg, source = load_hf_config(str(path))
    assert cfg["num_local_experts"] == 32
    assert Path(source).is_absolute() and Path(source) == path.resolve()


def test_directory_without_config_json_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"has no config\.json"):
        load_hf_config(str(tmp_path))


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{\n  "model_type": "llama",\n  "hidden_size": 4096\n  "x": 1\n}\n')
    with pytest.raises(InputError) as caught:
        load_hf_config(str(path))
    message = str(caught.value)
    assert str(path) in message and "line 4, column 3" in message
    assert "\n" not in message and caught.value.field == "config.json"


def test_non_dict_json_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(InputError, match="must hold a JSON object at the top level, got list"):
        load_hf_config(str(path))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any socket use fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.usefixtures("no_network")
def test_hub_id_without_network_raises_without_connecting() -> None:
    with pytest.raises(InputError) as caught:
        load_hf_config("no-such-org/no-such-model")
    message = str(caught.value)
    assert "does not exist" in message and "--online" in message
    assert caught.value.field == "config.json"


@pytest.mark.usefixtures("no_network")
def test_path_that_is_not_a_hub_id_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist and is not a Hub id"):
        load_hf_config(str(tmp_path / "missing" / "config.json"), allow_network=True)


def test_hub_download_uses_huggingface_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    downloaded = tmp_path / "config.json"
    downloaded.write_text((FIXTURES / "EleutherAI__gpt-j-6b.json").read_text(encoding="utf-8"))
    calls: list[tuple[str, str]] = []

    def fake_download(*, repo_id: str, filename: str) -> str:
        calls.append((repo_id, filename))
        return str(downloaded)

    hub = types.ModuleType("huggingface_hub")
    hub.hf_hub_download = fake_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    cfg, source = load_hf_config("EleutherAI/gpt-j-6b", allow_network=True)
    assert calls == [("EleutherAI/gpt-j-6b", "config.json")]
    assert cfg["model_type"] == "gptj"
    assert source == "huggingface.co/EleutherAI/gpt-j-6b/blob/main/config.json"


def test_hub_download_failure_is_one_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_download(*, repo_id: str, filename: str) -> str:
        raise OSError("404 Client Error\nRepository Not Found")

    hub = types.ModuleType("huggingface_hub")
    hub.hf_hub_download = failing_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    with pytest.raises(InputError, match=r"could not download config\.json of 'a/b'") as caught:
        load_hf_config("a/b", allow_network=True)
    assert "\n" not in str(caught.value)


def test_hub_download_without_huggingface_hub_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(InputError, match=r"pip install 'llmplan\[hub\]'"):
        load_hf_config("a/b", allow_network=True)
