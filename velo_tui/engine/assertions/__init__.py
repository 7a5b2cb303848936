"""Assertions of a test spec, checked against a statement's output records and DLQ counts.

Each assertion type is one function registered by name. It runs vectorised DuckDB queries over
the relation that contains the statement's output and returns an `AssertionResult`.
"""

from __future__ import annotations

import difflib
import logging

import duckdb

from velo_tui.engine.assertions import counts, errors, performance, quality, values  # noqa: F401
from velo_tui.engine.assertions.base import (
    COUNT_KEYS,
    METADATA_COLUMNS,
    AssertionContext,
    AssertionResult,
)
from velo_tui.engine.assertions.registry import REGISTRY, AssertionType
from velo_tui.engine.assertions.values import AGGREGATE_FUNCTIONS, OPERATORS
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.spec_model import AssertionSpec, QuerySpec

logger = logging.getLogger(__name__)

#: Every assertion type name, sorted.
ASSERTION_TYPES: list[str] = sorted(REGISTRY)

__all__ = [
    "AGGREGATE_FUNCTIONS",
    "ASSERTION_TYPES",
    "COUNT_KEYS",
    "METADATA_COLUMNS",
    "OPERATORS",
    "AssertionContext",
    "AssertionResult",
    "AssertionType",
    "assertion_type",
    "evaluate",
    "evaluate_all",
    "validate_assertion",
]


def assertion_type(name: str) -> AssertionType | None:
    """Return the registered assertion type called `name`, or `None`."""
    return REGISTRY.get(name)


def validate_assertion(spec: AssertionSpec, location: SourceLocation | None) -> None:
    """Raise `InputError` unless the assertion's type is known and its parameters are valid.

    Unknown keys are not checked here; the spec loader warns about them.
    """
    kind = REGISTRY.get(spec.type) if isinstance(spec.type, str) else None
    if kind is None:
        close = difflib.get_close_matches(str(spec.type), ASSERTION_TYPES, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise InputError(
            f"unknown assertion type {spec.type!r}.{hint} "
            f"Valid types: {', '.join(ASSERTION_TYPES)}.",
            location,
        )
    kind.validate(spec, location)


def evaluate(assertion: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Evaluate one assertion against a statement's output.

    A DuckDB error while evaluating becomes a failed result that carries the error message.
    """
    kind = REGISTRY.get(assertion.type)
    if kind is None:
        return AssertionResult(
            type=str(assertion.type),
            passed=False,
            message=(
                f"Unknown assertion type {assertion.type!r}; "
                f"valid types: {', '.join(ASSERTION_TYPES)}."
            ),
        )
    try:
        return kind.evaluate(assertion, ctx)
    except duckdb.Error as exc:
        logger.error(
            "assertion %s (spec line %s) failed to evaluate over %s: %s",
            assertion.type,
            assertion.line,
            ctx.relation,
            exc,
        )
        return AssertionResult(
            type=assertion.type,
            passed=False,
            message=f"The assertion could not be evaluated: {exc}",
        )


def evaluate_all(query: QuerySpec, ctx: AssertionContext) -> list[AssertionResult]:
    """Evaluate every assertion of `query`, in spec order."""
    return [evaluate(assertion, ctx) for assertion in query.assertions]
