"""Tests of the filter expression language: parsing, errors with positions, and the DuckDB
predicates it produces, run against a real DuckDB table."""

from __future__ import annotations

import duckdb
import pytest

from velo_tui.engine.decode import ColumnSpec
from velo_tui.engine.errors import InputError
from velo_tui.engine.filters import FilterError, compile_filter

COLUMNS = [
    ColumnSpec("price", "DOUBLE"),
    ColumnSpec("status", "VARCHAR"),
    ColumnSpec("tier", "VARCHAR"),
    ColumnSpec("quantity", "BIGINT"),
    ColumnSpec("amount", "DECIMAL(18,2)"),
    ColumnSpec("active", "BOOLEAN"),
    ColumnSpec("event_time", "TIMESTAMP"),
    ColumnSpec("code", "VARCHAR"),
]

ROWS = [
    (50.0, "shipped", "PREMIUM", 1, "10.50", True, "2024-01-01 10:00:00", "100"),
    (150.0, "pending", "standard", 20, "99.99", False, "2024-02-01 10:00:00", "A-1"),
    (1500.0, "shipped", "premium plus", 200, "1000.00", True, "2024-03-01 10:00:00", "it's"),
    (None, None, None, None, None, None, None, None),
    (100.0, "cancelled", "BASIC", 5, "0.01", False, "2023-12-31 23:59:59", "x"),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(
        "CREATE TABLE t (price DOUBLE, status VARCHAR, tier VARCHAR, quantity BIGINT, "
        "amount DECIMAL(18,2), active BOOLEAN, event_time TIMESTAMP, code VARCHAR, id INTEGER)"
    )
    for number, row in enumerate(ROWS):
        connection.execute("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [*row, number])
    return connection


def matching_ids(con: duckdb.DuckDBPyConnection, expression: str) -> list[int]:
    compiled = compile_filter(expression, COLUMNS)
    rows = con.execute(f"SELECT id FROM t WHERE {compiled.where} ORDER BY id", compiled.params).fetchall()
    return [row[0] for row in rows]


def inline_ids(con: duckdb.DuckDBPyConnection, expression: str) -> list[int]:
    compiled = compile_filter(expression, COLUMNS)
    return [row[0] for row in con.execute(f"SELECT id FROM t WHERE {compiled.inline} ORDER BY id").fetchall()]


def sql_ids(con: duckdb.DuckDBPyConnection, predicate: str) -> list[int]:
    return [row[0] for row in con.execute(f"SELECT id FROM t WHERE {predicate} ORDER BY id").fetchall()]


CASES = [
    ("price>100", "price > 100"),
    ("price >= 100", "price >= 100"),
    ("price < 100", "price < 100"),
    ("price <= 100", "price <= 100"),
    ("price = 150", "price = 150"),
    ("price == 150", "price = 150"),
    ("price != 150", "price <> 150"),
    ("price <> 150", "price <> 150"),
    ("status = 'shipped'", "status = 'shipped'"),
    ("status = shipped", "status = 'shipped'"),
    ("tier ~ PREM", "lower(tier) LIKE '%prem%'"),
    ("tier !~ prem", "NOT lower(tier) LIKE '%prem%'"),
    ("status = shipped and price > 100", "status = 'shipped' AND price > 100"),
    ("status = shipped OR tier ~ basic", "status = 'shipped' OR lower(tier) LIKE '%basic%'"),
    ("(status = pending or status = cancelled) and price >= 100",
     "status IN ('pending', 'cancelled') AND price >= 100"),
    ("not status = shipped", "NOT status = 'shipped'"),
    ("quantity * price > 1000 AND tier ~ PREM", "quantity * price > 1000 AND lower(tier) LIKE '%prem%'"),
    ("amount > 99.5", "amount > 99.5"),
    ("amount = '10.50'", "amount = 10.50"),
    ("code = 100", "code = '100'"),
    ("code = 'it''s'", "code = 'it''s'"),
    ("status IN (shipped, 'cancelled')", "status IN ('shipped', 'cancelled')"),
    ("status NOT IN (shipped)", "status NOT IN ('shipped')"),
    ("status IS NULL", "status IS NULL"),
    ("status is not null", "status IS NOT NULL"),
    ("status LIKE 'sh%'", "status LIKE 'sh%'"),
    ("tier ILIKE 'prem%'", "tier ILIKE 'prem%'"),
    ("quantity BETWEEN 5 AND 20", "quantity BETWEEN 5 AND 20"),
    ("quantity NOT BETWEEN 5 AND 20", "quantity NOT BETWEEN 5 AND 20"),
    ("active", "active"),
    ("active = true", "active = true"),
    ("event_time >= 2024-02-01", "event_time >= TIMESTAMP '2024-02-01'"),
    ("event_time < '2024-01-01 12:00:00'", "event_time < TIMESTAMP '2024-01-01 12:00:00'"),
    ("lower(status) = 'shipped'", "lower(status) = 'shipped'"),
    ("length(tier) > 5", "length(tier) > 5"),
    ("quantity = -5 or price > 1e3", "quantity = -5 OR price > 1000"),
    ('"price" > 100', "price > 100"),
    ("PRICE > 100", "price > 100"),
]


@pytest.mark.parametrize(("expression", "predicate"), CASES)
def test_filter_matches_sql(con: duckdb.DuckDBPyConnection, expression: str, predicate: str) -> None:
    assert matching_ids(con, expression) == sql_ids(con, predicate)


@pytest.mark.parametrize(("expression", "predicate"), CASES)
def test_filter_inline_matches_params(con: duckdb.DuckDBPyConnection, expression: str, predicate: str) -> None:
    assert inline_ids(con, expression) == sql_ids(con, predicate)


def test_filter_params_carry_literals() -> None:
    compiled = compile_filter("status = 'x; DROP TABLE t' and price > 1", COLUMNS)
    assert compiled.params == ["x; DROP TABLE t", 1]


def test_filter_inline_quotes_text() -> None:
    compiled = compile_filter("status = 'a''b'", COLUMNS)
    assert "'a''b'" in compiled.inline


def test_filter_lists_fields_used() -> None:
    compiled = compile_filter("price > 1 and (tier ~ a or price < 5) and quantity = 2", COLUMNS)
    assert compiled.fields == ["price", "tier", "quantity"]


def test_filter_injection_stays_text(con: duckdb.DuckDBPyConnection) -> None:
    assert matching_ids(con, "status = 'x'' OR 1=1 --'") == []


ERRORS = [
    ("prise > 100", 1, "unknown field 'prise'"),
    ("price > ", 9, "a value is missing"),
    ("price > )", 9, "unexpected ')'"),
    ("(price > 1", 11, "expected ')'"),
    ("status = 'open", 10, "unterminated string"),
    ("price 100", 7, "expected an operator"),
    ("price > abc", 9, "'abc' is not a number"),
    ("status = a b", 12, "unexpected 'b'"),
    ("price > 1 and", 14, "ends too early"),
    ("price > 1 @", 11, "unexpected character"),
    ("active = maybe", 10, "not a boolean"),
    ("nosuch(price) > 1", 1, "unknown function 'nosuch'"),
    ("round() > 1", 1, "round takes 1 to 2 argument(s), got 0"),
    ("status IS 5", 11, "expected NULL after IS"),
    ("status + 1 > 2", 1, "needs numbers"),
]


@pytest.mark.parametrize(("expression", "column", "text"), ERRORS)
def test_filter_error_position(expression: str, column: int, text: str) -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter(expression, COLUMNS)
    assert caught.value.column == column
    assert text in str(caught.value)
    assert f"at column {column}" in str(caught.value)


def test_filter_error_is_input_error() -> None:
    with pytest.raises(InputError):
        compile_filter("nope = 1", COLUMNS)


def test_filter_unknown_field_lists_fields() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("prise > 100", COLUMNS)
    message = str(caught.value)
    assert "did you mean 'price'" in message
    assert "price, status, tier, quantity" in message


def test_filter_empty_expression() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("   ", COLUMNS)
    assert "empty" in str(caught.value)


def test_filter_needs_condition() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("price", COLUMNS)
    assert "expected an operator" in str(caught.value)
