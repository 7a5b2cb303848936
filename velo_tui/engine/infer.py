"""Infer the columns of a topic that has no declared schema from the JSON of a sample of its
messages, with DuckDB's `json_group_structure`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from velo_tui.engine.broker.base import Broker
from velo_tui.engine.decode import ColumnSpec

log = logging.getLogger(__name__)

#: Messages read to infer a topic's columns.
DEFAULT_SAMPLE = 1000


def infer_columns(
    broker: Broker,
    topic: str,
    start_offsets: Mapping[int, int] | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> list[ColumnSpec]:
    """Return the columns of `topic`, inferred from up to `sample` messages from its start.

    Numbers become BIGINT or DOUBLE, booleans BOOLEAN, text that always reads as a date or a
    timestamp DATE or TIMESTAMP, and anything else (text, nested objects and arrays, fields that
    are always null) VARCHAR. A topic without JSON objects has no columns.
    """
    batches = []
    taken = 0
    for batch in broker.consume(topic, max_batch=sample, start_offsets=start_offsets):
        batches.append(batch)
        taken += batch.num_rows
        if taken >= sample:
            break
    if not batches:
        return []
    messages = pa.concat_tables(batches).slice(0, sample)
    return infer_columns_from_messages(messages)


def infer_columns_from_messages(messages: pa.Table) -> list[ColumnSpec]:
    """Infer columns from a table with a binary `value` column (broker MESSAGE_SCHEMA)."""
    con = duckdb.connect()
    con.register("velo_sample", messages.select(["value"]))
    structure = con.execute(
        """
        SELECT json_group_structure(CAST(text AS JSON)) FROM (
            SELECT try(decode(value)) AS text FROM velo_sample
        ) WHERE json_valid(text) AND json_type(text) = 'OBJECT'
        """
    ).fetchall()[0][0]
    if not structure:
        return []
    mapping = json.loads(structure)
    if not isinstance(mapping, dict):
        return []
    columns = [ColumnSpec(name, _column_type(kind)) for name, kind in mapping.items()]
    _detect_temporal(con, columns)
    log.debug("inferred %d column(s) from %d message(s)", len(columns), messages.num_rows)
    return columns


def _column_type(kind: object) -> str:
    if isinstance(kind, str):
        upper = kind.upper()
        if upper in ("BIGINT", "UBIGINT"):
            return "BIGINT"
        if upper == "DOUBLE":
            return "DOUBLE"
        if upper == "BOOLEAN":
            return "BOOLEAN"
    return "VARCHAR"


def _detect_temporal(con: duckdb.DuckDBPyConnection, columns: list[ColumnSpec]) -> None:
    """Retype text columns whose every non-null sample value reads as a DATE or a TIMESTAMP."""
    text_columns = [c for c in columns if c.duckdb_type == "VARCHAR"]
    if not text_columns:
        return
    checks = []
    for index, column in enumerate(text_columns):
        path = "'" + ('$."' + column.name.replace('"', '\\"') + '"').replace("'", "''") + "'"
        value = f"json_extract_string(text, {path})"
        checks.append(
            f"count({value}) AS n{index}, "
            f"count(CASE WHEN length({value}) = 10 THEN TRY_CAST({value} AS DATE) END) AS d{index}, "
            f"count(CASE WHEN regexp_matches({value}, '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]\\d') "
            f"THEN TRY_CAST({value} AS TIMESTAMP) END) AS t{index}"
        )
    row = con.execute(
        f"""
        SELECT {', '.join(checks)} FROM (
            SELECT try(decode(value)) AS text FROM velo_sample
        ) WHERE json_valid(text) AND json_type(text) = 'OBJECT'
        """
    ).fetchall()[0]
    for index, column in enumerate(text_columns):
        present, dates, timestamps = row[3 * index], row[3 * index + 1], row[3 * index + 2]
        if present and dates == present:
            column.duckdb_type = "DATE"
        elif present and timestamps == present:
            column.duckdb_type = "TIMESTAMP"
