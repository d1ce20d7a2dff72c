"""Planning the points of a sweep, locally or on Ray, with a checkpoint to resume from.

Each point is planned exactly as ``llmplan plan --json`` would plan its scenario, with
the sweep's seed for every point (common random numbers: points differ by what was
varied, not by the draws). A point's result depends on nothing but its scenario and the
settings, so local processes and Ray tasks give identical rows.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmplan.errors import InputError, LlmplanError
from llmplan.sweep.output import Checkpoint
from llmplan.sweep.points import Point, apply_point, point_label

Progress = Callable[[int, int], None]
"""Called with (points done, points in all)."""


@dataclass(frozen=True)
class SweepSettings:
    """What every point shares: the base scenario (as data), the Monte Carlo seed and
    draws per point, an optional calibration profile file, and the user's folder of
    catalog additions (``$LLMPLAN_HOME``; None: the bundled catalogs only)."""

    scenario: dict[str, Any]
    seed: int = 0
    monte_carlo_samples: int = 100
    calibration: str | None = None
    home: str | None = None

    def signature(self, points: list[Point]) -> str:
        """A hash of the settings and the points: a checkpoint of another sweep is refused."""
        text = json.dumps(
            [self.scenario, self.seed, self.monte_carlo_samples, self.calibration,
             [point_label(p) for p in points]],
            sort_keys=True, default=str,
        )  # fmt: skip
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_points(settings: SweepSettings, points: list[Point]) -> None:
    """Validate every point's scenario up front, so a bad value fails before any work
    (InputError naming the varied key)."""
    from llmplan.scenario import scenario_from_data

    for point in points:
        try:
            scenario_from_data(apply_point(settings.scenario, point), "sweep point")
        except LlmplanError as exc:
            keys = ", ".join(point)
            raise InputError(f"point {point_label(point)}: {exc}", field=f"vary ({keys})") from exc


@functools.cache
def _catalogs(calibration: str | None, home: str | None) -> tuple[Any, Any]:
    """The catalog (calibrated if asked) and price book, loaded once per process."""
    from llmplan.catalog.calibration_file import load_calibration
    from llmplan.catalog.loader import load_catalog
    from llmplan.prices.loader import load_prices

    folder = Path(home) if home is not None else None
    catalog = load_catalog(folder)
    if calibration is not None:
        catalog = load_calibration(Path(calibration)).apply(catalog)
    return catalog, load_prices(folder)


def evaluate_point(settings: SweepSettings, index: int, point: Point) -> dict[str, Any]:
    """One row: the point's values and the decision columns of its plan (or the reason
    no option could serve it)."""
    from llmplan.plan.payload import plan_payload
    from llmplan.plan.planner import make_plan, plan_context
    from llmplan.scenario import scenario_from_data

    row: dict[str, Any] = {"point": index, **{k: _cell(v) for k, v in point.items()}}
    scenario = scenario_from_data(apply_point(settings.scenario, point), "sweep point")
    catalog, prices = _catalogs(settings.calibration, settings.home)
    try:
        plan = make_plan(
            scenario,
            catalog,
            prices,
            seed=settings.seed,
            monte_carlo_samples=settings.monte_carlo_samples,
        )
    except LlmplanError as exc:
        return {**row, "status": "error", "message": str(exc)}
    payload = plan_payload(plan, plan_context(scenario, catalog, prices))
    return {**row, **decision_columns(payload)}


def _cell(value: Any) -> Any:
    """A varied value as a table cell: lists and mappings as JSON text."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def decision_columns(payload: dict[str, Any]) -> dict[str, Any]:
    """The columns a portfolio comparison needs, read off a plan's JSON payload."""
    included = sorted((o for o in payload["options"] if o["included"]), key=lambda o: o["npv_usd"])
    columns: dict[str, Any] = {
        f"npv_usd.{o['option']}": o.get("npv_usd") for o in payload["options"]
    }
    best = payload["recommended"]
    if best is None or not included:
        reasons = [o["excluded_reason"] for o in payload["options"] if o["excluded_reason"]]
        message = reasons[0] if reasons else "no option"
        return {"status": "no_option", "message": message, **columns}
    chosen = next(o for o in included if o["option"] == best["option"])
    runner = next((o for o in included if o["option"] != best["option"]), None)
    mc = payload.get("sensitivity", {}).get("monte_carlo") or {}
    choices = chosen.get("choices") or []
    return {
        "status": "ok",
        "message": "",
        "recommended": best["option"],
        "recommended_npv_usd": best["npv_usd"],
        "recommended_tco_usd": best["tco_usd"],
        "recommended_usd_per_mtok": best.get("usd_per_mtok"),
        "runner_up": runner["option"] if runner else None,
        "runner_up_npv_usd": runner["npv_usd"] if runner else None,
        "margin_pct": 100 * (runner["npv_usd"] / best["npv_usd"] - 1)
        if runner and best["npv_usd"] > 0
        else None,
        "win_share": (mc.get("probability_cheapest") or {}).get(best["option"]),
        "gpus": sum(int(c.get("gpus") or 0) for c in choices),
        "power_kw": chosen.get("power_kw"),
        "designs": "; ".join(_design_label(c) for c in choices if c.get("gpu")),
        **columns,
    }


def _design_label(choice: dict[str, Any]) -> str:
    layout = f"tp{choice.get('tp', 1)}" + (f" pp{choice['pp']}" if choice.get("pp", 1) > 1 else "")
    return (
        f"{choice.get('workload', '')}: {choice['gpu']} {choice.get('precision', '')} "
        f"{choice.get('engine', '')} {layout} x{choice.get('replicas', 1)}"
    )


def run_sweep(
    settings: SweepSettings,
    points: list[Point],
    checkpoint_path: Path,
    *,
    workers: int = 1,
    ray_address: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Plan every point not already in the checkpoint, appending each finished row to
    it; the rows of all points, in point order."""
    checkpoint = Checkpoint.open(checkpoint_path, settings.signature(points))
    todo = [(i, p) for i, p in enumerate(points) if i not in checkpoint.rows]
    done = len(points) - len(todo)
    if progress is not None:
        progress(done, len(points))
    if ray_address is not None:
        results = _on_ray(settings, todo, ray_address)
    elif workers > 1 and len(todo) > 1:
        results = _in_processes(settings, todo, workers)
    else:
        results = (evaluate_point(settings, i, p) for i, p in todo)
    for row in results:
        checkpoint.append(row)
        done += 1
        if progress is not None:
            progress(done, len(points))
    return [checkpoint.rows[i] for i in range(len(points))]


def _in_processes(
    settings: SweepSettings, todo: list[tuple[int, Point]], workers: int
) -> Iterator[dict[str, Any]]:
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(evaluate_point, settings, i, p) for i, p in todo]
        for future in as_completed(futures):
            yield future.result()


def _on_ray(
    settings: SweepSettings, todo: list[tuple[int, Point]], address: str
) -> Iterable[dict[str, Any]]:
    """The points as Ray tasks on the cluster at ``address`` (``local`` starts one in
    this process; ``auto`` joins the machine's cluster; ``ray://host:port`` a remote)."""
    try:
        import ray
    except ImportError as exc:
        raise InputError("Ray is not installed: pip install 'llmplan[ray]'", field="ray") from exc
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=None if address == "local" else address,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    try:
        task = ray.remote(evaluate_point)
        shared = ray.put(settings)
        pending = [task.remote(shared, i, p) for i, p in todo]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        if started_here:
            ray.shutdown()
