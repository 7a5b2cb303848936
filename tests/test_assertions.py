"""Tests for assertion validation and evaluation over a real DuckDB output relation."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import pytest

from velo_tui.engine.assertions import (
    ASSERTION_TYPES,
    OPERATORS,
    AssertionContext,
    AssertionResult,
    evaluate,
    evaluate_all,
    validate_assertion,
)
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.spec_model import AssertionSpec, QuerySpec

FIELDS = ["order_id", "symbol", "price", "qty", "venue", "ts", "flag", "note"]

TRADES = """
CREATE TABLE trades AS SELECT * FROM (VALUES
    (1, 'AAPL', 10.0, 100, 'NYSE', TIMESTAMP '2024-01-01 00:00:01', true,  'first',  'k1', TIMESTAMP '2024-01-01 00:00:01', 0, 0),
    (2, 'MSFT', 20.0, 100, 'NYSE', TIMESTAMP '2024-01-01 00:00:02', false, '',       'k2', TIMESTAMP '2024-01-01 00:00:02', 0, 1),
    (3, 'AAPL', 30.0, 100, 'NYSE', TIMESTAMP '2024-01-01 00:00:03', true,  NULL,     'k3', TIMESTAMP '2024-01-01 00:00:03', 0, 2),
    (4, 'GOOG', 40.5, 100, 'NYSE', TIMESTAMP '2024-01-01 00:00:04', NULL,  'fourth', 'k4', TIMESTAMP '2024-01-01 00:00:04', 0, 3),
    (5, 'MSFT', 50.0, 100, 'NYSE', TIMESTAMP '2024-01-01 00:00:05', true,  'fifth',  'k5', TIMESTAMP '2024-01-01 00:00:05', 0, 4)
) AS t(order_id, symbol, price, qty, venue, ts, flag, note, _key, _timestamp, _partition, _offset)
"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(TRADES)
    yield connection
    connection.close()


@pytest.fixture
def ctx(con: duckdb.DuckDBPyConnection) -> AssertionContext:
    return AssertionContext(
        con=con,
        relation="trades",
        fields=list(FIELDS),
        records_in=8,
        records_out=5,
        filtered=1,
        dlq=2,
        dlq_dropped=0,
        duration_s=2.0,
        dlq_by_error_type={"wrong_type": 1, "missing_field": 1},
        dlq_by_stage={"decode": 1, "validate": 1},
    )


def check(ctx: AssertionContext, kind: str, **params: object) -> AssertionResult:
    """Validate and evaluate one assertion, as the runner does after loading a spec."""
    spec = AssertionSpec(type=kind, params=dict(params), line=7)
    validate_assertion(spec, SourceLocation("t.test.yaml", 7))
    return evaluate(spec, ctx)


def invalid(kind: str, **params: object) -> InputError:
    spec = AssertionSpec(type=kind, params=dict(params), line=7)
    with pytest.raises(InputError) as info:
        validate_assertion(spec, SourceLocation("t.test.yaml", 7))
    return info.value


# --- count-like checks ---------------------------------------------------------------------

COUNT_CASES = [
    ({"equals": 5}, True),
    ({"equals": 4}, False),
    ({"greater_than": 4}, True),
    ({"greater_than": 5}, False),
    ({"less_than": 6}, True),
    ({"less_than": 5}, False),
    ({"between": [5, 9]}, True),
    ({"between": [1, 4]}, False),
    ({"min": 5}, True),
    ({"min": 6}, False),
    ({"max": 5}, True),
    ({"max": 4}, False),
    ({"greater_than": 1, "less_than": 9}, True),
    ({"greater_than": 1, "less_than": 5}, False),
]


@pytest.mark.parametrize(("params", "passes"), COUNT_CASES)
def test_record_count_checks(ctx: AssertionContext, params: dict, passes: bool) -> None:
    result = check(ctx, "record_count", **params)
    assert result.passed is passes
    assert result.actual == 5


def test_record_count_failure_message(ctx: AssertionContext) -> None:
    result = check(ctx, "record_count", greater_than=1, less_than=5)
    assert "5 output records" in result.message
    assert "less than 5" in result.message
    assert "more than 1" not in result.message


def test_record_count_unconstrained(ctx: AssertionContext) -> None:
    result = check(ctx, "record_count")
    assert result.passed
    assert "nothing was constrained" in result.message


@pytest.mark.parametrize(("params", "passes"), COUNT_CASES)
def test_dlq_count_checks(ctx: AssertionContext, params: dict, passes: bool) -> None:
    ctx.dlq, ctx.dlq_dropped, ctx.errors = 3, 2, 5
    result = check(ctx, "dlq_count", **params)
    assert result.passed is passes


def test_dlq_count_includes_dropped(ctx: AssertionContext) -> None:
    ctx.dlq, ctx.dlq_dropped, ctx.errors = 3, 2, 5
    result = check(ctx, "dlq_count", equals=5)
    assert result.passed
    assert "2 dropped" in result.message


def test_dlq_count_errors_default(con: duckdb.DuckDBPyConnection) -> None:
    context = AssertionContext(con=con, relation="trades", fields=FIELDS, dlq=4, dlq_dropped=3)
    assert context.errors == 7


def test_dlq_count_error_type_filter(ctx: AssertionContext) -> None:
    assert check(ctx, "dlq_count", error_types=["wrong_type"], equals=1).passed
    assert not check(ctx, "dlq_count", error_types="missing_field", equals=0).passed


def test_dlq_count_stage_filter(ctx: AssertionContext) -> None:
    result = check(ctx, "dlq_count", stage=["decode", "validate"], equals=2)
    assert result.passed
    assert "stage decode or validate" in result.message


def test_dlq_count_rejects_both_filters() -> None:
    error = invalid("dlq_count", error_types=["wrong_type"], stage="decode")
    assert "cannot be combined" in error.message


@pytest.mark.parametrize(("params", "passes"), [({"greater_than": 3}, True), ({"greater_than": 4}, False)])
def test_throughput_count_checks(ctx: AssertionContext, params: dict, passes: bool) -> None:
    result = check(ctx, "throughput", **params)
    assert result.passed is passes
    assert result.actual == 4.0


def test_count_rejects_non_number() -> None:
    error = invalid("record_count", greater_than="ten")
    assert "'greater_than' must be a number" in error.message


def test_count_rejects_bad_between() -> None:
    error = invalid("record_count", between=[9, 1])
    assert "above high bound" in error.message


# --- record and schema ---------------------------------------------------------------------


def test_schema_contains_passes(ctx: AssertionContext) -> None:
    assert check(ctx, "schema_contains", fields=["order_id", "PRICE"]).passed


def test_schema_contains_lists_missing(ctx: AssertionContext) -> None:
    result = check(ctx, "schema_contains", fields=["order_id", "total", "amount"])
    assert not result.passed
    assert "total, amount" in result.message
    assert "Available output fields: order_id, symbol" in result.message


def test_schema_contains_empty_output(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE empty_out AS SELECT * FROM trades WHERE false")
    context = AssertionContext(con=con, relation="empty_out", fields=list(FIELDS))
    result = check(context, "schema_contains", fields=["order_id"])
    assert not result.passed
    assert "no output records" in result.message


def test_schema_contains_key_field(ctx: AssertionContext) -> None:
    assert check(ctx, "schema_contains", fields=["price"], key_field="order_id").passed


def test_schema_contains_key_field_unkeyed(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE unkeyed AS SELECT * REPLACE (NULL AS _key) FROM trades")
    context = AssertionContext(con=con, relation="unkeyed", fields=list(FIELDS))
    result = check(context, "schema_contains", fields=["price"], key_field="order_id")
    assert not result.passed
    assert "non-empty key" in result.message


def test_no_nulls_listed_fields(ctx: AssertionContext) -> None:
    assert check(ctx, "no_nulls", fields=["order_id", "symbol"]).passed


def test_no_nulls_all_fields(ctx: AssertionContext) -> None:
    result = check(ctx, "no_nulls")
    assert not result.passed
    assert "flag in 1 of 5" in result.message
    assert "note in 1 of 5" in result.message
    assert result.actual["order_id"] == 0


# --- field_values --------------------------------------------------------------------------

OPERATOR_CASES = [
    ("equals", "venue", "NYSE", True),
    ("equals", "venue", "LSE", False),
    ("equals", "qty", 100, True),
    ("equals", "qty", 100.00005, True),
    ("equals", "qty", 101, False),
    ("equals", "flag", True, False),
    ("not_equals", "venue", "LSE", True),
    ("not_equals", "venue", "NYSE", False),
    ("not_equals", "qty", 99, True),
    ("greater_than", "order_id", 0, True),
    ("greater_than", "order_id", 1, False),
    ("greater_than", "ts", "2024-01-01T00:00:00", True),
    ("greater_than", "ts", "2024-01-01 00:00:03", False),
    ("less_than", "price", 50.5, True),
    ("less_than", "price", 50, False),
    ("greater_than_or_equals", "order_id", 1, True),
    ("greater_than_or_equals", "order_id", 2, False),
    ("less_than_or_equals", "order_id", 5, True),
    ("less_than_or_equals", "order_id", 4, False),
    ("contains", "venue", "YS", True),
    ("contains", "symbol", "A", False),
    ("starts_with", "venue", "NY", True),
    ("starts_with", "venue", "Y", False),
    ("ends_with", "venue", "SE", True),
    ("ends_with", "venue", "NY", False),
    ("matches", "symbol", "^[A-Z]{4}$", True),
    ("matches", "symbol", "^M", False),
]


def test_operator_cases_cover_every_operator() -> None:
    assert {case[0] for case in OPERATOR_CASES} == set(OPERATORS)


@pytest.mark.parametrize(("operator", "field", "value", "passes"), OPERATOR_CASES)
def test_field_values_operator(
    ctx: AssertionContext, operator: str, field: str, value: object, passes: bool
) -> None:
    result = check(ctx, "field_values", field=field, operator=operator, value=value)
    assert result.passed is passes


def test_field_values_failure_message(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="price", operator="greater_than", value=35)
    assert "3 of 5 non-null values of price" in result.message
    assert "10.0, 20.0, 30.0" in result.message


def test_field_values_shows_three_examples(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="order_id", operator="greater_than", value=10)
    assert result.actual["examples"] == [1, 2, 3]


def test_field_values_skips_nulls(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="note", operator="not_equals", value="x")
    assert result.passed
    assert result.actual["checked"] == 4


def test_field_values_missing_field(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="amount", operator="greater_than", value=0)
    assert not result.passed
    assert "no field amount" in result.message
    assert "order_id, symbol, price" in result.message


def test_field_values_text_against_number(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="price", operator="greater_than", value="abc")
    assert not result.passed
    assert "cannot be compared" in result.message


def test_field_values_number_against_text(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="symbol", operator="greater_than", value=0)
    assert not result.passed
    assert result.actual["failed"] == 5


def test_field_values_unknown_operator() -> None:
    error = invalid("field_values", field="x", operator="greater_than_or_equal", value=1)
    assert "greater_than_or_equal" in error.message
    for operator in OPERATORS:
        assert operator in error.message


def test_field_values_bad_regex() -> None:
    error = invalid("field_values", field="x", operator="matches", value="([a-z")
    assert "not a valid regular expression" in error.message


def test_field_values_requires_value() -> None:
    error = invalid("field_values", field="x", operator="equals")
    assert "'value' key is required" in error.message


def test_field_values_unsupported_regex(ctx: AssertionContext) -> None:
    # Python accepts lookahead but DuckDB's RE2 does not: the result fails, nothing raises.
    result = check(ctx, "field_values", field="symbol", operator="matches", value="A(?=A)")
    assert not result.passed
    assert "could not be evaluated" in result.message


# --- field_in_set, aggregate_check ---------------------------------------------------------


def test_field_in_set_passes(ctx: AssertionContext) -> None:
    assert check(ctx, "field_in_set", field="symbol", values=["AAPL", "MSFT", "GOOG"]).passed


def test_field_in_set_fails(ctx: AssertionContext) -> None:
    result = check(ctx, "field_in_set", field="symbol", values=["AAPL", "MSFT"])
    assert not result.passed
    assert "1 of 5" in result.message
    assert "'GOOG'" in result.message


def test_field_in_set_numbers(ctx: AssertionContext) -> None:
    assert check(ctx, "field_in_set", field="price", values=[10, 20, 30, 40.5, 50]).passed


def test_field_in_set_booleans(ctx: AssertionContext) -> None:
    assert check(ctx, "field_in_set", field="flag", values=[True, False]).passed


AGGREGATE_CASES = [
    ("SUM", 150.5, True),
    ("sum", 150.0, False),
    ("COUNT", 5, True),
    ("count", 4, False),
    ("AVG", 30.1, True),
    ("avg", 30.0, False),
    ("MIN", 10, True),
    ("min", 20, False),
    ("MAX", 50, True),
    ("max", 40.5, False),
]


@pytest.mark.parametrize(("function", "expected", "passes"), AGGREGATE_CASES)
def test_aggregate_check_function(
    ctx: AssertionContext, function: str, expected: float, passes: bool
) -> None:
    result = check(ctx, "aggregate_check", function=function, field="price", expected=expected)
    assert result.passed is passes


def test_aggregate_check_tolerance(ctx: AssertionContext) -> None:
    assert check(ctx, "aggregate_check", function="SUM", field="price", expected=150, tolerance=1).passed


def test_aggregate_check_no_numbers(ctx: AssertionContext) -> None:
    result = check(ctx, "aggregate_check", function="SUM", field="symbol", expected=0)
    assert not result.passed
    assert "no numeric values" in result.message


def test_aggregate_check_unknown_function() -> None:
    error = invalid("aggregate_check", function="MEDIAN", field="x", expected=1)
    assert "AVG, COUNT, MAX, MIN, SUM" in error.message


def test_aggregate_check_template_expected() -> None:
    error = invalid("aggregate_check", function="SUM", field="x", expected="{{inputs.count}}")
    assert "'expected' must be a number" in error.message


# --- no_duplicates, ordering ---------------------------------------------------------------


def test_no_duplicates_passes(ctx: AssertionContext) -> None:
    assert check(ctx, "no_duplicates", key_fields=["order_id"]).passed


def test_no_duplicates_fails(ctx: AssertionContext) -> None:
    result = check(ctx, "no_duplicates", key_fields=["symbol"])
    assert not result.passed
    assert result.actual["duplicates"] == 2
    assert "'AAPL'" in result.message


def test_no_duplicates_percent(ctx: AssertionContext) -> None:
    assert check(ctx, "no_duplicates", key_fields="symbol", max_duplicate_percent=40).passed
    assert not check(ctx, "no_duplicates", key_fields="symbol", max_duplicate_percent=39).passed


def test_no_duplicates_composite_key(ctx: AssertionContext) -> None:
    assert check(ctx, "no_duplicates", key_fields=["symbol", "price"]).passed


def test_no_duplicates_allow_updates(ctx: AssertionContext) -> None:
    result = check(ctx, "no_duplicates", key_fields=["symbol"], allow_updates=True)
    assert result.passed
    assert "updates" in result.message


def test_ordering_ascending(ctx: AssertionContext) -> None:
    assert check(ctx, "ordering", field="ts").passed


def test_ordering_descending_fails(ctx: AssertionContext) -> None:
    result = check(ctx, "ordering", field="price", direction="descending")
    assert not result.passed
    assert result.actual["out_of_order"] == 4
    assert "10.0 then 20.0" in result.message


def test_ordering_allow_equal(ctx: AssertionContext) -> None:
    assert check(ctx, "ordering", field="qty").passed
    assert not check(ctx, "ordering", field="qty", allow_equal=False).passed


def test_ordering_partition_by(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE ticks AS SELECT * FROM (VALUES ('A', 1, 0), ('B', 5, 1), ('A', 2, 2), "
        "('B', 6, 3)) AS t(sym, val, _offset), (SELECT NULL AS _key, NULL AS _timestamp, "
        "0 AS _partition)"
    )
    context = AssertionContext(con=con, relation="ticks", fields=["sym", "val"])
    assert check(context, "ordering", field="val", partition_by="sym").passed
    assert not check(context, "ordering", field="val").passed


def test_ordering_per_sink_partition(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "CREATE TABLE spread AS SELECT * FROM (VALUES (0, 0, 5), (1, 0, 1), (0, 1, 6), "
        "(1, 1, 2)) AS t(_partition, _offset, val), (SELECT NULL AS _key, NULL AS _timestamp)"
    )
    context = AssertionContext(con=con, relation="spread", fields=["val"])
    assert check(context, "ordering", field="val").passed


def test_ordering_bad_direction() -> None:
    error = invalid("ordering", field="x", direction="sideways")
    assert "ascending, descending" in error.message


# --- performance ---------------------------------------------------------------------------


def test_throughput_min_rate(ctx: AssertionContext) -> None:
    assert check(ctx, "throughput", min_records_per_second=4).passed
    assert not check(ctx, "throughput", min_records_per_second=5).passed


def test_throughput_max_rate(ctx: AssertionContext) -> None:
    assert check(ctx, "throughput", max_records_per_second=4).passed
    assert not check(ctx, "throughput", max_records_per_second=3).passed


def test_throughput_expected_rate(ctx: AssertionContext) -> None:
    assert check(ctx, "throughput", expected_records_per_second=5, tolerance_percent=20).passed
    assert not check(ctx, "throughput", expected_records_per_second=5, tolerance_percent=10).passed


def test_throughput_zero_duration(ctx: AssertionContext) -> None:
    ctx.duration_s = 0.0
    result = check(ctx, "throughput", min_records_per_second=1)
    assert result.passed
    assert result.actual is None


def test_execution_time_limits(ctx: AssertionContext) -> None:
    assert check(ctx, "execution_time", max_ms=2000).passed
    assert not check(ctx, "execution_time", max_ms=1999).passed
    assert check(ctx, "execution_time", min_ms=1000).passed
    assert not check(ctx, "execution_time", min_ms=2001).passed


def test_execution_time_message(ctx: AssertionContext) -> None:
    result = check(ctx, "execution_time", max_ms=100)
    assert "2000 ms" in result.message


# --- error_rate ----------------------------------------------------------------------------


def test_error_rate_max_percent(ctx: AssertionContext) -> None:
    assert check(ctx, "error_rate", max_percent=25).passed
    assert not check(ctx, "error_rate", max_percent=24).passed


def test_error_rate_max_rate(ctx: AssertionContext) -> None:
    assert check(ctx, "error_rate", max_rate=0.25).passed
    assert not check(ctx, "error_rate", max_rate=0.2).passed


def test_error_rate_message(ctx: AssertionContext) -> None:
    result = check(ctx, "error_rate", max_percent=10)
    assert "2 failed records out of 8 input records" in result.message
    assert "25 %" in result.message


def test_error_rate_error_types(ctx: AssertionContext) -> None:
    assert check(ctx, "error_rate", max_percent=12.5, error_types=["wrong_type"]).passed


def test_error_rate_min_records(ctx: AssertionContext) -> None:
    result = check(ctx, "error_rate", max_percent=1, min_records=10)
    assert result.passed
    assert "Skipped" in result.message


def test_error_rate_rate_range() -> None:
    error = invalid("error_rate", max_rate=5)
    assert "at most 1" in error.message


# --- data_quality --------------------------------------------------------------------------


def test_data_quality_passes(ctx: AssertionContext) -> None:
    result = check(
        ctx,
        "data_quality",
        no_nulls_in=["order_id"],
        no_empty_strings_in=["symbol"],
        numeric_ranges=[{"field": "price", "min": 0, "max": 100}],
        string_patterns=[{"field": "symbol", "pattern": "^[A-Z]+$"}],
    )
    assert result.passed


@pytest.mark.parametrize(
    ("params", "violation"),
    [
        ({"no_nulls_in": ["note"]}, "note is NULL in 1 records"),
        ({"no_empty_strings_in": ["note"]}, "note is empty in 1 records"),
        ({"numeric_ranges": [{"field": "price", "max": 40}]}, "price is not a number <= 40 in 2"),
        ({"numeric_ranges": [{"field": "symbol", "min": 0}]}, "symbol is not a number >= 0 in 5"),
        ({"string_patterns": [{"field": "symbol", "pattern": "^A"}]}, "does not match '^A' in 3"),
    ],
)
def test_data_quality_rule_fails(ctx: AssertionContext, params: dict, violation: str) -> None:
    result = check(ctx, "data_quality", **params)
    assert not result.passed
    assert violation in result.message


def test_data_quality_missing_field(ctx: AssertionContext) -> None:
    result = check(ctx, "data_quality", no_nulls_in=["amount"])
    assert not result.passed
    assert "no field amount" in result.message


def test_data_quality_range_needs_bound() -> None:
    error = invalid("data_quality", numeric_ranges=[{"field": "price"}])
    assert "min or max" in error.message


# --- registry and results ------------------------------------------------------------------


def test_unknown_type_lists_valid() -> None:
    error = invalid("record_cont")
    assert "Did you mean 'record_count'?" in error.message
    for name in ASSERTION_TYPES:
        assert name in error.message


def test_unknown_type_location() -> None:
    error = invalid("nope")
    assert str(error.location) == "t.test.yaml:7"


def test_assertion_types_sorted() -> None:
    assert ASSERTION_TYPES == sorted(ASSERTION_TYPES)


def test_evaluate_all_in_order(ctx: AssertionContext) -> None:
    query = QuerySpec(
        name="trades",
        assertions=[
            AssertionSpec("record_count", {"equals": 5}),
            AssertionSpec("no_nulls", {"fields": ["note"]}),
        ],
    )
    results = evaluate_all(query, ctx)
    assert [r.type for r in results] == ["record_count", "no_nulls"]
    assert [r.passed for r in results] == [True, False]


def test_results_serialise_to_json(ctx: AssertionContext) -> None:
    result = check(ctx, "field_values", field="ts", operator="greater_than", value="2024-01-01 00:00:04")
    text = json.dumps(dataclasses.asdict(result))
    assert "2024-01-01T00:00:01" in text


def test_schema_contains_single_field(ctx: AssertionContext) -> None:
    assert check(ctx, "schema_contains", fields="symbol").passed


def test_data_quality_infinite_bound(ctx: AssertionContext) -> None:
    result = check(ctx, "data_quality", numeric_ranges=[{"field": "price", "max": float("inf")}])
    assert result.passed


def test_context_fields_from_relation(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE internal AS SELECT *, 0 AS __velo_row FROM trades")
    context = AssertionContext(con=con, relation="internal", fields=[])
    assert context.fields == FIELDS
