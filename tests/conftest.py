"""Shared fixtures and helpers for the llmplan test suite."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from llmplan.catalog.loader import Catalog, bundled_catalog
from llmplan.deployment import Deployment

# Property tests: a few dozen examples each keeps the whole suite well under a minute.
settings.register_profile(
    "llmplan",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# A longer hunt on demand: pytest --hypothesis-profile=thorough
settings.register_profile("thorough", parent=settings.get_profile("llmplan"), max_examples=600)
settings.load_profile("llmplan")


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return bundled_catalog()


def deploy(
    model: str,
    gpu: str,
    *,
    precision: str | None = None,
    kv_precision: str | None = None,
    engine: str = "vllm",
    tp: int = 1,
    pp: int = 1,
) -> Deployment:
    """A Deployment from catalog names (the bundled catalog)."""
    return Deployment.from_names(
        bundled_catalog(),
        model=model,
        gpu=gpu,
        precision=precision,
        kv_precision=kv_precision,
        engine=engine,
        tp=tp,
        pp=pp,
    )
