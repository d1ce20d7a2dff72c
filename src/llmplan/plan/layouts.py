"""Replica layouts the planner searches: tensor x pipeline parallel, and for
mixture-of-experts models on engines that run them, expert parallelism with and without
DP attention.

For every ``tp x pp`` layout of :func:`llmplan.plan.search.parallel_layouts`, a MoE model
on an engine listed in ``data/expert-parallel.yaml`` (``engines``) also gets the
expert-parallel variant ``ep = tp`` (every engine listed allows it), with DP attention
where the engine runs it. ``ep`` below ``tp`` (TensorRT-LLM's hybrid expert/tensor
parallelism) is searched only where ``ep = tp`` cannot be (the routed experts do not
divide by ``tp``), as the largest degree that can: its experts are tensor-split over
``tp / ep`` GPUs which all need each token, so it moves ``tp / ep`` times the all-to-all
bytes for the same expert weights per GPU and is never faster than ``ep = tp``
(:func:`llmplan.perf.expert_parallel.dispatch_combine_bytes`; a test checks it). Expert
parallelism *without* DP attention is searched too, beside the DP-attention variant: it
reads the same weights and runs the same FLOPs as tensor parallelism and adds the load
imbalance, but each GPU copies only the routed tokens of its own experts where tensor
parallelism copies every routed token on every GPU
(:func:`llmplan.perf.step.moe_activation_bytes`), so at large batches it can be the
faster of the two (``tests/test_plan_layouts.py`` checks both). DP attention without expert
parallelism is not searched either (the routed experts then gather every token, one
all-reduce per MoE layer, which the engines' recipes do not use at scale).

A layout's *family* (plain, or ``ep = tp / k`` with or without DP attention) is what the
search counts fitting GPU counts by: every family gets its own
:data:`~llmplan.plan.search.FITTING_DEGREES_TRIED` counts, so adding the expert layouts
never removes a plain design the search used to price (the chosen design never costs more).
"""

from __future__ import annotations

from dataclasses import dataclass

from llmplan.catalog.expert_parallel import expert_support_of
from llmplan.catalog.schema import EngineProfile, ModelSpec
from llmplan.deployment import Deployment


@dataclass(frozen=True)
class Layout:
    """One replica's parallel layout: ``tp x pp`` GPUs, routed experts over ``ep``
    groups of the ``tp`` GPUs, attention data-parallel or not."""

    tp: int
    pp: int = 1
    ep: int = 1
    dp_attention: bool = False

    @property
    def family(self) -> tuple[int, bool]:
        """(``tp / ep`` when expert-parallel else 0, DP attention): the search counts
        fitting GPU counts per family."""
        return (self.tp // self.ep if self.ep > 1 else 0, self.dp_attention)

    @property
    def is_plain(self) -> bool:
        return self.ep == 1 and not self.dp_attention


def layout_of(dep: Deployment) -> Layout:
    return Layout(dep.tp, dep.pp, dep.ep, dep.dp_attention)


def layout_name(dep: Deployment) -> str:
    """The expert layout in words ("EP8 + DP attention"), empty for a plain layout."""
    parts = [f"EP{dep.ep}"] if dep.ep > 1 else []
    if dep.dp_attention:
        parts.append("DP attention")
    return " + ".join(parts)


def expert_layouts(model: ModelSpec, engine: EngineProfile, tp: int, pp: int) -> list[Layout]:
    """The expert-parallel variants of ``tp x pp`` searched for ``model`` on ``engine``:
    the largest degree the engine allows that divides the routed experts (``ep = tp``
    where it can; module docstring), with DP attention where the engine runs it, then
    without; none for a dense model or another engine."""
    moe = model.moe
    support = expert_support_of(engine)
    if moe is None or support is None:
        return []
    degrees = [ep for ep in support.ep_degrees(tp) if moe.num_experts % ep == 0]
    if not degrees:
        return []
    variants = (True, False) if support.dp_attention else (False,)
    return [Layout(tp, pp, degrees[0], dp_attention) for dp_attention in variants]


def layouts_for(
    model: ModelSpec, engine: EngineProfile, plain: list[tuple[int, int]], *, expert: bool = True
) -> list[Layout]:
    """Every layout searched, in the order of ``plain`` (rising GPU count), each plain
    ``(tp, pp)`` followed by its expert-parallel variants (none when not ``expert``)."""
    out: list[Layout] = []
    for tp, pp in plain:
        out.append(Layout(tp, pp))
        out += expert_layouts(model, engine, tp, pp) if expert else []
    return out
