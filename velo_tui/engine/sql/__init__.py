"""Loading of Velostream SQL files: statements, WITH properties, config files, execution order,
and translation of each statement's SELECT to DuckDB."""

from __future__ import annotations

from velo_tui.engine.sql.loader import load_pipeline
from velo_tui.engine.sql.translate import DUCKDB_SETUP, Translation, translate_select

__all__ = ["DUCKDB_SETUP", "Translation", "load_pipeline", "translate_select"]
