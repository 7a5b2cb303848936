"""The `malformed_records` fault: records whose value bytes are really invalid for the source.

Each selected record gets one malformation type, picked uniformly from the configured `types`,
so the executor must route it to the DLQ instead of processing it.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa

from velo_tui.engine.faults.base import (
    FaultContext,
    FaultInjector,
    RawJSON,
    decode_json_object,
    encode_json_object,
    fault_headers,
    is_tagged,
    register,
    rewrite_rows,
)
from velo_tui.engine.schema import Schema

logger = logging.getLogger(__name__)

MALFORMED_TYPES = (
    "missing_field",
    "wrong_type",
    "invalid_json",
    "overflow",
    "null_value",
    "unexpected_null",
    "empty_record",
    "invalid_encoding",
    "truncated",
)
DEFAULT_TYPES = ("missing_field", "wrong_type", "invalid_json")

#: Integer beyond the signed 64-bit range, written as a JSON number.
OVERFLOW_INTEGER = 2**70

#: A JSON number beyond the double range (parsers read it as infinity or reject it).
OVERFLOW_FLOAT = "1e999"

#: Length of an overflowing string when the field declares no maximum length.
OVERFLOW_STRING_LENGTH = 10_000

#: Appended after a cut value; it has no quote or brace, so the object can never be closed.
NON_JSON_SUFFIX = b"#!not-json"

#: Latin-1 bytes of "café" with a stray 0xff: invalid as UTF-8.
INVALID_UTF8 = b'"caf\xe9 \xff"'

_NUMBER_TYPES = ("integer", "float", "decimal")
_TEXT_TYPES = ("string", "uuid", "timestamp", "date")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def _field_types(record: dict[str, Any], schema: Schema | None) -> dict[str, tuple[str, bool, dict]]:
    """Map each field in `record` to (type, nullable, constraints), from the schema where known."""
    types: dict[str, tuple[str, bool, dict]] = {}
    declared = {spec.name: spec for spec in schema.fields} if schema is not None else {}
    for name, value in record.items():
        spec = declared.get(name)
        if spec is not None:
            types[name] = (spec.type, spec.nullable, spec.constraints)
        else:
            types[name] = (_json_type(value), value is None, {})
    return types


@register
class MalformedRecords(FaultInjector):
    """Replace a share of records with invalid ones: missing or mistyped fields, bad JSON or bytes."""

    name = "malformed_records"
    config_keys = ("types",)
    default_rate = 0.05
    order = 10

    def __init__(self, config: dict, rng: np.random.Generator, location) -> None:
        super().__init__(config, rng, location)
        types = self._name_list(["types"], MALFORMED_TYPES)
        if types is None:
            types = list(DEFAULT_TYPES)
        if not types:
            raise self.error(f"`types` is empty; list at least one of: {', '.join(MALFORMED_TYPES)}")
        self.types = types

    def apply(self, batch: pa.Table, context: FaultContext) -> pa.Table:
        rows = self.select(batch.num_rows)
        if len(rows) == 0:
            return batch
        kinds = self.rng.integers(0, len(self.types), size=len(rows))
        values = batch.column("value").take(pa.array(rows)).to_pylist()
        headers = batch.column("headers").take(pa.array(rows)).to_pylist()

        changed_rows: list[int] = []
        new_values: list[bytes] = []
        new_headers: list[list] = []
        for row, kind_index, value, row_headers in zip(rows, kinds, values, headers):
            if is_tagged(row_headers):
                continue
            record = decode_json_object(value)
            if record is None:
                continue
            kind = self.types[kind_index]
            result = self._malform(kind, record, value, context.schema)
            if result is None:
                continue
            new_value, field_name, change = result
            entry = context.ledger.record(
                self.name, context.source, context.sequence_of(row), change, kind=kind, field_name=field_name
            )
            changed_rows.append(int(row))
            new_values.append(new_value)
            new_headers.append(fault_headers(row_headers, entry))
        return rewrite_rows(batch, np.asarray(changed_rows, dtype=np.int64), new_values, new_headers)

    # --- one record ---

    def _pick(self, names: list[str]) -> str | None:
        if not names:
            return None
        return names[int(self.rng.integers(0, len(names)))]

    def _cut_point(self, value: bytes) -> int:
        return int(self.rng.integers(1, len(value))) if len(value) > 1 else 0

    def _malform(
        self, kind: str, record: dict[str, Any], value: bytes, schema: Schema | None
    ) -> tuple[bytes, str | None, str] | None:
        """Return (new value bytes, field or None, description of the change), or None to skip."""
        types = _field_types(record, schema)
        required = [name for name, (_, nullable, _) in types.items() if not nullable]

        if kind == "missing_field":
            name = self._pick(required) or self._pick(list(record))
            if name is None:
                return None
            del record[name]
            qualifier = "required" if name in required else "nullable (the schema has no required field)"
            return encode_json_object(record), name, f"removed {qualifier} field '{name}'"

        if kind == "wrong_type":
            return self._wrong_type(record, types)

        if kind == "invalid_json":
            cut = self._cut_point(value)
            return value[:cut] + NON_JSON_SUFFIX, None, f"value cut after {cut} of {len(value)} bytes and followed by non-JSON text"

        if kind == "overflow":
            return self._overflow(record, types)

        if kind in ("null_value", "unexpected_null"):
            name = self._pick(required) or self._pick(list(record))
            if name is None:
                return None
            record[name] = None
            qualifier = "required" if name in required else "nullable (the schema has no required field)"
            return encode_json_object(record), name, f"{qualifier} field '{name}' set to null"

        if kind == "empty_record":
            return b"{}", None, "value replaced by the empty object {}"

        if kind == "invalid_encoding":
            text_fields = [name for name, (field_type, _, _) in types.items() if field_type in _TEXT_TYPES]
            name = self._pick(text_fields) or self._pick(list(record))
            if name is None:
                return INVALID_UTF8, None, "value replaced by bytes that are not valid UTF-8"
            marker = "\x00velo-invalid-utf8\x00"
            record[name] = marker
            encoded = encode_json_object(record).replace(b'"\\u0000velo-invalid-utf8\\u0000"', INVALID_UTF8)
            return encoded, name, f"field '{name}' holds bytes that are not valid UTF-8 (Latin-1 text)"

        if kind == "truncated":
            cut = self._cut_point(value)
            return value[:cut], None, f"value cut after {cut} of {len(value)} bytes"

        raise ValueError(f"unknown malformation type {kind!r}")

    def _wrong_type(self, record: dict[str, Any], types: dict[str, tuple[str, bool, dict]]) -> tuple[bytes, str, str] | None:
        # Prefer fields whose JSON type is a number or boolean: a string there is always invalid,
        # whereas a number in a text field may be accepted as its text form.
        strict = [name for name, (field_type, _, _) in types.items() if field_type not in _TEXT_TYPES]
        name = self._pick(strict) or self._pick(list(record))
        if name is None:
            return None
        field_type = types[name][0]
        old = record[name]
        if field_type in _NUMBER_TYPES:
            new: Any = "not_a_number"
        elif field_type == "boolean":
            new = "not_a_boolean"
        elif field_type == "string":
            new = [1, 2, 3]
        else:
            new = True
        record[name] = new
        return encode_json_object(record), name, f"{field_type} field '{name}': {old!r} replaced by {new!r}"

    def _overflow(self, record: dict[str, Any], types: dict[str, tuple[str, bool, dict]]) -> tuple[bytes, str, str] | None:
        by_type: dict[str, list[str]] = {}
        for name, (field_type, _, _) in types.items():
            by_type.setdefault(field_type, []).append(name)
        for field_type in ("integer", "decimal", "float", "string", "uuid"):
            name = self._pick(by_type.get(field_type, []))
            if name is None:
                continue
            if field_type in ("integer", "decimal"):
                record[name] = RawJSON(str(OVERFLOW_INTEGER))
                change = f"{field_type} field '{name}' set to 2**70, beyond 64 bits"
            elif field_type == "float":
                record[name] = RawJSON(OVERFLOW_FLOAT)
                change = f"float field '{name}' set to {OVERFLOW_FLOAT}, beyond the double range"
            else:
                max_length = types[name][2].get("length", {}).get("max")
                length = max_length * 10 + 1000 if max_length is not None else OVERFLOW_STRING_LENGTH
                record[name] = "x" * length
                limit = f"its maximum length {max_length}" if max_length is not None else "any expected length"
                change = f"{field_type} field '{name}' set to {length} characters, far beyond {limit}"
            return encode_json_object(record), name, change
        return None
