"""Loading of a Velostream SQL file into a `Pipeline`: statements, annotations, endpoints, order.

Each statement is split out with sqlparse, keeps its file line, gets its source and sink
endpoints from its WITH clause and config files, and carries its SELECT translated to DuckDB.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path

import sqlparse

from velo_tui.engine.errors import InputError, SourceLocation
from velo_tui.engine.pipeline import Pipeline, Statement
from velo_tui.engine.sql.endpoints import SINK, SOURCE, Annotation, build_endpoint, job_settings
from velo_tui.engine.sql.order import order_statements
from velo_tui.engine.sql.statement import parse_create
from velo_tui.engine.sql.text import TextOrigin, mask
from velo_tui.engine.sql.translate import source_relation, translate_select

logger = logging.getLogger(__name__)

_ANNOTATION = re.compile(r"^\s*--\s*@([A-Za-z_][\w.]*)\s*:\s*(.*?)\s*$")
_HEADER = re.compile(r"^\s*--\s*(SQL Application|Description)\s*:\s*(.*?)\s*$", re.IGNORECASE)


def load_pipeline(path: Path, env: Mapping[str, str] | None = None) -> Pipeline:
    """Read a SQL file and return its statements in execution order.

    `env` supplies `${ENV_VAR}` values for config files (default: the process environment).
    Raises `InputError` with the file, line and column for anything invalid.
    """
    path = Path(path)
    if env is None:
        env = os.environ
    text = _read_sql(path)
    lines = text.split("\n")

    chunks = _split_statements(text, path)
    if not chunks:
        raise InputError(
            "the SQL file has no statements; add a CREATE STREAM name AS SELECT ... statement",
            SourceLocation(path),
        )

    first_line = TextOrigin(path, 1, 1).locate(text, chunks[0][0]).line or 1
    file_annotations = _annotations(lines[: first_line - 1], 1, path)
    header = _header(lines[: first_line - 1])

    statements = []
    for offset, chunk in chunks:
        statements.append(_load_statement(text, offset, chunk, lines, file_annotations, path, env))
    _check_unique_names(statements, path)
    ordered = order_statements(statements, path)

    application = _value(file_annotations, "app") or header.get("sql application") or path.stem
    description = _value(file_annotations, "description") or header.get("description", "")
    logger.info(
        "loaded %s: application %s, %d statement(s)", path, application, len(ordered)
    )
    return Pipeline(
        path=path,
        application=application,
        description=description,
        annotations={key: annotation.value for key, annotation in file_annotations.items()},
        statements=ordered,
    )


def _read_sql(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise InputError(
            f"SQL file not found (resolved to {path.resolve()}); check the path",
            SourceLocation(path),
        ) from error
    except OSError as error:
        raise InputError(f"cannot read the SQL file: {error.strerror}", SourceLocation(path)) from error
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"the SQL file is not valid UTF-8 (byte offset {error.start}); save it as UTF-8",
            SourceLocation(path, line),
        ) from error
    return text.replace("\r\n", "\n")


def _split_statements(text: str, path: Path) -> list[tuple[int, str]]:
    """Return (offset of the first non-comment character, text from there) of each statement."""
    chunks: list[tuple[int, str]] = []
    search_from = 0
    for parsed in sqlparse.parse(text):
        raw = str(parsed)
        start = text.find(raw, search_from)
        if start < 0:  # sqlparse normally returns the text unchanged; fall back to a stripped match
            start = text.find(raw.strip(), search_from)
            raw = raw.strip()
        search_from = start + len(raw)
        masked = mask(raw, TextOrigin(path, 1, 1).advance(text, start))
        content = len(masked) - len(masked.lstrip())
        if not masked.strip() or masked.strip() == ";":
            continue
        chunks.append((start + content, raw[content:].rstrip()))
    return chunks


def _load_statement(
    text: str,
    offset: int,
    chunk: str,
    lines: list[str],
    file_annotations: Mapping[str, Annotation],
    path: Path,
    env: Mapping[str, str],
) -> Statement:
    origin = TextOrigin(path, 1, 1).advance(text, offset)
    parsed = parse_create(chunk, origin)
    annotations = _annotations_above(lines, origin.line, path)

    source_name = source_relation(parsed.select_sql, parsed.select_location)
    translation = translate_select(parsed.select_sql, source_name, parsed.select_location)
    if source_name.lower() == parsed.name.lower():
        raise InputError(
            f"statement '{parsed.name}' reads FROM itself; read another stream",
            parsed.select_location,
        )

    source = build_endpoint(source_name, SOURCE, parsed.properties, path, env)
    sink = build_endpoint(parsed.name, SINK, parsed.properties, path, env)
    settings = job_settings(parsed.properties, annotations, file_annotations)
    return Statement(
        name=parsed.name,
        kind=parsed.kind,
        sql=chunk,
        line=origin.line,
        select_sql=parsed.select_sql,
        duckdb_sql=translation.duckdb_sql,
        source=source,
        sink=sink,
        output_columns=translation.output_columns,
        properties={key: prop.value for key, prop in parsed.properties.items()},
        annotations={key: annotation.value for key, annotation in annotations.items()},
        enable_dlq=settings.enable_dlq,
        dlq_max_size=settings.dlq_max_size,
        batch_size=settings.batch_size,
        key_column=translation.key_column,
    )


def _annotations(lines: list[str], first_line: int, path: Path) -> dict[str, Annotation]:
    found: dict[str, Annotation] = {}
    for number, line in enumerate(lines, start=first_line):
        match = _ANNOTATION.match(line)
        if match:
            found[match.group(1).lower()] = Annotation(
                match.group(2), SourceLocation(path, number, line.index("@") + 1)
            )
    return found


def _annotations_above(lines: list[str], create_line: int, path: Path) -> dict[str, Annotation]:
    """Return the annotations in the unbroken run of `--` lines directly above a CREATE line."""
    first = create_line  # 1-based number of the first comment line of the run
    while first > 1 and lines[first - 2].lstrip().startswith("--"):
        first -= 1
    return _annotations(lines[first - 1 : create_line - 1], first, path)


def _header(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        match = _HEADER.match(line)
        if match:
            header.setdefault(match.group(1).lower(), match.group(2))
    return header


def _value(annotations: Mapping[str, Annotation], key: str) -> str | None:
    annotation = annotations.get(key)
    return annotation.value if annotation is not None and annotation.value else None


def _check_unique_names(statements: list[Statement], path: Path) -> None:
    seen: dict[str, Statement] = {}
    for statement in statements:
        earlier = seen.get(statement.name.lower())
        if earlier is not None:
            raise InputError(
                f"statement name '{statement.name}' is already used by the statement on line "
                f"{earlier.line}; give each statement its own name",
                SourceLocation(path, statement.line, 1),
            )
        seen[statement.name.lower()] = statement
