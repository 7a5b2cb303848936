"""The full-screen debugger: a Textual app over one debug session.

`run_app` is what `velo-tui FILE.sql` calls. `create_app` builds the app for a SQL file, and the
tests use it as their one factory, so every snapshot starts from the same state.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from velo_tui.commands import CommandInterpreter
from velo_tui.engine.errors import InputError
from velo_tui.engine.session import Session, SessionOptions
from velo_tui.engine.views import TopicViews
from velo_tui.screens.main import MainScreen
from velo_tui.screens.output import CommandOutputScreen
from velo_tui.widgets.records import RecordsTable

log = logging.getLogger(__name__)

EXIT_INPUT = 2

#: Records-panel bindings that the command palette offers too (enter is already a screen key).
PAGE_BINDINGS = [binding for binding in RecordsTable.BINDINGS
                 if isinstance(binding, Binding) and binding.key != "enter"]

#: Toast lifetime with a frozen clock, in seconds: longer than any test takes.
FROZEN_NOTIFICATION_TIMEOUT_S = 3600.0

#: How long quitting waits for a cancelled statement to finish its micro-batch, in seconds.
CLOSE_WAIT_S = 30.0


class VeloApp(App[None]):
    """Debugger over `session`; `breakpoints` contains statement names as the pipeline spells them."""

    CSS_PATH = "app.tcss"
    TITLE = "velo-tui"

    def __init__(
        self,
        session: Session,
        breakpoints: Iterable[str] = (),
        *,
        frozen_clock: bool = False,
        cursor_blink: bool = True,
        views: TopicViews | None = None,
        interpreter: CommandInterpreter | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.breakpoints: set[str] = set()
        self.startup_error: str | None = None
        self._resolve_breakpoints(breakpoints)
        self.frozen_clock = frozen_clock
        if frozen_clock:
            # Toasts expire on the wall clock; a frozen clock keeps them until the screen is read.
            self.NOTIFICATION_TIMEOUT = FROZEN_NOTIFICATION_TIMEOUT_S
        self.cursor_blink = cursor_blink
        self.views = views if views is not None else TopicViews(session)
        self.interpreter = interpreter if interpreter is not None else CommandInterpreter(session, views=self.views)
        # The command bar and the keys share one set, so `b NAME` and `b` agree.
        self.interpreter.breakpoints = self.breakpoints
        #: Set while no statement runs; `run_app` waits for it before closing the session.
        self.engine_idle = threading.Event()
        self.engine_idle.set()

    # -- start and stop ------------------------------------------------------------------------

    def get_default_screen(self) -> Screen:
        # With a start-up error the app exits at once, so it shows an empty screen meanwhile.
        return Screen() if self.startup_error is not None else MainScreen()

    def on_mount(self) -> None:
        if self.startup_error is not None:
            self.exit(return_code=EXIT_INPUT, message=f"velo-tui: {self.startup_error}")
            return
        for warning in self.session.warnings:
            log.warning("%s", warning)

    def show_warnings(self) -> None:
        """Open a dialog with the warnings from loading the SQL file, the spec and the schemas."""
        lines = self.session.warnings or ["No warnings."]
        self.push_screen(CommandOutputScreen(f"warnings · {len(self.session.warnings)}", lines))

    def _resolve_breakpoints(self, requested: Iterable[str]) -> None:
        """Add `--break` names and the spec's debug.breakpoints, as the pipeline spells them.

        An unknown `--break` name is a start-up error; an unknown name in the spec is a warning.
        """
        for name in requested:
            try:
                self.breakpoints.add(self.session.pipeline.statement(name).name)
            except InputError as error:
                self.startup_error = f"--break {name}: {error}"
                return
        for name in self.session.breakpoints_from_spec():
            try:
                self.breakpoints.add(self.session.pipeline.statement(name).name)
            except InputError as error:
                log.warning("breakpoint %s from the test spec ignored: %s", name, error)

    @property
    def main_screen(self) -> MainScreen:
        return next(screen for screen in self.screen_stack if isinstance(screen, MainScreen))

    def quit_debugger(self) -> None:
        """Stop a running statement after its micro-batch and leave the app."""
        self.session.cancel()
        self.exit()

    # -- breakpoints ---------------------------------------------------------------------------

    def toggle_breakpoint(self, name: str) -> bool:
        """Set or remove the breakpoint on statement `name`; return True when it is now set."""
        canonical = self.session.pipeline.statement(name).name
        if canonical in self.breakpoints:
            self.breakpoints.discard(canonical)
            self.notify(f"Breakpoint removed from {canonical}", markup=False)
            return False
        self.breakpoints.add(canonical)
        self.notify(f"Breakpoint set on {canonical}", markup=False)
        return True

    # -- clock ---------------------------------------------------------------------------------

    def format_duration(self, seconds: float) -> str | None:
        """Return a duration for display, or None with a frozen clock (snapshot tests)."""
        if self.frozen_clock:
            return None
        return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"

    def format_instant(self, seconds: float) -> str | None:
        """Return a wall-clock time (Unix seconds) as local ISO 8601, or None with a frozen clock."""
        if self.frozen_clock:
            return None
        moment = datetime.datetime.fromtimestamp(seconds).astimezone()
        return moment.isoformat(timespec="milliseconds")

    # -- command palette ---------------------------------------------------------------------

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Warnings", "Show the warnings from loading the SQL file, spec and schemas",
                            self.show_warnings)
        main = self.main_screen
        for binding in [*MainScreen.BINDINGS, *PAGE_BINDINGS]:
            if not isinstance(binding, Binding):
                continue
            key = binding.key_display or binding.key
            yield SystemCommand(
                f"{binding.description.capitalize()} ({key})",
                binding.tooltip or binding.description,
                partial(main.run_action, binding.action.removeprefix("screen.")),
            )


def create_app(
    sql_path: Path | str,
    options: SessionOptions | None = None,
    breakpoints: Iterable[str] = (),
    *,
    frozen_clock: bool = False,
    cursor_blink: bool = True,
) -> VeloApp:
    """Open a session on `sql_path` and build the debugger over it; raise `InputError` on bad input."""
    session = Session(Path(sql_path), options)
    return VeloApp(session, breakpoints, frozen_clock=frozen_clock, cursor_blink=cursor_blink)


def run_app(args: argparse.Namespace) -> int:
    """Run the full-screen debugger for the parsed command line; return the exit code."""
    from velo_tui.cli import session_options

    try:
        app = create_app(args.sql_file, session_options(args), args.breakpoints)
    except InputError as error:
        print(f"velo-tui: {error}", file=sys.stderr)
        return EXIT_INPUT
    try:
        app.run()
    finally:
        app.session.cancel()
        if not app.engine_idle.wait(timeout=CLOSE_WAIT_S):
            log.warning("the running statement did not stop within %s s of quitting", CLOSE_WAIT_S)
        app.session.close()
    return app.return_code or 0
