"""DuckDB relations over the messages of one topic or over the DLQ entries, for the record views.

A topic's messages are held as one Arrow table in (partition, offset) order and registered in
the views' DuckDB connection. A DuckDB view on top of it gives every field as a typed column that
is computed only when a query reads it, so a filter parses the JSON for the fields it references
and nothing else. Fields that a filter has read are then kept as Arrow columns, so the next
filter over them skips JSON parsing altogether. Rows for display are computed only for the
window that is shown.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.decode import ColumnSpec
from velo_tui.engine.dlq import DeadLetterEntry
from velo_tui.engine.filters import quote_identifier, sql_literal

log = logging.getLogger(__name__)

#: Message metadata every record row carries beside its fields, with their DuckDB types.
PSEUDO_COLUMNS = (
    ColumnSpec("_partition", "INTEGER"),
    ColumnSpec("_offset", "BIGINT"),
    ColumnSpec("_timestamp", "BIGINT"),
    ColumnSpec("_key", "VARCHAR"),
)

ROW = "__row"  # position of a record in (partition, offset) order, from 0

_SAFE_TYPE = re.compile(r"[A-Z]+( [A-Z]+)*(\(\d+(, ?\d+)?\))?")


@dataclass
class RecordDetail:
    """One record in full: key, value (pretty JSON or raw text), headers and position."""

    label: str
    topic: str
    partition: int | None
    offset: int | None
    timestamp_ms: int | None
    timestamp_text: str  # ISO 8601 in UTC, or "" without a timestamp
    key: str | None
    value: str | None  # pretty-printed JSON, or the raw text when the value is not JSON
    is_json: bool
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: For a DLQ entry: statement, stage, error type, field, message and the rest of its context.
    context: list[tuple[str, str]] = field(default_factory=list)


def text_of(data: bytes | None) -> str | None:
    """Decode message bytes as UTF-8, escaping invalid bytes instead of failing."""
    if data is None:
        return None
    return data.decode("utf-8", errors="backslashreplace")


def iso_timestamp(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    moment = datetime.fromtimestamp(milliseconds / 1000, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def pretty_value(text: str | None) -> tuple[str | None, bool]:
    """Return (value for display, whether it is JSON): JSON indented, anything else as it is."""
    if text is None:
        return None, False
    try:
        parsed = json.loads(text.removeprefix("\ufeff"))
    except ValueError:
        return text, False
    return json.dumps(parsed, indent=2, ensure_ascii=False), True


def _string_column(con: duckdb.DuckDBPyConnection, data: pa.ChunkedArray) -> pa.ChunkedArray:
    """Return binary data as text: zero-copy when it is valid UTF-8, else with bad values null."""
    try:
        return data.cast(pa.string())
    except pa.ArrowInvalid:
        con.register("__velo_bytes", pa.table({"data": data}))
        try:
            return con.sql("SELECT try(decode(data)) AS text FROM __velo_bytes").to_arrow_table().column(0)
        finally:
            con.unregister("__velo_bytes")


def _typed(raw: str, column: ColumnSpec) -> str:
    """Return SQL converting `raw` (the field's JSON value as text) to the column's type."""
    kind = column.duckdb_type.upper()
    if not _SAFE_TYPE.fullmatch(kind):
        kind = "VARCHAR"
    if kind == "VARCHAR":
        return raw
    if kind == "TIMESTAMP":
        # Timestamps arrive as ISO 8601 text or as epoch milliseconds, as the decoder accepts.
        return (
            f"COALESCE(TRY_CAST({raw} AS TIMESTAMP), "
            f"TRY_CAST(epoch_ms(TRY_CAST({raw} AS BIGINT)) AS TIMESTAMP))"
        )
    return f"TRY_CAST({raw} AS {kind})"


def _json_path(name: str) -> str:
    return sql_literal('$."' + name.replace("\\", "\\\\").replace('"', '\\"') + '"')


class Relation:
    """Records of a topic or of the DLQ, queryable by SQL through `view`."""

    label: str
    topic: str
    columns: list[ColumnSpec]
    view: str
    total: int

    @property
    def filter_columns(self) -> list[ColumnSpec]:
        """Fields a filter may name: the record fields plus the pseudo-columns they do not shadow."""
        names = {c.name for c in self.columns}
        return self.columns + [c for c in PSEUDO_COLUMNS if c.name not in names]

    def materialise(self, fields: list[str]) -> None:
        """Keep the typed values of `fields` for every row, so later queries skip JSON parsing."""

    def window(self, positions: np.ndarray) -> pa.Table:
        """Return typed rows (fields, pseudo-columns) at the given row positions, in order."""
        raise NotImplementedError

    def detail(self, position: int) -> RecordDetail:
        raise NotImplementedError

    def position_of(self, partition: int | None, offset: int | None) -> int | None:
        raise NotImplementedError

    def export_select(self) -> str:
        """Return the SELECT list of the exported columns (the fields) over `view`."""
        return ", ".join(quote_identifier(c.name) for c in self.columns)


class TopicRelation(Relation):
    """A topic's messages registered in DuckDB, with a typed view over their JSON values."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        number: int,
        label: str,
        topic: str,
        messages: pa.Table,
        columns: list[ColumnSpec],
        version: object,
    ) -> None:
        self.con = con
        self.label = label
        self.topic = topic
        self.columns = list(columns)
        self.version = version
        self.table_name = f"__velo_topic_{number}"
        self.view = f"velo_records_{number}"
        self.messages = _in_partition_order(messages)
        self.total = self.messages.num_rows
        self.materialised: dict[str, pa.ChunkedArray] = {}
        self._build_base()
        self._register()

    def _build_base(self) -> None:
        messages = self.messages
        text = _string_column(self.con, messages.column("value"))
        doc = self._json_documents(text)
        self.base = pa.table({
            ROW: pa.array(np.arange(self.total, dtype=np.int64)),
            "_partition": messages.column("partition"),
            "_offset": messages.column("offset"),
            "_timestamp": messages.column("timestamp"),
            "_key": _string_column(self.con, messages.column("key")),
            "__doc": doc,
        })

    def _json_documents(self, text: pa.ChunkedArray) -> pa.ChunkedArray:
        """Return the values that are JSON (others null), so a field lookup never fails."""
        if self.total == 0:
            return text
        self.con.register("__velo_text", pa.table({"text": text}))
        try:
            all_valid = self.con.execute(
                "SELECT coalesce(bool_and(json_valid(text)), true) FROM __velo_text"
            ).fetchall()[0][0]
            if all_valid:
                return text
            return self.con.sql(
                """
                SELECT CASE WHEN json_valid(t) THEN t END AS doc FROM (
                    SELECT CASE WHEN starts_with(text, chr(65279)) THEN substr(text, 2) ELSE text END AS t
                    FROM __velo_text
                )
                """
            ).to_arrow_table().column(0)
        finally:
            self.con.unregister("__velo_text")

    def _register(self) -> None:
        table = self.base
        for index, column in enumerate(self.columns):
            if column.name in self.materialised:
                table = table.append_column(f"__field_{index}", self.materialised[column.name])
        self.con.register(self.table_name, table)
        select = [ROW] + self._field_expressions("__doc", lazy=True) + self._pseudo_select()
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {self.view} AS SELECT {', '.join(select)} FROM {self.table_name}"
        )

    def _field_expressions(self, doc: str, lazy: bool) -> list[str]:
        expressions = []
        for index, column in enumerate(self.columns):
            if lazy and column.name in self.materialised:
                value = f"__field_{index}"
            elif lazy:
                value = _typed(f"json_extract_string({doc}, {_json_path(column.name)})", column)
            else:
                value = _typed(f"j.{quote_identifier(column.name)}", column)
            expressions.append(f"{value} AS {quote_identifier(column.name)}")
        return expressions

    def _pseudo_select(self) -> list[str]:
        names = {c.name for c in self.columns}
        return [c.name for c in PSEUDO_COLUMNS if c.name not in names]

    def _transform_sql(self, relation: str) -> str:
        """SELECT every field of `relation` with one JSON parse per row (json_transform)."""
        if not self.columns:
            return f"SELECT {', '.join([ROW] + self._pseudo_select())} FROM {relation}"
        structure = json.dumps({c.name: "VARCHAR" for c in self.columns})
        select = [ROW] + self._field_expressions("__doc", lazy=False) + self._pseudo_select()
        return (
            f"SELECT {', '.join(select)} FROM ("
            f"SELECT *, json_transform(__doc, {sql_literal(structure)}) AS j FROM {relation})"
        )

    def materialise(self, fields: list[str]) -> None:
        missing = [c for c in self.columns if c.name in fields and c.name not in self.materialised]
        if not missing or self.total == 0:
            return
        structure = json.dumps({c.name: "VARCHAR" for c in missing})
        values = ", ".join(
            f"{_typed('j.' + quote_identifier(c.name), c)} AS {quote_identifier(c.name)}" for c in missing
        )
        typed = self.con.sql(
            f"SELECT {values} FROM (SELECT json_transform(__doc, {sql_literal(structure)}) AS j "
            f"FROM {self.table_name})"
        ).to_arrow_table()
        for column in missing:
            self.materialised[column.name] = typed.column(column.name)
        self._register()
        log.debug("topic %s: kept typed values of %s", self.topic, ", ".join(c.name for c in missing))

    def window(self, positions: np.ndarray) -> pa.Table:
        rows = _take_runs(self.base, positions)
        self.con.register("__velo_window", rows)
        try:
            return self.con.sql(self._transform_sql("__velo_window") + f" ORDER BY {ROW}").to_arrow_table()
        finally:
            self.con.unregister("__velo_window")

    def position_of(self, partition: int, offset: int) -> int | None:
        partitions = self.base.column("_partition").to_numpy()
        offsets = self.base.column("_offset").to_numpy()
        found = np.flatnonzero((partitions == partition) & (offsets == offset))
        return int(found[0]) if len(found) else None

    def detail(self, position: int) -> RecordDetail:
        message = self.messages.slice(position, 1).to_pylist()[0]
        value, is_json = pretty_value(text_of(message["value"]))
        headers = [(h["key"], text_of(h["value"]) or "") for h in message["headers"] or []]
        return RecordDetail(
            label=self.label, topic=self.topic, partition=message["partition"],
            offset=message["offset"], timestamp_ms=message["timestamp"],
            timestamp_text=iso_timestamp(message["timestamp"]), key=text_of(message["key"]),
            value=value, is_json=is_json, headers=headers,
        )

    def drop(self) -> None:
        self.con.execute(f"DROP VIEW IF EXISTS {self.view}")
        self.con.unregister(self.table_name)


def _take_runs(table: pa.Table, positions: np.ndarray) -> pa.Table:
    """Return the rows at sorted `positions`, slicing each run of consecutive positions.

    On a table of many chunks, `Table.take` first concatenates every chunk (pyarrow 26), so it
    copies the whole topic. Slices of a few runs copy nothing.
    """
    if len(positions) == 0:
        return table.slice(0, 0)
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    starts = np.concatenate(([0], breaks))
    ends = np.concatenate((breaks, [len(positions)]))
    if len(starts) == 1:
        return table.slice(int(positions[0]), len(positions))
    pieces = [table.slice(int(positions[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]
    return pa.concat_tables(pieces)


def _in_partition_order(messages: pa.Table) -> pa.Table:
    """Return messages sorted by (partition, offset); already sorted tables are kept as they are."""
    if messages.num_rows < 2:
        return messages
    partitions = messages.column("partition").to_numpy()
    offsets = messages.column("offset").to_numpy()
    same = partitions[1:] == partitions[:-1]
    ordered = np.all((partitions[1:] > partitions[:-1]) | (same & (offsets[1:] > offsets[:-1])))
    if ordered:
        return messages
    return messages.sort_by([("partition", "ascending"), ("offset", "ascending")])


#: The DLQ target's fields, in display order.
DLQ_COLUMNS = [
    ColumnSpec("statement", "VARCHAR"),
    ColumnSpec("stage", "VARCHAR"),
    ColumnSpec("error_type", "VARCHAR"),
    ColumnSpec("field", "VARCHAR"),
    ColumnSpec("topic", "VARCHAR"),
    ColumnSpec("partition", "BIGINT"),
    ColumnSpec("offset", "BIGINT"),
    ColumnSpec("message", "VARCHAR"),
    ColumnSpec("fault", "VARCHAR"),
    ColumnSpec("value", "VARCHAR"),
]

_DLQ_SCHEMA = pa.schema(
    [(ROW, pa.int64())]
    + [(c.name, pa.int64() if c.duckdb_type == "BIGINT" else pa.string()) for c in DLQ_COLUMNS]
    + [("_partition", pa.int32()), ("_offset", pa.int64()), ("_timestamp", pa.int64()), ("_key", pa.string()),
       ("_entry", pa.int64())]
)


def _equal_or_both_null(column: pa.ChunkedArray, value: int | None) -> pa.ChunkedArray:
    if value is None:
        return pc.is_null(column)
    return pc.fill_null(pc.equal(column, value), False)


class DeadLetterRelation(Relation):
    """The DLQ entries of the session as a table, one row per stored entry."""

    def __init__(self, con: duckdb.DuckDBPyConnection, topic: str, entries: list[DeadLetterEntry]) -> None:
        self.con = con
        self.label = "dlq"
        self.topic = topic
        self.columns = list(DLQ_COLUMNS)
        self.entries = entries
        self.version = len(entries)
        self.total = len(entries)
        self.table_name = "__velo_dlq"
        self.view = "velo_dlq"
        # One Python pass over the failed records: the DLQ holds only the rare bad records.
        rows = [
            {
                ROW: index, "statement": e.statement, "stage": e.stage, "error_type": e.error_type,
                "field": e.field, "topic": e.topic, "partition": e.partition, "offset": e.offset,
                "message": e.message, "fault": e.fault, "value": text_of(e.value),
                "_partition": e.partition, "_offset": e.offset, "_timestamp": e.timestamp,
                "_key": text_of(e.key), "_entry": index,
            }
            for index, e in enumerate(entries)
        ]
        self.table = pa.Table.from_pylist(rows, schema=_DLQ_SCHEMA)
        con.register(self.table_name, self.table)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {self.view} AS SELECT * FROM {self.table_name}")

    @property
    def filter_columns(self) -> list[ColumnSpec]:
        return self.columns + [c for c in PSEUDO_COLUMNS]

    def window(self, positions: np.ndarray) -> pa.Table:
        return self.table.take(pa.array(positions, pa.int64()))

    def position_of(self, partition: int | None, offset: int | None) -> int | None:
        """Return the first entry from `partition` and `offset`; None matches a missing value."""
        mask = pc.and_(_equal_or_both_null(self.table.column("_partition"), partition),
                       _equal_or_both_null(self.table.column("_offset"), offset))
        found = np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False))
        return int(found[0]) if len(found) else None

    def detail(self, position: int) -> RecordDetail:
        entry = self.entries[position]
        value, is_json = pretty_value(text_of(entry.value))
        failed_at = iso_timestamp(int(entry.failed_at * 1000)) if entry.failed_at else ""
        context = [
            ("statement", entry.statement),
            ("stage", entry.stage),
            ("error type", entry.error_type),
            ("field", entry.field or ""),
            ("message", entry.message),
            ("source topic", entry.topic),
            ("recoverable", "yes" if entry.recoverable else "no"),
            ("failed at", failed_at),
            ("fault", entry.fault or ""),
            ("fault id", entry.fault_id or ""),
        ]
        return RecordDetail(
            label=self.label, topic=entry.topic, partition=entry.partition, offset=entry.offset,
            timestamp_ms=entry.timestamp, timestamp_text=iso_timestamp(entry.timestamp),
            key=text_of(entry.key), value=value, is_json=is_json,
            headers=[(name, text_of(data) or "") for name, data in entry.headers], context=context,
        )

    def drop(self) -> None:
        self.con.execute(f"DROP VIEW IF EXISTS {self.view}")
        self.con.unregister(self.table_name)
