"""A debug session over one pipeline: the engine API that the debugger, the REPL and the headless
runner share.

A session loads the SQL file, its test spec and schemas, opens the broker, and then runs the
statements in dependency order. `step` runs the next one, `continue_` runs until a statement with
a breakpoint has completed, and `run_all` runs the rest. Results stay inspectable afterwards.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from velo_tui.engine.broker.base import Broker
from velo_tui.engine.decode import (
    ColumnSpec,
    Decoder,
    columns_from_arrow,
    columns_from_schema,
)
from velo_tui.engine.dlq import (
    DEFAULT_MAX_SIZE,
    DeadLetterEntry,
    DeadLetterQueue,
    dead_letter_messages,
)
from velo_tui.engine.errors import BrokerError, Cancelled, InputError, SourceLocation
from velo_tui.engine.executor import (
    DEFAULT_MAX_MESSAGE_BYTES,
    FAULT_HEADER,
    BatchProgress,
    StatementExecutor,
    StatementFailed,
    StatementStats,
    first_header,
)
from velo_tui.engine.inputs import InputPlan, InputProducer, InputProgress, input_seed
from velo_tui.engine.pipeline import PSEUDO_COLUMNS, ROW_ID_COLUMN, Pipeline, Statement

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000

NOT_RUN = "not_run"
RUNNING = "running"
OK = "ok"
FAILED = "failed"


@dataclass
class SessionOptions:
    """Everything a face can set on a session; None means "use the file's or spec's value"."""

    spec_path: Path | None = None
    schemas_dir: Path | None = None
    seed: int | None = None
    records: int | None = None
    batch_size: int | None = None
    bootstrap_servers: str | None = None
    faults: bool = True
    rate_per_second: float | None = None
    env: Mapping[str, str] | None = None
    broker: Broker | None = None  # an already open broker (tests, benchmarks)
    #: Ignore the spec's per-input rate_per_second (stress mode); `rate_per_second` still applies.
    unpaced: bool = False
    #: When set, input production ends early and the statements run over what was produced.
    input_stop: threading.Event | None = None
    #: False skips the spec's assertions (stress mode, whose load differs from the spec's).
    evaluate_assertions: bool = True


@dataclass
class StatementState:
    """A statement and what happened when it ran."""

    statement: Statement
    status: str = NOT_RUN
    stats: StatementStats = field(default_factory=StatementStats)
    error: str | None = None
    assertions: list = field(default_factory=list)  # AssertionResult
    output_columns: list[ColumnSpec] = field(default_factory=list)
    inputs_produced: int = 0

    @property
    def name(self) -> str:
        return self.statement.name

    @property
    def passed(self) -> bool:
        return self.status == OK and all(result.passed for result in self.assertions)


@dataclass
class SessionEvent:
    """A progress event for a face: input production or a statement's micro-batch."""

    kind: str  # "input", "batch", "statement_started", "statement_finished"
    statement: str
    done: int = 0
    total: int = 0
    detail: str = ""


ProgressCallback = Callable[[SessionEvent], None]


class Session:
    """Runs a pipeline statement by statement; see the module docstring."""

    def __init__(self, sql_path: Path, options: SessionOptions | None = None) -> None:
        from velo_tui.engine.broker.select import open_broker
        from velo_tui.engine.faults import build_fault_plan
        from velo_tui.engine.schema import find_schema_dir, load_schema_dir
        from velo_tui.engine.spec import find_spec, load_spec
        from velo_tui.engine.sql import DUCKDB_SETUP, load_pipeline

        self.options = options or SessionOptions()
        env = self.options.env if self.options.env is not None else os.environ
        self.sql_path = Path(sql_path)
        if self.sql_path.is_dir():
            raise InputError(f"{self.sql_path} is a folder; give the path of a .sql file in it")
        if not self.sql_path.is_file():
            raise InputError(f"SQL file {self.sql_path} was not found; check the path")
        self.setup_sql = list(DUCKDB_SETUP)
        self.pipeline: Pipeline = load_pipeline(self.sql_path, env)
        self.warnings: list[str] = []

        names = [s.name for s in self.pipeline.statements]
        spec_path = self.options.spec_path or find_spec(self.sql_path)
        if self.options.spec_path is not None and not self.options.spec_path.is_file():
            raise InputError(f"test spec {self.options.spec_path} was not found; check --spec")
        self.spec = load_spec(spec_path, names) if spec_path else None
        if self.spec is not None:
            self.warnings.extend(self.spec.warnings)

        schema_dir = find_schema_dir(self.sql_path, self.options.schemas_dir)
        if self.options.schemas_dir is not None and not self.options.schemas_dir.is_dir():
            raise InputError(f"schema folder {self.options.schemas_dir} was not found; check --schemas")
        self.schemas = load_schema_dir(schema_dir) if schema_dir else {}
        self.schema_dir = schema_dir

        faults_config = self.spec.fault_injection if self.spec else None
        spec_seed = (faults_config or {}).get("seed") if isinstance(faults_config, dict) else None
        self.seed: int = self.options.seed if self.options.seed is not None else int(spec_seed or 0)
        location = SourceLocation(self.spec.path, self.spec.fault_injection_line) if self.spec else None
        self.fault_plan = build_fault_plan(faults_config if self.options.faults else None, self.seed, location)
        if self.fault_plan is not None:
            self.warnings.extend(getattr(self.fault_plan, "warnings", []))

        self.dlq = DeadLetterQueue(max_size=self._dlq_max_size(), publisher=self._publish_dead_letters)
        self.dlq_topic = f"{self.pipeline.application}.dlq"
        self.broker: Broker = self.options.broker or open_broker(
            self.options.bootstrap_servers, env, self._client_config()
        )
        self.states = [StatementState(statement) for statement in self.pipeline.statements]
        self.next_index = 0
        self.started_at = time.time()
        self.cancel_event = threading.Event()
        self._lock = threading.RLock()
        self._prepare_columns()
        self._warn_about_unfed_sources()
        self.start_offsets = self._current_offsets()
        log.info(
            "session for %s: %d statement(s), seed %d, %s",
            self.sql_path, len(self.states), self.seed, self.broker.description,
        )

    # -- set-up ------------------------------------------------------------------------------

    def _current_offsets(self) -> dict[str, dict[int, int]]:
        """Note where each topic ends now: the session reads only what it writes after this.

        On a shared Kafka cluster the pipeline's topics may contain messages of earlier runs.
        Starting from these offsets keeps them out of this session without deleting anything.
        """
        offsets = {}
        for topic in self.pipeline.topics() + [self.dlq_topic]:
            offsets[topic] = {mark.partition: mark.high for mark in self.broker.watermarks(topic)}
        return offsets

    def offsets_for(self, topic: str) -> dict[int, int]:
        """Return the offsets from which this session's messages of `topic` start."""
        return self.start_offsets.get(topic, {})

    def _client_config(self) -> dict[str, str]:
        config: dict[str, str] = {}
        for statement in self.pipeline.statements:
            for endpoint in (statement.source, statement.sink):
                config.update(endpoint.client_config)
        return config

    def _dlq_max_size(self) -> int:
        faults = self.spec.fault_injection if self.spec else None
        if isinstance(faults, dict) and faults.get("dlq_max_size") is not None:
            return int(faults["dlq_max_size"])
        for statement in self.pipeline.statements:
            if statement.dlq_max_size is not None:
                return statement.dlq_max_size
        return DEFAULT_MAX_SIZE

    def dlq_enabled(self, statement: Statement) -> bool:
        faults = self.spec.fault_injection if self.spec else None
        if isinstance(faults, dict) and faults.get("enable_dlq") is not None:
            return bool(faults["enable_dlq"])
        if statement.enable_dlq is not None:
            return statement.enable_dlq
        return True

    def batch_size(self, statement: Statement) -> int:
        return self.options.batch_size or statement.batch_size or DEFAULT_BATCH_SIZE

    def _prepare_columns(self) -> None:
        """Work out each statement's source columns and check its SQL against them."""
        produced: dict[str, list[ColumnSpec]] = {}
        self._source_columns: dict[str, list[ColumnSpec] | None] = {}
        self._trusted: dict[str, bool] = {}
        for state in self.states:
            statement = state.statement
            upstream = produced.get(statement.source.topic)
            if upstream is not None:
                columns, trusted = upstream, True
            else:
                schema = self.source_schema(statement)
                columns = columns_from_schema(schema) if schema is not None else None
                trusted = False
            self._source_columns[statement.name] = columns
            self._trusted[statement.name] = trusted
            if columns is None:
                continue
            result_schema = self._check_statement(statement, columns)
            state.output_columns = columns_from_arrow(result_schema)
            produced[statement.sink.topic] = state.output_columns

    def _warn_about_unfed_sources(self) -> None:
        """Warn about statements whose source no statement, spec input or schema fills.

        Such a statement runs over whatever its topic already holds, which on the embedded
        broker is nothing, and its fields cannot be checked before it runs. A misspelled FROM
        name or a missing test spec shows up this way.
        """
        for state in self.states:
            statement = state.statement
            if self.pipeline.producer_of(statement.source.topic) is not None:
                continue
            if self.input_plans(statement):
                continue
            self.warnings.append(
                f"{self.sql_path}:{statement.line}: statement {statement.name} reads "
                f"'{statement.source.name}' (topic {statement.source.topic}), but no statement "
                f"writes it and no spec input or schema named '{statement.source.name}' fills it. "
                "The statement runs over what the topic already holds, and its fields are not "
                "checked before it runs. Add an input with a schema to the test spec"
            )

    def _check_statement(self, statement: Statement, columns: list[ColumnSpec]) -> pa.Schema:
        con = duckdb.connect()
        for sql in self.setup_sql:
            con.execute(sql)
        definitions = [f'"{c.name}" {c.duckdb_type}' for c in columns]
        definitions += ["_key VARCHAR", "_timestamp BIGINT", "_partition INTEGER", "_offset BIGINT",
                        "__velo_row BIGINT"]
        con.execute(f"CREATE TABLE velo_source ({', '.join(definitions)})")
        try:
            return con.sql(statement.duckdb_sql).to_arrow_table().schema
        except duckdb.Error as error:
            fields = ", ".join(c.name for c in columns)
            message = str(error).strip().splitlines()[0]
            message = re.sub(r"^[A-Za-z ]*Error: ", "", message).rstrip("!")
            location = SourceLocation(self.sql_path, statement.line)
            missing = re.search(r'Referenced column "([^"]+)" not found', message)
            if missing:
                message = f"column '{missing.group(1)}' is not a field of {statement.source.name}"
                location = _locate_word(self.sql_path, statement, missing.group(1))
            raise InputError(
                f"statement {statement.name} does not fit its source {statement.source.name}: "
                f"{message}. Its fields are: {fields} (and the pseudo-columns "
                f"{', '.join(PSEUDO_COLUMNS)}); fix the name or the schema",
                location,
            ) from error

    def source_schema(self, statement: Statement):
        """Return the declared schema of a statement's source, if one is known."""
        for spec_input in self._spec_inputs(statement):
            name = spec_input.schema or spec_input.source
            if name in self.schemas:
                return self.schemas[name]
            location = SourceLocation(self.spec.path, spec_input.line) if self.spec else None
            if spec_input.from_previous is None and spec_input.data_file is None:
                known = ", ".join(sorted(self.schemas)) or "none"
                where = self.schema_dir or "no schema folder was found"
                raise InputError(
                    f"schema '{name}' for input '{spec_input.source}' was not found "
                    f"(schemas loaded from {where}: {known}); add it or pass --schemas",
                    location,
                )
        for name in (statement.source.name, statement.source.topic):
            if name in self.schemas:
                return self.schemas[name]
        return None

    def _spec_inputs(self, statement: Statement) -> list:
        query = self.spec_query(statement.name)
        if query is None:
            return []
        return [i for i in query.inputs if i.source in (statement.source.name, statement.source.topic)]

    def spec_query(self, name: str):
        if self.spec is None:
            return None
        for query in self.spec.queries:
            if query.name.lower() == name.lower():
                return query
        return None

    # -- state -------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.next_index >= len(self.states)

    @property
    def failed(self) -> bool:
        return any(state.status == FAILED for state in self.states)

    def state(self, ref: str | int) -> StatementState:
        statement = self.pipeline.statement(ref)
        return next(s for s in self.states if s.statement is statement)

    def breakpoints_from_spec(self) -> list[str]:
        if self.spec is None:
            return []
        return list(self.spec.debug.breakpoints)

    # -- running -----------------------------------------------------------------------------

    def step(self, progress: ProgressCallback | None = None) -> StatementState:
        """Run the next statement over everything available to it and return its state."""
        with self._lock:
            if self.finished:
                raise InputError("every statement has run; there is nothing left to step")
            state = self.states[self.next_index]
            self._run_statement(state, progress)
            if state.status == OK:
                self.next_index += 1
            return state

    def continue_(self, breakpoints: set[str], progress: ProgressCallback | None = None) -> list[StatementState]:
        """Run statements until one in `breakpoints` has completed, one fails, or all have run."""
        ran = []
        wanted = {name.lower() for name in breakpoints}
        while not self.finished:
            state = self.step(progress)
            ran.append(state)
            if state.status != OK or state.name.lower() in wanted:
                break
        return ran

    def run_all(self, progress: ProgressCallback | None = None) -> list[StatementState]:
        """Run every remaining statement; stop at the first that fails."""
        return self.continue_(set(), progress)

    def cancel(self) -> None:
        """Ask the running statement to stop after its current micro-batch.

        The request is used up by the step it stops, so later steps run normally. A request made
        while nothing runs stops the next step at once.
        """
        self.cancel_event.set()

    def _run_statement(self, state: StatementState, progress: ProgressCallback | None) -> None:
        statement = state.statement
        state.status = RUNNING
        state.error = None
        state.stats = StatementStats()
        self._emit(progress, SessionEvent("statement_started", statement.name))
        try:
            self._fill_inputs(state, progress)
            columns = self._source_columns[statement.name]
            executor = StatementExecutor(
                statement,
                self.broker,
                Decoder(
                    columns,
                    trusted=self._trusted[statement.name],
                    expected=referenced_fields(statement.duckdb_sql) if columns is None else (),
                ),
                self.dlq,
                setup_sql=self.setup_sql,
                dlq_enabled=self.dlq_enabled(statement),
                batch_size=self.batch_size(statement),
                max_message_bytes=self.max_message_bytes(statement),
                delay_ms=self._delay_source(),
                start_offsets=self.offsets_for(statement.source.topic),
            )
            executor.stats = state.stats

            def on_batch(batch: BatchProgress) -> None:
                self._emit(progress, SessionEvent(
                    "batch", statement.name, batch.records_in, batch.records_total,
                    f"{batch.records_out} out, {batch.errors} failed",
                ))

            executor.run(on_batch, self.cancel_event)
            state.status = OK
            if not state.output_columns:
                state.output_columns = self._observed_output_columns(statement)
            state.assertions = self._evaluate(state) if self.options.evaluate_assertions else []
        except Cancelled:
            state.status = NOT_RUN
            state.error = "cancelled"
            self.cancel_event.clear()
            raise
        except BrokerError as error:
            state.status = FAILED
            state.error = str(error)
            raise
        except StatementFailed as error:
            state.status = FAILED
            state.error = str(error)
            log.error("statement %s failed: %s", statement.name, error)
        finally:
            self._emit(progress, SessionEvent("statement_finished", statement.name,
                                              state.stats.records_in, state.stats.records_in,
                                              state.status))

    def max_message_bytes(self, statement: Statement) -> int:
        value = statement.sink.client_config.get("message.max.bytes")
        try:
            return int(value) if value else DEFAULT_MAX_MESSAGE_BYTES
        except ValueError:
            return DEFAULT_MAX_MESSAGE_BYTES

    def _delay_source(self):
        slow = getattr(self.fault_plan, "slow_processing", None) if self.fault_plan else None
        return slow.next_delay_ms if slow is not None else None

    @staticmethod
    def _emit(progress: ProgressCallback | None, event: SessionEvent) -> None:
        if progress is not None:
            progress(event)

    # -- inputs ------------------------------------------------------------------------------

    def input_plans(self, statement: Statement) -> list[InputPlan]:
        """Return what must be produced to the statement's source topic before it runs."""
        if self.pipeline.producer_of(statement.source.topic) is not None:
            return []  # an earlier statement fills this topic
        plans = []
        spec_inputs = self._spec_inputs(statement)
        for spec_input in spec_inputs:
            location = SourceLocation(self.spec.path, spec_input.line) if self.spec else None
            plan = InputPlan(
                statement=statement.name,
                source=spec_input.source,
                topic=statement.source.topic,
                partitions=statement.source.partitions,
                schema=None,
                key_field=spec_input.key_field,
                rate_per_second=self._input_rate(spec_input.rate_per_second),
                seed=input_seed(self.seed, spec_input.source),
                location=location,
            )
            if spec_input.from_previous:
                previous = self.pipeline.statement(spec_input.from_previous)
                plan.from_topic = previous.sink.topic
                plan.from_offsets = self.offsets_for(previous.sink.topic)
            elif spec_input.data_file:
                # The spec loader has already resolved the path against the spec's folder.
                plan.data_file = Path(spec_input.data_file)
            else:
                plan.schema = self.source_schema(statement)
                plan.records = self._record_count(spec_input.records, plan.schema)
            plans.append(plan)
        if not spec_inputs:
            schema = self.source_schema(statement)
            if schema is not None:
                plans.append(InputPlan(
                    statement=statement.name, source=statement.source.name,
                    topic=statement.source.topic, partitions=statement.source.partitions,
                    schema=schema, records=self._record_count(None, schema),
                    rate_per_second=self._input_rate(None),
                    seed=input_seed(self.seed, statement.source.name),
                ))
        return plans

    def _input_rate(self, spec_rate: float | None) -> float | None:
        if self.options.rate_per_second or self.options.unpaced:
            return self.options.rate_per_second
        return spec_rate

    def _record_count(self, input_records: int | None, schema) -> int:
        if self.options.records is not None:
            return self.options.records
        if input_records is not None:
            return input_records
        if self.spec is not None and self.spec.default_records is not None:
            return self.spec.default_records
        return schema.record_count if schema is not None else 0

    def _fill_inputs(self, state: StatementState, progress: ProgressCallback | None) -> None:
        plans = self.input_plans(state.statement)
        if not plans:
            return
        producer = InputProducer(
            self.broker, self.fault_plan, self.max_message_bytes(state.statement),
            lambda plan, rejected, messages: self._reject_inputs(state, plan, rejected, messages),
        )
        for plan in plans:
            def on_input(event: InputProgress, name: str = state.name) -> None:
                self._emit(progress, SessionEvent("input", name, event.produced, event.total, event.topic))

            state.inputs_produced += producer.produce(
                plan, on_input, self.cancel_event, self.options.input_stop
            )

    def _reject_inputs(self, state: StatementState, plan: InputPlan, rejected: pa.Table, messages: list[str]) -> None:
        entries = []
        for row, message in zip(rejected.to_pylist(), messages, strict=True):
            headers = [(h["key"], h["value"]) for h in row["headers"] or []]
            fault = first_header(headers, FAULT_HEADER)
            entries.append(DeadLetterEntry(
                statement=state.name, stage="produce", error_type="record_too_large",
                message=message, topic=plan.topic, partition=None, offset=None,
                timestamp=row["timestamp"], key=row["key"], value=row["value"], headers=headers,
                recoverable=False, failed_at=time.time(),
                fault=fault.decode("utf-8", "replace") if fault else None,
            ))
        before = self.dlq.counts_for(state.name)
        stored, dropped = before.stored, before.dropped
        self.dlq.add(entries, enabled=self.dlq_enabled(state.statement))
        state.stats.records_in += len(entries)
        state.stats.dlq += self.dlq.counts_for(state.name).stored - stored
        state.stats.dlq_dropped += self.dlq.counts_for(state.name).dropped - dropped

    def _publish_dead_letters(self, entries: list[DeadLetterEntry]) -> None:
        """Write stored DLQ entries to the DLQ topic.

        The entries come from a running statement or from input production, whose broker flush at
        the end also waits for these messages.
        """
        self.broker.produce(self.dlq_topic, dead_letter_messages(entries))

    # -- results -----------------------------------------------------------------------------

    def _observed_output_columns(self, statement: Statement) -> list[ColumnSpec]:
        """Infer a statement's output columns from its sink topic (its source had no schema)."""
        topic = statement.sink.topic
        messages = self.broker.read_all(topic, self.offsets_for(topic))
        rows = Decoder(None).decode(duckdb.connect(), messages).rows
        hidden = (*PSEUDO_COLUMNS, ROW_ID_COLUMN)
        return [c for c in columns_from_arrow(rows.schema) if c.name not in hidden]

    def output_table(self, state: StatementState) -> pa.Table:
        """Decode the statement's sink topic into typed columns plus the pseudo-columns."""
        topic = state.statement.sink.topic
        messages = self.broker.read_all(topic, self.offsets_for(topic))
        decoder = Decoder(state.output_columns or None, trusted=bool(state.output_columns))
        con = duckdb.connect()
        return decoder.decode(con, messages).rows.drop_columns(["__velo_row"])

    def _evaluate(self, state: StatementState) -> list:
        from velo_tui.engine.assertions import AssertionContext, evaluate_all

        query = self.spec_query(state.name)
        if query is None or not query.assertions:
            return []
        con = duckdb.connect()
        con.register("velo_output", self.output_table(state))
        counts = self.dlq.counts_for(state.name)
        context = AssertionContext(
            con=con,
            relation="velo_output",
            fields=[c.name for c in state.output_columns],
            records_in=state.stats.records_in,
            records_out=state.stats.records_out,
            filtered=state.stats.filtered,
            dlq=state.stats.dlq,
            dlq_dropped=state.stats.dlq_dropped,
            errors=state.stats.errors,
            duration_s=state.stats.duration_s,
            dlq_by_error_type=dict(counts.by_error_type),
            dlq_by_stage=dict(counts.by_stage),
        )
        return evaluate_all(query, context)

    def close(self) -> None:
        self.broker.close()


def referenced_fields(duckdb_sql: str) -> list[str]:
    """Return the source field names a translated SELECT reads, without output aliases,
    pseudo-columns and lambda parameters; a source without a schema must supply them all."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    aliases = {node.alias.lower() for node in tree.expressions if isinstance(node, exp.Alias)}
    hidden = {name.lower() for name in (*PSEUDO_COLUMNS, ROW_ID_COLUMN)}
    names: list[str] = []
    for column in tree.find_all(exp.Column):
        name = column.name
        lowered = name.lower()
        if not name or lowered in hidden or lowered in aliases or column.find_ancestor(exp.Lambda):
            continue
        if lowered not in {n.lower() for n in names}:
            names.append(name)
    return names


def _locate_word(sql_path: Path, statement: Statement, word: str) -> SourceLocation:
    """Find the first use of `word` in a statement's SELECT, as a file line and column."""
    start = statement.sql.find(statement.select_sql) if statement.select_sql else -1
    text = statement.select_sql if start >= 0 else statement.sql
    match = re.search(r"(?<![\w.])" + re.escape(word) + r"(?!\w)", text, flags=re.IGNORECASE)
    if match is None:
        return SourceLocation(sql_path, statement.line)
    offset = match.start() + max(start, 0)
    before = statement.sql[:offset]
    line = statement.line + before.count("\n")
    column = offset - (before.rfind("\n") + 1) + 1
    return SourceLocation(sql_path, line, column)
