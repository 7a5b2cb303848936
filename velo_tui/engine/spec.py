"""Test specs (`*.test.yaml`): finding the spec beside a SQL file and loading it into the
queries, inputs and assertions checked against each statement."""

from __future__ import annotations

from velo_tui.engine.spec_load import SPEC_FILE_NAMES, find_spec, load_spec
from velo_tui.engine.spec_model import (
    AssertionSpec,
    DebugSpec,
    InputSpec,
    QuerySpec,
    Spec,
    StressSpec,
)

__all__ = [
    "SPEC_FILE_NAMES",
    "AssertionSpec",
    "DebugSpec",
    "InputSpec",
    "QuerySpec",
    "Spec",
    "StressSpec",
    "find_spec",
    "load_spec",
]
