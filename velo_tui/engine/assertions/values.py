"""Value assertions over a statement's output fields: `field_values`, `field_in_set`,
`aggregate_check` and `ordering`, each evaluated as one DuckDB query."""

from __future__ import annotations

from typing import Any

from velo_tui.engine.assertions.base import (
    AssertionContext,
    AssertionResult,
    check_bool,
    check_number,
    check_regex,
    check_string,
    check_string_list,
    column_type,
    format_number,
    format_values,
    is_integer_type,
    is_number,
    is_numeric_type,
    missing_fields_result,
    param_error,
    query_column,
    query_one,
    quote_ident,
    require,
    resolve_fields,
    string_list,
)
from velo_tui.engine.assertions.registry import register
from velo_tui.engine.errors import SourceLocation
from velo_tui.engine.spec_model import AssertionSpec

#: Comparison operators of `field_values`, with the words used in messages.
OPERATORS: dict[str, str] = {
    "equals": "equal to",
    "not_equals": "different from",
    "greater_than": "greater than",
    "less_than": "less than",
    "greater_than_or_equals": "greater than or equal to",
    "less_than_or_equals": "less than or equal to",
    "contains": "containing",
    "starts_with": "starting with",
    "ends_with": "ending with",
    "matches": "matching",
}

ORDER_OPERATORS = {
    "greater_than": ">",
    "less_than": "<",
    "greater_than_or_equals": ">=",
    "less_than_or_equals": "<=",
}
STRING_OPERATORS = {"contains", "starts_with", "ends_with", "matches"}

#: Numbers compare equal within this absolute difference unless both the field and the value are
#: integers, which compare exactly.
EQUALS_TOLERANCE = 1e-4

AGGREGATE_FUNCTIONS = ("AVG", "COUNT", "MAX", "MIN", "SUM")

#: Number of offending values a failure message shows.
SAMPLE_SIZE = 3


def operator_error(
    spec: AssertionSpec, location: SourceLocation | None, operator: Any
) -> Exception:
    """Build the error for an unknown `field_values` operator, listing the valid ones."""
    return param_error(
        spec,
        location,
        f"unknown operator {operator!r}; valid operators: {', '.join(OPERATORS)}",
    )


def text_form(value: Any) -> str:
    """Return the text DuckDB gives a value cast to VARCHAR (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _order_clause() -> str:
    return "ORDER BY _partition, _offset"


# --- field_values --------------------------------------------------------------------------


def _validate_field_values(spec: AssertionSpec, location: SourceLocation | None) -> None:
    require(spec, location, "field")
    check_string(spec, location, "field")
    operator = require(spec, location, "operator")
    if operator not in OPERATORS:
        raise operator_error(spec, location, operator)
    value = require(spec, location, "value")
    if operator in ORDER_OPERATORS and isinstance(value, bool):
        raise param_error(
            spec, location, f"operator '{operator}' needs a number or a string, got {value!r}"
        )
    if not isinstance(value, (str, int, float, bool)):
        raise param_error(
            spec, location, f"'value' must be a number, string or boolean, got {value!r}"
        )
    if operator == "matches":
        check_regex(spec, location, value, "value")


def _typed_literal(ctx: AssertionContext, value: str, duckdb_type: str) -> bool:
    """Return whether `value` casts to `duckdb_type`."""
    row = ctx.con.execute(f"SELECT TRY_CAST($value AS {duckdb_type})", {"value": value}).fetchone()
    return row is not None and row[0] is not None


def _field_condition(
    ctx: AssertionContext, column: str, duckdb_type: str, operator: str, value: Any
) -> str | None:
    """Build the SQL condition one value must meet, with `$value` as the parameter.

    Returns `None` when `value` cannot be compared with a column of this type at all.
    """
    numeric_column = is_numeric_type(duckdb_type)
    text = f"CAST({column} AS VARCHAR)"

    if operator in STRING_OPERATORS:
        function = {
            "contains": "contains",
            "starts_with": "starts_with",
            "ends_with": "ends_with",
            "matches": "regexp_matches",
        }[operator]
        return f"{function}({text}, $value)"

    if isinstance(value, bool):
        target = column if duckdb_type.upper() == "BOOLEAN" else f"TRY_CAST({column} AS BOOLEAN)"
        comparison = f"{target} = $value"
        return comparison if operator == "equals" else f"NOT ({comparison})"

    if is_number(value):
        target = f"CAST({column} AS DOUBLE)" if numeric_column else f"TRY_CAST({column} AS DOUBLE)"
        if operator in ORDER_OPERATORS:
            return f"{target} {ORDER_OPERATORS[operator]} $value"
        if isinstance(value, int) and is_integer_type(duckdb_type):
            comparison = f"{column} = $value"
        else:
            comparison = f"abs({target} - $value) <= {EQUALS_TOLERANCE}"
        return comparison if operator == "equals" else f"NOT ({comparison})"

    # A string value compares in the column's own type when it casts to it (timestamps, dates,
    # numbers written as text), else as text.
    typed = duckdb_type.upper() != "VARCHAR" and _typed_literal(ctx, value, duckdb_type)
    if operator in ORDER_OPERATORS:
        if typed:
            return f"{column} {ORDER_OPERATORS[operator]} CAST($value AS {duckdb_type})"
        if numeric_column:
            return None
        return f"{text} {ORDER_OPERATORS[operator]} $value"
    comparison = f"{column} = CAST($value AS {duckdb_type})" if typed else f"{text} = $value"
    return comparison if operator == "equals" else f"NOT ({comparison})"


@register("field_values", {"field", "operator", "value"}, _validate_field_values)
def field_values(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that every non-null value of a field satisfies the operator against `value`."""
    operator = spec.params["operator"]
    value = spec.params["value"]
    fields, missing = resolve_fields(ctx, [spec.params["field"]])
    if missing:
        return missing_fields_result(spec, ctx, missing)
    name = fields[0]
    column = quote_ident(name)
    duckdb_type = column_type(ctx, name)
    expected = {"field": name, "operator": operator, "value": value}
    satisfied = f"{OPERATORS[operator]} {value!r}"

    condition = _field_condition(ctx, column, duckdb_type, operator, value)
    if condition is None:
        return AssertionResult(
            type=spec.type,
            passed=False,
            message=(
                f"Field {name} has type {duckdb_type}, which cannot be compared with {value!r}; "
                "use a number as the value."
            ),
            expected=expected,
        )

    param = {"value": value if not (operator in STRING_OPERATORS) else text_form(value)}
    failing = f"{column} IS NOT NULL AND NOT coalesce({condition}, false)"
    return _check_values(
        spec, ctx, name, failing, param, expected,
        satisfied=satisfied,
        sample_sql=f"SELECT {column} FROM {{rel}} WHERE {failing} {_order_clause()} LIMIT {SAMPLE_SIZE}",
    )


def _check_values(
    spec: AssertionSpec,
    ctx: AssertionContext,
    name: str,
    failing: str,
    params: dict[str, Any],
    expected: dict[str, Any],
    *,
    satisfied: str,
    sample_sql: str,
) -> AssertionResult:
    """Count the non-null values of field `name` and those matching `failing`, and report.

    `satisfied` completes "values of NAME are ..."; `sample_sql` selects example failing values.
    """
    column = quote_ident(name)
    checked, failed = query_one(
        ctx,
        f"SELECT count({column}), count(*) FILTER (WHERE {failing}) FROM {{rel}}",
        params,
    )
    if checked == 0:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"No output record has a value for {name}, so there was nothing to check.",
            expected=expected,
            actual={"checked": 0, "failed": 0},
        )
    if failed == 0:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"All {checked} non-null values of {name} are {satisfied}.",
            expected=expected,
            actual={"checked": checked, "failed": 0},
        )

    sample = query_column(ctx, sample_sql, params)
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=(
            f"{failed} of {checked} non-null values of {name} are not {satisfied}; "
            f"for example {format_values(sample)}."
        ),
        expected=expected,
        actual={"checked": checked, "failed": failed, "examples": sample},
    )


# --- field_in_set --------------------------------------------------------------------------


def _validate_field_in_set(spec: AssertionSpec, location: SourceLocation | None) -> None:
    require(spec, location, "field")
    check_string(spec, location, "field")
    values = require(spec, location, "values")
    if not isinstance(values, list) or not values:
        raise param_error(spec, location, f"'values' must be a non-empty list, got {values!r}")
    if not all(isinstance(item, (str, int, float, bool)) for item in values):
        raise param_error(
            spec, location, "'values' may contain only strings, numbers and booleans"
        )


@register("field_in_set", {"field", "values"}, _validate_field_in_set)
def field_in_set(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that every non-null value of a field is one of `values`.

    A value matches by its text form, and numeric fields also match numerically (so 1.0
    matches 1).
    """
    values = spec.params["values"]
    fields, missing = resolve_fields(ctx, [spec.params["field"]])
    if missing:
        return missing_fields_result(spec, ctx, missing)
    name = fields[0]
    column = quote_ident(name)
    duckdb_type = column_type(ctx, name)

    params: dict[str, Any] = {"texts": [text_form(item) for item in values]}
    condition = f"list_contains($texts, CAST({column} AS VARCHAR))"
    numbers = [float(item) for item in values if is_number(item)]
    if is_numeric_type(duckdb_type) and numbers:
        params["numbers"] = numbers
        condition += f" OR list_contains($numbers, CAST({column} AS DOUBLE))"
    failing = f"{column} IS NOT NULL AND NOT coalesce({condition}, false)"
    return _check_values(
        spec, ctx, name, failing, params, {"field": name, "values": values},
        satisfied=f"in the set {format_values(values)}",
        sample_sql=f"SELECT DISTINCT {column} FROM {{rel}} WHERE {failing} LIMIT {SAMPLE_SIZE}",
    )


# --- aggregate_check -----------------------------------------------------------------------


def _expected_number(value: Any) -> float | None:
    if is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _validate_aggregate_check(spec: AssertionSpec, location: SourceLocation | None) -> None:
    function = require(spec, location, "function")
    if not isinstance(function, str) or function.upper() not in AGGREGATE_FUNCTIONS:
        raise param_error(
            spec,
            location,
            f"unknown function {function!r}; valid functions: {', '.join(AGGREGATE_FUNCTIONS)}",
        )
    require(spec, location, "field")
    check_string(spec, location, "field")
    expected = require(spec, location, "expected")
    if _expected_number(expected) is None:
        raise param_error(spec, location, f"'expected' must be a number, got {expected!r}")
    check_number(spec, location, "tolerance", low=0)


@register(
    "aggregate_check", {"function", "field", "expected", "tolerance"}, _validate_aggregate_check
)
def aggregate_check(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Compute SUM, COUNT, AVG, MIN or MAX of a field and compare it with `expected`.

    COUNT counts non-null values; the other functions use the values that are numbers and fail
    when there are none.
    """
    function = str(spec.params["function"]).upper()
    expected_value = _expected_number(spec.params["expected"])
    assert expected_value is not None, "validated when the spec was loaded"
    tolerance = float(spec.params.get("tolerance", EQUALS_TOLERANCE))
    fields, missing = resolve_fields(ctx, [spec.params["field"]])
    if missing:
        return missing_fields_result(spec, ctx, missing)
    name = fields[0]
    column = quote_ident(name)
    numeric = f"TRY_CAST({column} AS DOUBLE)"
    expected = {"function": function, "field": name, "value": expected_value, "tolerance": tolerance}

    if function == "COUNT":
        (actual,) = query_one(ctx, f"SELECT count({column}) FROM {{rel}}")
    else:
        numbers, actual = query_one(ctx, f"SELECT count({numeric}), {function}({numeric}) FROM {{rel}}")
        if numbers == 0:
            return AssertionResult(
                type=spec.type,
                passed=False,
                message=f"{function}({name}) has no numeric values to aggregate.",
                expected=expected,
            )

    difference = abs(float(actual) - expected_value)
    passed = difference <= tolerance
    shown = f"{function}({name}) is {format_number(float(actual))}"
    if passed:
        message = f"{shown}, within {tolerance:g} of the expected {format_number(expected_value)}."
    else:
        message = (
            f"{shown}, but expected {format_number(expected_value)} "
            f"(difference {format_number(difference)}, tolerance {tolerance:g})."
        )
    return AssertionResult(
        type=spec.type, passed=passed, message=message, expected=expected, actual=actual
    )


# --- ordering ------------------------------------------------------------------------------

DIRECTIONS = {"ascending": "ascending", "asc": "ascending", "descending": "descending", "desc": "descending"}


def _validate_ordering(spec: AssertionSpec, location: SourceLocation | None) -> None:
    require(spec, location, "field")
    check_string(spec, location, "field")
    direction = spec.params.get("direction", "ascending")
    if not isinstance(direction, str) or direction.lower() not in DIRECTIONS:
        raise param_error(
            spec,
            location,
            f"unknown direction {direction!r}; valid directions: ascending, descending",
        )
    check_string_list(spec, location, "partition_by", allow_single=True)
    check_bool(spec, location, "allow_equal")


@register("ordering", {"field", "direction", "partition_by", "allow_equal"}, _validate_ordering)
def ordering(spec: AssertionSpec, ctx: AssertionContext) -> AssertionResult:
    """Check that consecutive non-null values of a field are in order.

    Records are taken in offset order within each sink partition, because Kafka orders records
    only within a partition; `partition_by` fields split the sequence further.
    """
    direction = DIRECTIONS[str(spec.params.get("direction", "ascending")).lower()]
    allow_equal = bool(spec.params.get("allow_equal", True))
    partition_names = string_list(spec.params.get("partition_by"))
    fields, missing = resolve_fields(ctx, [spec.params["field"], *partition_names])
    if missing:
        return missing_fields_result(spec, ctx, missing)
    name, partitions = fields[0], fields[1:]
    column = quote_ident(name)

    partition_clause = ", ".join(["_partition", *(quote_ident(p) for p in partitions)])
    if direction == "ascending":
        violation = "previous > value" if allow_equal else "previous >= value"
    else:
        violation = "previous < value" if allow_equal else "previous <= value"
    pairs_sql = (
        f"SELECT {column} AS value, lag({column}) OVER "
        f"(PARTITION BY {partition_clause} ORDER BY _offset) AS previous, _partition, _offset "
        f"FROM {{rel}} WHERE {column} IS NOT NULL"
    )
    compared, violations = query_one(
        ctx,
        f"SELECT count(previous), count(*) FILTER (WHERE {violation}) FROM ({pairs_sql})",
    )

    order_words = direction if allow_equal else f"strictly {direction}"
    scope = f" within each {', '.join(partitions)}" if partitions else ""
    expected = {
        "field": name,
        "direction": direction,
        "allow_equal": allow_equal,
        "partition_by": partitions,
    }
    if violations == 0:
        return AssertionResult(
            type=spec.type,
            passed=True,
            message=f"All {compared} consecutive pairs of {name} are {order_words}{scope}.",
            expected=expected,
            actual={"pairs": compared, "out_of_order": 0},
        )
    rows = ctx.con.execute(
        f"SELECT previous, value FROM ({pairs_sql.replace('{rel}', ctx.relation)}) "
        f"WHERE {violation} ORDER BY _partition, _offset LIMIT {SAMPLE_SIZE}"
    ).fetchall()
    examples = ", ".join(f"{format_values([a])} then {format_values([b])}" for a, b in rows)
    return AssertionResult(
        type=spec.type,
        passed=False,
        message=(
            f"{violations} of {compared} consecutive pairs of {name} are not "
            f"{order_words}{scope}; for example {examples}."
        ),
        expected=expected,
        actual={"pairs": compared, "out_of_order": violations, "examples": [list(r) for r in rows]},
    )
