"""Files for hosts without an orchestrator: launch scripts, docker-compose, systemd.

Replicas are packed onto hosts of ``gpus_per_node`` GPUs: replica ``i`` runs on host
``i // per_host`` with GPUs ``(i % per_host) * g ... + g - 1`` (``g`` GPUs per replica)
and serves on port ``BASE_PORT + i % per_host``. Each host gets its own compose file
or folder of systemd units.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import yaml

from llmplan.deploy.engines import EXTRA_CONFIG_FILE, Launch, Paths, launch, table_for
from llmplan.deploy.service import ServiceSpec
from llmplan.errors import ConfigurationError

BASE_PORT = 8000
"""Host port of the first replica on a host; the next replicas count up from it."""

HEALTH_INTERVAL_S = 30
HEALTH_START_PERIOD_S = 900
"""Grace period for loading the weights and capturing CUDA graphs before health
checks count (a 70B checkpoint reads in minutes from local disk)."""

CONFIG_MOUNT = "/config"
CONTAINER_CACHE = "/root/.cache/huggingface"
"""The model-cache volume inside containers (Hugging Face's default cache)."""
HOST_CACHE = "/var/lib/llmplan/model-cache"
"""The model cache of systemd hosts (``HF_HOME``)."""
INSTALL_PREFIX = "/opt/llmplan/venv/bin"
"""Where systemd units expect the engine's virtual environment (the operator's choice)."""

_VARIABLE = re.compile(r"^\$\{?[A-Z_][A-Z0-9_]*(:-[^}]*)?\}?$")


@dataclass(frozen=True)
class Placement:
    """Replica ``index`` on ``host`` with ``gpus``, serving on ``port``."""

    index: int
    host: int
    gpus: tuple[int, ...]
    port: int


def placements(spec: ServiceSpec) -> list[Placement]:
    """Where each replica runs; ConfigurationError for a replica wider than a host."""
    per_replica = spec.gpus_per_replica
    if spec.nodes_per_replica > 1:
        raise ConfigurationError(
            f"one replica spans {spec.nodes_per_replica} nodes ({per_replica} GPUs); "
            "use --target kubernetes (LeaderWorkerSet) for multi-node replicas",
            field="target",
        )
    per_host = max(1, spec.gpus_per_node // per_replica)
    out = []
    for i in range(spec.replicas):
        slot = i % per_host
        gpus = tuple(range(slot * per_replica, (slot + 1) * per_replica))
        out.append(Placement(i, i // per_host, gpus, BASE_PORT + slot))
    return out


def shell_join(argv: list[str]) -> str:
    """A readable shell command: one option per line; ``$VAR`` references unquoted."""
    parts = [f'"{tok}"' if _VARIABLE.match(tok) else shlex.quote(tok) for tok in argv]
    lines: list[str] = []
    for tok in parts:
        if tok.startswith("--") or not lines:
            lines.append(tok)
        else:
            lines[-1] += f" {tok}"
    return " \\\n    ".join(lines)


def _header(spec: ServiceSpec, what: str) -> str:
    table = table_for(spec.family)
    lines = [
        f"{what} for workload '{spec.workload}' ({spec.option}): {spec.replicas} x "
        f"{spec.gpus_per_replica} {spec.gpu}, {spec.precision}, {spec.engine.id}"
        + (f" tp{spec.tp}" if spec.tp > 1 else "")
        + (f" pp{spec.pp}" if spec.pp > 1 else "")
        + (f" ep{spec.ep}" if spec.ep > 1 else "")
        + (" dp-attention" if spec.dp_attention else ""),
        f"Written by `llmplan deploy`; options from {spec.family} {table.version}.",
    ]
    if spec.split:
        lines.append(
            f"NOTE: the plan chose disaggregated units of {spec.split} prefill:decode GPUs; "
            "these commands start aggregated replicas of the same layout (the engine's "
            "prefill/decode disaggregation is not generated yet; set it up by hand)."
        )
    if not spec.predicted:
        lines.append(
            f"NOTE: the plan predicted another engine; {spec.engine.id}'s own limits are used."
        )
    return "".join(f"# {line}\n" for line in lines)


def launch_script(spec: ServiceSpec) -> dict[str, str]:
    """``launch-<name>.sh`` (one replica; GPUs from the environment) and its files."""
    gguf = f"${{MODEL_FILE:-models/{spec.name}.gguf}}"
    run = launch(spec, f"${{PORT:-{BASE_PORT}}}", paths=Paths(gguf=gguf))
    body = (
        "#!/usr/bin/env bash\n"
        + _header(spec, "Launch one replica")
        + "# Start one process per replica, each on its own GPUs, e.g.\n"
        + f"#   {_visible(spec)}={','.join(map(str, range(spec.gpus_per_replica)))} "
        + f"PORT={BASE_PORT} ./launch-{spec.name}.sh\n"
        + "".join(f"# {note}\n" for note in run.notes)
        + "set -euo pipefail\n"
        + 'cd "$(dirname "$0")"\n'
        + f"exec {shell_join(run.argv)}\n"
    )
    return {f"launch-{spec.name}.sh": body, **run.files}


def _visible(spec: ServiceSpec) -> str:
    return "CUDA_VISIBLE_DEVICES" if spec.gpu_vendor == "NVIDIA" else "HIP_VISIBLE_DEVICES"


def _image(spec: ServiceSpec) -> str:
    table = table_for(spec.family)
    image = table.rocm_image if spec.gpu_vendor == "AMD" and table.rocm_image else table.image
    return f"{image}:${{ENGINE_IMAGE_TAG:?set ENGINE_IMAGE_TAG to the engine's image tag}}"


def _compose_service(spec: ServiceSpec, place: Placement, run: Launch) -> dict[str, object]:
    table = table_for(spec.family)
    port = table.container_port
    volumes = [f"${{MODEL_CACHE:-./model-cache}}:{CONTAINER_CACHE}"]
    volumes += [f"./{name}:{CONFIG_MOUNT}/{name}:ro" for name in run.files]
    service: dict[str, object] = {
        "image": _image(spec),
        "entrypoint": run.argv,
        "ports": [f"{place.port}:{port}"],
        "ipc": "host",
        "environment": {"HF_TOKEN": "${HF_TOKEN:-}"},
        "volumes": volumes,
        "healthcheck": {
            "test": ["CMD-SHELL", f"curl -fsS http://localhost:{port}{table.health_path}"],
            "interval": f"{HEALTH_INTERVAL_S}s",
            "timeout": "5s",
            "retries": 3,
            "start_period": f"{HEALTH_START_PERIOD_S}s",
        },
        "restart": "unless-stopped",
    }
    ids = [str(g) for g in place.gpus]
    if spec.gpu_vendor == "NVIDIA":
        device = {"driver": "nvidia", "device_ids": ids, "capabilities": ["gpu"]}
        service["deploy"] = {"resources": {"reservations": {"devices": [device]}}}
    else:
        service["devices"] = ["/dev/kfd", "/dev/dri"]
        service["environment"] = {"HF_TOKEN": "${HF_TOKEN:-}", _visible(spec): ",".join(ids)}
    return service


def compose_files(spec: ServiceSpec) -> dict[str, str]:
    """One docker-compose file per host, one service per replica, pinned to its GPUs."""
    table = table_for(spec.family)
    paths = Paths(f"{CONFIG_MOUNT}/{EXTRA_CONFIG_FILE}", f"{CONTAINER_CACHE}/{{name}}.gguf")
    run = launch(spec, str(table.container_port), paths=paths)
    places = placements(spec)
    hosts = sorted({p.host for p in places})
    files = dict(run.files)
    for host in hosts:
        services = {
            f"{spec.name}-{p.index}": _compose_service(spec, p, run)
            for p in places
            if p.host == host
        }
        name = "docker-compose.yaml" if len(hosts) == 1 else f"docker-compose-host-{host}.yaml"
        text = yaml.safe_dump({"services": services}, sort_keys=False, width=100)
        files[name] = _header(spec, f"Compose file (host {host})") + text
    return files


def _systemd_word(token: str) -> str:
    escaped = token.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@%+=:,./-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unit(spec: ServiceSpec, place: Placement, run: Launch, health: str) -> str:
    command = [f"{INSTALL_PREFIX}/{run.argv[0].rsplit('/', 1)[-1]}", *run.argv[1:]]
    wait = (
        f"/bin/sh -c 'for i in $$(seq 1 {HEALTH_START_PERIOD_S // 10}); do "
        f"curl -fsS {health} >/dev/null && exit 0; sleep 10; done; exit 1'"
    )
    return (
        _header(spec, f"systemd unit of replica {place.index}")
        + "[Unit]\n"
        + f"Description=llmplan {spec.workload} replica {place.index} ({spec.engine.id})\n"
        + "After=network-online.target\nWants=network-online.target\n\n"
        + "[Service]\nType=simple\n"
        + f"Environment={_visible(spec)}={','.join(map(str, place.gpus))}\n"
        + f"Environment=HF_HOME={HOST_CACHE}\n"
        + f"EnvironmentFile=-/etc/llmplan/{spec.name}.env\n"
        + "WorkingDirectory=/etc/llmplan\n"
        + "ExecStart="
        + " ".join(_systemd_word(t) for t in command)
        + "\n"
        + f"ExecStartPost={wait}\n"
        + f"TimeoutStartSec={HEALTH_START_PERIOD_S + 60}\n"
        + "Restart=on-failure\nRestartSec=30\n\n"
        + "[Install]\nWantedBy=multi-user.target\n"
    )


def systemd_files(spec: ServiceSpec) -> dict[str, str]:
    """Per host: a unit per replica pinned to its GPUs, and a health-check timer that
    restarts a replica whose health endpoint stops answering."""
    table = table_for(spec.family)
    files: dict[str, str] = {}
    places = placements(spec)
    for host in sorted({p.host for p in places}):
        folder = f"systemd/host-{host}"
        checks = []
        for place in (p for p in places if p.host == host):
            paths = Paths(f"/etc/llmplan/{EXTRA_CONFIG_FILE}", f"{HOST_CACHE}/{{name}}.gguf")
            run = launch(spec, str(place.port), paths=paths)
            files.update({f"{folder}/{k}": v for k, v in run.files.items()})
            health = f"http://127.0.0.1:{place.port}{table.health_path}"
            unit = f"llmplan-{spec.name}-{place.index}.service"
            files[f"{folder}/{unit}"] = _unit(spec, place, run, health)
            checks.append(f"curl -fsS -m 10 {health} >/dev/null || systemctl restart {unit}")
        files[f"{folder}/llmplan-{spec.name}-health.service"] = (
            _header(spec, "Health check")
            + "[Unit]\nDescription=llmplan health check of the replicas\n\n"
            + "[Service]\nType=oneshot\n"
            + "".join(f"ExecStart=/bin/sh -c '{c}'\n" for c in checks)
        )
        files[f"{folder}/llmplan-{spec.name}-health.timer"] = (
            "[Unit]\nDescription=Run the llmplan health check\n\n"
            + f"[Timer]\nOnBootSec={HEALTH_START_PERIOD_S}\nOnUnitActiveSec={HEALTH_INTERVAL_S}\n\n"
            + "[Install]\nWantedBy=timers.target\n"
        )
    return files
