"""The table of assertion types: for each, its valid keys, its parameter validator and its
evaluator over a statement's output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from velo_tui.engine.assertions.base import AssertionContext, AssertionResult
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec

#: Keys every assertion may carry besides its parameters.
COMMON_KEYS = frozenset({"type", "description"})

Evaluator = Callable[[AssertionSpec, AssertionContext], AssertionResult]
Validator = Callable[[AssertionSpec, "SourceLocation | None"], None]


@dataclass(frozen=True)
class AssertionType:
    """One assertion type.

    `ignored_keys` maps keys that velo-test accepts but velo-tui does not act on to the reason
    given in the load warning. `nested_keys` gives the valid keys of the mappings inside a
    parameter that is a list of mappings.
    """

    name: str
    keys: frozenset[str]
    evaluate: Evaluator
    validate: Validator
    ignored_keys: dict[str, str] = field(default_factory=dict)
    nested_keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def valid_keys(self) -> frozenset[str]:
        """Every key an assertion of this type may carry."""
        return self.keys | COMMON_KEYS


REGISTRY: dict[str, AssertionType] = {}


def register(
    name: str,
    keys: set[str] | frozenset[str],
    validate: Validator,
    *,
    ignored_keys: dict[str, str] | None = None,
    nested_keys: dict[str, frozenset[str]] | None = None,
) -> Callable[[Evaluator], Evaluator]:
    """Register the decorated function as the evaluator of assertion type `name`."""

    def decorate(evaluate: Evaluator) -> Evaluator:
        REGISTRY[name] = AssertionType(
            name=name,
            keys=frozenset(keys),
            evaluate=evaluate,
            validate=validate,
            ignored_keys=dict(ignored_keys or {}),
            nested_keys=dict(nested_keys or {}),
        )
        return evaluate

    return decorate
