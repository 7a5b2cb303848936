"""Loading and validation of a test spec (`*.test.yaml`) against the statements of a SQL file.

The YAML is composed into nodes first so that every error and warning names `file:line`. Every
key present is applied, rejected with an `InputError`, or reported in `Spec.warnings`. A warning
names the closest valid key for an unknown key, and the reason for a key that velo-test accepts
but velo-tui does not act on.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from velo_tui.engine import assertions
from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.spec_model import (
    AssertionSpec,
    DebugSpec,
    InputSpec,
    QuerySpec,
    Spec,
    StressSpec,
)

logger = logging.getLogger(__name__)

#: File names tried beside a SQL file, in order. `{stem}` is the SQL file name without `.sql`.
SPEC_FILE_NAMES = ("{stem}.test.yaml", "{stem}.spec.yaml", "test_spec.yaml", "test_spec.yml")

TOP_LEVEL_KEYS = (
    "application",
    "description",
    "default_records",
    "default_timeout_ms",
    "queries",
    "fault_injection",
    "debug",
    "stress_test",
)
TOP_LEVEL_IGNORED = {
    "topic_naming": "topic names come from the SQL file's WITH properties",
    "config": "configuration comes from the SQL file and its config files",
    "schemas": "schemas are read from the schema folder (--schemas)",
}

#: `dependencies` (alias `depends_on`) name statements that must run first. Every statement
#: runs in dependency order anyway, so the names are only checked.
QUERY_KEYS = (
    "name",
    "description",
    "inputs",
    "assertions",
    "timeout_ms",
    "skip",
    "dependencies",
    "depends_on",
)
QUERY_IGNORED = {
    "output": "output is read from the statement's sink topic",
    "outputs": "per-sink assertions are not supported; put them under assertions",
    "capture_format": "sink records are decoded as JSON",
    "capture_schema": "sink records are decoded as JSON",
    "metric_assertions": "metric assertions are not supported",
    "overrides": "overrides are not supported",
}

INPUT_KEYS = (
    "source",
    "schema",
    "records",
    "rate_per_second",
    "from_previous",
    "data_file",
    "key_field",
)
INPUT_IGNORED = {
    "source_type": "use data_file for file input",
    "time_simulation": "timestamps come from the schema's timestamp_range",
    "format": "the format of data_file follows its suffix",
    "type": "inputs are always published to the source topic",
    "null_probability": "set nullable in the schema instead",
    "overrides": "overrides are not supported",
}

#: `show_intermediate_values` is accepted because the debugger always keeps every statement's
#: sink records inspectable.
DEBUG_KEYS = ("enabled", "breakpoints", "pause_on_start", "show_intermediate_values")
DEBUG_IGNORED = {"log_level": "the log level is set on the command line, not in the spec"}

#: `after_record: true` describes when a breakpoint fires: after the statement has processed
#: the records available to it.
BREAKPOINT_KEYS = ("query", "after_record")

STRESS_KEYS = ("enabled", "records", "rate_per_second", "duration_seconds")


def _plain_dates(value: Any) -> Any:
    """Turn YAML dates and timestamps into ISO 8601 strings, which assertions compare in the
    field's own type."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain_dates(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain_dates(item) for key, item in value.items()}
    return value


def find_spec(sql_path: Path) -> Path | None:
    """Return the test spec beside `sql_path`, trying each of `SPEC_FILE_NAMES` in turn."""
    sql_path = Path(sql_path)
    stem = sql_path.name[: -len(".sql")] if sql_path.name.endswith(".sql") else sql_path.stem
    for pattern in SPEC_FILE_NAMES:
        candidate = sql_path.parent / pattern.format(stem=stem)
        if candidate.is_file():
            return candidate
    return None


def load_spec(path: Path, statement_names: list[str]) -> Spec:
    """Load and validate the test spec at `path` for a SQL file with `statement_names`.

    Query, breakpoint and `from_previous` names match case-insensitively and are stored as the
    SQL file spells them. An empty `statement_names` skips the check that queries name
    statements. Raises `InputError` for invalid YAML, a wrong value type, an unknown assertion
    type or operator, or a name that matches nothing.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(
            "test spec not found; check the --spec path", SourceLocation(path)
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the test spec: {exc}", SourceLocation(path)) from exc

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        location = SourceLocation(path, mark.line + 1, mark.column + 1) if mark else None
        raise InputError(f"invalid YAML ({exc.problem or exc}); check the indentation and brackets near this line", location) from exc
    except yaml.YAMLError as exc:
        raise InputError(f"invalid YAML ({exc}); check the indentation and brackets near this line", SourceLocation(path)) from exc

    if root is None:
        raise InputError(
            "the test spec is empty; it needs at least 'application' and 'queries'",
            SourceLocation(path, 1),
        )
    spec = _SpecReader(path, statement_names).read(root)
    for warning in spec.warnings:
        logger.debug("spec warning: %s", warning)
    return spec


class _SpecReader:
    """Walks the composed YAML nodes of one spec file, collecting warnings as it goes."""

    def __init__(self, path: Path, statement_names: list[str]) -> None:
        self.path = path
        self.statement_names = list(statement_names)
        self.warnings: list[str] = []
        self._constructor = SafeConstructor()

    # --- generic node helpers --------------------------------------------------------------

    def location(self, node: Node) -> SourceLocation:
        return SourceLocation(self.path, node.start_mark.line + 1, node.start_mark.column + 1)

    def error(self, node: Node, message: str) -> InputError:
        return InputError(message, self.location(node))

    def warn(self, node: Node, message: str) -> None:
        self.warnings.append(f"{self.path}:{node.start_mark.line + 1}: {message}")

    def value(self, node: Node) -> Any:
        """Construct the plain Python value of a node (scalars, lists, dicts)."""
        return self._constructor.construct_document(node)

    def mapping(self, node: Node, where: str) -> dict[str, tuple[Node, Node]]:
        """Return a mapping node's entries by key, as (key node, value node) pairs."""
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{where} must be a mapping of keys to values")
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            if not isinstance(key, str):
                raise self.error(key_node, f"keys in {where} must be strings, got {key!r}")
            if key in entries:
                self.warn(
                    key_node,
                    f"key '{key}' appears twice in {where}; the later value is used",
                )
            entries[key] = (key_node, value_node)
        return entries

    def sequence(self, node: Node, where: str) -> list[Node]:
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, SequenceNode):
            raise self.error(node, f"{where} must be a list")
        return list(node.value)

    def check_keys(
        self,
        entries: dict[str, tuple[Node, Node]],
        valid: tuple[str, ...] | frozenset[str],
        ignored: dict[str, str],
        where: str,
    ) -> None:
        """Warn about every key of `entries` that is not in `valid`."""
        for key, (key_node, _) in entries.items():
            if key in valid:
                continue
            if key in ignored:
                self.warn(key_node, f"key '{key}' in {where} is ignored: {ignored[key]}")
                continue
            close = difflib.get_close_matches(key, sorted(valid), n=1, cutoff=0.6)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"valid keys: {', '.join(sorted(valid))}"
            self.warn(key_node, f"unknown key '{key}' in {where} is ignored; {hint}")

    def optional_str(self, node: Node, key: str, where: str) -> str | None:
        value = self.value(node)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise self.error(node, f"'{key}' in {where} must be a string, got {value!r}")
        return str(value)

    def optional_int(self, node: Node, key: str, where: str, *, low: int = 0) -> int | None:
        value = self.value(node)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(
                node, f"'{key}' in {where} must be a whole number, got {value!r}"
            )
        if value < low:
            raise self.error(node, f"'{key}' in {where} must be at least {low}, got {value}")
        return value

    def optional_number(self, node: Node, key: str, where: str) -> float | None:
        value = self.value(node)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(node, f"'{key}' in {where} must be a number, got {value!r}")
        if value <= 0:
            raise self.error(node, f"'{key}' in {where} must be above 0, got {value}")
        return float(value)

    def boolean(self, node: Node, key: str, where: str) -> bool:
        value = self.value(node)
        if not isinstance(value, bool):
            raise self.error(node, f"'{key}' in {where} must be true or false, got {value!r}")
        return value

    def statement_name(self, node: Node, name: str, what: str) -> str:
        """Return the SQL file's spelling of statement `name`, or raise naming the choices."""
        if not self.statement_names:
            return name
        for statement in self.statement_names:
            if statement.lower() == name.lower():
                return statement
        raise self.error(
            node,
            f"{what} '{name}' matches no statement of the SQL file; "
            f"statements: {', '.join(self.statement_names)}",
        )

    # --- spec sections ---------------------------------------------------------------------

    def read(self, root: Node) -> Spec:
        entries = self.mapping(root, "the test spec")
        self.check_keys(entries, TOP_LEVEL_KEYS, TOP_LEVEL_IGNORED, "the test spec")
        spec = Spec(path=self.path, warnings=self.warnings)
        where = "the test spec"

        if "application" in entries:
            spec.application = self.optional_str(entries["application"][1], "application", where) or ""
        if "description" in entries:
            spec.description = self.optional_str(entries["description"][1], "description", where) or ""
        if "default_records" in entries:
            spec.default_records = self.optional_int(
                entries["default_records"][1], "default_records", where
            )
        if "default_timeout_ms" in entries:
            spec.default_timeout_ms = self.optional_int(
                entries["default_timeout_ms"][1], "default_timeout_ms", where, low=1
            )

        if "fault_injection" in entries:
            key_node, value_node = entries["fault_injection"]
            block = self.value(value_node)
            if block is not None and not isinstance(block, dict):
                raise self.error(value_node, "'fault_injection' must be a mapping")
            spec.fault_injection = block or {}
            spec.fault_injection_line = key_node.start_mark.line + 1

        if "debug" in entries:
            spec.debug = self.read_debug(entries["debug"][1])
        if "stress_test" in entries:
            spec.stress_test = self.read_stress(entries["stress_test"][1])

        if "queries" in entries:
            spec.queries = self.read_queries(entries["queries"][1], spec)
        else:
            self.warn(root, "the test spec has no 'queries' list, so no assertion is checked")
        return spec

    def read_queries(self, node: Node, spec: Spec) -> list[QuerySpec]:
        queries: list[QuerySpec] = []
        first_line: dict[str, int] = {}
        for item in self.sequence(node, "'queries'"):
            query = self.read_query(item, spec, queries)
            key = query.name.lower()
            if key in first_line:
                raise self.error(
                    item,
                    f"query '{query.name}' is already defined at line {first_line[key]}; "
                    "merge the two entries",
                )
            first_line[key] = query.line or 0
            queries.append(query)
        return queries

    def read_query(self, node: Node, spec: Spec, earlier: list[QuerySpec]) -> QuerySpec:
        entries = self.mapping(node, "a query")
        if "name" not in entries:
            raise self.error(node, "the query has no 'name'; set it to a statement name")
        name_node = entries["name"][1]
        raw_name = self.optional_str(name_node, "name", "a query")
        if not raw_name:
            raise self.error(name_node, "the query 'name' is empty; set it to a statement name")
        where = f"query '{raw_name}'"
        self.check_keys(entries, QUERY_KEYS, QUERY_IGNORED, where)
        name = self.statement_name(name_node, raw_name, "query")

        query = QuerySpec(name=name, line=node.start_mark.line + 1)
        if "description" in entries:
            query.description = self.optional_str(entries["description"][1], "description", where) or ""
        query.timeout_ms = spec.default_timeout_ms
        if "timeout_ms" in entries:
            own = self.optional_int(entries["timeout_ms"][1], "timeout_ms", where, low=1)
            query.timeout_ms = own if own is not None else spec.default_timeout_ms
        if "skip" in entries:
            query.skip = self.boolean(entries["skip"][1], "skip", where)
        for key in ("dependencies", "depends_on"):
            if key in entries:
                for item in self.sequence(entries[key][1], f"'{key}' of {where}"):
                    dependency = self.optional_str(item, key, where) or ""
                    self.statement_name(item, dependency, f"dependency of {where}")

        if "inputs" in entries:
            for index, item in enumerate(self.sequence(entries["inputs"][1], f"'inputs' of {where}")):
                query.inputs.append(
                    self.read_input(item, f"input {index + 1} of {where}", spec, earlier)
                )
        if "assertions" in entries:
            for item in self.sequence(entries["assertions"][1], f"'assertions' of {where}"):
                query.assertions.append(self.read_assertion(item, where))
        return query

    def read_input(
        self, node: Node, where: str, spec: Spec, earlier: list[QuerySpec]
    ) -> InputSpec:
        entries = self.mapping(node, where)
        self.check_keys(entries, INPUT_KEYS, INPUT_IGNORED, where)
        values = {key: value_node for key, (_, value_node) in entries.items()}

        source = self.optional_str(values["source"], "source", where) if "source" in values else None
        if not source:
            raise self.error(node, f"{where} has no 'source'; name the SQL source to publish to")
        item = InputSpec(source=source, line=node.start_mark.line + 1)
        if "schema" in values:
            item.schema = self.optional_str(values["schema"], "schema", where)
        item.records = spec.default_records
        if "records" in values:
            own = self.optional_int(values["records"], "records", where)
            item.records = own if own is not None else spec.default_records
        if "rate_per_second" in values:
            item.rate_per_second = self.optional_number(values["rate_per_second"], "rate_per_second", where)
        if "key_field" in values:
            item.key_field = self.optional_str(values["key_field"], "key_field", where)
        if "from_previous" in values:
            item.from_previous = self.previous_query(values["from_previous"], where, earlier)
        if "data_file" in values:
            item.data_file = self.data_file(values["data_file"], where)
        return item

    def previous_query(self, node: Node, where: str, earlier: list[QuerySpec]) -> str | None:
        name = self.optional_str(node, "from_previous", where)
        if name is None:
            return None
        for query in earlier:
            if query.name.lower() == name.lower():
                return query.name
        names = ", ".join(query.name for query in earlier) or "none"
        raise self.error(
            node,
            f"'from_previous' in {where} names '{name}', which is not an earlier query; "
            f"earlier queries: {names}",
        )

    def data_file(self, node: Node, where: str) -> Path:
        """Resolve a data file against the spec's folder, then the working directory."""
        name = self.optional_str(node, "data_file", where)
        if not name:
            raise self.error(node, f"'data_file' in {where} is empty; give a file path")
        candidates = [self.path.parent / name, Path.cwd() / name]
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise self.error(
            node,
            f"data file '{name}' in {where} not found; tried {candidates[0]} and {candidates[1]}",
        )

    def read_assertion(self, node: Node, query_where: str) -> AssertionSpec:
        entries = self.mapping(node, f"an assertion of {query_where}")
        if "type" not in entries:
            raise self.error(
                node,
                f"the assertion has no 'type'; valid types: {', '.join(assertions.ASSERTION_TYPES)}",
            )
        type_node = entries["type"][1]
        kind = self.value(type_node)
        params = {
            key: _plain_dates(self.value(value_node))
            for key, (_, value_node) in entries.items()
            if key != "type"
        }
        spec = AssertionSpec(type=str(kind), params=params, line=node.start_mark.line + 1)

        # An unknown type is reported at the type's own line.
        if assertions.assertion_type(str(kind)) is None:
            assertions.validate_assertion(spec, self.location(type_node))
        registered = assertions.assertion_type(spec.type)
        assert registered is not None
        where = f"assertion '{spec.type}' of {query_where}"
        self.check_keys(entries, registered.valid_keys, registered.ignored_keys, where)
        for key, valid in registered.nested_keys.items():
            if key in entries and isinstance(entries[key][1], SequenceNode):
                for item in entries[key][1].value:
                    if isinstance(item, MappingNode):
                        self.check_keys(self.mapping(item, where), valid, {}, f"'{key}' of {where}")
        assertions.validate_assertion(spec, self.location(node))
        return spec

    def read_debug(self, node: Node) -> DebugSpec:
        where = "debug"
        if isinstance(node, ScalarNode) and self.value(node) is None:
            return DebugSpec()
        entries = self.mapping(node, where)
        self.check_keys(entries, DEBUG_KEYS, DEBUG_IGNORED, where)
        debug = DebugSpec()
        if "enabled" in entries:
            debug.enabled = self.boolean(entries["enabled"][1], "enabled", where)
        if "pause_on_start" in entries:
            debug.pause_on_start = self.boolean(entries["pause_on_start"][1], "pause_on_start", where)
        if "show_intermediate_values" in entries:
            value_node = entries["show_intermediate_values"][1]
            if not self.boolean(value_node, "show_intermediate_values", where):
                self.warn(
                    value_node,
                    "show_intermediate_values: false is ignored: the debugger always keeps "
                    "every statement's sink records inspectable",
                )
        if "breakpoints" in entries:
            for item in self.sequence(entries["breakpoints"][1], "'breakpoints' of debug"):
                debug.breakpoints.append(self.read_breakpoint(item))
        return debug

    def read_breakpoint(self, node: Node) -> str:
        where = "a debug breakpoint"
        if isinstance(node, ScalarNode):
            name = self.optional_str(node, "breakpoints", "debug")
            if not name:
                raise self.error(node, "the breakpoint is empty; give a statement name")
            return self.statement_name(node, name, "breakpoint")
        entries = self.mapping(node, where)
        self.check_keys(entries, BREAKPOINT_KEYS, {}, where)
        if "query" not in entries:
            raise self.error(node, "the breakpoint has no 'query'; give a statement name")
        name_node = entries["query"][1]
        name = self.optional_str(name_node, "query", where)
        if not name:
            raise self.error(name_node, "the breakpoint 'query' is empty; give a statement name")
        if "after_record" in entries:
            value_node = entries["after_record"][1]
            if not self.boolean(value_node, "after_record", where):
                self.warn(
                    value_node,
                    "after_record: false is ignored: a breakpoint always fires after its "
                    "statement has processed the records available to it",
                )
        return self.statement_name(name_node, name, "breakpoint")

    def read_stress(self, node: Node) -> StressSpec:
        where = "stress_test"
        entries = self.mapping(node, where)
        self.check_keys(entries, STRESS_KEYS, {}, where)
        stress = StressSpec()
        if "enabled" in entries:
            stress.enabled = self.boolean(entries["enabled"][1], "enabled", where)
        if "records" in entries:
            stress.records = self.optional_int(entries["records"][1], "records", where)
        if "rate_per_second" in entries:
            stress.rate_per_second = self.optional_number(
                entries["rate_per_second"][1], "rate_per_second", where
            )
        if "duration_seconds" in entries:
            stress.duration_seconds = self.optional_number(
                entries["duration_seconds"][1], "duration_seconds", where
            )
        return stress
