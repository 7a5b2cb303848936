"""Export records of a topic, a statement's sink or the DLQ to a file with DuckDB's `COPY ... TO`.

The format follows the file suffix: `.json` (one JSON array), `.jsonl` or `.ndjson` (one object
per line), `.csv` (with a header row) or `.parquet`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb

from velo_tui.engine.errors import InputError
from velo_tui.engine.filters import sql_literal

log = logging.getLogger(__name__)

#: COPY options for each supported file suffix.
EXPORT_FORMATS = {
    ".json": "FORMAT json, ARRAY true",
    ".jsonl": "FORMAT json",
    ".ndjson": "FORMAT json",
    ".csv": "FORMAT csv, HEADER true",
    ".parquet": "FORMAT parquet",
}


def export_options(path: Path) -> str:
    """Return the COPY options for `path`'s suffix; raise InputError for an unknown suffix."""
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        valid = ", ".join(EXPORT_FORMATS)
        shown = suffix or "no suffix"
        raise InputError(f"cannot export to {path}: {shown} is not a known format; use one of {valid}")
    return EXPORT_FORMATS[suffix]


def check_destination(path: Path) -> None:
    """Raise InputError unless `path` can be written: its folder exists and it is not a folder."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise InputError(f"cannot export to {path}: the folder {folder} does not exist; create it first")
    if path.is_dir():
        raise InputError(f"cannot export to {path}: it is a folder; give a file name")


def copy_to(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Write the rows of `query` to `path` in the format of its suffix; return the rows written.

    `query` must be complete SQL without parameters, because COPY takes none.
    """
    path = Path(path)
    options = export_options(path)
    check_destination(path)
    try:
        row = con.execute(f"COPY ({query}) TO {sql_literal(str(path))} ({options})").fetchall()
    except duckdb.IOException as error:
        raise InputError(f"cannot export to {path}: {str(error).strip().splitlines()[0]}") from error
    written = int(row[0][0]) if row else 0
    log.info("exported %d row(s) to %s", written, path)
    return written
