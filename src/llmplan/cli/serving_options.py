"""Options of ``llmplan perf`` for prefix caching and speculative decoding."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer

from llmplan.catalog.loader import Catalog
from llmplan.deployment import Deployment
from llmplan.perf.load import Load
from llmplan.perf.speculative import speculation_of

PrefixHitOpt = Annotated[
    float,
    typer.Option(help="Share of prompt tokens served from the prefix cache (0 <= F < 1)."),
]
SpecMethodOpt = Annotated[
    str | None,
    typer.Option(help="Speculative decoding: draft, eagle, mtp or ngram (default: none)."),
]
SpecTokensOpt = Annotated[
    int | None, typer.Option(help="Tokens drafted per step, K (default per method).")
]
SpecAcceptanceOpt = Annotated[
    float | None,
    typer.Option(help="Per-token acceptance probability of a draft (default per method)."),
]
SpecDraftModelOpt = Annotated[
    str | None,
    typer.Option(help="Draft model for --spec-method draft (default: a small catalog "
    "model with the same vocabulary)."),
]  # fmt: skip


def load_with_features(
    load: Load,
    deployment: Deployment,
    catalog: Catalog,
    prefix_hit: float,
    spec_options: tuple[str | None, int | None, float | None, str | None],
) -> Load:
    """``load`` with a prefix-cache hit share and speculative decoding
    (``spec_options``: method, drafted tokens, acceptance, draft model name)."""
    method, tokens, acceptance, draft_name = spec_options
    draft = None
    if draft_name is not None:
        draft = catalog.models.get(draft_name, field_name="spec_draft_model")
    spec = speculation_of(
        method, tokens, acceptance, draft, target=deployment.model, candidates=catalog.models
    )
    return replace(load, prefix_hit=prefix_hit, speculative=spec)


def feature_rows(load: Load) -> list[tuple[str, str]]:
    """Table rows naming the prefix-cache share and speculative decoding, when used."""
    rows = []
    if load.prefix_hit:
        rows.append(("prefix cache hit", f"{load.prefix_hit:.0%} of prompt tokens"))
    spec = load.speculative
    if spec is not None:
        draft = f", draft {spec.draft_model.id}" if spec.draft_model is not None else ""
        rows.append(
            (
                "speculative decoding",
                f"{spec.method.value}, K={spec.draft_tokens}, acceptance {spec.acceptance:.2f}"
                f"{draft}: {spec.tokens_per_step:.2f} tokens/step",
            )
        )
    return rows
