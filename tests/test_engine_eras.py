"""Engine eras: profiles keyed by engine and release range (issue 11, item 3)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from llmplan.catalog.loader import bundled_catalog
from llmplan.cli.main import app
from llmplan.deployment import Deployment, engine_for_platform
from llmplan.validation.dataset import bundled_measurements_path, read_measurements
from llmplan.validation.predict import engine_for


@pytest.mark.parametrize(
    ("engine", "version", "era"),
    [
        ("vllm", "0.6.3.post2.dev308 (CUDA)", "vllm-v0"),
        ("vllm", "0.7.3", "vllm-v0"),
        ("vllm", "0.8.0", "vllm"),
        ("vllm", "0.11.2", "vllm"),
        ("vllm", "2023 commits (not listed)", "vllm-v0"),
        ("vllm", "", "vllm"),
        ("trtllm", "0.14.0", "trtllm-trt"),
        ("trtllm", "0.17.post1.dev (deepseek branch engine)", "trtllm-trt"),
        ("trtllm", "1.0 (PyTorch backend)", "trtllm"),
        ("trtllm", "1.x PyTorch backend", "trtllm"),
        ("tensorrt-llm", "0.9.0", "trtllm-trt"),
        ("lmdeploy", "0.1.0a1", "lmdeploy-v0"),
        ("lmdeploy", "0.10.1", "lmdeploy"),
        ("sglang", "0.4.6.post1", "sglang"),
    ],
)
def test_a_printed_version_selects_its_era(engine: str, version: str, era: str) -> None:
    assert bundled_catalog().engine_era(engine, version).id == era


def test_planning_defaults_to_the_current_era() -> None:
    catalog = bundled_catalog()
    for family in ("vllm", "trtllm", "lmdeploy"):
        current = catalog.engine(family)
        assert current.engine_family == family and current.id == family
        assert current.versions is not None and current.versions.startswith(">=")


def test_turbomind_first_token_follows_the_era() -> None:
    """TurboMind before 0.6 sampled a prompt's first token in the next decode step; the
    unified Forward of current releases samples it in the prefill step."""
    catalog = bundled_catalog()
    assert catalog.engine_era("lmdeploy", "0.2.0").first_token_from == "decode_step"
    assert catalog.engine("lmdeploy").first_token_from == "prefill"


def test_an_old_era_on_amd_uses_the_rocm_build() -> None:
    catalog = bundled_catalog()
    gpu = catalog.gpu("MI300X")
    assert engine_for_platform(catalog, "vllm-v0", gpu).id == "vllm-rocm"
    dep = Deployment.from_names(
        catalog, model="meta-llama/Llama-3.1-8B", gpu="MI300X", engine="vllm-v0"
    )
    assert dep.engine.platform == "rocm"


def test_validation_rows_take_the_era_of_their_version() -> None:
    rows = read_measurements(bundled_measurements_path())
    catalog = bundled_catalog()
    eras = {(r.engine, engine_for(r, catalog)) for r in rows if r.engine in ("vllm", "trtllm")}
    assert ("vllm", "vllm-v0") in eras
    assert ("trtllm", "trtllm-trt") in eras and ("trtllm", "trtllm") in eras


def test_eras_of_a_family_share_their_fitted_factors() -> None:
    """Leave-one-source-out CV preferred one fit per family: eras differ in mechanisms
    (first-token step, defaults), not in fitted efficiencies."""
    catalog = bundled_catalog()
    for family, era in (("vllm", "vllm-v0"), ("trtllm", "trtllm-trt"), ("lmdeploy", "lmdeploy-v0")):
        a, b = catalog.engine(family), catalog.engine(era)
        assert a.compute_efficiency == b.compute_efficiency
        assert a.fit is not None and a.fit == b.fit


def test_engines_list_shows_the_eras() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["engines", "list", "--json"])
    assert result.exit_code == 0
    engines = {e["id"]: e for e in json.loads(result.stdout)}
    assert engines["vllm-v0"]["versions"] == "<0.8"
    assert engines["vllm"]["versions"] == ">=0.8"
    assert len(engines["trtllm"]["fit"]["dataset_sha256"]) == 64
    table = runner.invoke(app, ["engines", "list"], env={"COLUMNS": "250"})
    assert "vllm <0.8" in table.stdout and "(current)" in table.stdout


def test_a_bad_version_range_is_refused() -> None:
    from pydantic import ValidationError

    profile = bundled_catalog().engine("vllm").model_dump()
    profile["versions"] = "around 0.8"
    with pytest.raises(ValidationError, match="version specifier"):
        type(bundled_catalog().engine("vllm")).model_validate(profile)
