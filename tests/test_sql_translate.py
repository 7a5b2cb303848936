"""Tests for translating Velostream SELECTs to DuckDB and running them over a source micro-batch."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.pipeline import ROW_ID_COLUMN, SOURCE_RELATION
from velo_tui.engine.sql import DUCKDB_SETUP, load_pipeline, translate_select

LOCATION = SourceLocation("query.sql", 10, 1)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for statement in DUCKDB_SETUP:
        connection.execute(statement)
    yield connection
    connection.close()


def corpus_pipeline(corpus_dir: Path, name: str):
    path = corpus_dir / "tier8_fault_tolerance" / name
    if not path.is_file():
        pytest.skip(f"example pipeline {path} is not available")
    return load_pipeline(path, env={})


def run(con: duckdb.DuckDBPyConnection, sql: str, batch: pa.Table) -> pa.Table:
    """Run translated SQL over `batch` as the source micro-batch relation."""
    rows = batch.num_rows
    batch = batch.append_column(ROW_ID_COLUMN, pa.array(range(rows), pa.int64()))
    for name in ("_key", "_timestamp", "_partition", "_offset"):
        if name not in batch.column_names:
            batch = batch.append_column(name, pa.array([None] * rows, pa.string()))
    con.register(SOURCE_RELATION, batch)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister(SOURCE_RELATION)


def translate(select_sql: str, source: str = "src"):
    return translate_select(select_sql, source, LOCATION)


def orders_batch() -> pa.Table:
    return pa.table(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5"],
            "customer_id": ["c1", "c2", "c3", "c4", "c5"],
            "product_id": ["p1", "p2", "p3", "p4", "p5"],
            "quantity": [5, 0, 12, 150, 3],
            "unit_price": [10.0, 3.0, 99.5, 20.0, -1.0],
            "event_time": ["2026-01-01T00:00:00"] * 5,
        }
    )


def test_corpus_dlq_basic_runs(corpus_dir, con):
    statement = corpus_pipeline(corpus_dir, "70_dlq_basic.sql").statements[0]
    batch = pa.table(
        {
            "event_id": ["e1", "e2", "e3"],
            "user_id": ["u1", "u2", "u3"],
            "event_type": ["click", None, "view"],
            "amount": ["12.5", "3", "7"],
            "event_time": ["t1", "t2", "t3"],
        }
    )
    result = run(con, statement.duckdb_sql, batch)
    kept = [i for i, kind in enumerate(batch["event_type"].to_pylist()) if kind is not None]
    assert result.column_names == [*statement.output_columns, ROW_ID_COLUMN]
    assert result[ROW_ID_COLUMN].to_pylist() == kept
    assert result["amount"].to_pylist() == [float(batch["amount"][i].as_py()) for i in kept]


def test_corpus_dlq_basic_bad_cast_raises(corpus_dir, con):
    statement = corpus_pipeline(corpus_dir, "70_dlq_basic.sql").statements[0]
    batch = pa.table(
        {
            "event_id": ["e1"],
            "user_id": ["u1"],
            "event_type": ["click"],
            "amount": ["not a number"],
            "event_time": ["t1"],
        }
    )
    with pytest.raises(duckdb.ConversionException):
        run(con, statement.duckdb_sql, batch)


def test_corpus_fault_injection_runs(corpus_dir, con):
    statement = corpus_pipeline(corpus_dir, "72_fault_injection.sql").statements[0]
    batch = orders_batch()
    result = run(con, statement.duckdb_sql, batch)
    rows = batch.to_pylist()
    kept = [i for i, row in enumerate(rows) if row["quantity"] > 0 and row["unit_price"] > 0]
    assert result[ROW_ID_COLUMN].to_pylist() == kept
    expected_totals = [rows[i]["quantity"] * rows[i]["unit_price"] for i in kept]
    assert result["total_amount"].to_pylist() == expected_totals

    def size(quantity: int) -> str:
        if quantity > 100:
            return "BULK"
        if quantity > 10:
            return "STANDARD"
        return "SMALL"

    assert result["order_size"].to_pylist() == [size(rows[i]["quantity"]) for i in kept]


def test_corpus_debug_mode_stages_chain(corpus_dir, con):
    pipeline = corpus_pipeline(corpus_dir, "73_debug_mode.sql")
    batch = orders_batch()
    for statement in pipeline.statements:
        result = run(con, statement.duckdb_sql, batch)
        assert result.column_names == [*statement.output_columns, ROW_ID_COLUMN]
        batch = result.drop_columns([ROW_ID_COLUMN])

    rows = [row for row in orders_batch().to_pylist() if row["quantity"] > 0 and row["unit_price"] > 0]
    final = batch.to_pylist()
    assert len(final) == len(rows)
    for row, out in zip(rows, final):
        total = row["quantity"] * row["unit_price"]
        tier = "BASIC"
        if total > 1000:
            tier = "PREMIUM"
        elif total > 100:
            tier = "STANDARD"
        kind = "SINGLE_UNIT"
        if row["quantity"] >= 100:
            kind = "BULK_ORDER"
        elif row["quantity"] >= 10:
            kind = "MULTI_UNIT"
        assert out["line_total"] == total
        assert out["routing_key"] == f"{tier}_{kind}"


def test_corpus_stress_test_runs(corpus_dir, con):
    statement = corpus_pipeline(corpus_dir, "74_stress_test.sql").statements[0]
    batch = pa.table(
        {
            "trade_id": ["t1", "t2", "t3", "t4"],
            "symbol": ["AAPL", "MSFT", "GOOG", "IBM"],
            "quantity": [1000, 10, 0, 500],
            "price": [150.0, 20.5, 10.0, 30.0],
            "side": ["BUY", "SELL", "BUY", "SELL"],
            "event_time": ["t"] * 4,
        }
    )
    result = run(con, statement.duckdb_sql, batch)
    rows = batch.to_pylist()
    kept = [i for i, row in enumerate(rows) if row["quantity"] > 0 and row["price"] > 0]
    notional = [rows[i]["quantity"] * rows[i]["price"] for i in kept]
    sizes = []
    for value in notional:
        if value > 100000:
            sizes.append("LARGE")
        elif value > 10000:
            sizes.append("MEDIUM")
        else:
            sizes.append("SMALL")
    assert result["notional_value"].to_pylist() == notional
    assert result["trade_size"].to_pylist() == sizes


def test_translate_reads_source_relation():
    translation = translate("SELECT a FROM src")
    assert f"FROM {SOURCE_RELATION}" in translation.duckdb_sql


def test_translate_keeps_user_alias(con):
    translation = translate("SELECT s.a AS a FROM src s WHERE s.a > 1")
    result = run(con, translation.duckdb_sql, pa.table({"a": [1, 2, 3]}))
    assert result["a"].to_pylist() == [2, 3]


def test_translate_source_name_qualifier(con):
    translation = translate("SELECT src.a FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"a": [4]}))
    assert result["a"].to_pylist() == [4]


def test_translate_appends_row_id():
    translation = translate("SELECT a, b FROM src")
    assert translation.duckdb_sql.rstrip().split(" FROM ")[0].endswith(ROW_ID_COLUMN)


def test_translate_output_names():
    translation = translate("SELECT a, b AS bee, a + 1, CAST(a AS STRING) FROM src")
    assert translation.output_columns == ["a", "bee", "a + 1", "CAST(a AS STRING)"]


def test_translate_unaliased_expression_named_as_written(con):
    translation = translate("SELECT quantity  *  price FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"quantity": [2], "price": [3]}))
    assert result.column_names[0] == translation.output_columns[0]


def test_translate_duplicate_output_name():
    with pytest.raises(InputError, match="'x' appears twice"):
        translate("SELECT a AS x, b AS x FROM src")


def test_translate_true_division(con):
    translation = translate("SELECT a / b AS q FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"a": [7], "b": [2]}))
    assert result["q"].to_pylist() == [3.5]


@pytest.mark.parametrize(
    "numerator, denominator",
    [(7, 0), (7.5, 0.0)],
    ids=["integer", "float"],
)
def test_translate_division_by_zero_raises(con, numerator, denominator):
    translation = translate("SELECT a / b AS q FROM src")
    batch = pa.table({"a": [numerator, numerator], "b": [2 * (denominator or 1), denominator]})
    with pytest.raises(duckdb.Error, match="division by zero"):
        run(con, translation.duckdb_sql, batch)


def test_translate_nested_division(con):
    translation = translate("SELECT a / b / c AS q FROM src")
    with pytest.raises(duckdb.Error, match="division by zero"):
        run(con, translation.duckdb_sql, pa.table({"a": [8], "b": [2], "c": [0]}))


def test_translate_modulo_by_zero_raises(con):
    translation = translate("SELECT a % b AS r FROM src")
    with pytest.raises(duckdb.Error, match="division by zero"):
        run(con, translation.duckdb_sql, pa.table({"a": [7], "b": [0]}))


def test_translate_pipe_concat_null_yields_null(con):
    translation = translate("SELECT a || '_' || b AS joined FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"a": ["x", "y"], "b": ["z", None]}))
    assert result["joined"].to_pylist() == ["x_z", None]


def test_translate_concat_function_skips_null(con):
    translation = translate("SELECT CONCAT(a, b) AS joined FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"a": ["x"], "b": pa.array([None], pa.string())}))
    assert result["joined"].to_pylist() == ["x"]


def test_translate_failing_cast_raises(con):
    translation = translate("SELECT CAST(a AS INTEGER) AS n FROM src")
    with pytest.raises(duckdb.ConversionException):
        run(con, translation.duckdb_sql, pa.table({"a": ["12", "twelve"]}))


@pytest.mark.parametrize(
    "velostream_type, duckdb_type",
    [
        ("STRING", "VARCHAR"),
        ("INTEGER", "BIGINT"),
        ("FLOAT", "DOUBLE"),
        ("DOUBLE", "DOUBLE"),
        ("BOOLEAN", "BOOLEAN"),
        ("DECIMAL", "DECIMAL(38,4)"),
        ("DECIMAL(10, 2)", "DECIMAL(10,2)"),
    ],
)
def test_translate_cast_types(con, velostream_type, duckdb_type):
    translation = translate(f"SELECT typeof(CAST(a AS {velostream_type})) AS t FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"a": ["1"]}))
    assert result["t"].to_pylist() == [duckdb_type]


def test_translate_pseudo_columns_case_insensitive(con):
    translation = translate("SELECT _KEY, _Partition AS p, _offset FROM src")
    batch = pa.table({"_key": ["k1"], "_partition": [3], "_offset": [42]})
    result = run(con, translation.duckdb_sql, batch)
    assert translation.output_columns == ["_key", "p", "_offset"]
    assert result.to_pylist()[0] == {"_key": "k1", "p": 3, "_offset": 42, ROW_ID_COLUMN: 0}


def test_translate_star_hides_metadata(con):
    translation = translate("SELECT * FROM src")
    batch = pa.table({"a": [1], "b": ["x"], "_key": ["k"]})
    result = run(con, translation.duckdb_sql, batch)
    assert result.column_names == ["a", "b", ROW_ID_COLUMN]


def test_translate_primary_key(con):
    translation = translate("SELECT id PRIMARY KEY, name FROM src")
    result = run(con, translation.duckdb_sql, pa.table({"id": [1], "name": ["n"]}))
    assert translation.key_column == "id"
    assert "PRIMARY" not in translation.duckdb_sql.upper()
    assert result["id"].to_pylist() == [1]


def test_translate_primary_key_alias():
    translation = translate("SELECT a, UPPER(b) AS k PRIMARY KEY FROM src")
    assert translation.key_column == "k"


def test_translate_compound_primary_key_rejected():
    with pytest.raises(InputError, match="more than one PRIMARY KEY"):
        translate("SELECT a PRIMARY KEY, b PRIMARY KEY FROM src")


def test_translate_scalar_functions(con):
    translation = translate(
        "SELECT UPPER(s) AS u, LOWER(s) AS l, TRIM(p) AS t, LENGTH(s) AS n, "
        "SUBSTRING(s, 1, 2) AS sub, ROUND(x, 1) AS r, ABS(y) AS ab, FLOOR(x) AS f, CEIL(x) AS c, "
        "COALESCE(m, 'none') AS co FROM src "
        "WHERE s LIKE 'Ab%' AND y BETWEEN -5 AND 5 AND s IN ('Abc', 'Abd') AND m IS NULL "
        "AND NOT (x > 100 OR x < 0)"
    )
    batch = pa.table(
        {
            "s": ["Abc", "Xyz"],
            "p": [" pad ", "q"],
            "x": [2.26, 1.0],
            "y": [-3, 1],
            "m": pa.array([None, None], pa.string()),
        }
    )
    result = run(con, translation.duckdb_sql, batch).to_pylist()
    assert len(result) == 1
    row = result[0]
    assert (row["u"], row["l"], row["t"], row["n"], row["sub"]) == ("ABC", "abc", "pad", 3, "Ab")
    assert (row["r"], row["ab"], row["f"], row["c"], row["co"]) == (2.3, 3, 2.0, 3.0, "none")


@pytest.mark.parametrize(
    "sql, construct, column",
    [
        ("SELECT a, COUNT(*) AS n FROM src GROUP BY a", "GROUP BY", 34),
        ("SELECT SUM(a) AS s FROM src", "aggregate function SUM", 8),
        ("SELECT a FROM src WINDOW TUMBLING(1m)", "WINDOW", 19),
        ("SELECT LAG(a, 1) OVER (ORDER BY a) AS l FROM src", "OVER", 18),
        ("SELECT a FROM src s LEFT JOIN t ON s.a = t.a", "LEFT JOIN", 21),
        ("SELECT a FROM src WHERE a IN (SELECT b FROM t)", "a subquery", 31),
        ("SELECT a FROM src UNION ALL SELECT a FROM t", "UNION", 19),
        ("SELECT DISTINCT a FROM src", "DISTINCT", 8),
        ("SELECT a FROM src ORDER BY a", "ORDER BY", 19),
        ("SELECT a FROM src LIMIT 5", "LIMIT", 19),
        ("SELECT a FROM src HAVING a > 1", "HAVING", 19),
        ("SELECT a FROM src, t", "more than one FROM relation", 18),
    ],
)
def test_translate_unsupported_construct(sql, construct, column):
    with pytest.raises(InputError) as caught:
        translate(sql)
    assert construct in caught.value.message
    assert "not supported" in caught.value.message
    assert caught.value.location.line == LOCATION.line
    assert caught.value.location.column == column


def test_translate_unsupported_on_later_line():
    with pytest.raises(InputError) as caught:
        translate_select("SELECT a\nFROM src\n  GROUP BY a", "src", SourceLocation("q.sql", 5, 3))
    assert caught.value.location.line == 7
    assert caught.value.location.column == 3


def test_translate_unknown_function():
    with pytest.raises(InputError, match="unknown function HEADER") as caught:
        translate("SELECT HEADER('k') AS h FROM src")
    assert caught.value.location.column == 8


def test_translate_syntax_error_location():
    with pytest.raises(InputError) as caught:
        translate_select("SELECT a\nFROM src\nWHERE a = = 3", "src", SourceLocation("q.sql", 20, 5))
    error = caught.value
    assert "syntax error" in error.message
    assert "'='" in error.message
    assert str(error.location) == "q.sql:22:11"


def test_translate_syntax_error_first_line_offset():
    with pytest.raises(InputError) as caught:
        translate_select("SELECT a b c FROM src", "src", SourceLocation("q.sql", 4, 5))
    assert str(caught.value.location) == "q.sql:4:16"
    assert "'c'" in caught.value.message


def test_translate_unterminated_string():
    with pytest.raises(InputError, match="never closed") as caught:
        translate("SELECT 'abc FROM src")
    assert caught.value.location.column == 8


def test_translate_source_mismatch():
    with pytest.raises(InputError, match="reads FROM 'other'"):
        translate("SELECT a FROM other", source="src")


def test_empty_select_item_is_syntax_error() -> None:
    with pytest.raises(InputError) as caught:
        translate_select("SELECT id,, amount FROM orders", "orders", SourceLocation("p.sql", 4, 1))
    assert "empty item in the select list" in caught.value.message
    assert caught.value.location.line == 4


def test_trailing_select_comma_is_syntax_error() -> None:
    with pytest.raises(InputError) as caught:
        translate_select("SELECT id, amount, FROM orders", "orders", SourceLocation("p.sql", 1, 1))
    assert "empty item in the select list" in caught.value.message
