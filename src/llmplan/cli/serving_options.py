"""Options of ``llmplan perf`` and ``simulate`` for prefix caching, speculative decoding
and disaggregated prefill/decode."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from llmplan.catalog.loader import Catalog
from llmplan.deployment import Deployment

if TYPE_CHECKING:  # the performance model is imported when used (`llmplan memory` needs none)
    from llmplan.perf.disagg import Disaggregation
    from llmplan.perf.disagg_serving import DisaggResult
    from llmplan.perf.features import Features
    from llmplan.perf.load import Load

SpecOptions = tuple[str | None, int | None, float | None, str | None]
"""--spec-method, --spec-tokens, --spec-acceptance, --spec-draft-model."""

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


def features_of(
    deployment: Deployment, catalog: Catalog, prefix_hit: float, spec_options: SpecOptions
) -> Features:
    """A prefix-cache hit share and speculative decoding (``spec_options``: method,
    drafted tokens, acceptance, draft model name), checked."""
    from llmplan.perf.features import Features
    from llmplan.perf.prefix import check_prefix_hit
    from llmplan.perf.speculative import speculation_of

    check_prefix_hit(prefix_hit)
    method, tokens, acceptance, draft_name = spec_options
    draft = None
    if draft_name is not None:
        draft = catalog.models.get(draft_name, field_name="spec_draft_model")
    spec = speculation_of(
        method, tokens, acceptance, draft, target=deployment.model, candidates=catalog.models
    )
    return Features(prefix_hit=prefix_hit, spec=spec)


def load_with_features(
    load: Load,
    deployment: Deployment,
    catalog: Catalog,
    prefix_hit: float,
    spec_options: SpecOptions,
) -> Load:
    """``load`` with a prefix-cache hit share and speculative decoding."""
    features = features_of(deployment, catalog, prefix_hit, spec_options)
    return replace(load, prefix_hit=features.prefix_hit, speculative=features.spec)


def feature_rows(load: Load | Features) -> list[tuple[str, str]]:
    """Table rows naming the prefix-cache share and speculative decoding, when used."""
    from llmplan.perf.load import Load

    rows = []
    prefix_hit = load.prefix_hit
    spec = load.speculative if isinstance(load, Load) else load.spec
    if prefix_hit:
        rows.append(("prefix cache hit", f"{prefix_hit:.0%} of prompt tokens"))
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


DisaggregateOpt = Annotated[
    str | None,
    typer.Option(
        help="Disaggregated prefill/decode, P:D GPUs (e.g. 8:16); each pool runs whole "
        "replicas of --tp x --pp, so P and D are multiples of it."
    ),
]
KvTransferLayerwiseOpt = Annotated[
    bool,
    typer.Option(
        "--kv-transfer-layerwise",
        help="With --disaggregate: KV sent layer by layer during the prefill (hidden behind "
        "it) rather than after it.",
    ),
]


PoolTpOpt = Annotated[
    int | None,
    typer.Option(help="With --disaggregate: this pool's tensor-parallel degree (default --tp)."),
]
PoolEpOpt = Annotated[
    int | None,
    typer.Option(help="With --disaggregate: this pool's expert-parallel degree (default --ep)."),
]
PoolDpAttentionOpt = Annotated[
    bool | None,
    typer.Option(
        help="With --disaggregate: this pool's attention data-parallel or not (default "
        "--dp-attention)."
    ),
]
PoolOptions = tuple[int | None, int | None, bool | None]
"""A pool's --POOL-tp, --POOL-ep, --POOL-dp-attention."""


def disaggregation_of(
    text: str | None,
    layerwise: bool,
    prefill: PoolOptions = (None, None, None),
    decode: PoolOptions = (None, None, None),
) -> Disaggregation | None:
    """The split ``--disaggregate`` gives with each pool's own layout (None: an
    aggregated replica)."""
    from llmplan.perf.disagg import split_of
    from llmplan.perf.disagg_layout import PoolLayout

    return split_of(
        text, kv_transfer_layerwise=layerwise, prefill_layout=PoolLayout(*prefill),
        decode_layout=PoolLayout(*decode), flag="--disaggregate",
    )  # fmt: skip


def pool_label(result: DisaggResult, pool: str) -> str:
    """A pool's replica layout, e.g. ``tp=16 ep=16 dp-attention``."""
    dep = result.prefill_dep if pool == "prefill" else result.decode_dep
    label = f"tp={dep.tp}" + (f" pp={dep.pp}" if dep.pp > 1 else "")
    label += f" ep={dep.ep}" if dep.ep > 1 else ""
    return label + (" dp-attention" if dep.dp_attention else "")


def disaggregation_rows(result: DisaggResult) -> list[tuple[str, str]]:
    """Table rows of a disaggregated design: pools, transfer and the binding pool."""
    split = result.split
    when = "during the prefill (layer-wise)" if split.kv_transfer_layerwise else "after the prefill"
    return [
        (
            "prefill pool",
            f"{split.prefill_gpus} GPUs ({result.prefill_replicas} replicas of "
            f"{pool_label(result, 'prefill')}), "
            f"{result.prefill_capacity_requests_per_s:,.2f} requests/s at most, "
            f"{result.prefill_kv_cache_bytes_per_gpu / 2**30:,.1f} GiB KV cache per GPU",
        ),
        (
            "decode pool",
            f"{split.decode_gpus} GPUs ({result.decode_replicas} replicas of "
            f"{pool_label(result, 'decode')}), "
            f"{result.decode_capacity_requests_per_s:,.2f} requests/s at most, "
            f"{result.decode_batch_per_replica:,.1f} of {result.decode_max_batch_per_replica:,} "
            f"sequences per replica, "
            f"{result.decode_kv_cache_bytes_per_gpu / 2**30:,.1f} GiB KV cache per GPU",
        ),
        (
            "KV transfer",
            f"{result.kv_transfer_ms:,.2f} ms per request ({result.kv_transfer_bytes / 1e6:,.1f} "
            f"MB over {result.kv_transfer_link}, {result.kv_transfer_lanes} GPU links in "
            f"parallel, {when})",
        ),
        ("binding pool", result.binding_pool),
        ("output tokens/s per GPU", f"{result.output_tokens_per_s_per_gpu:,.1f}"),
    ]
