"""The errors the store raises (an edge layer: the core never sees them)::

    StoreError
    ├── NotFoundError (LookupError)   no scenario, version or plan result with that id
    └── VersionConflictError          the scenario changed since the version the caller read

The API turns them into HTTP 404 and 409.
"""

from __future__ import annotations

from llmplan.errors import LlmplanError


class StoreError(LlmplanError):
    """Base of the errors raised on purpose by :mod:`llmplan.store`."""


class NotFoundError(StoreError, LookupError):
    """No record with that id (or no such version of it)."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} '{key}'")
        self.kind = kind
        self.key = key


class VersionConflictError(StoreError):
    """An update or delete expected one version of a scenario, but another is current."""

    def __init__(self, scenario_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"scenario '{scenario_id}' is at version {current}, not {expected}: it was changed "
            f"since you read it; read it again and reapply your change"
        )
        self.scenario_id = scenario_id
        self.expected = expected
        self.current = current
