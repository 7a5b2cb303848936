"""The `field_corruption` fault: a listed field gets an extreme or random value of its own type.

The record stays valid JSON and the value keeps its declared type, so it passes decoding and
validation and tests how the statement's SQL copes with values such as 2**63-1 or an empty text.
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
from velo_tui.engine.generate_values import random_strings, random_uuids
from velo_tui.engine.schema import DECIMAL_WIDTH, FieldSpec, Schema

logger = logging.getLogger(__name__)

CORRUPTION_TYPES = ("boundary_value", "random_value")

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
FLOAT_MAX = 1.7976931348623157e308

_BOUNDARY_TEXT = {
    "uuid": ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    "timestamp": ["1970-01-01T00:00:00.000", "9999-12-31T23:59:59.999"],
    "date": ["1970-01-01", "9999-12-31"],
}

# Random timestamps and dates span 1970 to 2100.
_RANDOM_TIME_END_MS = 4_102_444_800_000


def _decimal_literal(scaled: int, precision: int) -> RawJSON:
    """Return the JSON number for `scaled` / 10**precision with exactly `precision` fractional digits."""
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled)).rjust(precision + 1, "0")
    if precision == 0:
        return RawJSON(sign + digits)
    return RawJSON(f"{sign}{digits[:-precision]}.{digits[-precision:]}")


@register
class FieldCorruption(FaultInjector):
    """Overwrite one of the listed fields of a share of records with a boundary or random value."""

    name = "field_corruption"
    config_keys = ("fields", "target_fields", "corruption_types")
    default_rate = 0.02
    order = 20

    def __init__(self, config: dict, rng: np.random.Generator, location) -> None:
        super().__init__(config, rng, location)
        if "fields" in self.config and "target_fields" in self.config:
            raise self.error("give either `fields` or `target_fields`, not both")
        self.fields = self._name_list(["fields", "target_fields"])
        if self.fields is not None and not self.fields:
            raise self.error("`fields` is empty; list the fields to corrupt or leave the key out to corrupt any field")
        self.corruption_types = self._name_list(["corruption_types"], CORRUPTION_TYPES) or list(CORRUPTION_TYPES)
        self._warned_sources: set[str] = set()

    def _candidates(self, record: dict[str, Any], context: FaultContext) -> list[str]:
        if self.fields is None:
            return list(record)
        schema = context.schema
        if schema is not None and context.source not in self._warned_sources:
            self._warned_sources.add(context.source)
            missing = [name for name in self.fields if not schema.has_field(name)]
            if missing:
                logger.warning(
                    "%s: fault_injection.field_corruption: fields %s are not in schema '%s' of source %s; they are never corrupted",
                    self.location,
                    ", ".join(missing),
                    schema.name,
                    context.source,
                )
        return [name for name in self.fields if name in record]

    def apply(self, batch: pa.Table, context: FaultContext) -> pa.Table:
        rows = self.select(batch.num_rows)
        if len(rows) == 0:
            return batch
        selected = pa.array(rows)
        values = batch.column("value").take(selected).to_pylist()
        headers = batch.column("headers").take(selected).to_pylist()

        changed_rows: list[int] = []
        new_values: list[bytes] = []
        new_headers: list[list] = []
        for row, value, row_headers in zip(rows, values, headers):
            if is_tagged(row_headers):
                continue
            record = decode_json_object(value)
            if record is None:
                continue
            candidates = self._candidates(record, context)
            if not candidates:
                continue
            name = candidates[int(self.rng.integers(0, len(candidates)))]
            kind = self.corruption_types[int(self.rng.integers(0, len(self.corruption_types)))]
            old = record[name]
            record[name] = self._corrupt_value(kind, name, old, context.schema)
            change = f"{kind}: '{name}' {old!r} replaced by {str(record[name])[:60]}"
            entry = context.ledger.record(
                self.name, context.source, context.sequence_of(row), change, kind=kind, field_name=name
            )
            changed_rows.append(int(row))
            new_values.append(encode_json_object(record))
            new_headers.append(fault_headers(row_headers, entry))
        return rewrite_rows(batch, np.asarray(changed_rows, dtype=np.int64), new_values, new_headers)

    def _field_spec(self, name: str, old: Any, schema: Schema | None) -> FieldSpec:
        if schema is not None and schema.has_field(name):
            return schema.field(name)
        if isinstance(old, bool):
            return FieldSpec(name, "boolean")
        if isinstance(old, int):
            return FieldSpec(name, "integer")
        if isinstance(old, float):
            return FieldSpec(name, "float")
        return FieldSpec(name, "string")

    def _choose(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(0, len(options)))]

    def _corrupt_value(self, kind: str, name: str, old: Any, schema: Schema | None) -> Any:
        spec = self._field_spec(name, old, schema)
        boundary = kind == "boundary_value"
        rng = self.rng

        if spec.type == "integer":
            if boundary:
                return self._choose([INT64_MIN, INT64_MAX, 0, -1])
            return int(rng.integers(INT64_MIN, INT64_MAX, dtype=np.int64, endpoint=True))
        if spec.type == "float":
            if boundary:
                return self._choose([FLOAT_MAX, -FLOAT_MAX, 0.0, 5e-324])
            return float(rng.uniform(-1e12, 1e12))
        if spec.type == "decimal":
            precision = spec.precision or 0
            largest = 10**DECIMAL_WIDTH - 1
            if boundary:
                return _decimal_literal(self._choose([largest, -largest, 0]), precision)
            return _decimal_literal(int(rng.integers(-largest, largest, dtype=np.int64, endpoint=True)), precision)
        if spec.type == "boolean":
            return not old if isinstance(old, bool) else bool(rng.random() < 0.5)
        if spec.type in _BOUNDARY_TEXT:
            if boundary:
                return self._choose(_BOUNDARY_TEXT[spec.type])
            if spec.type == "uuid":
                return random_uuids(rng, 1)[0].as_py()
            millis = int(rng.integers(0, _RANDOM_TIME_END_MS))
            text = np.datetime64(millis, "ms").astype(str)
            return text[:10] if spec.type == "date" else text
        # string
        max_length = spec.constraints.get("length", {}).get("max", 20)
        if boundary:
            return self._choose(["", "x" * max_length])
        return random_strings(rng, 1, 1, max(1, max_length))[0].as_py()
