"""The loaded pipeline: statements in execution order, each with its source and sink endpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from velo_tui.engine.errors import InputError

#: Name of the relation that holds one decoded micro-batch of a statement's source topic.
SOURCE_RELATION = "velo_source"

#: Hidden column, added to every translated projection, that carries the position of the input
#: row in its micro-batch, so output rows keep the key, timestamp and headers of their input.
ROW_ID_COLUMN = "__velo_row"

#: Message metadata exposed to SQL as pseudo-columns of the source relation.
PSEUDO_COLUMNS = ("_key", "_timestamp", "_partition", "_offset")


@dataclass
class Endpoint:
    """A statement's source or sink as the WITH clause and its config file describe it."""

    name: str
    type: str  # kafka_source, kafka_sink, file_source, file_sink, ...
    topic: str
    partitions: int = 1
    config_file: Path | None = None
    #: Flattened, env-substituted config file keys plus `<name>.*` WITH properties.
    properties: dict[str, str] = field(default_factory=dict)
    #: Kafka client properties for this endpoint (consumer_config / producer_config / profiles).
    client_config: dict[str, str] = field(default_factory=dict)


@dataclass
class Statement:
    """One `CREATE STREAM|TABLE name AS SELECT ... EMIT CHANGES WITH (...)` statement."""

    name: str
    kind: str  # "STREAM" or "TABLE"
    sql: str  # the statement as written in the file
    line: int  # 1-based line of the CREATE keyword
    select_sql: str  # the SELECT as written, without EMIT CHANGES and WITH
    duckdb_sql: str  # the SELECT translated to DuckDB, reading from SOURCE_RELATION
    source: Endpoint
    sink: Endpoint
    output_columns: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)  # every WITH property, raw
    annotations: dict[str, str] = field(default_factory=dict)  # `-- @key: value` before it
    enable_dlq: bool | None = None  # job.enable_dlq / @enable_dlq; None: not set
    dlq_max_size: int | None = None  # job.dlq_max_size / @dlq_max_size
    batch_size: int | None = None  # job.batch_size / @batch_size
    key_column: str | None = None  # `col PRIMARY KEY` in the select list


@dataclass
class Pipeline:
    """A SQL file's statements in dependency order, plus the file-level annotations."""

    path: Path
    application: str
    description: str = ""
    annotations: dict[str, str] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)

    def statement(self, ref: str | int) -> Statement:
        """Find a statement by name or by 1-based number; raise `InputError` when none matches."""
        text = str(ref).strip()
        if text.isdigit():
            number = int(text)
            if 1 <= number <= len(self.statements):
                return self.statements[number - 1]
            raise InputError(
                f"statement number {number} is out of range: the pipeline has "
                f"{len(self.statements)} statement(s), numbered from 1"
            )
        for statement in self.statements:
            if statement.name.lower() == text.lower():
                return statement
        names = ", ".join(s.name for s in self.statements)
        raise InputError(f"no statement named '{text}'; the statements are: {names}")

    def topics(self) -> list[str]:
        """Return every topic the pipeline reads or writes, sources first."""
        seen: dict[str, None] = {}
        for statement in self.statements:
            seen.setdefault(statement.source.topic)
        for statement in self.statements:
            seen.setdefault(statement.sink.topic)
        return list(seen)

    def producer_of(self, topic: str) -> Statement | None:
        """Return the statement whose sink is `topic`, if any."""
        for statement in self.statements:
            if statement.sink.topic == topic:
                return statement
        return None
