"""Expert parallelism (``ep``) and data-parallel attention (``dp_attention``), issue 12.

Hand-derived all-to-all volumes and times, memory per GPU under the layout, properties
(the default layout is today's model; more imbalance is never faster; DP attention never
holds more KV per GPU) and bad input on the CLI and the API.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.catalog.expert_parallel import ep_constant, expert_parallel_constants
from llmplan.catalog.loader import Catalog, bundled_catalog
from llmplan.catalog.schema import InterconnectKind
from llmplan.cli.main import app
from llmplan.deployment import Deployment
from llmplan.errors import ConfigurationError, InputError
from llmplan.perf.collectives import all_to_all_time_s
from llmplan.perf.expert_parallel import (
    all_to_all_layer_s,
    dispatch_combine_bytes,
    load_imbalance,
)
from llmplan.perf.step import StepShape, step_time
from llmplan.sizing.memory import (
    estimate_memory,
    kv_shard_fraction,
    max_sequences,
    weights_bytes_per_gpu,
)
from llmplan.validation.dataset import Measurement, parse_measurements
from llmplan.validation.predict import Skip, setup_for

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

R1 = "deepseek-ai/DeepSeek-R1"
REL = 1e-9


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return bundled_catalog()


def r1(catalog: Catalog, **layout: object) -> Deployment:
    """DeepSeek-R1 FP8 on 8 x H200 with SGLang's profile and the given layout."""
    options: dict[str, object] = {"tp": 8, **layout}
    return Deployment.from_names(
        catalog, model=R1, gpu="H200", precision="fp8", engine="sglang", **options
    )


# ----------------------------------------------------------------------------- constants


def test_constants_have_sources_and_defaults_inside_their_ranges() -> None:
    constants = expert_parallel_constants()
    assert set(constants) == {
        "load_imbalance_factor",
        "dispatch_bytes_per_element",
        "combine_bytes_per_element",
    }
    for constant in constants.values():
        assert constant.low <= constant.value <= constant.high
        assert "github.com" in constant.source or "lmsys.org" in constant.source


# ----------------------------------------------------------------------------- volumes


def test_dispatch_and_combine_bytes_by_hand(catalog: Catalog) -> None:
    """DeepSeek-R1 (hidden 7168, top-8 of 256 experts), ep 8, perfect balance, a step of
    1,024 tokens over tp 8: each GPU sends 128 tokens x 8 copies, 7 in 8 of them to other
    GPUs = 896 token copies x 7168 elements = 6,422,528 elements; FP8 dispatch with
    per-128 scales 1.03 B/element = 6,615,203.84 B, BF16 combine 2 B = 12,845,056 B."""
    dep = r1(catalog, ep=8, dp_attention=True, ep_load_imbalance=1.0)
    dispatch, combine = dispatch_combine_bytes(dep, 1024 / 8)
    assert dispatch == pytest.approx(6_615_203.84, rel=REL)
    assert combine == pytest.approx(12_845_056.0, rel=REL)


def test_imbalance_scales_the_busiest_gpus_volume(catalog: Catalog) -> None:
    balanced = dispatch_combine_bytes(r1(catalog, ep=8, ep_load_imbalance=1.0), 128)
    skewed = dispatch_combine_bytes(r1(catalog, ep=8, ep_load_imbalance=1.5), 128)
    assert skewed[0] == pytest.approx(1.5 * balanced[0], rel=REL)
    assert skewed[1] == pytest.approx(1.5 * balanced[1], rel=REL)


def test_no_expert_parallelism_moves_nothing(catalog: Catalog) -> None:
    dep = r1(catalog, dp_attention=True)
    assert dispatch_combine_bytes(dep, 128) == (0.0, 0.0)
    assert load_imbalance(dep) == 1.0
    assert load_imbalance(r1(catalog, ep=8)) == ep_constant("load_imbalance_factor")


def test_all_to_all_time_by_hand(catalog: Catalog) -> None:
    """NVLink all-to-all path: alpha 9 us + 1.5 us per GPU past two = 18 us on 8 GPUs;
    an H100's 900 GB/s aggregate is 450 GB/s one way, x 0.77 = 346.5 GB/s; 100 MB
    leaving one GPU takes 18 us + 1e8 / 3.465e11 s = 306.600... us."""
    nvlink = catalog.interconnect(InterconnectKind.NVLINK)
    seconds = all_to_all_time_s(nvlink, 900.0, 8, 1e8, 1.0)
    assert seconds == pytest.approx(18e-6 + 1e8 / 3.465e11, rel=REL)
    assert all_to_all_time_s(nvlink, 900.0, 1, 1e8, 1.0) == 0.0
    assert all_to_all_time_s(nvlink, 900.0, 8, 0.0, 1.0) == 0.0


def test_one_moe_layer_within_a_node_by_hand(catalog: Catalog) -> None:
    """Dispatch 6,615,203.84 B and combine 12,845,056 B (see above) on the H200's NVLink
    (900 GB/s, 450 one way, x 0.77 x the engine's communication efficiency), each paying
    the 18 us alpha."""
    dep = r1(catalog, ep=8, dp_attention=True, ep_load_imbalance=1.0)
    link = 450e9 * 0.77 * dep.engine.communication_efficiency
    expected = 2 * 18e-6 + (6_615_203.84 + 12_845_056.0) / link
    assert all_to_all_layer_s(dep, 1024) == pytest.approx(expected, rel=REL)


def test_across_two_nodes_the_network_share_sets_the_time(catalog: Catalog) -> None:
    """tp 16 = ep 16 on 2 x 8 H100: of the 15 other ranks 7 share the node and 8 do not,
    so 8/15 of the leaving bytes cross InfiniBand (100 GB/s aggregate, 50 one way,
    x 0.86) with alpha 25 + 0.5 x 14 = 32 us; the NVLink share is the faster one."""
    dep = Deployment.from_names(
        catalog,
        model=R1,
        gpu="H100",
        precision="fp8",
        engine="sglang",
        tp=16,
        ep=16,
        dp_attention=True,
        ep_load_imbalance=1.0,
    )
    eff = dep.engine.communication_efficiency
    dispatch, combine = dispatch_combine_bytes(dep, 2048 / 16)
    remote = [32e-6 + b * 8 / 15 / (50e9 * 0.86 * eff) for b in (dispatch, combine)]
    local = [18e-6 + b * 7 / 15 / (450e9 * 0.77 * eff) for b in (dispatch, combine)]
    assert all(r > lo for r, lo in zip(remote, local, strict=True))
    assert all_to_all_layer_s(dep, 2048) == pytest.approx(sum(remote), rel=REL)


def test_dp_attention_replaces_tensor_parallel_all_reduces(catalog: Catalog) -> None:
    """A decode step of 512 sequences: tp 8 pays 2 all-reduces in each of 61 layers; with
    DP attention and ep 8 only the 58 MoE layers communicate (dispatch + combine)."""
    shape = StepShape(decode_seqs=512, decode_context=2000)
    tensor = step_time(r1(catalog), shape)
    dep = r1(catalog, ep=8, dp_attention=True)
    expert = step_time(dep, shape)
    assert expert.communication_s == pytest.approx(58 * all_to_all_layer_s(dep, 512), rel=REL)
    assert expert.attention_s < tensor.attention_s  # MLA KV no longer read on every GPU


# ----------------------------------------------------------------------------- memory


def test_weights_per_gpu_with_dp_attention_by_hand(catalog: Catalog) -> None:
    """DeepSeek-R1 at 8 bits: attention 187,105,280 weights per layer x 61; dense FFN
    3 x 7168 x 18432 = 396,361,728 x 3 layers; shared expert 3 x 7168 x 2048 = 44,040,192
    plus router 7168 x 256 = 1,835,008, x 58 MoE layers. With DP attention each GPU holds
    all of them: 7/8 of their bytes more than the even tp-8 share."""
    replicated = 61 * 187_105_280 + 3 * 396_361_728 + 58 * (44_040_192 + 1_835_008)
    extra = weights_bytes_per_gpu(r1(catalog, ep=8, dp_attention=True)) - weights_bytes_per_gpu(
        r1(catalog)
    )
    assert extra == pytest.approx(replicated * 7 / 8, rel=REL)
    # experts spread over ep GPUs: the even share is the same as tensor parallelism's
    assert weights_bytes_per_gpu(r1(catalog, ep=8)) == weights_bytes_per_gpu(r1(catalog))


def test_kv_is_sharded_by_sequence_with_dp_attention(catalog: Catalog) -> None:
    """MLA's latent is replicated on every tensor-parallel GPU (fraction 1); with DP
    attention each GPU holds its own 1/8 of the sequences."""
    assert kv_shard_fraction(r1(catalog)) == 1.0
    dpa = r1(catalog, ep=8, dp_attention=True)
    assert kv_shard_fraction(dpa) == pytest.approx(1 / 8, rel=REL)
    tensor = estimate_memory(r1(catalog), context_tokens=3000, batch=64)
    expert = estimate_memory(dpa, context_tokens=3000, batch=64)
    assert expert.kv_cache_bytes == pytest.approx(tensor.kv_cache_bytes / 8, rel=REL)
    assert max_sequences(dpa, 3000) > 4 * max_sequences(r1(catalog), 3000)


# ----------------------------------------------------------------------------- properties


@settings(max_examples=30, deadline=None)
@given(
    decode=st.floats(1, 2048),
    context=st.floats(1, 8000),
    prefill=st.floats(0, 8192),
)
def test_perfectly_balanced_ep_without_dp_attention_is_tensor_parallelism(
    decode: float, context: float, prefill: float
) -> None:
    """Without DP attention every GPU sees every token, and with uniform routing spreading
    whole experts reads the same weights and runs the same FLOPs as splitting each one:
    same step time, once the routed activations are set aside (a GPU of an expert-parallel
    group copies only its 1/ep of the routed tokens' hidden vectors, where tensor
    parallelism copies all of them; ``test_moe_traffic_and_spec_rows``)."""
    import llmplan.perf.step as step_module

    catalog = bundled_catalog()
    shape = StepShape(
        decode_seqs=decode,
        decode_context=context,
        prefill_tokens=prefill,
        prefill_seqs=1 if prefill else 0,
        prefill_context=prefill,
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(step_module, "moe_activation_bytes", lambda *args: 0.0)
        tensor = step_time(r1(catalog), shape)
        expert = step_time(r1(catalog, ep=8, ep_load_imbalance=1.0), shape)
    assert expert.total_s == pytest.approx(tensor.total_s, rel=1e-12)
    assert step_time(r1(catalog, ep=8, ep_load_imbalance=1.0), shape).total_s <= step_time(
        r1(catalog), shape
    ).total_s * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(
    decode=st.floats(1, 4096),
    low=st.floats(1.0, 4.0),
    extra=st.floats(0.0, 4.0),
)
def test_more_imbalance_is_never_faster(decode: float, low: float, extra: float) -> None:
    catalog = bundled_catalog()
    shape = StepShape(decode_seqs=decode, decode_context=1000)
    a = step_time(r1(catalog, ep=8, dp_attention=True, ep_load_imbalance=low), shape)
    b = step_time(r1(catalog, ep=8, dp_attention=True, ep_load_imbalance=low + extra), shape)
    assert b.total_s >= a.total_s * (1 - 1e-12)


def test_default_layout_keeps_the_engine_profile_path(catalog: Catalog) -> None:
    """ep=1 without DP attention is exactly the deployment built without the new fields."""
    plain = Deployment.from_names(catalog, model=R1, gpu="H200", precision="fp8", tp=8)
    explicit = replace(plain, ep=1, dp_attention=False, ep_load_imbalance=None)
    shape = StepShape(decode_seqs=300, decode_context=1500, prefill_tokens=2048, prefill_seqs=2)
    assert step_time(plain, shape) == step_time(explicit, shape)
    assert plain.identity()["ep"] == 1 and plain.identity()["dp_attention"] is False


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("layout", "field", "words"),
    [
        ({"model": "meta-llama/Llama-3.1-8B", "tp": 2, "ep": 2}, "ep", "dense"),
        (
            {"model": "meta-llama/Llama-3.1-8B", "tp": 2, "dp_attention": True},
            "dp_attention",
            "dense",
        ),
        ({"model": R1, "tp": 6, "ep": 6, "dp_attention": True}, "ep", "256 routed experts"),
        ({"model": R1, "tp": 8, "ep": 3}, "ep", "must divide tp=8"),
        ({"model": R1, "tp": 1, "dp_attention": True}, "dp_attention", "tp >= 2"),
    ],
)
def test_impossible_layouts_name_the_field(
    catalog: Catalog, layout: dict[str, object], field: str, words: str
) -> None:
    options = {"gpu": "H200", "precision": "fp8", **layout}
    with pytest.raises(ConfigurationError) as caught:
        Deployment.from_names(catalog, **options)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert words in str(caught.value)


def test_imbalance_out_of_range_is_input_error(catalog: Catalog) -> None:
    with pytest.raises(InputError) as caught:
        r1(catalog, ep=8, ep_load_imbalance=0.5)
    assert caught.value.field == "ep_load_imbalance"


def _one_line_exit_2(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", ["perf", "memory", "simulate"])
def test_cli_refuses_ep_on_a_dense_model(command: str) -> None:
    args = [command, "--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100", "--tp", "2"]
    assert "dense" in _one_line_exit_2([*args, "--ep", "2"])


def test_cli_refuses_ep_not_dividing_the_experts() -> None:
    args = ["perf", "--model", R1, "--gpu", "H200", "--precision", "fp8", "--tp", "6"]
    line = _one_line_exit_2([*args, "--ep", "6", "--dp-attention"])
    assert "256 routed experts" in line


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path)), base_url="http://localhost")
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/api/v1/perf", "/api/v1/memory"])
def test_api_refuses_ep_on_a_dense_model(client: TestClient, path: str) -> None:
    body = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100", "tp": 2, "ep": 2}
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "ep"


def test_api_refuses_ep_not_dividing_the_experts(client: TestClient) -> None:
    body = {"model": R1, "gpu": "H200", "precision": "fp8", "tp": 6, "ep": 6}
    response = client.post("/api/v1/perf", json=body | {"dp_attention": True})
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "ep"


# ----------------------------------------------------------------------------- CLI = API


def test_perf_json_carries_the_layout_and_matches_the_api(client: TestClient) -> None:
    args = ["perf", "--model", R1, "--gpu", "H200", "--precision", "fp8", "--tp", "8"]
    args += ["--engine", "sglang", "--ep", "8", "--dp-attention", "--batch", "256", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["ep"] == 8 and printed["dp_attention"] is True
    body = {"model": R1, "gpu": "H200", "precision": "fp8", "tp": 8, "engine": "sglang"}
    body |= {"ep": 8, "dp_attention": True, "batch": 256}
    response = client.post("/api/v1/perf", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["output_tokens_per_s"] == pytest.approx(
        printed["output_tokens_per_s"], rel=1e-9
    )
    assert response.json()["ep"] == 8


def test_memory_json_carries_the_layout() -> None:
    args = ["memory", "--model", R1, "--gpu", "H200", "--precision", "fp8", "--tp", "8"]
    result = CliRunner().invoke(app, [*args, "--ep", "8", "--dp-attention", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["ep"] == 8 and printed["dp_attention"] is True


# ----------------------------------------------------------------------------- dev-set rows

HEADER = (
    "source,engine,engine_version,model,precision,kv_precision,gpu,num_gpus,tp,pp,"
    "input_len,output_len,mode,batch,request_rate,metric,value,trust,notes,ep,dp_attention"
)
ROW = (
    "test,trtllm,,deepseek-ai/DeepSeek-R1,fp8,,H200-SXM-141GB,8,8,1,1024,2048,batch,1024,,"
    "output_tokens_per_s,11489,high,{notes},{ep},{dpa}"
)


def _row(notes: str = "bf16 kv cache", ep: str = "", dpa: str = "") -> Measurement:
    text = HEADER + "\n" + ROW.format(notes=notes, ep=ep, dpa=dpa) + "\n"
    return parse_measurements(text)[0]


def test_rows_state_the_layout_in_optional_columns(catalog: Catalog) -> None:
    row = _row(ep="8", dpa="true")
    assert (row.ep, row.dp_attention) == ("8", "true")
    dep, _ = setup_for(row, catalog)
    assert (dep.ep, dep.dp_attention) == (8, True)
    assert not dep.engine.attention_data_parallel  # the engine-profile path stays off


def test_rows_without_the_columns_keep_the_notes_path(catalog: Catalog) -> None:
    """Older rows whose notes say attention DP keep the approximation they were fitted
    with (the engine profile's flag), so their predictions do not move."""
    dep, _ = setup_for(_row(notes="tp8 ep8 attention-DP; bf16 kv cache"), catalog)
    assert (dep.ep, dep.dp_attention) == (1, False)
    assert dep.engine.attention_data_parallel
    plain = parse_measurements(HEADER.rsplit(",", 2)[0] + "\n" + ROW.rsplit(",", 2)[0])[0]
    assert plain.ep == "" and plain.dp_attention == ""


@pytest.mark.parametrize(("ep", "dpa", "words"), [("x", "", "ep 'x'"), ("8", "maybe", "maybe")])
def test_unreadable_layout_cells_skip_the_row_with_a_reason(
    catalog: Catalog, ep: str, dpa: str, words: str
) -> None:
    with pytest.raises(Skip, match=words):
        setup_for(_row(notes="n", ep=ep, dpa=dpa), catalog)


def test_layout_that_cannot_exist_skips_the_row(catalog: Catalog) -> None:
    row = replace(_row(ep="6", dpa="true"), tp="6", num_gpus="6")
    with pytest.raises(Skip, match="does not divide the 256 routed experts"):
        setup_for(row, catalog)
