"""Shared pieces of assertion evaluation: the context a statement's output is checked in, the
result record, and helpers for parameter validation, SQL quoting and count-like checks."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.spec_model import AssertionSpec

logger = logging.getLogger(__name__)

#: Message metadata columns of the output relation. They are not output fields.
METADATA_COLUMNS = ("_key", "_timestamp", "_partition", "_offset")


@dataclass
class AssertionContext:
    """The output relation and counters of one statement, as its assertions see them.

    `relation` names a table or view in `con` with one typed column per output field plus the
    `_key`, `_timestamp`, `_partition` and `_offset` metadata columns. An empty `fields` is
    filled from the relation's columns, leaving out the metadata columns and internal columns
    whose names start with `__`. `errors` is every failed record of the statement
    (`dlq + dlq_dropped`) and is computed when left as `None`.
    """

    con: duckdb.DuckDBPyConnection
    relation: str
    fields: list[str]
    records_in: int = 0
    records_out: int = 0
    filtered: int = 0
    dlq: int = 0
    dlq_dropped: int = 0
    errors: int | None = None
    duration_s: float = 0.0
    dlq_by_error_type: dict[str, int] = field(default_factory=dict)
    dlq_by_stage: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.errors is None:
            self.errors = self.dlq + self.dlq_dropped
        if not self.fields:
            self.fields = [
                name
                for name in column_types(self)
                if name not in METADATA_COLUMNS and not name.startswith("__")
            ]


@dataclass
class AssertionResult:
    """The outcome of one assertion; every field is a key of the JSON report."""

    type: str
    passed: bool
    message: str
    expected: Any = None
    actual: Any = None

    def __post_init__(self) -> None:
        self.expected = to_json(self.expected)
        self.actual = to_json(self.actual)


def to_json(value: Any) -> Any:
    """Convert DuckDB and Python values to plain JSON types (infinite floats become `None`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return to_json(float(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(item) for item in value]
    if hasattr(value, "item"):  # numpy scalars
        return to_json(value.item())
    return str(value)


# --- SQL helpers ---------------------------------------------------------------------------


def quote_ident(name: str) -> str:
    """Quote `name` as a DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def query_one(
    ctx: AssertionContext, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> tuple:
    """Run `sql` (where `{rel}` stands for the output relation) and return its single row."""
    row = ctx.con.execute(sql.replace("{rel}", ctx.relation), params or []).fetchone()
    assert row is not None, "an aggregate query always returns one row"
    return row


def query_column(
    ctx: AssertionContext, sql: str, params: list[Any] | dict[str, Any] | None = None
) -> list[Any]:
    """Run `sql` (where `{rel}` stands for the output relation) and return its first column."""
    rows = ctx.con.execute(sql.replace("{rel}", ctx.relation), params or []).fetchall()
    return [row[0] for row in rows]


def column_types(ctx: AssertionContext) -> dict[str, str]:
    """Return the DuckDB type of every column of the output relation, by column name."""
    rows = ctx.con.execute(f"DESCRIBE SELECT * FROM {ctx.relation}").fetchall()
    return {row[0]: str(row[1]) for row in rows}


def column_type(ctx: AssertionContext, name: str) -> str:
    """Return the DuckDB type of output field `name`.

    A field listed in `ctx.fields` but absent from the relation gets VARCHAR, so the query that
    follows fails with DuckDB's own message naming the column.
    """
    return column_types(ctx).get(name, "VARCHAR")


_NUMERIC_TYPE = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|REAL|DECIMAL.*)$"
)


_INTEGER_TYPE = re.compile(r"^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$")


def is_integer_type(duckdb_type: str) -> bool:
    """Return whether a DuckDB type name is an integer type."""
    return bool(_INTEGER_TYPE.match(duckdb_type.upper()))


def is_numeric_type(duckdb_type: str) -> bool:
    """Return whether a DuckDB type name is an integer, floating-point or decimal type."""
    return bool(_NUMERIC_TYPE.match(duckdb_type.upper()))


def format_values(values: list[Any]) -> str:
    """Format sample values for a message: `'a', 3, NULL`."""
    return ", ".join("NULL" if value is None else repr(to_json(value)) for value in values)


def format_number(value: float | int) -> str:
    """Format a measured number for a message without spurious decimals."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return "infinite"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}" if abs(value) < 1e-3 else f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


# --- output fields -------------------------------------------------------------------------


def resolve_fields(ctx: AssertionContext, names: list[str]) -> tuple[list[str], list[str]]:
    """Map field names to output fields, matching case-insensitively as DuckDB does.

    Returns the resolved names and the names that match no output field.
    """
    by_lower = {name.lower(): name for name in ctx.fields}
    resolved: list[str] = []
    missing: list[str] = []
    for name in names:
        match = by_lower.get(str(name).lower())
        if match is None:
            missing.append(str(name))
        else:
            resolved.append(match)
    return resolved, missing


def missing_fields_result(
    spec: AssertionSpec, ctx: AssertionContext, missing: list[str]
) -> AssertionResult:
    """Build the failure for fields that the statement's output does not have."""
    noun = "field" if len(missing) == 1 else "fields"
    available = ", ".join(ctx.fields) if ctx.fields else "none"
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=(
            f"The output has no {noun} {', '.join(missing)}. "
            f"Available output fields: {available}."
        ),
        expected=missing,
        actual=list(ctx.fields),
    )


# --- parameter validation ------------------------------------------------------------------


def location_of(spec: AssertionSpec, location: SourceLocation | None) -> SourceLocation | None:
    """Prefer the assertion's own line over the location the caller passed."""
    if location is None:
        return None
    if spec.line is not None and location.line != spec.line:
        return SourceLocation(location.file, spec.line)
    return location


def param_error(
    spec: AssertionSpec, location: SourceLocation | None, text: str
) -> InputError:
    """Build an `InputError` about one of the assertion's parameters."""
    return InputError(f"assertion '{spec.type}': {text}", location_of(spec, location))


def is_number(value: Any) -> bool:
    """Return whether `value` is an int or float (booleans excluded)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def require(spec: AssertionSpec, location: SourceLocation | None, key: str) -> Any:
    """Return the required parameter `key`, or raise naming it."""
    if key not in spec.params or spec.params[key] is None:
        raise param_error(spec, location, f"the '{key}' key is required; add it")
    return spec.params[key]


def check_number(
    spec: AssertionSpec,
    location: SourceLocation | None,
    key: str,
    *,
    low: float | None = None,
    high: float | None = None,
) -> None:
    """Raise unless the optional parameter `key` is a number within [low, high]."""
    if key not in spec.params:
        return
    value = spec.params[key]
    if not is_number(value):
        raise param_error(spec, location, f"'{key}' must be a number, got {value!r}")
    if low is not None and value < low:
        raise param_error(spec, location, f"'{key}' must be at least {low}, got {value}")
    if high is not None and value > high:
        raise param_error(spec, location, f"'{key}' must be at most {high}, got {value}")


def check_string(spec: AssertionSpec, location: SourceLocation | None, key: str) -> None:
    """Raise unless the optional parameter `key` is a non-empty string."""
    if key not in spec.params:
        return
    value = spec.params[key]
    if not isinstance(value, str) or not value:
        raise param_error(spec, location, f"'{key}' must be a non-empty string, got {value!r}")


def check_bool(spec: AssertionSpec, location: SourceLocation | None, key: str) -> None:
    """Raise unless the optional parameter `key` is true or false."""
    if key in spec.params and not isinstance(spec.params[key], bool):
        value = spec.params[key]
        raise param_error(spec, location, f"'{key}' must be true or false, got {value!r}")


def check_string_list(
    spec: AssertionSpec,
    location: SourceLocation | None,
    key: str,
    *,
    allow_single: bool = False,
) -> None:
    """Raise unless the optional parameter `key` is a list of strings.

    With `allow_single`, one string stands for a list of one.
    """
    if key not in spec.params:
        return
    value = spec.params[key]
    if allow_single and isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise param_error(
            spec, location, f"'{key}' must be a list of field names, got {value!r}"
        )


def string_list(value: Any) -> list[str]:
    """Return a parameter that may be one string or a list of strings as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def check_regex(
    spec: AssertionSpec, location: SourceLocation | None, pattern: Any, key: str
) -> None:
    """Raise unless `pattern` is a string that compiles as a regular expression."""
    if not isinstance(pattern, str):
        raise param_error(spec, location, f"'{key}' must be a regular expression string")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise param_error(
            spec, location, f"'{key}' is not a valid regular expression ({exc}): {pattern!r}"
        ) from exc


# --- count-like checks ---------------------------------------------------------------------

#: Keys every count-like assertion accepts; all present keys must hold.
COUNT_KEYS = ("equals", "greater_than", "less_than", "between", "min", "max")


def validate_count_checks(spec: AssertionSpec, location: SourceLocation | None) -> None:
    """Raise unless every present count-like key has a number (or `between` a [lo, hi] pair)."""
    for key in COUNT_KEYS:
        if key == "between":
            continue
        check_number(spec, location, key)
    if "between" in spec.params:
        bounds = spec.params["between"]
        if (
            not isinstance(bounds, list)
            or len(bounds) != 2
            or not all(is_number(item) for item in bounds)
        ):
            raise param_error(
                spec, location, f"'between' must be a list [low, high] of numbers, got {bounds!r}"
            )
        if bounds[0] > bounds[1]:
            raise param_error(
                spec, location, f"'between' low bound {bounds[0]} is above high bound {bounds[1]}"
            )


def count_checks(params: dict[str, Any]) -> dict[str, Any]:
    """Return the count-like keys present in `params`, in a fixed order."""
    return {key: params[key] for key in COUNT_KEYS if key in params}


def describe_check(key: str, bound: Any) -> str:
    """Describe one count-like check in words: 'more than 90'."""
    if key == "between":
        return f"between {format_number(bound[0])} and {format_number(bound[1])}"
    words = {
        "equals": "exactly",
        "greater_than": "more than",
        "less_than": "less than",
        "min": "at least",
        "max": "at most",
    }
    return f"{words[key]} {format_number(bound)}"


def check_holds(key: str, bound: Any, value: float) -> bool:
    """Return whether `value` satisfies one count-like check."""
    if key == "equals":
        return value == bound
    if key == "greater_than":
        return value > bound
    if key == "less_than":
        return value < bound
    if key == "min":
        return value >= bound
    if key == "max":
        return value <= bound
    return bound[0] <= value <= bound[1]


def evaluate_count(
    spec: AssertionSpec, value: float, what: str, checks: dict[str, Any] | None = None
) -> AssertionResult:
    """Check a measured number against the count-like keys of `spec`.

    `what` describes the measured value in a sentence ("The statement produced 95 output
    records"); `checks` overrides the keys taken from the spec.
    """
    checks = count_checks(spec.params) if checks is None else checks
    if not checks:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"{what}; no bound was given, so nothing was constrained.",
            expected=None,
            actual=value,
        )

    failed = [
        describe_check(key, bound)
        for key, bound in checks.items()
        if not check_holds(key, bound, value)
    ]
    wanted = " and ".join(describe_check(key, bound) for key, bound in checks.items())
    if failed:
        message = f"{what}, but expected {' and '.join(failed)}."
    else:
        message = f"{what}, as expected ({wanted})."
    return AssertionResult(
        type=spec.type, passed=not failed, message=message, expected=checks, actual=value
    )
