"""Vectorised value generators for one schema field: a whole column of a source's records at once.

Every generator draws from a numpy `Generator` and returns a typed Arrow array, so generating a
million records is a handful of numpy calls per field, never a per-record Python loop.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from velo_tui.engine.schema import DECIMAL_WIDTH, FieldSpec

MS_PER_DAY = 86_400_000

#: Days before the anchor that an unconstrained date field spans.
DATE_SPAN_DAYS = 30

_ALPHANUMERIC = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)

#: Length range of a string field without a `length` constraint.
DEFAULT_STRING_LENGTH = (5, 20)

#: Value range of a numeric field without a `range` constraint.
DEFAULT_NUMERIC_RANGE = (0.0, 1000.0)

#: Placeholder references are numbered 1..REFERENCE_COUNT.
REFERENCE_COUNT = 999


def arrow_type(spec: FieldSpec) -> pa.DataType:
    """Return the Arrow type of the field's generated column."""
    if spec.type == "decimal":
        return pa.decimal128(DECIMAL_WIDTH, spec.precision or 0)
    return {
        "string": pa.string(),
        "uuid": pa.string(),
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("ms"),
        "date": pa.date32(),
    }[spec.type]


def field_rng(seed: int, field_name: str, start_index: int = 0) -> np.random.Generator:
    """Return the generator of one field.

    Each field has its own stream, keyed by the seed, the field name and the first record index,
    so adding or reordering fields leaves the other fields' values unchanged.
    """
    entropy = [seed % 2**64, zlib.crc32(field_name.encode("utf-8")), start_index]
    return np.random.Generator(np.random.PCG64(entropy))


# --- strings and identifiers ---------------------------------------------------------------------


def _string_array_from_bytes(data: np.ndarray, offsets: np.ndarray, count: int) -> pa.Array:
    """Build a string array from a flat uint8 buffer and count+1 offsets, without copying per record."""
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(
            pa.string(), count, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
    large = pa.Array.from_buffers(
        pa.large_string(), count, [None, pa.py_buffer(offsets.astype(np.int64)), pa.py_buffer(data)]
    )
    return large


def random_strings(rng: np.random.Generator, count: int, min_length: int, max_length: int) -> pa.Array:
    """Return `count` random alphanumeric strings with lengths uniform in [min_length, max_length]."""
    lengths = rng.integers(min_length, max_length, size=count, endpoint=True)
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = _ALPHANUMERIC[rng.integers(0, len(_ALPHANUMERIC), size=int(offsets[-1]))]
    return _string_array_from_bytes(chars, offsets, count)


def random_uuids(rng: np.random.Generator, count: int) -> pa.Array:
    """Return `count` version 4 UUIDs in canonical text form, drawn from `rng`."""
    raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant

    nibbles = np.empty((count, 32), dtype=np.uint8)
    nibbles[:, 0::2] = raw >> 4
    nibbles[:, 1::2] = raw & 0x0F
    hex_digits = _HEX[nibbles]

    text = np.full((count, 36), ord("-"), dtype=np.uint8)
    text[:, 0:8] = hex_digits[:, 0:8]
    text[:, 9:13] = hex_digits[:, 8:12]
    text[:, 14:18] = hex_digits[:, 12:16]
    text[:, 19:23] = hex_digits[:, 16:20]
    text[:, 24:36] = hex_digits[:, 20:32]
    offsets = np.arange(0, 36 * (count + 1), 36, dtype=np.int64)
    return _string_array_from_bytes(text.reshape(-1), offsets, count)


# --- numbers ------------------------------------------------------------------------------------


def _bounds(spec: FieldSpec) -> tuple[float, float]:
    value_range = spec.constraints.get("range")
    if value_range is None:
        return DEFAULT_NUMERIC_RANGE
    return float(value_range["min"]), float(value_range["max"])


def _power_law(rng: np.random.Generator, count: int, low: float, high: float, exponent: float) -> np.ndarray:
    """Draw from a density proportional to x**-exponent on [1, high-low+1], shifted to start at low.

    NOTE: this continuous power law stands in for a discrete Zipf distribution; floored to
    integers it puts the same weight on small values, but ranks are not exactly Zipf-distributed.
    """
    span = high - low + 1.0
    u = rng.random(count)
    if abs(exponent - 1.0) < 1e-9:
        x = span**u
    else:
        one_minus = 1.0 - exponent
        x = (1.0 + u * (span**one_minus - 1.0)) ** (1.0 / one_minus)
    return low + x - 1.0


def _random_walk(
    rng: np.random.Generator,
    count: int,
    low: float,
    high: float,
    params: dict,
    groups: np.ndarray | None,
) -> np.ndarray:
    """Return a multiplicative random walk: each step multiplies by 1 + drift + volatility * Z.

    With `groups`, every group value walks on its own from the same start. NOTE: the walk starts
    at the middle of the range and is clipped to the range on output only; a stepwise walk that
    clamps its state at each step would come back from a bound sooner.
    """
    drift = params.get("drift", 0.0)
    volatility = params.get("volatility", 0.02)
    start = (low + high) / 2.0 if high > low else low
    if start <= 0:
        start = max(high, 1.0)

    factors = np.maximum(1.0 + drift + volatility * rng.standard_normal(count), 1e-9)
    log_steps = np.log(factors)
    if groups is None:
        walk = np.cumsum(log_steps)
    else:
        order = np.argsort(groups, kind="stable")
        sorted_steps = log_steps[order]
        cumulative = np.cumsum(sorted_steps)
        sorted_groups = groups[order]
        starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
        lengths = np.diff(np.r_[starts, count])
        before_group = np.repeat(cumulative[starts] - sorted_steps[starts], lengths)
        walk = np.empty(count)
        walk[order] = cumulative - before_group
    values = start * np.exp(walk)

    if not params.get("allow_below_min", False):
        values = np.maximum(values, low)
    if not params.get("allow_above_max", False):
        values = np.minimum(values, high)
    return values


def numeric_values(
    spec: FieldSpec, rng: np.random.Generator, count: int, groups: np.ndarray | None = None
) -> np.ndarray:
    """Return float64 draws for a numeric field from its distribution, clipped to its range."""
    low, high = _bounds(spec)
    distribution = spec.constraints.get("distribution", {"kind": "uniform"})
    kind = distribution["kind"]

    if kind == "uniform":
        if spec.type == "integer":
            return rng.integers(math.ceil(low), math.floor(high), size=count, endpoint=True).astype(np.float64)
        return rng.uniform(low, high, size=count)
    if kind == "normal":
        mean = distribution.get("mean", (low + high) / 2.0)
        std_dev = distribution.get("std_dev", (high - low) / 6.0)
        values = rng.normal(mean, std_dev, size=count)
    elif kind == "log_normal":
        # Without parameters the median sits at the middle of the range.
        middle = (low + high) / 2.0
        mean = distribution.get("mean", math.log(middle) if middle > 0 else 0.0)
        std_dev = distribution.get("std_dev", 0.5)
        values = rng.lognormal(mean, std_dev, size=count)
    elif kind == "zipf":
        values = _power_law(rng, count, low, high, distribution.get("exponent", 1.0))
    elif kind == "random_walk":
        return _random_walk(rng, count, low, high, distribution, groups)
    else:
        raise ValueError(f"unknown distribution {kind!r}")
    return np.clip(values, low, high)


def decimal_array(values: np.ndarray, precision: int) -> pa.Array:
    """Round float values to `precision` fractional digits and build a DECIMAL(18, precision) array."""
    limit = 10**DECIMAL_WIDTH - 1
    scaled = np.clip(np.rint(values * 10.0**precision), -limit, limit).astype(np.int64)
    # decimal128 stores 16-byte little-endian two's complement: the low word, then the sign.
    words = np.empty((len(scaled), 2), dtype=np.int64)
    words[:, 0] = scaled
    words[:, 1] = scaled >> 63
    return pa.Array.from_buffers(
        pa.decimal128(DECIMAL_WIDTH, precision), len(scaled), [None, pa.py_buffer(words)]
    )


def _numeric_array(spec: FieldSpec, values: np.ndarray) -> pa.Array:
    if spec.type == "integer":
        low, high = _bounds(spec)
        rounded = np.clip(np.rint(values), math.ceil(low), math.floor(high))
        return pa.array(rounded.astype(np.int64), pa.int64())
    if spec.type == "decimal":
        return decimal_array(values, spec.precision or 0)
    return pa.array(values, pa.float64())


# --- time ---------------------------------------------------------------------------------------


def _time_window(spec: FieldSpec, anchor_ms: int) -> tuple[int, int]:
    bounds = spec.constraints.get("timestamp_range")
    if bounds is None:
        if spec.type == "date":
            return anchor_ms - (DATE_SPAN_DAYS - 1) * MS_PER_DAY, anchor_ms
        return anchor_ms - 3_600_000, anchor_ms
    return bounds["start"].resolve(anchor_ms), bounds["end"].resolve(anchor_ms)


def timestamp_values(spec: FieldSpec, rng: np.random.Generator, count: int, anchor_ms: int) -> np.ndarray:
    """Return int64 epoch milliseconds uniform in [start, end) of the field's window."""
    start, end = _time_window(spec, anchor_ms)
    if end <= start:
        return np.full(count, start, dtype=np.int64)
    return rng.integers(start, end, size=count, dtype=np.int64)


def date_values(spec: FieldSpec, rng: np.random.Generator, count: int, anchor_ms: int) -> np.ndarray:
    """Return int32 days since the epoch uniform over the days of the field's window."""
    start, end = _time_window(spec, anchor_ms)
    first_day, last_day = start // MS_PER_DAY, end // MS_PER_DAY
    return rng.integers(first_day, max(first_day, last_day), size=count, endpoint=True).astype(np.int32)


# --- one column -----------------------------------------------------------------------------------


def _enum_column(spec: FieldSpec, rng: np.random.Generator, count: int) -> pa.Array:
    enum = spec.constraints["enum_values"]
    values = enum["values"]
    weights = enum["weights"]
    probabilities = None
    if weights is not None:
        total = float(sum(weights))
        probabilities = np.asarray(weights, dtype=np.float64) / total
    indices = rng.choice(len(values), size=count, p=probabilities)

    if spec.type == "timestamp":
        dictionary = pa.array(values, pa.int64()).cast(pa.timestamp("ms"))
    elif spec.type == "decimal":
        dictionary = decimal_array(np.asarray(values, dtype=np.float64), spec.precision or 0)
    else:
        dictionary = pa.array(values, arrow_type(spec))
    return dictionary.take(pa.array(indices))


def _reference_column(spec: FieldSpec, rng: np.random.Generator, count: int) -> pa.Array:
    """Return placeholder foreign keys: no reference data is loaded, so values are numbered.

    String fields get `REF_<SCHEMA>_<n>` and numeric fields the number n, with n in 1..999
    (within the field's range when it has one).
    """
    target = spec.constraints["references"]
    if spec.type in ("integer", "float", "decimal"):
        low, high = _bounds(spec) if "range" in spec.constraints else (1.0, float(REFERENCE_COUNT))
        numbers = rng.integers(math.ceil(low), math.floor(high), size=count, endpoint=True)
        return _numeric_array(spec, numbers.astype(np.float64))
    numbers = pa.array(rng.integers(1, REFERENCE_COUNT, size=count, endpoint=True))
    prefix = f"REF_{target['schema'].upper()}_"
    return pc.binary_join_element_wise(prefix, pc.cast(numbers, pa.string()), "")


def generate_column(
    spec: FieldSpec,
    rng: np.random.Generator,
    count: int,
    anchor_ms: int,
    groups: np.ndarray | None = None,
) -> pa.Array:
    """Return a typed Arrow column of `count` values for a non-derived field, nulls included.

    `groups` holds integer group codes for a random walk with `group_by`.
    """
    constraints = spec.constraints
    if "enum_values" in constraints:
        column = _enum_column(spec, rng, count)
    elif "references" in constraints and spec.type in ("string", "integer", "float", "decimal", "uuid"):
        column = _reference_column(spec, rng, count)
    elif spec.type in ("integer", "float", "decimal"):
        column = _numeric_array(spec, numeric_values(spec, rng, count, groups))
    elif spec.type == "string":
        length = constraints.get("length", {"min": DEFAULT_STRING_LENGTH[0], "max": DEFAULT_STRING_LENGTH[1]})
        column = random_strings(rng, count, length["min"], length["max"])
    elif spec.type == "uuid":
        column = random_uuids(rng, count)
    elif spec.type == "boolean":
        column = pa.array(rng.random(count) < 0.5, pa.bool_())
    elif spec.type == "timestamp":
        column = pa.array(timestamp_values(spec, rng, count, anchor_ms), pa.int64()).cast(pa.timestamp("ms"))
    elif spec.type == "date":
        column = pa.array(date_values(spec, rng, count, anchor_ms), pa.int32()).cast(pa.date32())
    else:
        raise ValueError(f"unknown field type {spec.type!r}")
    return apply_nulls(spec, rng, column)


def apply_nulls(spec: FieldSpec, rng: np.random.Generator, column: pa.Array) -> pa.Array:
    """Set the field's share of values to null, drawn after the values from the same stream."""
    if spec.null_probability <= 0 or len(column) == 0:
        return column
    mask = rng.random(len(column)) < spec.null_probability
    return pc.if_else(pa.array(mask), pa.scalar(None, column.type), column)


def group_codes(column: pa.Array) -> np.ndarray:
    """Return an integer code per value (nulls share one code) for grouping random walks."""
    encoded = pc.dictionary_encode(column, null_encoding="encode")
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
