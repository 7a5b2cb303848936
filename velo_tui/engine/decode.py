"""Decode and validate one micro-batch of JSON message values into typed columns, in DuckDB.

Every check runs as one vectorised query over the batch. A message that fails yields a failure
row (stage, error type, field, message) instead of a decoded row; nothing is dropped silently.

Choices for input that JSON or Kafka allow but a schema does not (each covered by a test):
- a byte-order mark before the JSON text is skipped;
- NaN and Infinity are rejected (validate stage, `non_finite_number`), as RFC 8259 has no such values;
- a duplicate key in one object is rejected (validate stage, `duplicate_key`);
- an integer beyond 64 bits is rejected (validate stage, `overflow`);
- a numeric string where a number is declared is accepted and converted ("12" reads as 12),
  because producers often send large or exact numbers as strings. Any other string is
  `wrong_type`, and a string field requires a JSON string;
- a field name that differs only in case from the declared one does not match it;
- fields that the schema does not declare are ignored;
- on a source without a schema the fields are inferred per micro-batch, a field of mixed or
  nested JSON types is kept as text, and a field the statement reads that a batch lacks is NULL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.pipeline import ROW_ID_COLUMN

log = logging.getLogger(__name__)

INT64_LIMIT = 9.223372036854775807e18

#: The four characters JSON allows as whitespace around values, as a DuckDB expression.
JSON_WHITESPACE = "chr(32) || chr(9) || chr(10) || chr(13)"

#: Name under which the decoding queries read the consumed messages with their row numbers.
RAW_RELATION = "velo_raw"

#: Column type of an inferred field that is text, null in every message, or of mixed or nested
#: JSON types in one batch. Its values are kept as text (JSON text for non-strings) and never
#: rejected, because no schema declares what the field should hold.
INFERRED_TEXT = "INFERRED_TEXT"

FAILURE_SCHEMA = pa.schema(
    [
        (ROW_ID_COLUMN, pa.int64()),
        ("stage", pa.string()),
        ("error_type", pa.string()),
        ("field", pa.string()),
        ("message", pa.string()),
    ]
)


@dataclass
class ColumnSpec:
    """A declared field as the decoder checks it."""

    name: str
    duckdb_type: str  # BIGINT, DOUBLE, DECIMAL(18,2), VARCHAR, BOOLEAN, TIMESTAMP, DATE, UUID
    nullable: bool = True
    max_length: int | None = None  # for VARCHAR: longer values are `overflow`
    uuid: bool = False  # VARCHAR holding a UUID: checked for UUID syntax


@dataclass
class DecodedBatch:
    """Typed rows of the messages that passed, and one failure row per message that did not."""

    rows: pa.Table  # declared columns, pseudo-columns and ROW_ID_COLUMN
    failures: pa.Table  # FAILURE_SCHEMA


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_path(name: str) -> str:
    return _sql_string('$."' + name.replace('"', '\\"') + '"')


class Decoder:
    """Decodes micro-batches of one source topic against a known or inferred set of columns.

    With `columns=None` the columns are inferred from each batch (`json_group_structure`).
    Every name in `expected` (the fields the statement reads) that a batch lacks is then added
    as an untyped NULL column, so a field first seen in a later batch does not fail the earlier
    ones. With `trusted=True` (a topic written by an earlier statement of this run) only the
    typed conversion runs, since the writer already guarantees the layout.
    """

    def __init__(
        self,
        columns: list[ColumnSpec] | None,
        trusted: bool = False,
        expected: list[str] | tuple[str, ...] = (),
    ) -> None:
        self.columns = columns
        self.trusted = trusted and columns is not None
        self.expected = list(expected)
        self._relations: dict[tuple[int, pa.Schema], tuple[duckdb.DuckDBPyConnection, duckdb.DuckDBPyRelation]] = {}

    def decode(self, con: duckdb.DuckDBPyConnection, messages: pa.Table) -> DecodedBatch:
        """Decode `messages` (broker MESSAGE_SCHEMA) using connection `con`."""
        raw = messages.append_column(
            ROW_ID_COLUMN, pa.array(np.arange(messages.num_rows, dtype=np.int64))
        )
        con.register(RAW_RELATION, raw)
        try:
            columns = self.columns if self.columns is not None else self._infer(con)
            if self.trusted:
                rows = self._run(con, self._trusted_sql(columns), raw.schema)
                return DecodedBatch(rows, FAILURE_SCHEMA.empty_table())
            checked = self._run(con, self._checked_sql(columns), raw.schema)
        finally:
            con.unregister(RAW_RELATION)
        return self._split(checked, columns)

    def trusted_sql(self) -> str:
        """Return the query that decodes RAW_RELATION on a trusted topic with known columns."""
        if not self.trusted or self.columns is None:
            raise ValueError("only a trusted decoder with known columns has a trusted query")
        return self._trusted_sql(self.columns)

    def _run(self, con: duckdb.DuckDBPyConnection, sql: str, schema: pa.Schema) -> pa.Table:
        """Run a decoding query, binding it once per connection when the columns are known.

        Binding the checked query costs DuckDB several milliseconds. A relation from `con.sql`
        reads whatever is registered under RAW_RELATION each time it runs, so with fixed
        columns one bound relation serves every batch of the same Arrow schema.
        """
        if self.columns is None:
            return con.sql(sql).to_arrow_table()
        key = (id(con), schema)
        bound = self._relations.get(key)
        if bound is None or bound[0] is not con:
            bound = (con, con.sql(sql))
            self._relations[key] = bound
        return bound[1].to_arrow_table()

    # -- inference ---------------------------------------------------------------------------

    def _infer(self, con: duckdb.DuckDBPyConnection) -> list[ColumnSpec]:
        structure = con.sql(
            f"""
            SELECT json_group_structure(CAST(text AS JSON)) FROM (
                SELECT try(decode(value)) AS text FROM {RAW_RELATION}
            ) WHERE json_valid(text) AND json_type(text) = 'OBJECT'
            """
        ).fetchall()[0][0]
        mapping = json.loads(structure) if structure else {}
        if not isinstance(mapping, dict):
            mapping = {}
        columns = [ColumnSpec(name, _inferred_type(kind)) for name, kind in mapping.items()]
        # DuckDB binds column names case-insensitively, so compare them that way.
        seen = {name.lower() for name in mapping}
        for name in self.expected:
            if name.lower() not in seen:
                columns.append(ColumnSpec(name, "NULL"))
                seen.add(name.lower())
        return columns

    # -- SQL ---------------------------------------------------------------------------------

    @staticmethod
    def _pseudo_columns() -> str:
        return (
            "try(decode(key)) AS _key, timestamp AS _timestamp, "
            f"partition AS _partition, \"offset\" AS _offset, {ROW_ID_COLUMN}"
        )

    def _trusted_sql(self, columns: list[ColumnSpec]) -> str:
        types = json.dumps({c.name: c.duckdb_type for c in columns})
        fields = ", ".join(f"j.{_quote(c.name)} AS {_quote(c.name)}" for c in columns)
        select = f"{fields}, " if fields else ""
        return f"""
            SELECT {select}{self._pseudo_columns()} FROM (
                SELECT *, json_transform(decode(value), {_sql_string(types)}) AS j FROM {RAW_RELATION}
            )
        """

    def _checked_sql(self, columns: list[ColumnSpec]) -> str:
        # Each JSON function runs once per message, and each per-field expression runs once in
        # its own projection instead of inside the CASE that names the failure. This about halves
        # the cost of a checked batch.
        # json_transform rejects an empty structure; a batch with no known field has no j.
        json_struct = json.dumps({c.name: "JSON" for c in columns})
        transform = f"json_transform(text, {_sql_string(json_struct)})" if columns else "NULL"
        failure = [
            ("value IS NULL", "['decode', 'tombstone', NULL]"),
            ("text IS NULL", "['decode', 'invalid_encoding', NULL]"),
            ("NOT __velo_valid", "['decode', 'invalid_json', NULL]"),
            ("NOT __velo_object", "['decode', 'not_an_object', NULL]"),
            ("__velo_duplicate", "['validate', 'duplicate_key', NULL]"),
        ]

        parts, checks, values = [], [], []
        for index, column in enumerate(columns):
            field, json_kind, as_text, error = (
                f"__velo_f{index}", f"__velo_k{index}", f"__velo_s{index}", f"__velo_e{index}"
            )
            parts.append(
                f"j.{_quote(column.name)} AS {field}, json_type(j.{_quote(column.name)}) AS {json_kind}, "
                f"CASE WHEN json_type(j.{_quote(column.name)}) = 'VARCHAR' "
                f"THEN (j.{_quote(column.name)} ->> '$') END AS {as_text}"
            )
            name = _sql_string(column.name)
            if not column.nullable:
                failure.append((
                    f"{field} IS NULL",
                    f"['validate', CASE WHEN json_exists(text, {_json_path(column.name)}) "
                    f"THEN 'null_value' ELSE 'missing_field' END, {name}]",
                ))
            check, value = _field_check(field, column, json_kind, as_text)
            checks.append(f"{check} AS {error}")
            failure.append((f"{field} IS NOT NULL AND {error} IS NOT NULL", f"['validate', {error}, {name}]"))
            values.append(f"{value} AS {_quote(column.name)}")

        cases = "\n                ".join(f"WHEN {condition} THEN {result}" for condition, result in failure)
        field_parts = "".join(f", {part}" for part in parts)
        # Valid JSON text is an object exactly when its first character after JSON whitespace
        # is '{' (DuckDB's parser accepts no comments), which is cheaper to test than json_type.
        # Declared fields match keys by exact name, so each present field is a distinct key. An
        # object whose key count equals its number of present fields has no duplicate key, and
        # list_distinct (dearer than parsing the JSON) runs only on the other objects.
        present = " + ".join(f"CAST(__velo_f{index} IS NOT NULL AS INTEGER)" for index in range(len(columns))) or "0"
        checks.append(
            f"CASE WHEN len(__velo_keys) = {present} THEN false "
            "ELSE len(__velo_keys) <> len(list_distinct(__velo_keys)) END AS __velo_duplicate"
        )
        check_parts = "".join(f", {check}" for check in checks)
        typed_select = "".join(f"{value}, " for value in values)

        return f"""
            WITH text_rows AS (
                SELECT *, CASE WHEN starts_with(t, chr(65279)) THEN substr(t, 2) ELSE t END AS text
                FROM (SELECT *, try(decode(value)) AS t FROM {RAW_RELATION})
            ), validity AS (
                SELECT *, json_valid(text) AS __velo_valid FROM text_rows
            ), kinds AS (
                SELECT *, CASE WHEN __velo_valid THEN
                    starts_with(text, '{{') OR starts_with(ltrim(text, {JSON_WHITESPACE}), '{{')
                    END AS __velo_object
                FROM validity
            ), parsed AS (
                SELECT *, CASE WHEN __velo_object THEN {transform} END AS j,
                    CASE WHEN __velo_object THEN json_keys(text) END AS __velo_keys
                FROM kinds
            ), fields AS (
                SELECT *{field_parts} FROM parsed
            ), checks AS (
                SELECT *{check_parts} FROM fields
            ), checked AS (
                SELECT *, CASE
                {cases}
                END AS failure FROM checks
            )
            SELECT failure, {typed_select}{self._pseudo_columns()} FROM checked
        """

    # -- result ------------------------------------------------------------------------------

    @staticmethod
    def _split(checked: pa.Table, columns: list[ColumnSpec]) -> DecodedBatch:
        ok_mask = pc.is_null(checked.column("failure"))
        rows = checked.filter(ok_mask).drop_columns(["failure"])
        bad = checked.filter(pc.invert(ok_mask))
        if bad.num_rows == 0:
            return DecodedBatch(rows, FAILURE_SCHEMA.empty_table())
        parts = bad.column("failure").to_pylist()
        stages, types, fields, messages = [], [], [], []
        for stage, error_type, field in parts:
            stages.append(stage)
            types.append(error_type)
            fields.append(field)
            messages.append(_describe(error_type, field, columns))
        failures = pa.Table.from_arrays(
            [bad.column(ROW_ID_COLUMN), pa.array(stages), pa.array(types), pa.array(fields),
             pa.array(messages)],
            schema=FAILURE_SCHEMA,
        )
        return DecodedBatch(rows, failures)


def _field_check(
    field: str, column: ColumnSpec, json_kind: str | None = None, as_text: str | None = None
) -> tuple[str, str]:
    """Return SQL for (error type or NULL when the JSON value fits, typed value).

    `json_kind` and `as_text` name precomputed `json_type(field)` and string-value columns; the
    text is only read where the JSON type is VARCHAR.
    """
    kind = column.duckdb_type.upper()
    if kind == "NULL":
        # A field the statement reads but no message of the batch has: NULL of no type, which
        # DuckDB casts to whatever the expression using it needs.
        return "NULL", "NULL"
    json_kind = json_kind or f"json_type({field})"
    as_text = as_text or f"({field} ->> '$')"
    if kind == INFERRED_TEXT:
        # An inferred field of mixed or nested JSON types: any value is accepted as text.
        value = f"CASE WHEN {json_kind} = 'VARCHAR' THEN {as_text} WHEN {json_kind} <> 'NULL' THEN CAST({field} AS VARCHAR) END"
        return "NULL", value
    if kind in ("BIGINT", "INTEGER", "HUGEINT"):
        check = f"""CASE
            WHEN {json_kind} = 'NULL' THEN NULL
            WHEN {json_kind} = 'BIGINT' THEN NULL
            WHEN {json_kind} = 'UBIGINT' THEN CASE WHEN TRY_CAST({field} AS BIGINT) IS NULL THEN 'overflow' END
            WHEN {json_kind} = 'DOUBLE' THEN CASE
                WHEN NOT isfinite(CAST({field} AS DOUBLE)) THEN 'non_finite_number'
                WHEN abs(CAST({field} AS DOUBLE)) >= {INT64_LIMIT} THEN 'overflow'
                ELSE 'wrong_type' END
            WHEN {json_kind} = 'VARCHAR' THEN CASE
                WHEN TRY_CAST({as_text} AS BIGINT) IS NULL THEN 'wrong_type' END
            ELSE 'wrong_type' END"""
        value = f"TRY_CAST(CASE WHEN {json_kind} = 'VARCHAR' THEN {as_text} ELSE CAST({field} AS VARCHAR) END AS BIGINT)"
        return check, value
    if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
        check = f"""CASE
            WHEN {json_kind} = 'NULL' THEN NULL
            WHEN {json_kind} IN ('BIGINT', 'UBIGINT') THEN NULL
            WHEN {json_kind} = 'DOUBLE' THEN CASE
                WHEN NOT isfinite(CAST({field} AS DOUBLE)) THEN 'non_finite_number' END
            WHEN {json_kind} = 'VARCHAR' THEN CASE
                WHEN TRY_CAST({as_text} AS DOUBLE) IS NULL THEN 'wrong_type'
                WHEN NOT isfinite(TRY_CAST({as_text} AS DOUBLE)) THEN 'non_finite_number' END
            ELSE 'wrong_type' END"""
        if kind.startswith("DECIMAL"):
            check = f"""CASE WHEN ({check}) IS NOT NULL THEN ({check})
                WHEN {json_kind} <> 'NULL' AND TRY_CAST(CASE WHEN {json_kind} = 'VARCHAR' THEN {as_text} ELSE CAST({field} AS VARCHAR) END AS {kind}) IS NULL THEN 'overflow' END"""
        value = f"TRY_CAST(CASE WHEN {json_kind} = 'VARCHAR' THEN {as_text} ELSE CAST({field} AS VARCHAR) END AS {kind})"
        return check, value
    if kind == "BOOLEAN":
        check = f"CASE WHEN {json_kind} IN ('NULL', 'BOOLEAN') THEN NULL ELSE 'wrong_type' END"
        return check, f"TRY_CAST({field} AS BOOLEAN)"
    if kind in ("TIMESTAMP", "DATE"):
        check = f"""CASE
            WHEN {json_kind} = 'NULL' THEN NULL
            WHEN {json_kind} = 'VARCHAR' THEN CASE WHEN TRY_CAST({as_text} AS {kind}) IS NULL THEN 'invalid_{kind.lower()}' END
            WHEN {json_kind} IN ('BIGINT', 'UBIGINT') AND '{kind}' = 'TIMESTAMP' THEN NULL
            ELSE 'wrong_type' END"""
        value = (
            f"CASE WHEN {json_kind} = 'VARCHAR' THEN TRY_CAST({as_text} AS {kind}) "
            f"WHEN {json_kind} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST(epoch_ms(TRY_CAST({field} AS BIGINT)) AS {kind}) END"
        )
        return check, value
    # VARCHAR and anything else kept as text.
    conditions = [f"WHEN {json_kind} = 'NULL' THEN NULL", f"WHEN {json_kind} <> 'VARCHAR' THEN 'wrong_type'"]
    if column.max_length is not None:
        conditions.append(f"WHEN length({as_text}) > {int(column.max_length)} THEN 'overflow'")
    if column.uuid:
        conditions.append(f"WHEN TRY_CAST({as_text} AS UUID) IS NULL THEN 'invalid_uuid'")
    check = "CASE " + " ".join(conditions) + " END"
    return check, f"CASE WHEN {json_kind} = 'VARCHAR' THEN {as_text} END"


def _inferred_type(kind: object) -> str:
    if isinstance(kind, str):
        upper = kind.upper()
        if upper in ("BIGINT", "UBIGINT"):
            return "BIGINT"
        if upper == "DOUBLE":
            return "DOUBLE"
        if upper == "BOOLEAN":
            return "BOOLEAN"
    return INFERRED_TEXT


_MESSAGES = {
    "tombstone": "the message value is null (a tombstone); there is no record to decode",
    "invalid_encoding": "the message value is not valid UTF-8",
    "invalid_json": "the message value is not valid JSON",
    "not_an_object": "the message value is JSON but not an object",
    "duplicate_key": "the JSON object has the same key twice",
    "missing_field": "required field '{field}' is missing",
    "null_value": "required field '{field}' is null",
    "wrong_type": "field '{field}' has a value of the wrong JSON type for {kind}",
    "overflow": "field '{field}' is out of range for {kind}",
    "non_finite_number": "field '{field}' holds NaN or Infinity, which JSON does not allow",
    "invalid_timestamp": "field '{field}' is not a timestamp (expected ISO 8601 text or epoch ms)",
    "invalid_date": "field '{field}' is not a date (expected YYYY-MM-DD)",
    "invalid_uuid": "field '{field}' is not a UUID",
}


def _describe(error_type: str, field: str | None, columns: list[ColumnSpec]) -> str:
    kind = next((c.duckdb_type for c in columns if c.name == field), "")
    template = _MESSAGES.get(error_type, error_type.replace("_", " "))
    return template.format(field=field, kind=kind)


def columns_from_arrow(schema: pa.Schema) -> list[ColumnSpec]:
    """Describe a statement's output columns (from its Arrow result) for a downstream decoder."""
    columns = []
    for arrow_field in schema:
        if arrow_field.name == ROW_ID_COLUMN:
            continue
        columns.append(ColumnSpec(arrow_field.name, _duckdb_type(arrow_field.type)))
    return columns


def _duckdb_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "BOOLEAN"
    if pa.types.is_integer(arrow_type):
        return "BIGINT"
    if pa.types.is_floating(arrow_type):
        return "DOUBLE"
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMP"
    if pa.types.is_date(arrow_type):
        return "DATE"
    return "VARCHAR"


def columns_from_schema(schema) -> list[ColumnSpec]:  # schema: velo_tui.engine.schema.Schema
    """Describe a declared record schema for the decoder (types, nullability, string limits)."""
    columns = []
    for spec in schema.fields:
        length = spec.constraints.get("length") or {}
        max_length = length.get("max") if isinstance(length, dict) else None
        columns.append(
            ColumnSpec(
                spec.name,
                spec.duckdb_type,
                nullable=spec.nullable,
                max_length=int(max_length) if max_length is not None else None,
                uuid=spec.type == "uuid",
            )
        )
    return columns
