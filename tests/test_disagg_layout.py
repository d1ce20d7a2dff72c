"""Each pool's own layout in a disaggregated design (issue 12, items 2 and 6): the KV
re-shard between layouts worked by hand, each pool's memory from its own layout, more
decode GPUs never fewer tokens/s, the simulator building each pool from its layout, and
bad input naming the pool's field on the command line and the REST API."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from llmplan.api import Settings, create_app
from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app as cli
from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.perf.disagg import (
    Disaggregation,
    kv_transfer_bytes_per_gpu,
    kv_transfer_seconds,
    split_of,
    transfer_link,
)
from llmplan.perf.disagg_layout import PoolLayout, transfer_lanes
from llmplan.perf.disagg_serving import predict_disaggregated
from llmplan.perf.load import Load, LoadKind
from llmplan.sim import ClosedLoop, FixedLength, OpenLoop, PoissonArrivals, SimConfig
from llmplan.sim.disagg import DisaggregatedModel, simulate_disaggregated
from llmplan.sizing.memory import kv_budget_per_gpu, max_sequences

with warnings.catch_warnings():  # starlette suggests httpx2; httpx works
    warnings.filterwarnings("ignore", message=".*httpx2")
    from fastapi.testclient import TestClient

CATALOG = bundled_catalog()
LLAMA = ("--model", "meta-llama/Llama-3.1-8B", "--gpu", "H100")
DEEPSEEK = ("--model", "deepseek-ai/DeepSeek-R1", "--gpu", "H100", "--precision", "fp8",
            "--engine", "sglang")  # fmt: skip


def llama8b(tp: int = 1) -> Deployment:
    return Deployment.from_names(CATALOG, model="Llama-3.1-8B", gpu="H100", tp=tp)


def deepseek(tp: int = 16, ep: int = 1, dp_attention: bool = False) -> Deployment:
    return Deployment.from_names(
        CATALOG, model="deepseek-ai/DeepSeek-R1", gpu="H100", precision="fp8",
        engine="sglang", tp=tp, ep=ep, dp_attention=dp_attention,
    )  # fmt: skip


# --- KV re-shard between layouts, worked by hand -----------------------------------------


def test_gqa_reshard_bytes_by_hand() -> None:
    """Llama-3.1-8B, fp16 KV: 131,072 bytes per token, 131.072 MB for 1,000 tokens
    (8 KV heads). Same layout tp=4 both sides: ranks pair up, 4 lanes, 32.768 MB each.
    Prefill tp=4 -> decode tp=2: each decode GPU takes 4 of the 8 heads from two
    prefill GPUs, 2 lanes, 65.536 MB each. Prefill tp=1 -> decode tp=8: one GPU sends
    every head, 131.072 MB."""
    for prefill_tp, decode_tp, per_gpu_mb, lanes in ((4, 4, 32.768, 4), (4, 2, 65.536, 2),
                                                     (1, 8, 131.072, 1)):  # fmt: skip
        prefill, decode = llama8b(prefill_tp), llama8b(decode_tp)
        assert transfer_lanes(prefill, decode) == lanes
        moved = kv_transfer_bytes_per_gpu(prefill, 1000, decode)
        assert moved / 1e6 == pytest.approx(per_gpu_mb, rel=1e-9)


def test_mla_reshard_into_dp_attention_by_hand() -> None:
    """DeepSeek-R1, fp16 KV: an MLA latent of 512 + 64 elements x 61 layers x 2 bytes =
    70,272 bytes per token; a 1,024-token prompt is 71,958,528 bytes. Prefill TP16 ->
    decode TP16 EP16 with DP attention: the sequence lives on one decode GPU, so it
    crosses one GPU's InfiniBand link (23.75 GB/s, as in test_disagg):
    71,958,528 / 23.75e9 = 3.02983 ms + 25 us = 3.05483 ms. The same TP16 layout on
    both sides spreads it over 16 lanes: 4.4974 MB each, 0.21437 ms."""
    prefill, decode = deepseek(), deepseek(ep=16, dp_attention=True)
    link = transfer_link(prefill, Disaggregation(16, 16))
    assert link.name == "infiniband"
    assert kv_transfer_bytes_per_gpu(prefill, 1024, decode) == pytest.approx(71_958_528)
    assert kv_transfer_seconds(prefill, 1024, link, decode=decode) * 1e3 == pytest.approx(
        3.05483, rel=1e-4
    )
    assert kv_transfer_bytes_per_gpu(prefill, 1024) == pytest.approx(71_958_528 / 16)
    assert kv_transfer_seconds(prefill, 1024, link) * 1e3 == pytest.approx(0.21437, rel=1e-3)


# --- each pool's memory and layout --------------------------------------------------------


def test_each_pool_sizes_its_memory_from_its_own_layout() -> None:
    """Prefill TP16 holds the MLA latent on all 16 GPUs; decode TP16 DP attention holds
    each sequence on one GPU (1/16 of the sequences per GPU) but every GPU keeps the
    attention, dense and shared-expert weights: less KV room per GPU, yet 16 times the
    sequences per byte. A 2,048-token sequence is 70,272 x 2,048 = 143,917,056 bytes."""
    split = Disaggregation(16, 16, decode_layout=PoolLayout(ep=16, dp_attention=True))
    load = Load(LoadKind.CONCURRENCY, 1024, 1024, batch=64)
    result = predict_disaggregated(deepseek(), split, load)
    plain, dp = deepseek(), deepseek(ep=16, dp_attention=True)
    assert result.prefill_kv_cache_bytes_per_gpu == kv_budget_per_gpu(plain)
    assert result.decode_kv_cache_bytes_per_gpu == kv_budget_per_gpu(dp)
    assert result.decode_kv_cache_bytes_per_gpu < result.prefill_kv_cache_bytes_per_gpu
    per_sequence = 143_917_056
    assert max_sequences(plain, 2048) == int(kv_budget_per_gpu(plain) // per_sequence)
    assert max_sequences(dp, 2048) == int(kv_budget_per_gpu(dp) // (per_sequence / 16))
    payload = result.as_dict()
    assert (payload["prefill_tp"], payload["prefill_ep"], payload["prefill_dp_attention"]) == (
        16, 1, False,
    )  # fmt: skip
    assert (payload["decode_tp"], payload["decode_ep"], payload["decode_dp_attention"]) == (
        16, 16, True,
    )  # fmt: skip
    assert payload["kv_transfer_lanes"] == 1


def test_no_pool_layout_changes_nothing() -> None:
    """A layout equal to the deployment's is the design without per-pool layouts."""
    dep = llama8b(2)
    load = Load(LoadKind.RATE, 2000, 300, request_rate=6.0)
    base = predict_disaggregated(dep, Disaggregation(4, 4), load).as_dict()
    same = Disaggregation(4, 4, prefill_layout=PoolLayout(tp=2), decode_layout=PoolLayout(tp=2))
    assert predict_disaggregated(dep, same, load).as_dict() == base


@settings(max_examples=25, deadline=None)
@given(
    decode_replicas=st.integers(1, 6),
    prefill_replicas=st.integers(1, 4),
    decode_tp=st.sampled_from([1, 2, 4]),
    kind=st.sampled_from(["offline", "rate", "concurrency"]),
)
def test_more_decode_gpus_never_fewer_tokens(
    decode_replicas: int, prefill_replicas: int, decode_tp: int, kind: str
) -> None:
    """One more decode replica of the pool's own layout never lowers output tokens/s."""
    dep = llama8b()
    load = {
        "offline": Load(LoadKind.OFFLINE, 1500, 400),
        "rate": Load(LoadKind.RATE, 1500, 400, request_rate=20.0),
        "concurrency": Load(LoadKind.CONCURRENCY, 1500, 400, batch=96),
    }[kind]
    layout = PoolLayout(tp=decode_tp)

    def tokens(replicas: int) -> float:
        split = Disaggregation(prefill_replicas, replicas * decode_tp, decode_layout=layout)
        return predict_disaggregated(dep, split, load).perf.output_tokens_per_s

    assert tokens(decode_replicas + 1) >= tokens(decode_replicas) * (1 - 1e-9)


def test_simulator_builds_each_pool_from_its_layout() -> None:
    """The decode pool's replicas are tp=2 (batch limits and step times of a tp=2
    replica), the prefill pool's tp=1; every request finishes."""
    dep = llama8b()
    split = Disaggregation(2, 4, decode_layout=PoolLayout(tp=2))
    work = OpenLoop(PoissonArrivals(4.0), FixedLength(800), FixedLength(100))
    model = DisaggregatedModel.of(dep, split, work)
    assert (model.prefill_dep.tp, model.decode_dep.tp) == (1, 2)
    assert model.prefill is not model.decode
    assert split.replicas(dep) == (2, 2)
    layout = model.layout(800)
    assert (layout["prefill_tp"], layout["decode_tp"], layout["decode_replicas"]) == (1, 2, 2)
    result = simulate_disaggregated(
        model, work, SimConfig(num_requests=300), np.random.default_rng(3)
    )
    assert result.requests == 300 and result.replicas == 4


def test_simulator_and_analytic_model_agree_with_pool_layouts() -> None:
    """Prefill tp=1 x 2, decode tp=2 x 2 (Llama-3.1-8B, 3,000 / 300 tokens): at 60 % of
    capacity mean TTFT and TPOT agree within 15 %, as for one shared layout
    (test_disagg); closed-loop clients agree on requests/s and TPOT within 15 %."""
    dep = llama8b()
    split = Disaggregation(2, 4, decode_layout=PoolLayout(tp=2))
    inp, out = 3000, 300
    full = predict_disaggregated(dep, split, Load(LoadKind.OFFLINE, inp, out)).perf
    rate = 0.6 * full.requests_per_s
    analytic = predict_disaggregated(dep, split, Load(LoadKind.RATE, inp, out, request_rate=rate))
    work = OpenLoop(PoissonArrivals(rate), FixedLength(inp), FixedLength(out))
    model = DisaggregatedModel.of(dep, split, work)
    sim = simulate_disaggregated(
        model, work, SimConfig(num_requests=6000), np.random.default_rng(3)
    )
    assert sim.ttft.mean_ms == pytest.approx(analytic.perf.ttft_ms, rel=0.15)
    assert sim.tpot.mean_ms == pytest.approx(analytic.perf.tpot_ms, rel=0.15)
    closed = ClosedLoop(48, 0.0, FixedLength(inp), FixedLength(out))
    loop = simulate_disaggregated(
        DisaggregatedModel.of(dep, split, closed), closed, SimConfig(num_requests=1500),
        np.random.default_rng(5),
    )  # fmt: skip
    expected = predict_disaggregated(dep, split, Load(LoadKind.CONCURRENCY, inp, out, batch=48))
    assert loop.requests_per_s == pytest.approx(expected.perf.requests_per_s, rel=0.15)
    assert loop.tpot.mean_ms == pytest.approx(expected.perf.tpot_ms, rel=0.15)


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"decode_layout": PoolLayout(tp=3)}, "decode_tp"),
        ({"prefill_layout": PoolLayout(ep=2)}, "prefill_ep"),
        ({"decode_layout": PoolLayout(dp_attention=True)}, "decode_dp_attention"),
        ({"decode_layout": PoolLayout(tp=4)}, "disaggregate"),
    ],
)
def test_bad_pool_layout_names_the_pool_field(kwargs: dict[str, PoolLayout], field: str) -> None:
    """Llama-3.1-8B: tp=3 does not divide 32 heads; ep and DP attention need a MoE
    model; 2 decode GPUs are not whole tp=4 replicas."""
    split = Disaggregation(2, 2, **kwargs)
    with pytest.raises(InputError) as caught:
        split.replicas(llama8b())
    assert caught.value.field == field
    assert "\n" not in caught.value.message


def test_pool_tp_beyond_the_link_domain_is_refused() -> None:
    """A100-PCIe pairs GPUs by an NVLink bridge: a tp=2 deployment's decode pool cannot
    take tp=4 (its replicas would need the PCIe-only variant of the GPU)."""
    dep = Deployment.from_names(CATALOG, model="Llama-3.1-8B", gpu="A100-PCIe-80GB", tp=2)
    with pytest.raises(InputError) as caught:
        Disaggregation(2, 4, decode_layout=PoolLayout(tp=4)).replicas(dep)
    assert caught.value.field == "decode_tp"
    assert "at most 2" in caught.value.message


def test_pool_layout_without_a_split_is_refused() -> None:
    with pytest.raises(InputError) as caught:
        split_of(None, decode_layout=PoolLayout(ep=8))
    assert caught.value.field == "decode_ep"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("LLMPLAN_HOME", str(tmp_path / "home"))
    return CliRunner()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    made = TestClient(create_app(Settings(home=tmp_path, max_simulated_requests=5000)),
                      base_url="http://localhost")  # fmt: skip
    yield made
    made.app.state.llmplan.store.close()  # type: ignore[attr-defined]


def _json(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_cli_and_api_report_each_pools_layout(runner: CliRunner, client: TestClient) -> None:
    args = ("--tp", "16", "--disaggregate", "16:16", "--decode-ep", "16",
            "--decode-dp-attention", "--concurrency", "64", "--spec-method", "mtp")  # fmt: skip
    payload = _json(runner, "perf", *DEEPSEEK, *args)
    assert (payload["decode_tp"], payload["decode_ep"], payload["decode_dp_attention"]) == (
        16, 16, True,
    )  # fmt: skip
    assert (payload["prefill_ep"], payload["prefill_dp_attention"]) == (1, False)
    body = {"model": "deepseek-ai/DeepSeek-R1", "gpu": "H100", "precision": "fp8",
            "engine": "sglang", "tp": 16, "disaggregate": "16:16", "decode_ep": 16,
            "decode_dp_attention": True, "concurrency": 64, "spec_method": "mtp"}  # fmt: skip
    response = client.post("/api/v1/perf", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == payload
    sim = _json(runner, "simulate", *LLAMA, "--disaggregate", "1:4", "--decode-tp", "2",
                "--rate", "4", "--requests", "200")  # fmt: skip
    assert (sim["prefill_tp"], sim["decode_tp"], sim["decode_replicas"]) == (1, 2, 2)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("perf", "--decode-tp", "2"), "decode_tp"),
        (("perf", "--disaggregate", "2:2", "--decode-tp", "3"), "decode_tp"),
        (("perf", "--disaggregate", "2:2", "--prefill-ep", "2"), "prefill_ep"),
        (("perf", "--disaggregate", "2:3", "--decode-tp", "2"), "disaggregate"),
        (("simulate", "--disaggregate", "1:1", "--decode-dp-attention", "--rate", "1"),
         "decode_dp_attention"),
    ],
)  # fmt: skip
def test_bad_cli_pool_layout_is_one_line_exit_2(
    runner: CliRunner, args: tuple[str, ...], field: str
) -> None:
    command, *rest = args
    result = runner.invoke(cli, [command, *LLAMA, *rest])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}:"), result.stderr


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/perf", {"decode_ep": 2}, "decode_ep"),
        ("/api/v1/perf", {"disaggregate": "2:2", "decode_tp": 3}, "decode_tp"),
        ("/api/v1/simulate", {"disaggregate": "1:1", "rate": 1, "prefill_dp_attention": True},
         "prefill_dp_attention"),
    ],
)  # fmt: skip
def test_bad_api_pool_layout_is_422_naming_the_field(
    client: TestClient, path: str, body: dict[str, Any], field: str
) -> None:
    extra = {"requests": 100} if path.endswith("simulate") else {}
    response = client.post(
        path, json={"model": "meta-llama/Llama-3.1-8B", "gpu": "H100"} | extra | body
    )
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
