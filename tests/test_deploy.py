"""``llmplan deploy`` (issue 16, part 1): every bundled example writes every target; the
engine options come from the documented table; Kubernetes manifests pass the cluster's
OpenAPI schema; values follow from the plan's design (derived by hand below)."""

from __future__ import annotations

import dataclasses
import math
import shlex
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from llmplan.catalog.loader import Catalog, load_catalog
from llmplan.deploy import DeployTarget, deploy_files
from llmplan.deploy.engines import LAUNCH_ENGINES, launch
from llmplan.deploy.hosts import BASE_PORT, compose_files, placements
from llmplan.deploy.kubernetes import KUBERNETES_VERSIONS, manifests
from llmplan.deploy.options import check_argv, engine_options
from llmplan.deploy.service import ServiceSpec, service_specs
from llmplan.errors import ConfigurationError, InputError
from llmplan.plan.planner import Plan, make_plan
from llmplan.prices.loader import load_prices
from llmplan.scenario import bundled_examples, load_example

EXAMPLES = sorted(bundled_examples())
SCHEMA_VERSIONS = tuple(f"{v}.0" for v in KUBERNETES_VERSIONS)


@cache
def _home() -> Path:
    return Path(tempfile.mkdtemp(prefix="llmplan-deploy-test-"))


@cache
def catalog() -> Catalog:
    return load_catalog(_home())


@cache
def plan_of(example: str) -> Plan:
    return make_plan(load_example(example), catalog(), load_prices(_home()), monte_carlo_samples=0)


def spec_of(example: str) -> ServiceSpec:
    return service_specs(plan_of(example), None, None)[0]


# --- the option table ------------------------------------------------------------------


def test_option_table_names_its_source_and_version() -> None:
    tables = engine_options()
    assert set(tables) == set(LAUNCH_ENGINES)
    for family, table in tables.items():
        assert table.source.startswith("https://github.com/"), family
        assert len(table.version) >= 2
        names = [o.name for o in table.options.values()]
        assert len(names) == len(set(names)), f"{family}: an option listed twice"


def test_check_argv_flags_an_undocumented_option() -> None:
    """The check itself can fail: a made-up option is reported, documented ones are not."""
    assert check_argv("vllm", ["vllm", "serve", "m", "--tensor-parallel-size", "2"]) == []
    assert check_argv("vllm", ["--tensor-parallel-size", "2", "--tp-size", "2"]) == ["--tp-size"]


def _options_in(files: dict[str, str]) -> list[list[str]]:
    """Every engine command line in the written files, as argument lists."""
    commands: list[list[str]] = []
    for name, text in files.items():
        if name.startswith("launch-"):
            body = text.split("exec ", 1)[1].replace("\\\n", " ")
            commands.append(shlex.split(body))
        elif name.startswith("docker-compose"):
            services = yaml.safe_load(text)["services"].values()
            commands += [s["entrypoint"] for s in services]
        elif name.endswith(".service") and "ExecStart=/opt" in text:
            line = next(x for x in text.splitlines() if x.startswith("ExecStart="))
            commands.append(shlex.split(line.removeprefix("ExecStart=")))
        elif name.startswith("kubernetes/") and "deployment" in name:
            pod = yaml.safe_load(text)["spec"]["template"]["spec"]
            commands += [c["command"] for c in pod["containers"]]
    return commands


def _family(argv: list[str]) -> str:
    joined = " ".join(argv)
    for marker, family in (("sglang", "sglang"), ("trtllm", "trtllm"), ("llama_cpp", "llama.cpp")):
        if marker in joined:
            return family
    return "vllm"


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("target", list(DeployTarget))
def test_every_example_writes_every_target(example: str, target: DeployTarget) -> None:
    files = deploy_files(plan_of(example), target, catalog())
    assert {"README.md", "bench.sh"} <= set(files)
    commands = _options_in(files)
    assert commands, f"no engine command among {sorted(files)}"
    for argv in commands:
        assert check_argv(_family(argv), argv) == [], argv


# --- values from the design (hand-derived) ------------------------------------------------


def test_chat_assistant_launch_carries_the_design() -> None:
    """chat-assistant: p95 prompt 6,000 + p95 output 1,000 = 7,000 tokens, rounded up to
    256s: 28 x 256 = 7,168; half the prompt tokens repeat (prefix caching on); vLLM's
    profile limits 256 sequences, 8,192 batched tokens, 0.9 of the memory."""
    spec = spec_of("chat-assistant")
    argv = launch(spec, "8000").argv
    value = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert value["--max-model-len"] == "7168"
    assert value["--tensor-parallel-size"] == str(spec.tp)
    assert value["--max-num-seqs"] == "256"
    assert value["--max-num-batched-tokens"] == "8192"
    assert value["--gpu-memory-utilization"] == "0.9"
    assert "--enable-prefix-caching" in argv
    if spec.precision == "fp8":
        assert value["--quantization"] == "fp8"


def test_prefix_caching_off_and_speculative_decoding_reach_every_engine() -> None:
    from llmplan.perf.speculative import SpecDecoding, SpecMethod

    base = spec_of("chat-assistant")
    spec = dataclasses.replace(
        base,
        prefix_caching=False,
        speculative=SpecDecoding.with_defaults(SpecMethod.NGRAM, draft_tokens=4),
    )
    vllm = launch(spec, "8000").argv
    assert "--no-enable-prefix-caching" in vllm
    config = vllm[vllm.index("--speculative-config") + 1]
    assert '"method":"ngram"' in config and '"num_speculative_tokens":4' in config
    sglang = launch(spec.with_engine(catalog().engine("sglang")), "30000").argv
    assert "--disable-radix-cache" in sglang
    assert sglang[sglang.index("--speculative-algorithm") + 1] == "NGRAM"
    assert sglang[sglang.index("--speculative-num-draft-tokens") + 1] == "5"  # K + 1
    trt = launch(spec.with_engine(catalog().engine("trtllm")), "8000")
    extra = yaml.safe_load(next(iter(trt.files.values())).split("\n", 1)[1])
    assert extra["kv_cache_config"]["enable_block_reuse"] is False
    assert extra["speculative_config"] == {"decoding_type": "NGram", "max_draft_len": 4}
    for launched in (vllm, sglang, trt.argv):
        assert check_argv(_family(launched), launched) == []


def test_another_engine_uses_its_own_limits_and_says_so() -> None:
    spec = spec_of("chat-assistant").with_engine(catalog().engine("sglang"))
    argv = launch(spec, "30000").argv
    assert argv[argv.index("--max-running-requests") + 1] == "1024"  # SGLang's profile
    assert not spec.predicted
    files = deploy_files(plan_of("chat-assistant"), DeployTarget.SGLANG, catalog())
    assert "the plan predicted another engine" in files["launch-chat.sh"]


def test_replicas_are_packed_onto_hosts_with_their_own_gpus() -> None:
    """5 replicas of 2 GPUs on 8-GPU hosts: 4 on host 0 (GPUs 0-1, 2-3, 4-5, 6-7, ports
    8000-8003), the fifth on host 1 (GPUs 0-1, port 8000)."""
    spec = dataclasses.replace(spec_of("chat-assistant"), tp=2, pp=1, replicas=5, gpus_per_node=8)
    places = placements(spec)
    assert [p.host for p in places] == [0, 0, 0, 0, 1]
    assert [p.gpus for p in places] == [(0, 1), (2, 3), (4, 5), (6, 7), (0, 1)]
    assert [p.port for p in places] == [BASE_PORT + i for i in (0, 1, 2, 3, 0)]
    files = compose_files(spec)
    host0 = yaml.safe_load(files["docker-compose-host-0.yaml"])["services"]
    pinned = [
        tuple(s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"])
        for s in host0.values()
    ]
    assert pinned == [("0", "1"), ("2", "3"), ("4", "5"), ("6", "7")]
    assert len(yaml.safe_load(files["docker-compose-host-1.yaml"])["services"]) == 1


def test_multi_node_replica_needs_kubernetes_and_an_engine_that_spans_nodes() -> None:
    spec = dataclasses.replace(spec_of("chat-assistant"), tp=8, pp=2, gpus_per_node=8)
    assert spec.nodes_per_replica == 2
    with pytest.raises(ConfigurationError, match="LeaderWorkerSet"):
        placements(spec)
    trt = spec.with_engine(catalog().engine("trtllm"))
    with pytest.raises(ConfigurationError, match="multi-node"):
        manifests(trt)


# --- Kubernetes schema ---------------------------------------------------------------------


def _validate(manifest: dict[str, Any]) -> None:
    for version in SCHEMA_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)


def _lws_templates(lws: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The LeaderWorkerSet's pod templates as PodTemplates (the CRD has no core schema)."""
    template = lws["spec"]["leaderWorkerTemplate"]
    for key in ("leaderTemplate", "workerTemplate"):
        yield {
            "apiVersion": "v1",
            "kind": "PodTemplate",
            "metadata": {"name": f"{lws['metadata']['name']}-{key.lower()}"},
            "template": template[key],
        }


@pytest.mark.parametrize("example", EXAMPLES)
def test_manifests_pass_the_openapi_schema(example: str) -> None:
    files = deploy_files(plan_of(example), DeployTarget.KUBERNETES, catalog())
    kinds = set()
    for name, text in files.items():
        if name.startswith("kubernetes/"):
            manifest = yaml.safe_load(text)
            kinds.add(manifest["kind"])
            _validate(manifest)
    assert {"Deployment", "Service", "HorizontalPodAutoscaler"} <= kinds


def test_a_broken_manifest_fails_the_schema() -> None:
    deployment = manifests(spec_of("chat-assistant"))["chat-deployment.yaml"]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
def test_multi_node_replica_is_a_leader_worker_set(engine: str) -> None:
    base = dataclasses.replace(spec_of("chat-assistant"), tp=8, pp=2, gpus_per_node=8)
    spec = base.with_engine(catalog().engine(engine))
    out = manifests(spec)
    lws = out["chat-leaderworkerset.yaml"]
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    assert out["chat-hpa.yaml"]["spec"]["scaleTargetRef"]["kind"] == "LeaderWorkerSet"
    for template in _lws_templates(lws):
        _validate(template)
        container = template["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8  # 16 GPUs over 2 pods
    for name in ("chat-service.yaml", "chat-hpa.yaml", "chat-pvc.yaml"):
        _validate(out[name])


def test_gpu_requests_probes_and_autoscaler_follow_the_plan() -> None:
    spec = spec_of("chat-assistant")
    out = manifests(spec)
    pod = out["chat-deployment.yaml"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": spec.tp * spec.pp}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    hpa = out["chat-hpa.yaml"]["spec"]
    assert hpa["minReplicas"] == spec.replicas <= hpa["maxReplicas"]
    target = hpa["metrics"][0]["pods"]["target"]["averageValue"]
    assert int(target) == spec.running_per_replica >= 1
    assert out["chat-deployment.yaml"]["spec"]["replicas"] == spec.replicas


def test_model_cache_holds_the_checkpoint() -> None:
    """A 70B model in fp8 is loaded from its 16-bit checkpoint: 70.6e9 x 2 bytes = 131 GiB;
    the claim adds 25 %: 165 GiB."""
    spec = spec_of("chat-assistant")
    params_b = catalog().model(spec.model).params_total_b
    expected = math.ceil(params_b * 1e9 * 2 / 2**30 * 1.25)
    claim = manifests(spec)["chat-pvc.yaml"]["spec"]["resources"]["requests"]["storage"]
    assert claim == f"{expected}Gi"


# --- bench.sh ------------------------------------------------------------------------------


def test_bench_script_uses_only_bench_options_and_the_planned_rate() -> None:
    import typer.main

    from llmplan.cli.main import app

    group = typer.main.get_command(app)
    bench = group.get_command(typer.Context(group), "bench")  # type: ignore[attr-defined]
    assert bench is not None
    known = {opt for p in bench.params for opt in p.opts}
    files = deploy_files(plan_of("chat-assistant"), DeployTarget.VLLM, catalog())
    line = files["bench.sh"].split("llmplan bench ", 1)[1].replace("\\\n", " ")
    argv = shlex.split(line)
    assert {t for t in argv if t.startswith("--")} <= known
    spec = spec_of("chat-assistant")
    rates = [float(r) for r in argv[argv.index("--rate") + 1].split(",")]
    assert rates[1] == pytest.approx(spec.peak_requests_per_s_per_replica, rel=1e-3)
    assert argv[argv.index("--tp") + 1] == str(spec.tp)


# --- bad input -------------------------------------------------------------------------------


def test_unknown_option_workload_and_api_option_are_refused() -> None:
    plan = plan_of("chat-assistant")
    with pytest.raises(InputError, match="allowed: on_premise") as exc:
        service_specs(plan, "moon", None)
    assert exc.value.field == "option"
    with pytest.raises(InputError, match="runs no servers") as exc:
        service_specs(plan, "api", None)
    assert exc.value.field == "option"
    with pytest.raises(InputError, match="allowed: chat") as exc:
        service_specs(plan, None, "nope")
    assert exc.value.field == "workload"


def test_trtllm_refuses_amd_gpus() -> None:
    spec = dataclasses.replace(spec_of("chat-assistant"), gpu_vendor="AMD")
    with pytest.raises(ConfigurationError, match="NVIDIA GPUs only"):
        launch(spec.with_engine(catalog().engine("trtllm")), "8000")


def test_hybrid_owns_its_base_and_scales_to_the_full_design() -> None:
    from llmplan.plan.demand import hybrid_split

    plan = plan_of("chat-assistant")
    design = next(
        c.design for o in plan.options if o.option.value == "hybrid" for c in o.choices if c.design
    )
    big = dataclasses.replace(design, replicas=4)
    from llmplan.deploy.service import service_spec

    spec = service_spec(big, "hybrid", 50.0)
    base = hybrid_split(big, 50.0).base_replicas
    assert spec.replicas == min(4, base)
    assert spec.max_replicas >= 4
    hpa = manifests(spec)["chat-hpa.yaml"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (spec.replicas, spec.max_replicas)


# --- the written files parse ------------------------------------------------------------------


@pytest.mark.parametrize("target", [t for t in DeployTarget if t.value in LAUNCH_ENGINES])
def test_shell_scripts_parse(target: DeployTarget, tmp_path: Path) -> None:
    import subprocess

    files = deploy_files(plan_of("rag-long-prompts"), target, catalog())
    for name in (n for n in files if n.endswith(".sh")):
        path = tmp_path / name
        path.write_text(files[name], encoding="utf-8")
        checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, (name, checked.stderr)


@pytest.mark.skipif(
    __import__("shutil").which("systemd-analyze") is None, reason="no systemd-analyze"
)
def test_systemd_units_verify(tmp_path: Path) -> None:
    """``systemd-analyze verify`` accepts the units; the engine binary is the operator's
    to install, so only its absence may be reported."""
    import subprocess

    files = deploy_files(plan_of("chat-assistant"), DeployTarget.SYSTEMD, catalog())
    units = []
    for name, text in files.items():
        if name.startswith("systemd/"):
            path = tmp_path / Path(name).name
            path.write_text(text, encoding="utf-8")
            units.append(str(path))
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *units], capture_output=True, text=True
    )
    problems = [
        line
        for line in (checked.stdout + checked.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []


def test_amd_gpus_get_rocm_devices_and_resources() -> None:
    from llmplan.scenario.io import parse_scenario

    text = bundled_examples()["chat-assistant"].read_text(encoding="utf-8")
    text = text.replace(
        "gpus: [H100-SXM-80GB, H200-SXM-141GB, B200-180GB, L40S-48GB, MI300X-192GB]",
        "gpus: [MI300X-192GB]",
    )
    plan = make_plan(parse_scenario(text, "amd"), catalog(), load_prices(_home()),
                     monte_carlo_samples=0)  # fmt: skip
    spec = service_specs(plan, None, None)[0]
    assert spec.gpu == "MI300X-192GB" and spec.family == "vllm"
    compose = yaml.safe_load(compose_files(spec)["docker-compose.yaml"])["services"]["chat-0"]
    assert compose["devices"] == ["/dev/kfd", "/dev/dri"]
    assert "HIP_VISIBLE_DEVICES" in compose["environment"]
    assert compose["image"].startswith("rocm/vllm:")
    deployment = manifests(spec)["chat-deployment.yaml"]
    _validate(deployment)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"amd.com/gpu": spec.gpus_per_replica}
    with pytest.raises(ConfigurationError, match="NVIDIA GPUs only"):
        deploy_files(plan, DeployTarget.TRTLLM, catalog())


def test_llama_cpp_design_has_no_autoscaler_and_checks_v1_models() -> None:
    """llama.cpp's server exports no request metrics: the manifests carry no HPA, and
    health is checked on ``/v1/models`` (its server has no ``/health``)."""
    from llmplan.scenario.io import parse_scenario

    text = bundled_examples()["small-team-consumer-gpus"].read_text(encoding="utf-8")
    text = text.replace("engines: [vllm]", "engines: [llama.cpp]")
    text = text.replace("precisions: [int4-awq, fp8]", "precisions: [q4_k_m]")
    plan = make_plan(parse_scenario(text, "gguf"), catalog(), load_prices(_home()),
                     monte_carlo_samples=0)  # fmt: skip
    spec = service_specs(plan, "on_premise", None)[0]
    assert spec.family == "llama.cpp"
    out = manifests(spec)
    assert not any(name.endswith("-hpa.yaml") for name in out)
    for manifest in out.values():
        _validate(manifest)
    compose = yaml.safe_load(compose_files(spec)["docker-compose.yaml"])["services"]
    for service in compose.values():
        assert service["healthcheck"]["test"][1].endswith("/v1/models")
        argv = service["entrypoint"]
        assert argv[argv.index("--model") + 1] == f"/root/.cache/huggingface/{spec.name}.gguf"
        assert check_argv("llama.cpp", argv) == []


def test_a_planned_speculative_workload_launches_with_speculation() -> None:
    """The scenario's `speculative:` reaches the design's capacity and from there the
    launch command (it was read from a Design attribute that does not exist)."""
    from llmplan.scenario import scenario_from_data

    text = bundled_examples()["airgapped-eu-gdpr"].read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["workloads"][0]["speculative"] = {"method": "ngram", "tokens": 4}
    scenario = scenario_from_data(data, "test")
    plan = make_plan(scenario, catalog(), load_prices(_home()), monte_carlo_samples=0)
    spec = service_specs(plan, None, None)[0]
    assert spec.speculative is not None and spec.speculative.draft_tokens == 4
    files = deploy_files(plan, DeployTarget.VLLM, catalog())
    launch = next(text for name, text in files.items() if name.startswith("launch-"))
    assert "--speculative-config" in launch and '"num_speculative_tokens":4' in launch
