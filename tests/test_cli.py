"""Tests for the command line: exit codes, report formats on standard output and in files, and
the messages for invalid input."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import duckdb
import pytest

from velo_tui.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, EXIT_TIMEOUT
from velo_tui.engine.assertions.registry import REGISTRY
from velo_tui.engine.session import OK

#: Keys of the JSON report that scripts rely on.
REPORT_KEYS = {"application", "sql_file", "seed", "passed", "duration_s", "statements", "queries",
               "dlq", "faults"}
STATEMENT_KEYS = {"name", "status", "records_in", "records_out", "filtered", "dlq", "duration_s",
                  "error"}


def debug_mode_sql(corpus_dir: Path) -> Path:
    return corpus_dir / "tier8_fault_tolerance" / "73_debug_mode.sql"


# --- the debug-mode example pipeline -----------------------------------------------------------


def test_cli_debug_mode_passes(cli, corpus_dir: Path) -> None:
    code, out, _ = cli(debug_mode_sql(corpus_dir), "--run", "--output", "json")
    report = json.loads(out)
    statements = {s["name"]: s for s in report["statements"]}
    assert code == EXIT_OK
    assert report["passed"] is True
    assert list(statements) == ["validated_orders", "enriched_orders", "final_orders"]
    for name, statement in statements.items():
        assert statement["status"] == OK, name
        assert statement["records_out"] == 10, name


def test_cli_debug_mode_values(make_session, corpus_dir: Path) -> None:
    session = make_session(debug_mode_sql(corpus_dir))
    session.run_all()
    con = duckdb.connect()
    con.register("final_orders", session.output_table(session.state("final_orders")))
    rows = con.sql("SELECT count(*) FROM final_orders").fetchall()[0][0]
    bad_routing = con.sql(
        "SELECT count(*) FROM final_orders WHERE routing_key IS DISTINCT FROM order_tier || '_' || order_type"
    ).fetchall()[0][0]
    bad_total = con.sql(
        "SELECT count(*) FROM final_orders WHERE line_total IS DISTINCT FROM quantity * unit_price"
    ).fetchall()[0][0]
    assert rows == 10
    assert bad_routing == 0
    assert bad_total == 0


def test_cli_stdout_pure_json(pipelines_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "velo_tui", str(pipelines_dir / "chain.sql"), "--run", "--output", "json"],
        capture_output=True, text=True, check=False, timeout=120,
    )
    report = json.loads(result.stdout)
    assert result.returncode == EXIT_OK
    assert report["passed"] is True
    assert "seed 0" in result.stderr


def test_cli_report_keys(cli, pipelines_dir: Path) -> None:
    _, out, _ = cli(pipelines_dir / "chain.sql", "--run", "--output", "json")
    report = json.loads(out)
    assert REPORT_KEYS <= set(report)
    assert STATEMENT_KEYS <= set(report["statements"][0])
    assert {"count", "dropped", "by_stage", "by_error_type"} <= set(report["dlq"])
    assert {"injected", "caught_in_dlq"} <= set(report["faults"])


def test_cli_run_alias(cli, pipelines_dir: Path) -> None:
    code, out, _ = cli("run", pipelines_dir / "chain.sql", "--output", "json")
    assert code == EXIT_OK
    assert json.loads(out)["application"] == "chain_demo"


def test_cli_text_report(cli, pipelines_dir: Path) -> None:
    code, out, _ = cli(pipelines_dir / "chain.sql", "--run")
    assert code == EXIT_OK
    assert "valid_orders: 25 in, 25 out" in out
    assert out.rstrip().endswith("PASSED")


def test_cli_seed_option(cli, pipelines_dir: Path) -> None:
    _, out, err = cli(pipelines_dir / "orders.sql", "--run", "--output", "json", "--seed", "99")
    assert json.loads(out)["seed"] == 99
    assert "seed 99" in err


# --- report formats and files ------------------------------------------------------------------


def test_cli_junit_xml(cli, pipelines_dir: Path) -> None:
    code, out, _ = cli(pipelines_dir / "chain.sql", "--run", "--output", "junit")
    suite = ElementTree.fromstring(out).find("testsuite")
    assert code == EXIT_OK
    assert suite is not None
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "0"
    assert [case.get("name") for case in suite.iter("testcase")] == ["valid_orders", "tiered_orders"]


def test_cli_junit_failure(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "failing_assertion.test.yaml"
    _, out, _ = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec, "--output", "junit")
    failures = list(ElementTree.fromstring(out).iter("failure"))
    assert len(failures) == 1
    assert failures[0].get("type") == "record_count"


def test_cli_report_file(cli, pipelines_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "out" / "report.json"
    code, out, _ = cli(pipelines_dir / "chain.sql", "--run", "--report", path)
    assert code == EXIT_OK
    assert json.loads(path.read_text(encoding="utf-8"))["passed"] is True
    assert out.rstrip().endswith("PASSED")


def test_cli_report_file_junit(cli, pipelines_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "report.xml"
    cli(pipelines_dir / "chain.sql", "--run", "--output", "json", "--report", path)
    assert ElementTree.parse(path).getroot().tag == "testsuites"


# --- exit codes --------------------------------------------------------------------------------


def test_cli_failing_assertion(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "failing_assertion.test.yaml"
    code, out, _ = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec, "--output", "json")
    report = json.loads(out)
    assert code == EXIT_FAILED
    assert report["passed"] is False
    assert report["queries"][0]["assertions"][0]["passed"] is False


def test_cli_timeout(cli, pipelines_dir: Path) -> None:
    # The spec paces input at one record per second, so the run cannot finish in 0.3 s.
    spec = pipelines_dir / "slow_input.test.yaml"
    code, out, err = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec, "--timeout", "0.3",
                         "--output", "json")
    report = json.loads(out)
    assert code == EXIT_TIMEOUT
    assert report["passed"] is False
    assert report["complete"] is False
    assert "timed out after 0.3 s" in err


def test_cli_unknown_assertion_type(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "unknown_assertion.test.yaml"
    code, out, err = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec)
    assert code == EXIT_INPUT
    assert out == ""
    assert "unknown_assertion.test.yaml:9:" in err
    assert "'record_total'" in err
    for name in REGISTRY:
        assert name in err


def test_cli_syntax_error(cli, pipelines_dir: Path) -> None:
    code, _, err = cli(pipelines_dir / "syntax_error.sql", "--run")
    assert code == EXIT_INPUT
    assert "syntax_error.sql:5:1:" in err
    assert "SQL syntax error" in err


def test_cli_missing_schema(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "missing_schema.test.yaml"
    code, _, err = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec)
    assert code == EXIT_INPUT
    assert "missing_schema.test.yaml:5:" in err
    assert "schema 'no_such_schema'" in err


def test_cli_missing_schema_folder(cli, pipelines_dir: Path, tmp_path: Path) -> None:
    code, _, err = cli(pipelines_dir / "chain.sql", "--run", "--schemas", tmp_path / "absent")
    assert code == EXIT_INPUT
    assert str(tmp_path / "absent") in err


def test_cli_missing_config_file(cli, pipelines_dir: Path) -> None:
    code, _, err = cli(pipelines_dir / "missing_config.sql", "--run")
    assert code == EXIT_INPUT
    assert "missing_config.sql:9:" in err
    assert "configs/absent_source.yaml" in err


def test_cli_missing_sql_file(cli, tmp_path: Path) -> None:
    code, _, err = cli(tmp_path / "absent.sql", "--run")
    assert code == EXIT_INPUT
    assert "absent.sql" in err


@pytest.mark.parametrize(
    "options",
    [
        ["--bogus"],
        ["--records", "0"],
        ["--records", "many"],
        ["--output", "xml"],
        ["--timeout", "0"],
        ["--seed", "abc"],
        ["--run", "--repl"],
    ],
    ids=["unknown", "records_zero", "records_text", "output", "timeout_zero", "seed_text", "two_modes"],
)
def test_cli_bad_option(cli, pipelines_dir: Path, options: list[str]) -> None:
    code, out, err = cli(pipelines_dir / "chain.sql", "--run", *options)
    assert code == EXIT_INPUT
    assert out == ""
    assert err.startswith("usage: velo-tui") or err.startswith("velo-tui:")


def test_cli_no_arguments(cli) -> None:
    code, _, err = cli()
    assert code == EXIT_INPUT
    assert "sql_file" in err


# --- validate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["70_dlq_basic", "72_fault_injection", "73_debug_mode", "74_stress_test"])
def test_validate_corpus(cli, corpus_dir: Path, stem: str) -> None:
    code, out, _ = cli("validate", corpus_dir / "tier8_fault_tolerance" / f"{stem}.sql")
    assert code == EXIT_OK
    assert ": valid, application" in out


@pytest.mark.parametrize(
    ("sql", "where"),
    [("syntax_error.sql", "syntax_error.sql:5:1:"), ("unknown_column.sql", "unknown_column.sql:4:12:"),
     ("missing_config.sql", "missing_config.sql:9:"), ("group_by.sql", "group_by.sql:6:")],
)
def test_validate_bad_input(cli, pipelines_dir: Path, sql: str, where: str) -> None:
    code, out, err = cli("validate", pipelines_dir / sql)
    assert code == EXIT_INPUT
    assert out == ""
    assert where in err


def test_validate_unsupported_names_construct(cli, pipelines_dir: Path) -> None:
    _, _, err = cli("validate", pipelines_dir / "group_by.sql")
    assert "GROUP BY is not supported" in err


def test_validate_unknown_query(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "unknown_query.test.yaml"
    code, _, err = cli("validate", pipelines_dir / "chain.sql", "--spec", spec)
    assert code == EXIT_INPUT
    assert "unknown_query.test.yaml:4:" in err
    assert "'priced_orders'" in err
    assert "valid_orders, tiered_orders" in err


def test_validate_runs_nothing(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "slow_input.test.yaml"
    code, out, _ = cli("validate", pipelines_dir / "chain.sql", "--spec", spec)
    assert code == EXIT_OK
    assert "valid_orders (line 4): chain_orders -> chain_valid" in out


def test_cli_suggests_subcommand(cli, pipelines_dir: Path) -> None:
    code, out, err = cli("valdate", pipelines_dir / "chain.sql")
    assert code == EXIT_INPUT
    assert "unknown command 'valdate'; did you mean 'validate'?" in err


def test_cli_suggests_option(cli, pipelines_dir: Path) -> None:
    code, out, err = cli(pipelines_dir / "chain.sql", "--rnu")
    assert code == EXIT_INPUT
    assert "did you mean --run?" in err


def test_cli_folder_instead_of_file(cli, pipelines_dir: Path) -> None:
    code, out, err = cli(pipelines_dir, "--run")
    assert code == EXIT_INPUT
    assert "is a folder; give the path of a .sql file" in err


def test_cli_text_report_names_unchecked(cli, pipelines_dir: Path) -> None:
    spec = pipelines_dir / "slow_input.test.yaml"
    code, out, err = cli(pipelines_dir / "chain.sql", "--run", "--spec", spec, "--timeout", "0.3")
    assert code == EXIT_TIMEOUT
    assert "FAIL valid_orders" in out
    assert "the statement did not run, so its assertions were not checked" in out
