"""Error types the engine raises, mapped by the faces to exit codes and messages."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class SourceLocation:
    """A place in an input file, 1-based line and column."""

    file: str | Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        text = str(self.file)
        if self.line is not None:
            text += f":{self.line}"
            if self.column is not None:
                text += f":{self.column}"
        return text


class VeloError(Exception):
    """Base class for every error velo-tui reports to the user."""


class InputError(VeloError):
    """Invalid input: SQL, spec, schema, config file, option or broker address (exit code 2).

    The message states what is wrong and what to do. `location` names the file, line and column
    where there is one.
    """

    def __init__(self, message: str, location: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        if self.location is None:
            return self.message
        return f"{self.location}: {self.message}"


class BrokerError(VeloError):
    """The broker failed during a run (lost connection, produce or consume failure)."""


class RunTimeout(VeloError):
    """The headless run passed its `--timeout` (exit code 3)."""


class Cancelled(VeloError):
    """The run was cancelled by the user (Ctrl-C, or cancel in the debugger)."""
