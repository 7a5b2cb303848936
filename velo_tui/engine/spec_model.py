"""Dataclasses for a loaded test spec: the queries to check, their inputs and assertions.

Every record keeps the 1-based line of the YAML node it came from, so later errors and reports
can point back into the spec file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class InputSpec:
    """One input of a query: what to publish to a source topic before the statement runs.

    `records` is the input's own count or, when absent, the spec's `default_records`; `None`
    means neither was given, so the schema's `record_count` applies.
    """

    source: str
    schema: str | None = None
    records: int | None = None
    rate_per_second: float | None = None
    #: Name of an earlier query whose output records are re-published to this source.
    from_previous: str | None = None
    #: File of input records, resolved against the spec's folder.
    data_file: Path | None = None
    #: Field whose value becomes the record key; overrides the schema's `key_field`.
    key_field: str | None = None
    line: int | None = None


@dataclass
class AssertionSpec:
    """One assertion: its type and every other key of its YAML mapping as `params`."""

    type: str
    params: dict[str, Any] = field(default_factory=dict)
    line: int | None = None


@dataclass
class QuerySpec:
    """The checks for one statement: `name` is the statement's name as the SQL file spells it."""

    name: str
    description: str = ""
    inputs: list[InputSpec] = field(default_factory=list)
    assertions: list[AssertionSpec] = field(default_factory=list)
    #: The query's own timeout, else the spec's `default_timeout_ms`; `None` when neither is set.
    timeout_ms: int | None = None
    skip: bool = False
    line: int | None = None


@dataclass
class DebugSpec:
    """The `debug` block: whether to start paused and which statements carry a breakpoint."""

    enabled: bool = False
    #: Statement names; a breakpoint fires after that statement has processed its input.
    breakpoints: list[str] = field(default_factory=list)
    pause_on_start: bool = False


@dataclass
class StressSpec:
    """The `stress_test` block: the load to push through the pipeline in stress mode."""

    enabled: bool = False
    records: int | None = None
    rate_per_second: float | None = None
    duration_seconds: float | None = None


@dataclass
class Spec:
    """A loaded test spec (`*.test.yaml`), with the warnings found while loading it."""

    path: Path
    application: str = ""
    description: str = ""
    default_records: int | None = None
    default_timeout_ms: int | None = None
    queries: list[QuerySpec] = field(default_factory=list)
    #: The `fault_injection` block as written; the fault injectors validate it.
    fault_injection: dict[str, Any] | None = None
    fault_injection_line: int | None = None
    debug: DebugSpec = field(default_factory=DebugSpec)
    stress_test: StressSpec | None = None
    #: One `file:line: message` string per ignored or unknown key.
    warnings: list[str] = field(default_factory=list)

    def query(self, name: str) -> QuerySpec | None:
        """Return the query for statement `name` (case-insensitive), or `None`."""
        for query in self.queries:
            if query.name.lower() == name.lower():
                return query
        return None
