"""Kubernetes manifests: a Deployment (or a LeaderWorkerSet when one replica spans
several nodes), a Service, a model-cache PersistentVolumeClaim and a
HorizontalPodAutoscaler on the engine's running-requests metric.

The autoscaler keeps at least the planned replicas and scales out, up to the replicas
that carry :data:`~llmplan.deploy.service.SCALE_OUT_VOLUME` times the planned peak,
when the running requests per replica exceed the batch the plan sized each replica for
at its peak hour. The metric reaches the HPA through a metrics adapter (Prometheus
adapter or KEDA) that the operator installs; the README in the output says so.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

import yaml

from llmplan.deploy.engines import EXTRA_CONFIG_FILE, NodeRole, Paths, launch, table_for
from llmplan.deploy.service import ServiceSpec

KUBERNETES_VERSIONS = ("1.30", "1.34")
"""Cluster versions the manifests are validated against (tests/test_deploy.py)."""

LWS_API = "leaderworkerset.x-k8s.io/v1"
CACHE_MOUNT = "/root/.cache/huggingface"
RAY_PORT = 6379
DIST_INIT_PORT = 20000
STARTUP_FAILURES = 90
"""Startup probe: 90 checks 10 s apart, 15 minutes to load the weights."""
CACHE_HEADROOM = 1.25
"""Model-cache volume size over the checkpoint (tokenizer, config, a second revision)."""


def _labels(spec: ServiceSpec) -> dict[str, str]:
    return {"app.kubernetes.io/name": spec.name, "app.kubernetes.io/part-of": "llmplan"}


def _gpu_resource(spec: ServiceSpec) -> str:
    return "nvidia.com/gpu" if spec.gpu_vendor == "NVIDIA" else "amd.com/gpu"


def _probe(path: str, period_s: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period_s,
        "failureThreshold": failures,
    }


def _container(spec: ServiceSpec, command: list[str], serving: bool) -> dict[str, Any]:
    table = table_for(spec.family)
    gpus = {_gpu_resource(spec): spec.gpus_per_replica // spec.nodes_per_replica}
    image = table.rocm_image if spec.gpu_vendor == "AMD" and table.rocm_image else table.image
    container: dict[str, Any] = {
        "name": "engine",
        "image": f"{image}:FILL-IN-TAG",
        "command": command,
        "env": [
            {
                "name": "HF_TOKEN",
                "valueFrom": {
                    "secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}
                },
            }
        ],
        "ports": [{"name": "http", "containerPort": table.container_port}],
        "resources": {"requests": dict(gpus), "limits": dict(gpus)},
        "volumeMounts": [
            {"name": "model-cache", "mountPath": CACHE_MOUNT},
            {"name": "shm", "mountPath": "/dev/shm"},
        ],
    }
    if serving:
        path = table.health_path
        container["startupProbe"] = _probe(path, 10, STARTUP_FAILURES)
        container["readinessProbe"] = _probe(path, 10, 3)
        container["livenessProbe"] = _probe(path, 30, 5)
    return container


def _pod_spec(spec: ServiceSpec, container: dict[str, Any], config: bool) -> dict[str, Any]:
    volumes: list[dict[str, Any]] = [
        {
            "name": "model-cache",
            "persistentVolumeClaim": {"claimName": f"{spec.name}-model-cache"},
        },
        {"name": "shm", "emptyDir": {"medium": "Memory"}},
    ]
    if config:
        volumes.append({"name": "config", "configMap": {"name": f"{spec.name}-engine-config"}})
        container["volumeMounts"].append({"name": "config", "mountPath": "/config"})
    return {
        "nodeSelector": {"llmplan.io/gpu": spec.gpu},
        "containers": [container],
        "volumes": volumes,
    }


def _deployment(spec: ServiceSpec) -> tuple[dict[str, Any], dict[str, str]]:
    table = table_for(spec.family)
    paths = Paths(f"/config/{EXTRA_CONFIG_FILE}", f"{CACHE_MOUNT}/{{name}}.gguf")
    run = launch(spec, str(table.container_port), paths=paths)
    container = _container(spec, run.argv, serving=True)
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "labels": _labels(spec)},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": _labels(spec)},
            "template": {
                "metadata": {"labels": _labels(spec)},
                "spec": _pod_spec(spec, container, bool(run.files)),
            },
        },
    }
    return manifest, run.files


def _shell_words(argv: list[str]) -> str:
    return " ".join(shlex.quote(t) for t in argv)


def _group_commands(spec: ServiceSpec) -> tuple[list[str], list[str]]:
    """Leader and worker commands of a multi-node replica (LWS sets the variables)."""
    table = table_for(spec.family)
    port = str(table.container_port)
    nodes = spec.nodes_per_replica
    if spec.family == "vllm":
        role = NodeRole(nodes, "0", "$(LWS_LEADER_ADDRESS)")
        serve = launch(spec, port, role).argv
        leader = ["ray", "start", "--head", f"--port={RAY_PORT}"]
        worker = ["ray", "start", "--block", f"--address=$(LWS_LEADER_ADDRESS):{RAY_PORT}"]
        return (
            ["/bin/sh", "-c", f"{_shell_words(leader)} && {_shell_words(serve)}"],
            ["/bin/sh", "-c", _shell_words(worker)],
        )
    address = f"$(LWS_LEADER_ADDRESS):{DIST_INIT_PORT}"
    leader = launch(spec, port, NodeRole(nodes, "0", address)).argv
    worker = launch(spec, port, NodeRole(nodes, "$(LWS_WORKER_INDEX)", address)).argv
    return leader, worker


def _leader_worker_set(spec: ServiceSpec) -> dict[str, Any]:
    leader_cmd, worker_cmd = _group_commands(spec)
    labels = _labels(spec)
    return {
        "apiVersion": LWS_API,
        "kind": "LeaderWorkerSet",
        "metadata": {"name": spec.name, "labels": labels},
        "spec": {
            "replicas": spec.replicas,
            "leaderWorkerTemplate": {
                "size": spec.nodes_per_replica,
                "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {
                    "metadata": {"labels": {**labels, "role": "leader"}},
                    "spec": _pod_spec(spec, _container(spec, leader_cmd, True), False),
                },
                "workerTemplate": {
                    "metadata": {"labels": {**labels, "role": "worker"}},
                    "spec": _pod_spec(spec, _container(spec, worker_cmd, False), False),
                },
            },
        },
    }


def _service(spec: ServiceSpec, multi_node: bool) -> dict[str, Any]:
    port = table_for(spec.family).container_port
    selector = {**_labels(spec), "role": "leader"} if multi_node else _labels(spec)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": spec.name, "labels": _labels(spec)},
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": port, "targetPort": "http"}],
        },
    }


def metric_name(spec: ServiceSpec) -> str | None:
    """The running-requests series as the metrics adapter exposes it (``:`` -> ``_``),
    None when the engine exports no request metrics."""
    metrics = table_for(spec.family).metrics
    return None if metrics is None else metrics.running.replace(":", "_")


def _hpa(spec: ServiceSpec, multi_node: bool, metric: str) -> dict[str, Any]:
    target = (
        {"apiVersion": LWS_API, "kind": "LeaderWorkerSet", "name": spec.name}
        if multi_node
        else {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name}
    )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": spec.name, "labels": _labels(spec)},
        "spec": {
            "scaleTargetRef": target,
            "minReplicas": spec.replicas,
            "maxReplicas": spec.max_replicas,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": metric},
                        "target": {
                            "type": "AverageValue",
                            "averageValue": str(spec.running_per_replica),
                        },
                    },
                }
            ],
        },
    }


def _pvc(spec: ServiceSpec) -> dict[str, Any]:
    size = max(1, math.ceil(spec.checkpoint_gib * CACHE_HEADROOM))
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": f"{spec.name}-model-cache", "labels": _labels(spec)},
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": f"{size}Gi"}},
        },
    }


def _config_map(spec: ServiceSpec, files: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{spec.name}-engine-config", "labels": _labels(spec)},
        "data": files,
    }


def manifests(spec: ServiceSpec) -> dict[str, dict[str, Any]]:
    """The manifests of ``spec`` by file name (kind in the name)."""
    multi = spec.nodes_per_replica > 1
    out: dict[str, dict[str, Any]] = {}
    if multi:
        out[f"{spec.name}-leaderworkerset.yaml"] = _leader_worker_set(spec)
    else:
        workload, files = _deployment(spec)
        out[f"{spec.name}-deployment.yaml"] = workload
        if files:
            out[f"{spec.name}-configmap.yaml"] = _config_map(spec, files)
    out[f"{spec.name}-service.yaml"] = _service(spec, multi)
    out[f"{spec.name}-pvc.yaml"] = _pvc(spec)
    metric = metric_name(spec)
    if metric is not None:
        out[f"{spec.name}-hpa.yaml"] = _hpa(spec, multi, metric)
    return out


def kubernetes_files(spec: ServiceSpec) -> dict[str, str]:
    """The manifests as YAML files under ``kubernetes/``."""
    return {
        f"kubernetes/{name}": yaml.safe_dump(body, sort_keys=False, width=100)
        for name, body in manifests(spec).items()
    }
