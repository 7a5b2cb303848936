"""Fault injector base class, the registry of injectors and the fault ledger.

A fault injector alters a micro-batch of generated records before it reaches the source topic,
and records each change in the fault ledger. Every record it alters or adds carries the headers
`velo.fault` (the ledger key) and `velo.fault.id` (the ledger entry id), so the DLQ can report
which injected fault a failed record came from. A record that several injectors touch (such as a
duplicate of a malformed record) carries one pair per fault, in the order the injectors ran.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from velo_tui.engine.broker.base import HEADER_TYPE
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.schema import Schema

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "velo_tui.faults"
FAULT_HEADER = "velo.fault"
FAULT_ID_HEADER = "velo.fault.id"


@dataclass(frozen=True)
class FaultEntry:
    """One change an injector made: which record of which source, and what it did.

    `sequence` is the record's position in its source's generated input, counted from 0; for
    `slow_processing` it is the number of the delayed micro-batch instead.
    """

    id: int
    fault: str
    kind: str | None
    source: str
    sequence: int
    field: str | None
    change: str

    @property
    def key(self) -> str:
        """Ledger key, e.g. `malformed_records.missing_field`, `duplicates`, `field_corruption.quantity`."""
        if self.fault == "field_corruption" and self.field:
            return f"{self.fault}.{self.field}"
        if self.kind:
            return f"{self.fault}.{self.kind}"
        return self.fault


@dataclass
class FaultLedger:
    """Every fault injected during a run, in the order the injectors made them."""

    entries: list[FaultEntry] = field(default_factory=list)

    def record(
        self,
        fault: str,
        source: str,
        sequence: int,
        change: str,
        *,
        kind: str | None = None,
        field_name: str | None = None,
    ) -> FaultEntry:
        """Append an entry with the next id and return it."""
        entry = FaultEntry(
            id=len(self.entries) + 1,
            fault=fault,
            kind=kind,
            source=source,
            sequence=int(sequence),
            field=field_name,
            change=change,
        )
        self.entries.append(entry)
        return entry

    def counts(self) -> dict[str, int]:
        """Return how many entries each ledger key has, sorted by key."""
        return dict(sorted(Counter(entry.key for entry in self.entries).items()))

    def by_id(self, entry_id: int) -> FaultEntry | None:
        if 1 <= entry_id <= len(self.entries):
            return self.entries[entry_id - 1]
        return None

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class FaultContext:
    """What an injector knows about the micro-batch it alters.

    `offset` is the input sequence number of the batch's first record as generated; `sequence`,
    when set, holds the input sequence number of every row, because injectors that add or move
    rows change positions.
    """

    schema: Schema | None
    source: str
    offset: int
    ledger: FaultLedger
    sequence: np.ndarray | None = None

    def sequence_of(self, row: int) -> int:
        """Return the input sequence number of the record at `row` of the current batch."""
        if self.sequence is not None:
            return int(self.sequence[row])
        return self.offset + row


class FaultInjector:
    """Base class of fault injectors; subclasses set `name` and implement `apply`.

    `config` is the injector's block from the spec's `fault_injection`, `rng` the seeded
    generator it must draw every random choice from, and `location` the spec file for errors.
    Subclasses list the config keys they read in `config_keys` (`enabled` and `rate` are always
    valid) and validate values in `__init__`, raising InputError.
    """

    name: ClassVar[str] = ""
    config_keys: ClassVar[tuple[str, ...]] = ()
    default_rate: ClassVar[float] = 0.05
    #: Injectors run in ascending `order`; the built-ins use 10 to 40.
    order: ClassVar[int] = 50

    def __init__(self, config: dict, rng: np.random.Generator, location: SourceLocation | None) -> None:
        self.config = dict(config or {})
        self.rng = rng
        self.location = location
        self.enabled = self._bool("enabled", True)
        self.rate = self._probability("rate", self.default_rate)

    @classmethod
    def valid_keys(cls) -> tuple[str, ...]:
        return ("enabled", "rate", *cls.config_keys)

    def apply(self, batch: pa.Table, context: FaultContext) -> pa.Table:
        """Return the batch with this fault injected; the default changes nothing."""
        return batch

    # --- config helpers for subclasses ---

    def error(self, message: str) -> InputError:
        return InputError(f"fault_injection.{self.name}: {message}", self.location)

    def _bool(self, key: str, default: bool) -> bool:
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"`{key}` must be true or false, got {value!r}")
        return value

    def _number(self, key: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"`{key}` must be a number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"`{key}` must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"`{key}` must be at most {maximum}, got {value}")
        return value

    def _integer(self, key: str, default: int, minimum: int | None = None) -> int:
        value = self.config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"`{key}` must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"`{key}` must be at least {minimum}, got {value}")
        return value

    def _probability(self, key: str, default: float) -> float:
        return float(self._number(key, default, 0.0, 1.0))

    def _name_list(self, keys: Iterable[str], valid: Iterable[str] | None = None) -> list[str] | None:
        """Return the list under the first present key of `keys`, checked against `valid`."""
        for key in keys:
            if key not in self.config:
                continue
            value = self.config[key]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise self.error(f"`{key}` must be a list of names, got {value!r}")
            if valid is not None:
                valid = list(valid)
                for item in value:
                    if item not in valid:
                        raise self.error(f"unknown {key} entry '{item}'{closest_hint(item, valid)}; valid: {', '.join(valid)}")
            return value
        return None

    # --- batch helpers for subclasses ---

    def select(self, count: int) -> np.ndarray:
        """Return the rows picked by one seeded Bernoulli draw per record at `rate`."""
        return np.flatnonzero(self.rng.random(count) < self.rate)


def closest_hint(word: str, choices: Iterable[str]) -> str:
    """Return ` (did you mean 'x'?)` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


# --- batch editing helpers ------------------------------------------------------------------------


def fault_headers(existing: list | None, entry: FaultEntry) -> list[dict[str, Any]]:
    """Return `existing` headers plus the fault tag of `entry`."""
    headers = list(existing or [])
    headers.append({"key": FAULT_HEADER, "value": entry.key.encode("utf-8")})
    headers.append({"key": FAULT_ID_HEADER, "value": str(entry.id).encode("utf-8")})
    return headers


def is_tagged(headers: list | None) -> bool:
    """Return True when a record's headers already carry a fault tag."""
    return any(header["key"] == FAULT_HEADER for header in headers or [])


def replace_rows(column: pa.ChunkedArray | pa.Array, rows: np.ndarray, replacements: pa.Array) -> pa.Array:
    """Return `column` with the values at `rows` replaced by `replacements`, in one take."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    length = len(column)
    indices = np.arange(length, dtype=np.int64)
    indices[rows] = length + np.arange(len(rows), dtype=np.int64)
    return pa.concat_arrays([column, replacements.cast(column.type)]).take(pa.array(indices))


def rewrite_rows(
    batch: pa.Table,
    rows: np.ndarray,
    values: list[bytes | None] | None = None,
    headers: list[list[dict[str, Any]]] | None = None,
    timestamps: list[int | None] | None = None,
) -> pa.Table:
    """Return `batch` with new values, headers and timestamps at `rows` (each list aligned with rows)."""
    if len(rows) == 0:
        return batch
    rows = np.asarray(rows, dtype=np.int64)
    result = batch
    if values is not None:
        column = replace_rows(batch.column("value"), rows, pa.array(values, pa.binary()))
        result = result.set_column(result.schema.get_field_index("value"), "value", column)
    if headers is not None:
        column = replace_rows(batch.column("headers"), rows, pa.array(headers, HEADER_TYPE))
        result = result.set_column(result.schema.get_field_index("headers"), "headers", column)
    if timestamps is not None:
        column = replace_rows(batch.column("timestamp"), rows, pa.array(timestamps, pa.int64()))
        result = result.set_column(result.schema.get_field_index("timestamp"), "timestamp", column)
    return result


def decode_json_object(value: bytes | None) -> dict[str, Any] | None:
    """Return the JSON object in `value`, or None when it is not a JSON object."""
    if value is None:
        return None
    try:
        decoded = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    return decoded if isinstance(decoded, dict) else None


class RawJSON(str):
    """A JSON literal that `encode_json_object` writes as is, such as 2**70 as a number or 1e999."""


def encode_json_object(record: dict[str, Any]) -> bytes:
    """Encode a record compactly as the generator does, writing `RawJSON` values verbatim."""
    literals: dict[str, str] = {}
    prepared: dict[str, Any] = {}
    for name, value in record.items():
        if isinstance(value, RawJSON):
            marker = f"\x00velo-raw-{len(literals)}\x00"
            literals[json.dumps(marker)] = str(value)
            value = marker
        prepared[name] = value
    text = json.dumps(prepared, separators=(",", ":"), ensure_ascii=False)
    for marker, literal in literals.items():
        text = text.replace(marker, literal)
    return text.encode("utf-8")


# --- registry -------------------------------------------------------------------------------------

_REGISTRY: dict[str, type[FaultInjector]] = {}


def register(cls: type[FaultInjector]) -> type[FaultInjector]:
    """Register an injector class under its `name`; usable as a class decorator."""
    if not (isinstance(cls, type) and issubclass(cls, FaultInjector)):
        raise TypeError(f"{cls!r} is not a FaultInjector subclass")
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no `name`")
    _REGISTRY[cls.name] = cls
    return cls


def _entry_point_faults() -> dict[str, type[FaultInjector]]:
    found: dict[str, type[FaultInjector]] = {}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = entry_point.load()
        except Exception as exc:  # a broken plugin must not stop the run; it is logged and skipped
            logger.warning("fault injector entry point %s (%s) failed to load: %s", entry_point.name, entry_point.value, exc)
            continue
        if not (isinstance(cls, type) and issubclass(cls, FaultInjector)):
            logger.warning("fault injector entry point %s (%s) is not a FaultInjector subclass; skipped", entry_point.name, entry_point.value)
            continue
        found[entry_point.name] = cls
    return found


def available_faults() -> dict[str, type[FaultInjector]]:
    """Return every fault injector by name: registered classes plus the `velo_tui.faults` entry points.

    A registered class wins over an entry point of the same name.
    """
    faults = _entry_point_faults()
    faults.update(_REGISTRY)
    return dict(sorted(faults.items()))

