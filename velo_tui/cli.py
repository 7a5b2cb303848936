"""The `velo-tui` command line: parse options, then hand over to the debugger, the REPL, the
headless runner, stress mode or validation.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from pathlib import Path

from velo_tui import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_TIMEOUT = 3
EXIT_INTERRUPTED = 130

SUBCOMMANDS = {"run": "--run", "debug": None, "stress": "--stress", "validate": "--validate",
               "repl": "--repl"}

log = logging.getLogger("velo_tui")


class UsageError(Exception):
    """Invalid command-line usage (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits with 2 by itself; keep one path
        raise UsageError(message + self._suggestion(message))

    def _suggestion(self, message: str) -> str:
        """Suggest the closest option for a misspelled one ("did you mean --run?")."""
        if not message.startswith("unrecognized arguments:"):
            return ""
        options = [name for action in self._actions for name in action.option_strings]
        for word in message.split(":", 1)[1].split():
            if word.startswith("--"):
                close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1)
                if close:
                    return f"; did you mean {close[0]}?"
        return ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="velo-tui",
        description=(
            "Debug and test Velostream streaming-SQL pipelines. Without a mode option it opens "
            "the full-screen debugger."
        ),
        epilog=(
            "Also: velo-tui validate FILE.sql (check without running), and run|debug|stress "
            "FILE.sql as aliases of --run, the debugger and --stress. Exit codes: 0 passed, "
            "1 an assertion or statement failed, 2 invalid input, 3 timed out, 130 interrupted."
        ),
    )
    parser.add_argument("sql_file", type=Path, help="the pipeline's .sql file")
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--run", action="store_true",
                       help="run every statement headless, check the spec's assertions, report")
    modes.add_argument("--repl", action="store_true",
                       help="line-mode debugger: read debug commands from standard input")
    modes.add_argument("--stress", action="store_true",
                       help="push a large generated load through the real SQL and report figures")
    modes.add_argument("--validate", action="store_true", help=argparse.SUPPRESS)

    parser.add_argument("--spec", type=Path, metavar="PATH",
                        help="test spec (default: <name>.test.yaml beside the SQL file)")
    parser.add_argument("--schemas", type=Path, metavar="DIR",
                        help="schema folder (default: schemas/ beside the SQL file, then ../schemas/)")
    parser.add_argument("--seed", type=int, metavar="N",
                        help="seed for data generation and fault injection "
                             "(default: the spec's fault_injection.seed, else 0)")
    parser.add_argument("--records", type=_positive_int, metavar="N",
                        help="number of records for every generated input")
    parser.add_argument("--bootstrap-servers", metavar="HOST:PORT",
                        help="Kafka cluster to use (also VELO_KAFKA_BROKERS or "
                             "VELOSTREAM_KAFKA_BROKERS); without one the embedded broker is used")
    parser.add_argument("--batch-size", type=_positive_int, metavar="N",
                        help="micro-batch size in records (default 1000 or the SQL's job.batch_size)")
    parser.add_argument("--output", choices=("text", "json", "junit"), default="text",
                        help="report format on standard output for --run and --stress (default text)")
    parser.add_argument("--report", metavar="PATH",
                        help="also write the report to PATH (format from --output or the suffix)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="overall limit for a headless run; past it the run stops with exit code 3")
    parser.add_argument("--break", dest="breakpoints", action="append", default=[], metavar="NAME",
                        help="set a breakpoint on a statement (repeatable)")
    parser.add_argument("--no-faults", action="store_true",
                        help="ignore the spec's fault_injection block")
    parser.add_argument("--rate", type=float, metavar="R",
                        help="produce generated input at R records per second; in stress mode, "
                             "input is unpaced without --rate unless neither --records nor --rate "
                             "is given, when the spec's stress_test.rate_per_second applies")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stress mode: stop producing input after S seconds and run the "
                             "statements over what was produced (default: the spec's "
                             "stress_test.duration_seconds when neither --records nor --rate is given)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more on standard error (-v info, -vv debug)")
    parser.add_argument("--version", action="version", version=f"velo-tui {__version__}")
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return value


def normalise_argv(argv: list[str]) -> list[str]:
    """Turn `velo-tui run FILE ...` into `velo-tui FILE --run ...`."""
    if argv and argv[0] in SUBCOMMANDS:
        flag = SUBCOMMANDS[argv[0]]
        rest = argv[1:]
        return rest + ([flag] if flag else [])
    if len(argv) > 1 and not argv[0].startswith("-") and not Path(argv[0]).exists():
        close = difflib.get_close_matches(argv[0], list(SUBCOMMANDS), n=1)
        if close:
            raise UsageError(f"unknown command '{argv[0]}'; did you mean '{close[0]}'?")
    return argv


def configure_logging(verbose: int, to_file: Path | None = None) -> None:
    levels = {0: logging.WARNING, 1: logging.INFO}
    level = levels.get(verbose, logging.DEBUG)
    handler: logging.Handler
    if to_file is not None:
        to_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(to_file, encoding="utf-8")
        level = min(level, logging.INFO)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def session_options(args: argparse.Namespace):
    from velo_tui.engine.session import SessionOptions

    return SessionOptions(
        spec_path=args.spec,
        schemas_dir=args.schemas,
        seed=args.seed,
        records=args.records,
        batch_size=args.batch_size,
        bootstrap_servers=args.bootstrap_servers,
        faults=not args.no_faults,
        rate_per_second=args.rate,
    )


def input_error(error: Exception) -> int:
    print(f"velo-tui: {error}", file=sys.stderr)
    return EXIT_INPUT


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        argv = normalise_argv(list(sys.argv[1:] if argv is None else argv))
        args = parser.parse_args(argv)
    except UsageError as error:
        parser.print_usage(sys.stderr)
        print(f"velo-tui: {error}", file=sys.stderr)
        return EXIT_INPUT

    from velo_tui.engine.errors import InputError

    if args.timeout is not None and args.timeout <= 0:
        return input_error(f"--timeout must be more than 0 seconds, got {args.timeout}")
    try:
        if args.validate:
            configure_logging(args.verbose)
            from velo_tui.validate import validate

            return validate(args)
        if args.run:
            configure_logging(args.verbose)
            from velo_tui.runner import run_headless

            return run_headless(args)
        if args.stress:
            configure_logging(args.verbose)
            from velo_tui.stress import run_stress

            return run_stress(args)
        if args.repl:
            configure_logging(args.verbose)
            from velo_tui.repl import run_repl

            return run_repl(args)
        configure_logging(args.verbose, _log_file())
        from velo_tui.app import run_app

        return run_app(args)
    except InputError as error:
        return input_error(error)
    except KeyboardInterrupt:
        print("velo-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _log_file() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "velo-tui" / "velo-tui.log"


if __name__ == "__main__":
    raise SystemExit(main())
