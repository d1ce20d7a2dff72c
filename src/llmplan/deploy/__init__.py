"""``llmplan deploy``: a plan's chosen design as files an operator can run.

:func:`deploy_files` returns the files (relative path -> text) for one target; the
CLI writes them, the REST API returns them. Nothing here touches the disk.
"""

from __future__ import annotations

from enum import StrEnum

from llmplan.catalog.loader import Catalog
from llmplan.deploy.docs import bench_script, readme
from llmplan.deploy.engines import LAUNCH_ENGINES
from llmplan.deploy.hosts import compose_files, launch_script, systemd_files
from llmplan.deploy.kubernetes import kubernetes_files
from llmplan.deploy.service import ServiceSpec, service_specs
from llmplan.deployment import engine_for_platform
from llmplan.errors import InputError
from llmplan.plan.planner import Plan

__all__ = ["DeployTarget", "ServiceSpec", "deploy_files", "parse_target", "service_specs"]


class DeployTarget(StrEnum):
    VLLM = "vllm"
    SGLANG = "sglang"
    TRTLLM = "trtllm"
    LLAMACPP = "llama.cpp"
    DOCKER_COMPOSE = "docker-compose"
    SYSTEMD = "systemd"
    KUBERNETES = "kubernetes"


def parse_target(value: str) -> DeployTarget:
    """The target called ``value``; InputError naming the allowed ones otherwise."""
    try:
        return DeployTarget(value)
    except ValueError:
        allowed = ", ".join(t.value for t in DeployTarget)
        raise InputError(f"unknown target '{value}'; allowed: {allowed}", field="target") from None


def _on_engine(spec: ServiceSpec, target: DeployTarget, catalog: Catalog) -> ServiceSpec:
    if spec.family == target.value:
        return spec
    return spec.with_engine(engine_for_platform(catalog, target.value, catalog.gpu(spec.gpu)))


def _files(spec: ServiceSpec, target: DeployTarget) -> dict[str, str]:
    if target.value in LAUNCH_ENGINES:
        return launch_script(spec)
    if target is DeployTarget.DOCKER_COMPOSE:
        return compose_files(spec)
    if target is DeployTarget.SYSTEMD:
        return systemd_files(spec)
    return kubernetes_files(spec)


def deploy_files(
    plan: Plan,
    target: DeployTarget,
    catalog: Catalog,
    *,
    option: str | None = None,
    workload: str | None = None,
) -> dict[str, str]:
    """The files of ``target`` for ``option`` (default: the recommended option, or the
    cheapest one running its own servers) and ``workload`` (default: all inference
    workloads), with ``README.md`` and ``bench.sh``."""
    specs = service_specs(plan, option, workload)
    if target.value in LAUNCH_ENGINES:
        specs = [_on_engine(spec, target, catalog) for spec in specs]
    files: dict[str, str] = {}
    for spec in specs:
        files.update(_files(spec, target))
    files["bench.sh"] = bench_script(specs)
    files["README.md"] = readme(specs, target.value, [*files, "README.md"], plan.scenario.name)
    return files
