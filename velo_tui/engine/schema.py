"""Record schemas (`*.schema.yaml`): the fields, types and constraints of a source's records.

A schema drives the data generator that fills a source topic and gives the executor the DuckDB
type of each field of a record. Loading validates every field and constraint, and an invalid
file raises `InputError` naming the file, the line and the field.
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from velo_tui.engine.errors import InputError, SourceLocation

logger = logging.getLogger(__name__)

FIELD_TYPES = ("string", "integer", "float", "boolean", "timestamp", "date", "uuid", "decimal")

#: Fractional digits of a decimal written as plain `decimal` without a precision.
DEFAULT_DECIMAL_PRECISION = 4

#: DuckDB stores decimals with at most 38 digits; 18 keeps them in a 64-bit integer.
DECIMAL_WIDTH = 18

DISTRIBUTIONS = ("uniform", "normal", "log_normal", "zipf", "random_walk")

CONSTRAINT_KEYS = (
    "range",
    "enum_values",
    "length",
    "distribution",
    "timestamp_range",
    "derived",
    "references",
    "pattern",
)

SCHEMA_KEYS = ("name", "description", "record_count", "key_field", "fields")
FIELD_KEYS = ("name", "type", "nullable", "constraints", "description", "null_probability")

#: Null share of a nullable field that sets no `null_probability`.
DEFAULT_NULL_PROBABILITY = 0.1

DEFAULT_RECORD_COUNT = 1000

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "uuid": "VARCHAR",
}

_RELATIVE_TIME = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


@dataclass(frozen=True)
class TimeBound:
    """One end of a `timestamp_range`: an offset from the generation anchor or a fixed instant."""

    offset_ms: int | None = None
    absolute_ms: int | None = None
    text: str = ""

    def resolve(self, anchor_ms: int) -> int:
        """Return the bound in milliseconds since the Unix epoch, relative bounds from `anchor_ms`."""
        if self.absolute_ms is not None:
            return self.absolute_ms
        return anchor_ms + (self.offset_ms or 0)


@dataclass
class FieldSpec:
    """One field of a record schema, with its validated constraints."""

    name: str
    type: str
    precision: int | None = None
    nullable: bool = False
    constraints: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    null_probability: float = 0.0
    line: int | None = None

    @property
    def duckdb_type(self) -> str:
        """DuckDB column type of the field's values."""
        if self.type == "decimal":
            return f"DECIMAL({DECIMAL_WIDTH},{self.precision})"
        return _DUCKDB_TYPES[self.type]


@dataclass
class Schema:
    """A record schema: the fields of one source's records and how many to generate by default."""

    name: str
    description: str = ""
    record_count: int = DEFAULT_RECORD_COUNT
    key_field: str | None = None
    fields: list[FieldSpec] = field(default_factory=list)
    path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def field(self, name: str) -> FieldSpec:
        """Return the field called `name`; raise KeyError when the schema has none."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def has_field(self, name: str) -> bool:
        return any(spec.name == name for spec in self.fields)

    @property
    def field_names(self) -> list[str]:
        return [spec.name for spec in self.fields]

    def duckdb_types(self) -> dict[str, str]:
        """Map each field name to its DuckDB type, in schema order."""
        return {spec.name: spec.duckdb_type for spec in self.fields}


# --- YAML with positions ---------------------------------------------------------------------


class _Doc:
    """Helper that reads a composed YAML node tree and raises errors with the node's line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, node: yaml.Node | None) -> InputError:
        if node is None:
            return InputError(message, SourceLocation(self.path))
        mark = node.start_mark
        return InputError(message, SourceLocation(self.path, mark.line + 1, mark.column + 1))

    def mapping(self, node: yaml.Node, label: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Return the entries of a mapping node keyed by their scalar key text."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(f"{label} must be a mapping (key: value lines)", node)
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(self.value(key_node))
            if key in entries:
                raise self.error(f"{label} has the key '{key}' twice; remove one", key_node)
            entries[key] = (key_node, value_node)
        return entries

    def value(self, node: yaml.Node) -> Any:
        """Construct the plain Python value of a node with the safe constructor."""
        return yaml.SafeLoader("").construct_object(node, deep=True)

    def number(self, node: yaml.Node, label: str) -> float:
        value = self.value(node)
        if isinstance(value, str):
            # PyYAML follows YAML 1.1, which reads exponent forms such as 1e9 as text.
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise self.error(f"{label} must be a number, got {value!r}", node)
        return value

    def integer(self, node: yaml.Node, label: str, minimum: int | None = None) -> int:
        value = self.value(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{label} must be a whole number, got {value!r}", node)
        if minimum is not None and value < minimum:
            raise self.error(f"{label} must be at least {minimum}, got {value}", node)
        return value

    def string(self, node: yaml.Node, label: str) -> str:
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{label} must be a non-empty text, got {value!r}", node)
        return value

    def boolean(self, node: yaml.Node, label: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.error(f"{label} must be true or false, got {value!r}", node)
        return value


def _closest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    matches = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


# --- loading -----------------------------------------------------------------------------------


def load_schema_file(path: str | Path) -> Schema:
    """Load and validate one schema file; raise InputError naming file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("schema file not found; check the path", SourceLocation(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read schema file: {exc}", SourceLocation(path)) from None

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        location = SourceLocation(path, mark.line + 1, mark.column + 1) if mark else SourceLocation(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise InputError(f"invalid YAML ({problem}); check the indentation and brackets near this line", location) from None

    doc = _Doc(path)
    if root is None:
        raise InputError("schema file is empty; it needs `name` and `fields`", SourceLocation(path))
    return _parse_schema(doc, root, path)


def _parse_schema(doc: _Doc, root: yaml.Node, path: Path) -> Schema:
    top = doc.mapping(root, "a schema file")
    warnings: list[str] = []
    if "schema" in top and "fields" not in top:
        raise doc.error(
            "fields must be at the top level of the file, not under `schema:`; "
            "remove the `schema:` wrapper",
            top["schema"][0],
        )
    for key, (key_node, _) in top.items():
        if key not in SCHEMA_KEYS:
            message = f"{path}:{key_node.start_mark.line + 1}: unknown schema key '{key}' ignored{_closest(key, SCHEMA_KEYS)}"
            warnings.append(message)
            logger.warning("%s", message)

    stem = path.name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".schema")
    name = doc.string(top["name"][1], "name") if "name" in top else stem
    description = str(doc.value(top["description"][1]) or "") if "description" in top else ""
    record_count = DEFAULT_RECORD_COUNT
    if "record_count" in top:
        record_count = doc.integer(top["record_count"][1], "record_count", minimum=0)

    if "fields" not in top:
        raise doc.error("the schema has no `fields` list; add one entry per record field", root)
    fields_node = top["fields"][1]
    if not isinstance(fields_node, yaml.SequenceNode) or not fields_node.value:
        raise doc.error("`fields` must be a non-empty list of fields", fields_node)

    fields: list[FieldSpec] = []
    seen: dict[str, int] = {}
    for field_node in fields_node.value:
        spec = _parse_field(doc, field_node, warnings)
        if spec.name in seen:
            raise doc.error(
                f"field '{spec.name}' is declared twice (first on line {seen[spec.name]}); rename one",
                field_node,
            )
        seen[spec.name] = spec.line or 0
        fields.append(spec)

    schema = Schema(
        name=name,
        description=description,
        record_count=record_count,
        key_field=None,
        fields=fields,
        path=path,
        warnings=warnings,
    )
    if "key_field" in top:
        key_node = top["key_field"][1]
        key_field = doc.string(key_node, "key_field")
        if not schema.has_field(key_field):
            raise doc.error(
                f"key_field '{key_field}' is not a field of this schema{_closest(key_field, schema.field_names)}",
                key_node,
            )
        schema.key_field = key_field

    _check_derived_and_groups(doc, schema, fields_node)
    return schema


def _parse_type(doc: _Doc, node: yaml.Node, field_name: str) -> tuple[str, int | None]:
    valid = ", ".join(FIELD_TYPES[:-1]) + ", {decimal: {precision: P}}"
    if isinstance(node, yaml.ScalarNode):
        text = str(doc.value(node)).strip()
        match = re.fullmatch(r"decimal\s*\(\s*(\d+)\s*\)", text)
        if match:
            return "decimal", int(match.group(1))
        if text == "decimal":
            return "decimal", DEFAULT_DECIMAL_PRECISION
        if text in FIELD_TYPES:
            return text, None
        raise doc.error(
            f"field '{field_name}': unknown type '{text}'{_closest(text, FIELD_TYPES)}; valid types: {valid}",
            node,
        )
    entries = doc.mapping(node, f"type of field '{field_name}'")
    if list(entries) != ["decimal"]:
        raise doc.error(
            f"field '{field_name}': a type written as a mapping must be {{decimal: {{precision: P}}}}; "
            f"valid types: {valid}",
            node,
        )
    decimal_node = entries["decimal"][1]
    if isinstance(decimal_node, yaml.ScalarNode) and doc.value(decimal_node) is None:
        return "decimal", DEFAULT_DECIMAL_PRECISION
    options = doc.mapping(decimal_node, f"decimal type of field '{field_name}'")
    precision = DEFAULT_DECIMAL_PRECISION
    if "precision" in options:
        precision = doc.integer(options["precision"][1], f"field '{field_name}': decimal precision", minimum=0)
        if precision > DECIMAL_WIDTH - 1:
            raise doc.error(
                f"field '{field_name}': decimal precision {precision} is too large; "
                f"use at most {DECIMAL_WIDTH - 1} fractional digits",
                options["precision"][1],
            )
    return "decimal", precision


def _parse_field(doc: _Doc, node: yaml.Node, warnings: list[str]) -> FieldSpec:
    entries = doc.mapping(node, "a field")
    if "name" not in entries:
        raise doc.error("a field has no `name`; every field needs a name and a type", node)
    name = doc.string(entries["name"][1], "field name")
    for key, (key_node, _) in entries.items():
        if key not in FIELD_KEYS:
            message = (
                f"{doc.path}:{key_node.start_mark.line + 1}: field '{name}': unknown key '{key}' "
                f"ignored{_closest(key, FIELD_KEYS)}"
            )
            warnings.append(message)
            logger.warning("%s", message)
    if "type" not in entries:
        raise doc.error(f"field '{name}' has no `type`; valid types: {', '.join(FIELD_TYPES)}", node)
    field_type, precision = _parse_type(doc, entries["type"][1], name)

    nullable = False
    if "nullable" in entries:
        nullable = doc.boolean(entries["nullable"][1], f"field '{name}': nullable")
    null_probability = DEFAULT_NULL_PROBABILITY if nullable else 0.0
    if "null_probability" in entries:
        prob_node = entries["null_probability"][1]
        null_probability = float(doc.number(prob_node, f"field '{name}': null_probability"))
        if not 0.0 <= null_probability <= 1.0:
            raise doc.error(f"field '{name}': null_probability must be between 0 and 1", prob_node)
        nullable = nullable or null_probability > 0

    description = str(doc.value(entries["description"][1]) or "") if "description" in entries else ""
    spec = FieldSpec(
        name=name,
        type=field_type,
        precision=precision,
        nullable=nullable,
        description=description,
        null_probability=null_probability,
        line=node.start_mark.line + 1,
    )
    if "constraints" in entries:
        constraints_node = entries["constraints"][1]
        if not (isinstance(constraints_node, yaml.ScalarNode) and doc.value(constraints_node) is None):
            spec.constraints = _parse_constraints(doc, constraints_node, spec, warnings)
    return spec


# --- constraints -------------------------------------------------------------------------------

_NUMERIC = ("integer", "float", "decimal")


def _parse_constraints(doc: _Doc, node: yaml.Node, spec: FieldSpec, warnings: list[str]) -> dict[str, Any]:
    entries = doc.mapping(node, f"constraints of field '{spec.name}'")
    parsed: dict[str, Any] = {}
    for key, (key_node, value_node) in entries.items():
        where = f"field '{spec.name}': {key}"
        if key == "range":
            parsed["range"] = _parse_range(doc, value_node, spec, where)
        elif key == "enum_values":
            parsed["enum_values"] = _parse_enum(doc, value_node, spec, where)
        elif key == "length":
            parsed["length"] = _parse_length(doc, value_node, spec, where)
        elif key == "distribution":
            parsed["distribution"] = _parse_distribution(doc, value_node, spec, where)
        elif key == "timestamp_range":
            parsed["timestamp_range"] = _parse_timestamp_range(doc, value_node, spec, where)
        elif key == "derived":
            parsed["derived"] = _parse_derived(doc, value_node, where)
        elif key == "references":
            parsed["references"] = _parse_references(doc, value_node, where)
        elif key == "pattern":
            # NOTE: a pattern is checked for being text but not used: generated strings stay
            # random alphanumeric text, as in the reference generator.
            parsed["pattern"] = doc.string(value_node, where)
        else:
            message = (
                f"{doc.path}:{key_node.start_mark.line + 1}: field '{spec.name}': unknown constraint "
                f"'{key}' ignored{_closest(key, CONSTRAINT_KEYS)}; valid constraints: {', '.join(CONSTRAINT_KEYS)}"
            )
            warnings.append(message)
            logger.warning("%s", message)
    return parsed


def _parse_range(doc: _Doc, node: yaml.Node, spec: FieldSpec, where: str) -> dict[str, float]:
    if spec.type not in _NUMERIC:
        raise doc.error(f"{where}: a range applies to integer, float and decimal fields, not {spec.type}", node)
    entries = doc.mapping(node, where)
    for key in entries:
        if key not in ("min", "max"):
            raise doc.error(f"{where}: unknown key '{key}'; a range has `min` and `max`", entries[key][0])
    low = doc.number(entries["min"][1], f"{where}.min") if "min" in entries else None
    high = doc.number(entries["max"][1], f"{where}.max") if "max" in entries else None
    if low is None and high is None:
        raise doc.error(f"{where}: give `min`, `max` or both", node)
    if low is None:
        low = min(0, high)
    if high is None:
        high = max(1000, low)
    if low > high:
        raise doc.error(f"{where}: min {low} is greater than max {high}; swap them", node)
    if spec.type == "decimal":
        limit = 10 ** (DECIMAL_WIDTH - (spec.precision or 0))
        if max(abs(low), abs(high)) >= limit:
            raise doc.error(
                f"{where}: DECIMAL({DECIMAL_WIDTH},{spec.precision}) only stores values below {limit} in magnitude; "
                "narrow the range or use fewer fractional digits",
                node,
            )
    if spec.type == "integer" and math.ceil(low) > math.floor(high):
        raise doc.error(f"{where}: no whole number lies between min {low} and max {high}", node)
    return {"min": low, "max": high}


def _convert_enum_value(doc: _Doc, node: yaml.Node, value: Any, spec: FieldSpec, where: str) -> Any:
    """Convert one enum value to the field's type, so integers stay JSON numbers."""
    try:
        if spec.type == "integer":
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError
            return int(float(value))
        if spec.type in ("float", "decimal"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if spec.type == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text not in ("true", "false"):
                raise ValueError
            return text == "true"
        if spec.type == "timestamp":
            return _parse_instant(str(value))
        if spec.type == "date":
            return datetime.strptime(str(value), "%Y-%m-%d").date()
    except (TypeError, ValueError):
        raise doc.error(f"{where}: value {value!r} is not a valid {spec.type}", node) from None
    return value if isinstance(value, str) else str(value)


def _parse_enum(doc: _Doc, node: yaml.Node, spec: FieldSpec, where: str) -> dict[str, Any]:
    if isinstance(node, yaml.SequenceNode):
        values_node, weights_node = node, None
    else:
        entries = doc.mapping(node, where)
        for key in entries:
            if key not in ("values", "weights"):
                raise doc.error(f"{where}: unknown key '{key}'; enum_values has `values` and `weights`", entries[key][0])
        if "values" not in entries:
            raise doc.error(f"{where}: missing `values` list", node)
        values_node = entries["values"][1]
        weights_node = entries["weights"][1] if "weights" in entries else None
    if not isinstance(values_node, yaml.SequenceNode) or not values_node.value:
        raise doc.error(f"{where}: `values` must be a non-empty list", values_node)
    values = [
        _convert_enum_value(doc, item, doc.value(item), spec, where) for item in values_node.value
    ]
    weights = None
    if weights_node is not None:
        if not isinstance(weights_node, yaml.SequenceNode):
            raise doc.error(f"{where}: `weights` must be a list of numbers", weights_node)
        weights = [doc.number(item, f"{where}.weights") for item in weights_node.value]
        if len(weights) != len(values):
            raise doc.error(
                f"{where}: {len(weights)} weights for {len(values)} values; give one weight per value",
                weights_node,
            )
        if any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise doc.error(f"{where}: weights must be non-negative and not all zero", weights_node)
    return {"values": values, "weights": weights}


def _parse_length(doc: _Doc, node: yaml.Node, spec: FieldSpec, where: str) -> dict[str, int]:
    if spec.type != "string":
        raise doc.error(f"{where}: a length applies to string fields, not {spec.type}", node)
    entries = doc.mapping(node, where)
    for key in entries:
        if key not in ("min", "max"):
            raise doc.error(f"{where}: unknown key '{key}'; a length has `min` and `max`", entries[key][0])
    low = doc.integer(entries["min"][1], f"{where}.min", minimum=0) if "min" in entries else 5
    high = doc.integer(entries["max"][1], f"{where}.max", minimum=0) if "max" in entries else max(20, low)
    if low > high:
        raise doc.error(f"{where}: min {low} is greater than max {high}; swap them", node)
    return {"min": low, "max": high}


_DISTRIBUTION_PARAMS = {
    "uniform": (),
    "normal": ("mean", "std_dev"),
    "log_normal": ("mean", "std_dev"),
    "zipf": ("exponent",),
    "random_walk": ("drift", "volatility", "group_by", "allow_below_min", "allow_above_max"),
}


def _parse_distribution(doc: _Doc, node: yaml.Node, spec: FieldSpec, where: str) -> dict[str, Any]:
    if spec.type not in _NUMERIC:
        raise doc.error(f"{where}: a distribution applies to integer, float and decimal fields, not {spec.type}", node)
    valid = ", ".join(DISTRIBUTIONS)
    if isinstance(node, yaml.ScalarNode):
        kind = str(doc.value(node))
        params_node = None
    else:
        entries = doc.mapping(node, where)
        if len(entries) != 1:
            raise doc.error(f"{where}: give exactly one distribution; valid: {valid}", node)
        kind, (_, params_node) = next(iter(entries.items()))
    if kind not in DISTRIBUTIONS:
        raise doc.error(f"{where}: unknown distribution '{kind}'{_closest(kind, DISTRIBUTIONS)}; valid: {valid}", node)

    params: dict[str, Any] = {"kind": kind}
    if params_node is None or (isinstance(params_node, yaml.ScalarNode) and doc.value(params_node) is None):
        return params
    entries = doc.mapping(params_node, f"{where}.{kind}")
    allowed = _DISTRIBUTION_PARAMS[kind]
    for key, (key_node, value_node) in entries.items():
        if key not in allowed:
            raise doc.error(
                f"{where}: unknown {kind} parameter '{key}'{_closest(key, allowed)}; valid: {', '.join(allowed) or 'none'}",
                key_node,
            )
        if key == "group_by":
            params[key] = doc.string(value_node, f"{where}.group_by")
        elif key.startswith("allow_"):
            params[key] = doc.boolean(value_node, f"{where}.{key}")
        else:
            params[key] = float(doc.number(value_node, f"{where}.{key}"))
    if params.get("std_dev", 0) < 0:
        raise doc.error(f"{where}: std_dev must not be negative", params_node)
    if params.get("volatility", 0) < 0:
        raise doc.error(f"{where}: volatility must not be negative", params_node)
    if kind == "zipf" and params.get("exponent", 1.0) <= 0:
        raise doc.error(f"{where}: the zipf exponent must be greater than 0", params_node)
    return params


def _parse_instant(text: str) -> int:
    """Parse an ISO 8601 instant into milliseconds since the epoch; a zone-less time is UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(round(moment.timestamp() * 1000))


def parse_time_bound(text: Any) -> TimeBound:
    """Parse `now`, a relative offset (`-1h`, `+2d`, `-30m`, `90` seconds) or an ISO 8601 instant.

    Raises ValueError for anything else.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return TimeBound(offset_ms=int(round(float(text) * 1000)), text=str(text))
    if isinstance(text, datetime):
        moment = text if text.tzinfo else text.replace(tzinfo=timezone.utc)
        return TimeBound(absolute_ms=int(round(moment.timestamp() * 1000)), text=text.isoformat())
    if not isinstance(text, str):
        raise ValueError(f"unsupported time value {text!r}")
    stripped = text.strip()
    if stripped.lower() == "now":
        return TimeBound(offset_ms=0, text=stripped)
    match = _RELATIVE_TIME.match(stripped)
    if match:
        amount = float(match.group(1))
        unit = match.group(2) or "s"
        return TimeBound(offset_ms=int(round(amount * _UNIT_MS[unit])), text=stripped)
    return TimeBound(absolute_ms=_parse_instant(stripped), text=stripped)


def _parse_timestamp_range(doc: _Doc, node: yaml.Node, spec: FieldSpec, where: str) -> dict[str, TimeBound]:
    if spec.type not in ("timestamp", "date"):
        raise doc.error(f"{where}: a timestamp_range applies to timestamp and date fields, not {spec.type}", node)
    entries = doc.mapping(node, where)
    bounds: dict[str, TimeBound] = {"start": TimeBound(offset_ms=-3_600_000, text="-1h"), "end": TimeBound(offset_ms=0, text="now")}
    for key, (key_node, value_node) in entries.items():
        if key not in ("start", "end"):
            raise doc.error(f"{where}: unknown key '{key}'; a timestamp_range has `start` and `end`", key_node)
        try:
            bounds[key] = parse_time_bound(doc.value(value_node))
        except ValueError:
            raise doc.error(
                f"{where}.{key}: invalid time {doc.value(value_node)!r}; use `now`, an offset such as "
                "-1h, -30m, +2d or a number of seconds, or an ISO 8601 instant such as 2026-01-01T00:00:00Z",
                value_node,
            ) from None
    start, end = bounds["start"], bounds["end"]
    same_kind = (start.absolute_ms is None) == (end.absolute_ms is None)
    if same_kind and start.resolve(0) > end.resolve(0):
        raise doc.error(f"{where}: start {start.text} is after end {end.text}; swap them", node)
    return bounds


def _parse_derived(doc: _Doc, node: yaml.Node, where: str) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return {"expression": doc.string(node, where), "depends_on": []}
    entries = doc.mapping(node, where)
    for key in entries:
        if key not in ("expression", "depends_on"):
            raise doc.error(f"{where}: unknown key '{key}'; derived has `expression` and `depends_on`", entries[key][0])
    if "expression" not in entries:
        raise doc.error(f"{where}: missing `expression`", node)
    depends_on = doc.value(entries["depends_on"][1]) if "depends_on" in entries else []
    if not isinstance(depends_on, list):
        raise doc.error(f"{where}.depends_on must be a list of field names", entries["depends_on"][1])
    return {"expression": doc.string(entries["expression"][1], f"{where}.expression"), "depends_on": depends_on}


def _parse_references(doc: _Doc, node: yaml.Node, where: str) -> dict[str, Any]:
    entries = doc.mapping(node, where)
    for key in entries:
        if key not in ("schema", "field", "file"):
            raise doc.error(f"{where}: unknown key '{key}'; references has `schema`, `field` and `file`", entries[key][0])
    for key in ("schema", "field"):
        if key not in entries:
            raise doc.error(f"{where}: missing `{key}`", node)
    return {key: doc.string(entries[key][1], f"{where}.{key}") for key in entries}


def _check_derived_and_groups(doc: _Doc, schema: Schema, fields_node: yaml.SequenceNode) -> None:
    for spec, node in zip(schema.fields, fields_node.value):
        distribution = spec.constraints.get("distribution", {})
        group_by = distribution.get("group_by")
        if group_by is not None and not schema.has_field(group_by):
            raise doc.error(
                f"field '{spec.name}': random_walk group_by '{group_by}' is not a field of this schema"
                f"{_closest(group_by, schema.field_names)}",
                node,
            )
        if group_by == spec.name:
            raise doc.error(f"field '{spec.name}': a random walk cannot be grouped by its own field", node)
        derived = spec.constraints.get("derived")
        if derived:
            for name in derived["depends_on"]:
                if not schema.has_field(str(name)):
                    raise doc.error(f"field '{spec.name}': derived depends_on '{name}' is not a field of this schema", node)


def load_schema_dir(directory: str | Path) -> dict[str, Schema]:
    """Load every `*.yaml`/`*.yml` schema file directly in `directory`, keyed by schema name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError("schema folder not found; pass an existing folder with --schemas", SourceLocation(directory))
    schemas: dict[str, Schema] = {}
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
    for path in files:
        schema = load_schema_file(path)
        if schema.name in schemas:
            other = schemas[schema.name].path
            raise InputError(
                f"schema name '{schema.name}' is also used by {other}; give each schema a unique name",
                SourceLocation(path),
            )
        schemas[schema.name] = schema
    logger.debug("loaded %d schemas from %s", len(schemas), directory)
    return schemas


def find_schema_dir(sql_path: Path, override: Path | None = None) -> Path | None:
    """Return the schema folder: `override`, else `schemas/` beside the SQL file, else `../schemas/`.

    Returns None when no folder exists; raises InputError when `override` is not a folder.
    """
    if override is not None:
        override = Path(override)
        if not override.is_dir():
            raise InputError("schema folder not found; pass an existing folder with --schemas", SourceLocation(override))
        return override
    base = Path(sql_path).resolve().parent
    for candidate in (base / "schemas", base.parent / "schemas"):
        if candidate.is_dir():
            return candidate
    return None
