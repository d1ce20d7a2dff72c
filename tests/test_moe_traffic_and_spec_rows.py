"""Routed-token activation traffic of MoE layers, and development-set rows that state the
speculative decoding they ran (``spec_method`` / ``spec_tokens`` columns)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from llmplan.catalog.loader import Catalog
from llmplan.deployment import Deployment
from llmplan.perf.speculative import SPEC_DEFAULTS, SpecMethod, expected_accepted_tokens
from llmplan.perf.step import (
    MOE_HIDDEN_PASSES,
    MOE_INTERMEDIATE_PASSES,
    StepShape,
    moe_activation_bytes,
    step_time,
)
from llmplan.validation.dataset import Measurement, parse_measurements
from llmplan.validation.predict import Skip, predict_row, setup_for


def _dep(catalog: Catalog, model: str, tp: int, ep: int = 1, dpa: bool = False) -> Deployment:
    return Deployment.from_names(
        catalog, model=model, gpu="H200-SXM-141GB", precision="fp8", engine="trtllm",
        tp=tp, ep=ep, dp_attention=dpa,
    )  # fmt: skip


# ------------------------------------------------------------------- MoE activation traffic


def test_mixtral_traffic_matches_a_hand_count(catalog: Catalog) -> None:
    """Mixtral-8x7B (hidden 4096, expert intermediate 14336, top-2, 32 MoE layers) on tp 2,
    100 tokens: each GPU moves, per routed token and layer, 4 x 4096 hidden values and
    6 x 14336 / 2 intermediate ones of 2 bytes = 118,784 bytes; 200 routed tokens x 32
    layers x 2 GPUs."""
    dep = _dep(catalog, "mistralai/Mixtral-8x7B-v0.1", tp=2)
    assert (MOE_HIDDEN_PASSES, MOE_INTERMEDIATE_PASSES) == (4, 6)
    per_routed = (4 * 4096 + 6 * 14336 / 2) * 2
    assert per_routed == 118_784
    assert moe_activation_bytes(dep, 100, 32) == pytest.approx(200 * per_routed * 32 * 2)


def test_expert_parallel_gpus_move_only_their_share(catalog: Catalog) -> None:
    """With ep = tp = 8 each GPU gets 1/8 of the routed tokens and whole experts."""
    model = "deepseek-ai/DeepSeek-R1"
    dense = _dep(catalog, model, tp=8)
    spread = _dep(catalog, model, tp=8, ep=8, dpa=True)
    moe = dense.model.moe
    assert moe is not None
    hidden, inter, k = dense.model.hidden_size, moe.expert_intermediate_size, moe.experts_per_token
    tp_bytes = 1000 * k * (4 * hidden + 6 * inter / 8) * 2 * 8
    ep_bytes = 1000 * k / 8 * (4 * hidden + 6 * inter) * 2 * 8
    assert moe_activation_bytes(dense, 1000, 1) == pytest.approx(tp_bytes)
    assert moe_activation_bytes(spread, 1000, 1) == pytest.approx(ep_bytes)
    assert ep_bytes < tp_bytes


def test_dense_models_and_empty_steps_move_nothing(catalog: Catalog) -> None:
    dense = Deployment.from_names(
        catalog, model="meta-llama/Llama-3.1-8B-Instruct", gpu="H200-SXM-141GB",
        precision="fp8", engine="trtllm",
    )  # fmt: skip
    assert moe_activation_bytes(dense, 1000, 32) == 0.0
    assert moe_activation_bytes(_dep(catalog, "mistralai/Mixtral-8x7B-v0.1", tp=2), 0, 32) == 0


def test_traffic_is_part_of_the_step_time(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large decode step of a fine-grained MoE (Qwen3-30B-A3B: 128 experts, top-8) takes
    longer with the routed activations moved than without them."""
    import llmplan.perf.step as step_module

    dep = _dep(catalog, "Qwen/Qwen3-30B-A3B", tp=1)
    shape = StepShape(decode_seqs=1024, decode_context=2000)
    with_traffic = step_time(dep, shape).linear_s
    monkeypatch.setattr(step_module, "moe_activation_bytes", lambda *args: 0.0)
    without = step_time(dep, shape).linear_s
    assert with_traffic > 1.02 * without


# --------------------------------------------------------------- rows with spec decoding

HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes,ep,dp_attention,"
    "spec_method,spec_tokens"
)
ROW = (
    "test,trtllm,1.0,deepseek-ai/DeepSeek-R1,fp8,,H200-SXM-141GB,8,8,1,1024,2048,batch,1,,"
    "output_tokens_per_s,158,high,min-latency,4,,{method},{tokens}"
)


def _row(method: str = "", tokens: str = "") -> Measurement:
    return parse_measurements(HEADER + "\n" + ROW.format(method=method, tokens=tokens) + "\n")[0]


def test_stated_mtp_is_predicted_with_its_documented_acceptance(catalog: Catalog) -> None:
    row = _row("mtp", "3")
    _, load = setup_for(row, catalog)
    spec = load.speculative
    assert spec is not None and spec.method is SpecMethod.MTP and spec.draft_tokens == 3
    assert spec.acceptance == SPEC_DEFAULTS[SpecMethod.MTP].acceptance  # never fitted
    assert spec.tokens_per_step == pytest.approx(expected_accepted_tokens(3, spec.acceptance))
    with_spec, _ = predict_row(row, catalog)
    without, _ = predict_row(_row(), catalog)
    assert with_spec > 1.5 * without  # batch-1 decode: ~3 tokens per verification step


def test_empty_tokens_take_the_methods_default(catalog: Catalog) -> None:
    _, load = setup_for(_row("eagle"), catalog)
    assert load.speculative is not None
    assert load.speculative.draft_tokens == SPEC_DEFAULTS[SpecMethod.EAGLE].draft_tokens


@pytest.mark.parametrize(
    ("method", "tokens", "words"),
    [
        ("medusa", "", "unknown method 'medusa'"),
        ("draft", "4", "needs a draft model"),
        ("", "3", "without a spec_method"),
        ("mtp", "x", "spec_tokens 'x'"),
        ("mtp", "99", "between 0 and 16"),
    ],
)
def test_unusable_spec_cells_skip_the_row_with_a_reason(
    catalog: Catalog, method: str, tokens: str, words: str
) -> None:
    with pytest.raises(Skip, match=words):
        setup_for(_row(method, tokens), catalog)


def test_rows_without_the_columns_run_without_speculation(catalog: Catalog) -> None:
    old_header = HEADER.rsplit(",", 2)[0]
    old_row = ROW.rsplit(",", 2)[0].format()
    row = parse_measurements(old_header + "\n" + old_row + "\n")[0]
    assert (row.spec_method, row.spec_tokens) == ("", "")
    _, load = setup_for(replace(row), catalog)
    assert load.speculative is None
