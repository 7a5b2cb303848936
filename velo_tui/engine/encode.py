"""Encode a statement's result rows as JSON messages for its sink topic, in DuckDB.

Each output message keeps the key, timestamp and headers of the input message it came from,
unless the statement declares a `PRIMARY KEY` column, whose text becomes the key. Rows that
cannot be written as JSON (NaN or Infinity in a DOUBLE column) become encode failures.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.broker.base import HEADER_TYPE, PRODUCE_SCHEMA
from velo_tui.engine.decode import FAILURE_SCHEMA
from velo_tui.engine.pipeline import ROW_ID_COLUMN


@dataclass
class EncodedBatch:
    """Messages ready to produce, with the input row each came from, and encode failures."""

    messages: pa.Table  # PRODUCE_SCHEMA
    rows: pa.Array  # input row id of each message
    failures: pa.Table  # FAILURE_SCHEMA


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def encode_rows(
    con: duckdb.DuckDBPyConnection,
    result: pa.Table,
    source: pa.Table,
    key_column: str | None,
) -> EncodedBatch:
    """Encode `result` (output columns plus ROW_ID_COLUMN) against the consumed `source` batch."""
    return finish_encoding(encode_table(con, result, key_column), source, key_column)


def encode_table(con: duckdb.DuckDBPyConnection, result: pa.Table, key_column: str | None) -> pa.Table:
    """Run the `encode_sql` query over `result`; `finish_encoding` turns its output into messages."""
    con.register("velo_result", result)
    try:
        return con.sql(encode_sql(result.schema, key_column, "velo_result")).to_arrow_table()
    finally:
        con.unregister("velo_result")


def encode_sql(schema: pa.Schema, key_column: str | None, relation: str) -> str:
    """Return the query that encodes `relation`, whose columns have the Arrow types of `schema`.

    The query yields ROW_ID_COLUMN, `bad_field` (the first NaN or infinite float field, else
    NULL), `value` (the JSON object) and `key`; `finish_encoding` turns that into messages.
    """
    fields = []
    finite_checks = []
    for arrow_field in schema:
        name = arrow_field.name
        if name == ROW_ID_COLUMN:
            continue
        quoted = _quote(name)
        if pa.types.is_timestamp(arrow_field.type):
            fields.append(f"{quoted} := strftime({quoted}, '%Y-%m-%dT%H:%M:%S.%g')")
        else:
            fields.append(f"{quoted} := {quoted}")
        if pa.types.is_floating(arrow_field.type):
            finite_checks.append(f"WHEN NOT isfinite({quoted}) THEN {_sql_string(name)}")
    struct = ", ".join(fields)
    failure = "CASE " + " ".join(finite_checks) + " END" if finite_checks else "NULL"
    key = f"CAST(CAST({_quote(key_column)} AS VARCHAR) AS BLOB)" if key_column else "NULL::BLOB"
    return f"""
        SELECT {ROW_ID_COLUMN}, {failure} AS bad_field,
               CAST(to_json(struct_pack({struct})) AS BLOB) AS value, {key} AS key
        FROM {relation}
    """


def finish_encoding(encoded: pa.Table, source: pa.Table, key_column: str | None) -> EncodedBatch:
    """Split the output of `encode_sql` into messages for the sink topic and encode failures."""
    bad_mask = pc.is_valid(encoded.column("bad_field"))
    failures = FAILURE_SCHEMA.empty_table()
    if pc.any(bad_mask).as_py():
        bad = encoded.filter(bad_mask)
        fields_failed = bad.column("bad_field")
        failures = pa.Table.from_arrays(
            [
                bad.column(ROW_ID_COLUMN),
                pa.array(["encode"] * bad.num_rows),
                pa.array(["non_finite_number"] * bad.num_rows),
                fields_failed,
                pc.binary_join_element_wise(
                    "output field '", fields_failed,
                    "' is NaN or Infinity, which JSON cannot carry", "",
                ),
            ],
            schema=FAILURE_SCHEMA,
        )
        encoded = encoded.filter(pc.invert(bad_mask))

    rows = encoded.column(ROW_ID_COLUMN).combine_chunks()
    origin = _origin_columns(source, rows)
    keys = encoded.column("key") if key_column else origin.column("key")
    messages = pa.Table.from_arrays(
        [
            pa.nulls(encoded.num_rows, pa.int32()),
            origin.column("timestamp"),
            keys,
            encoded.column("value"),
            origin.column("headers").cast(HEADER_TYPE),
        ],
        schema=PRODUCE_SCHEMA,
    )
    return EncodedBatch(messages, rows, failures)


def _origin_columns(source: pa.Table, rows: pa.Array) -> pa.Table:
    """Return the timestamp, key and headers of the source messages at `rows`.

    Only these columns are taken (the values are the larger part of a batch), and not at all
    when every source message gave one output row in order, as a statement without WHERE does.
    """
    origin = source.select(["timestamp", "key", "headers"])
    if len(rows) == source.num_rows and (
        rows.null_count == 0
        and np.array_equal(rows.to_numpy(zero_copy_only=False), np.arange(source.num_rows))
    ):
        return origin
    return origin.take(rows)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
