"""A 200-point sweep planned in local processes and as Ray tasks (run on demand, not in CI).

Usage: python benchmarks/bench_sweep.py [points] [workers] | --hyperscale

Plans a seeded random sample of ``points`` variants of the bundled chat-assistant example
(electricity price, volume, growth and discount rate drawn in ranges) twice: in ``workers``
local processes, then as Ray tasks on a local Ray cluster started in this process with
one CPU per core. Prints the wall time and points per second of each run and
whether the two tables are identical (they must be: a point's row depends only on its
scenario and the sweep's seed). Needs ``pip install 'llmplan[ray]'``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from llmplan.scenario import bundled_examples
from llmplan.sweep.points import parse_vary, sweep_points
from llmplan.sweep.run import SweepSettings, run_sweep

VARY = (
    "finance.electricity_usd_per_kwh=0.05..0.40",
    "workloads.chat.requests_per_day=2000..400000",
    "workloads.chat.growth_per_year=0..2",
    "finance.discount_rate_per_year=0.03..0.15",
)
MONTE_CARLO_SAMPLES = 50


def _settings() -> SweepSettings:
    import yaml

    text = bundled_examples()["chat-assistant"].read_text(encoding="utf-8")
    return SweepSettings(yaml.safe_load(text), seed=0, monte_carlo_samples=MONTE_CARLO_SAMPLES)


def _timed(label: str, run: object, points: int) -> tuple[list[dict[str, object]], float]:
    start = time.perf_counter()
    rows = run()  # type: ignore[operator]
    wall = time.perf_counter() - start
    print(f"{label:28s} {points} points in {wall:7.1f} s  ({points / wall:5.2f} points/s)")
    return rows, wall


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    settings = _settings()
    points = sweep_points([parse_vary(v) for v in VARY], samples=count, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        local, _ = _timed(
            f"local, {workers} processes",
            lambda: run_sweep(settings, points, Path(folder, "local.jsonl"), workers=workers),
            len(points),
        )
        on_ray, _ = _timed(
            "Ray, local cluster",
            lambda: run_sweep(settings, points, Path(folder, "ray.jsonl"), ray_address="local"),
            len(points),
        )
    print("identical rows:", local == on_ray)




def hyperscale() -> None:
    """Fleet-scale points: the chat assistant's volume raised until its on-premise fleet
    needs 10,000-100,000 GPUs; prints GPUs, power at the wall and seconds per point."""
    base = _settings()
    scenario = dict(base.scenario)
    scenario["constraints"] = {**scenario["constraints"], "allowed_options": ["on_premise"]}
    settings = SweepSettings(scenario, seed=0, monte_carlo_samples=MONTE_CARLO_SAMPLES)
    points = sweep_points(
        [parse_vary("workloads.chat.requests_per_day=600000000,1500000000,5000000000")],
        samples=None,
        seed=0,
    )
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        rows = run_sweep(settings, points, Path(folder, "fleet.jsonl"))
        wall = time.perf_counter() - start
    for row in rows:
        power = row.get("power_kw")
        mw = "-" if power is None else f"{float(str(power)) / 1000:,.1f} MW"
        print(
            f"requests/day {row['workloads.chat.requests_per_day']:>12,}  {row.get('recommended')}"
            f"  GPUs {row.get('gpus')}  power {mw}  ({row.get('designs')})"
        )
    print(f"{len(rows)} fleet-scale points in {wall:.1f} s ({wall / len(rows):.1f} s per point)")


if __name__ == "__main__":
    hyperscale() if sys.argv[1:2] == ["--hyperscale"] else main()
