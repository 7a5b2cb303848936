"""Seeded generation of a source's input records from its schema, as a batch ready to produce.

`generate_typed` builds typed columns with numpy. `generate_records` encodes them as JSON with
DuckDB and returns a `PRODUCE_SCHEMA` batch with the key, value and timestamp that the source
topic will store. The same schema, count and seed give byte-identical batches on every run.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.generate_values import arrow_type, field_rng, generate_column, group_codes
from velo_tui.engine.schema import FieldSpec, Schema

logger = logging.getLogger(__name__)

#: The instant that relative times (`now`, `-1h`, ...) and the date window count from.
#: It is fixed rather than the wall clock, so the same seed gives byte-identical topics on every
#: run and every day. Pass `anchor_ms` to generate around another instant.
GENERATION_ANCHOR_MS = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)

#: Fields whose timestamp, in this order of preference, becomes the message timestamp.
EVENT_TIME_FIELDS = ("event_time", "timestamp", "time", "created_at")

#: Text form of timestamps in generated JSON: ISO 8601 with milliseconds, UTC without a zone.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%g"


def _location(schema: Schema, spec: FieldSpec | None = None) -> SourceLocation:
    return SourceLocation(schema.path or schema.name, spec.line if spec else None)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def event_time_field(schema: Schema) -> str | None:
    """Return the field whose value is the record's event time, or None."""
    for name in EVENT_TIME_FIELDS:
        if schema.has_field(name) and schema.field(name).type == "timestamp":
            return name
    return None


_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """Return this thread's DuckDB connection for generation, opened on first use.

    Opening an in-memory DuckDB database takes about 20 ms, as long as encoding a chunk of
    tens of thousands of records, so each thread keeps one. Queries only register and
    unregister Arrow tables on it, so nothing carries over from one call to the next.
    """
    connection = getattr(_local, "connection", None)
    if connection is None:
        connection = duckdb.connect()
        _local.connection = connection
    return connection


# --- derived fields -------------------------------------------------------------------------------

_RANDOM_CALL = re.compile(r"\brandom\s*\(([^()]*)\)", re.IGNORECASE)
_MIN_CALL = re.compile(r"\bmin\s*\(", re.IGNORECASE)
_MAX_CALL = re.compile(r"\bmax\s*\(", re.IGNORECASE)


def _rewrite_expression(expression: str) -> tuple[str, int]:
    """Rewrite a derived expression for DuckDB; return it and how many random columns it reads.

    `random()` and `random(a, b)` read seeded columns instead of DuckDB's unseeded random(), and
    the two-argument `min`/`max` become `least`/`greatest` because DuckDB's min and max are
    aggregates.
    """
    count = 0

    def replace_random(match: re.Match[str]) -> str:
        nonlocal count
        column = f'"__random_{count}"'
        count += 1
        arguments = [part.strip() for part in match.group(1).split(",")] if match.group(1).strip() else []
        if len(arguments) == 2:
            low, high = arguments
            return f"(({low}) + (({high}) - ({low})) * {column})"
        return column

    rewritten = _RANDOM_CALL.sub(replace_random, expression)
    rewritten = _MIN_CALL.sub("least(", rewritten)
    rewritten = _MAX_CALL.sub("greatest(", rewritten)
    return rewritten, count


def _derive_column(
    connection: duckdb.DuckDBPyConnection,
    schema: Schema,
    spec: FieldSpec,
    columns: dict[str, pa.Array],
    rng: np.random.Generator,
    count: int,
) -> pa.Array:
    expression = spec.constraints["derived"]["expression"]
    rewritten, random_count = _rewrite_expression(expression)
    inputs = dict(columns)
    for index in range(random_count):
        inputs[f"__random_{index}"] = pa.array(rng.random(count))
    if not inputs:
        inputs["__row"] = pa.array(np.zeros(count, dtype=np.int8))
    table = pa.table(inputs)

    query = f"SELECT CAST(({rewritten}) AS {spec.duckdb_type}) AS value FROM derived_input"
    try:
        connection.register("derived_input", table)
        result = connection.sql(query).to_arrow_table().column("value").combine_chunks()
    except duckdb.Error as exc:
        detail = " ".join(str(exc).split())
        raise InputError(
            f"field '{spec.name}': derived expression {expression!r} failed in DuckDB ({detail}); "
            "write it as a DuckDB SQL expression over the other fields",
            _location(schema, spec),
        ) from None
    finally:
        connection.unregister("derived_input")
    return result.cast(arrow_type(spec))


# --- generation -----------------------------------------------------------------------------------


def generate_typed(
    schema: Schema,
    count: int,
    seed: int,
    *,
    anchor_ms: int = GENERATION_ANCHOR_MS,
    start_index: int = 0,
) -> pa.Table:
    """Generate `count` records as a table with one typed column per field, in schema order.

    Each field draws from its own seeded stream (see `field_rng`). `start_index` numbers the
    first record so that chunks of a long input get distinct, reproducible values.
    NOTE: chunks generated with successive start indexes are reproducible but differ from the
    same records generated in one call.
    """
    if count < 0:
        raise ValueError(f"record count must not be negative, got {count}")

    columns: dict[str, pa.Array] = {}
    deferred: list[FieldSpec] = []
    derived: list[FieldSpec] = []
    for spec in schema.fields:
        if "derived" in spec.constraints:
            derived.append(spec)
        elif spec.constraints.get("distribution", {}).get("group_by"):
            deferred.append(spec)
        else:
            columns[spec.name] = _generate_field(schema, spec, seed, start_index, count, anchor_ms)

    for spec in deferred:
        group_field = spec.constraints["distribution"]["group_by"]
        if group_field not in columns:
            raise InputError(
                f"field '{spec.name}': random_walk group_by '{group_field}' must be a field that is "
                "neither derived nor grouped itself",
                _location(schema, spec),
            )
        groups = group_codes(columns[group_field])
        columns[spec.name] = _generate_field(schema, spec, seed, start_index, count, anchor_ms, groups)

    if derived:
        connection = _connection()
        for spec in derived:
            rng = field_rng(seed, spec.name, start_index)
            columns[spec.name] = _derive_column(connection, schema, spec, columns, rng, count)

    return pa.table({spec.name: columns[spec.name] for spec in schema.fields})


def _generate_field(
    schema: Schema,
    spec: FieldSpec,
    seed: int,
    start_index: int,
    count: int,
    anchor_ms: int,
    groups: np.ndarray | None = None,
) -> pa.Array:
    bounds = spec.constraints.get("timestamp_range")
    if bounds is not None and bounds["start"].resolve(anchor_ms) > bounds["end"].resolve(anchor_ms):
        raise InputError(
            f"field '{spec.name}': timestamp_range start {bounds['start'].text} lies after end "
            f"{bounds['end'].text} for the generation anchor; adjust the range",
            _location(schema, spec),
        )
    rng = field_rng(seed, spec.name, start_index)
    return generate_column(spec, rng, count, anchor_ms, groups)


def _value_expression(spec: FieldSpec) -> str:
    column = _quote(spec.name)
    if spec.type == "timestamp":
        return f"strftime({column}, '{TIMESTAMP_FORMAT}')"
    return column


def encode_records(
    schema: Schema,
    typed: pa.Table,
    *,
    key_field: str | None = None,
    anchor_ms: int = GENERATION_ANCHOR_MS,
) -> pa.Table:
    """Encode typed records as a `PRODUCE_SCHEMA` batch: JSON values, text keys, event-time timestamps."""
    members = ", ".join(f"{_quote(spec.name)} := {_value_expression(spec)}" for spec in schema.fields)
    selections = [f"to_json(struct_pack({members})) AS value"]
    if key_field is not None:
        selections.append(f"CAST({_value_expression(schema.field(key_field))} AS VARCHAR) AS key")
    query = f"SELECT {', '.join(selections)} FROM typed_records"

    connection = _connection()
    try:
        connection.register("typed_records", typed)
        encoded = connection.sql(query).to_arrow_table()
    finally:
        connection.unregister("typed_records")

    values = encoded.column("value").combine_chunks().cast(pa.binary())
    keys = encoded.column("key").combine_chunks().cast(pa.binary()) if key_field is not None else None

    time_field = event_time_field(schema)
    if time_field is None:
        timestamps = pa.array(np.full(len(typed), anchor_ms, dtype=np.int64))
    else:
        millis = typed.column(time_field).combine_chunks().cast(pa.int64())
        timestamps = millis.fill_null(anchor_ms)
    return make_produce_batch(values, keys=keys, timestamps=timestamps)


def generate_records(
    schema: Schema,
    count: int,
    seed: int,
    *,
    key_field: str | None = None,
    anchor_ms: int = GENERATION_ANCHOR_MS,
    start_index: int = 0,
) -> pa.Table:
    """Generate `count` records of `schema` as a `PRODUCE_SCHEMA` batch.

    The value is a UTF-8 JSON object with the fields in schema order. The key is the text of
    `key_field` (default: the schema's `key_field`), or null without one. The timestamp is the
    event time in epoch milliseconds, or `anchor_ms` when the schema has no event-time field.
    Headers and partition are null.
    """
    key_field = key_field or schema.key_field
    if key_field is not None and not schema.has_field(key_field):
        raise InputError(
            f"key_field '{key_field}' is not a field of schema '{schema.name}'; "
            f"use one of: {', '.join(schema.field_names)}",
            _location(schema),
        )
    typed = generate_typed(schema, count, seed, anchor_ms=anchor_ms, start_index=start_index)
    batch = encode_records(schema, typed, key_field=key_field, anchor_ms=anchor_ms)
    logger.debug("generated %d records of schema %s with seed %d", count, schema.name, seed)
    return batch
