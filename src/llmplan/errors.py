"""The whole llmplan exception tree.

Every error a user can cause derives from :class:`LlmplanError` and from the matching
built-in, so callers may catch either::

    LlmplanError
    ├── InputError (ValueError)          bad value for a named field
    │   ├── UnknownNameError (KeyError)  unknown or ambiguous catalog id
    │   └── ConfigurationError           parameters that cannot work together
    ├── CatalogError (ValueError)        a catalog or data file that fails validation
    ├── DoesNotFitError (ValueError)     a model that does not fit the chosen hardware
    └── MissingDependencyError (ImportError) an optional library a feature needs

The CLI turns these into one line on stderr and exit code 2; the API into HTTP 422.
Messages name the field and what is allowed.
"""

from __future__ import annotations


class LlmplanError(Exception):
    """Base of every error llmplan raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: tuple[tuple[str | None, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        #: Every fault found, as (field, message), when there are several (else empty).
        self.details = details

    def __str__(self) -> str:
        if self.field and not self.message.startswith(self.field):
            return f"{self.field}: {self.message}"
        return self.message


class InputError(LlmplanError, ValueError):
    """A value given by the user is out of range or of the wrong kind."""


class UnknownNameError(InputError, KeyError):
    """A name that is not in a catalog, or that matches several entries."""

    def __str__(self) -> str:  # KeyError would quote the message
        return LlmplanError.__str__(self)


class ConfigurationError(InputError):
    """Parameters that are each valid but cannot work together (e.g. tp not dividing heads)."""


class CatalogError(LlmplanError, ValueError):
    """A catalog file (bundled or user-supplied) that is malformed or fails validation."""


class DoesNotFitError(LlmplanError, ValueError):
    """The model, cache and overhead do not fit in the memory of the chosen GPUs."""


class MissingDependencyError(LlmplanError, ImportError):
    """An optional library a feature needs is not installed (e.g. pandas for ``to_frame``)."""
