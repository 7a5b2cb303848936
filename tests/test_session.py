"""Tests for the debug session: statement order, step, continue and run, breakpoints, inspectable
results, progress events, cancellation, the DLQ topic and the offsets a session starts from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from velo_tui.engine.broker.base import make_produce_batch
from velo_tui.engine.broker.embedded import EmbeddedBroker
from velo_tui.engine.errors import Cancelled, InputError
from velo_tui.engine.session import NOT_RUN, OK


@pytest.fixture
def chain(make_session, pipelines_dir: Path):
    """A session over the two-statement chain pipeline and its spec (25 orders)."""
    return make_session(pipelines_dir / "chain.sql")


def test_session_statement_order(chain) -> None:
    assert [state.name for state in chain.states] == ["valid_orders", "tiered_orders"]
    assert all(state.status == NOT_RUN for state in chain.states)


def test_session_step_runs_next(chain) -> None:
    first = chain.step()
    assert first.name == "valid_orders"
    assert first.status == OK
    assert first.inputs_produced == 25
    assert chain.states[1].status == NOT_RUN
    assert chain.next_index == 1


def test_session_step_second_reads_first(chain) -> None:
    chain.step()
    second = chain.step()
    assert second.name == "tiered_orders"
    assert second.stats.records_in == 25
    assert second.stats.records_out == 25
    assert second.inputs_produced == 0
    assert chain.finished


def test_session_step_after_end(chain) -> None:
    chain.run_all()
    with pytest.raises(InputError, match="nothing left to step"):
        chain.step()


def test_session_continue_to_breakpoint(chain) -> None:
    ran = chain.continue_(set(chain.breakpoints_from_spec()))
    assert [state.name for state in ran] == ["valid_orders"]
    assert chain.states[1].status == NOT_RUN


def test_session_continue_after_breakpoint(chain) -> None:
    chain.continue_({"valid_orders"})
    ran = chain.continue_({"valid_orders"})
    assert [state.name for state in ran] == ["tiered_orders"]
    assert chain.finished


def test_session_breakpoint_case_insensitive(chain) -> None:
    ran = chain.continue_({"VALID_ORDERS"})
    assert len(ran) == 1


def test_session_breakpoints_from_spec(chain) -> None:
    assert chain.breakpoints_from_spec() == ["valid_orders"]


def test_session_run_all(chain) -> None:
    ran = chain.run_all()
    assert [state.status for state in ran] == [OK, OK]
    assert all(state.passed for state in ran)
    assert not chain.failed


def test_session_assertions_evaluated(chain) -> None:
    chain.run_all()
    results = chain.state("tiered_orders").assertions
    assert [result.type for result in results] == ["record_count", "schema_contains"]
    assert all(result.passed for result in results)


def test_session_results_inspectable(chain) -> None:
    chain.run_all()
    first = chain.output_table(chain.state("valid_orders"))
    second = chain.output_table(chain.state(2))
    assert first.num_rows == 25
    assert second.num_rows == 25
    assert "line_total" in first.column_names
    assert set(second.column("tier").to_pylist()) <= {"LARGE", "SMALL"}


def test_session_output_values(chain) -> None:
    chain.run_all()
    rows = chain.output_table(chain.state("valid_orders")).to_pylist()
    assert all(row["line_total"] == row["quantity"] * row["unit_price"] for row in rows)


def test_session_state_lookup(chain) -> None:
    assert chain.state(1).name == "valid_orders"
    assert chain.state("Tiered_Orders").name == "tiered_orders"
    with pytest.raises(InputError, match="no statement named 'missing'"):
        chain.state("missing")


def test_session_progress_events(chain) -> None:
    events = []
    chain.step(events.append)
    kinds = [event.kind for event in events]
    assert kinds[0] == "statement_started"
    assert kinds[-1] == "statement_finished"
    assert "input" in kinds
    assert "batch" in kinds
    assert events[-1].done == 25


def test_session_cancel(chain) -> None:
    chain.cancel()
    with pytest.raises(Cancelled):
        chain.step()
    assert chain.states[0].status == NOT_RUN
    assert chain.states[0].error == "cancelled"


def test_session_step_after_cancel(chain) -> None:
    chain.cancel()
    with pytest.raises(Cancelled):
        chain.step()
    state = chain.step()
    assert state.status == OK
    assert state.error is None


def test_session_seed_from_option(make_session, pipelines_dir: Path) -> None:
    assert make_session(pipelines_dir / "orders.sql").seed == 11
    assert make_session(pipelines_dir / "orders.sql", seed=3).seed == 3
    assert make_session(pipelines_dir / "chain.sql").seed == 0


def test_session_missing_sql(make_session, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="was not found"):
        make_session(tmp_path / "absent.sql")


def test_session_missing_spec(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="absent.test.yaml was not found"):
        make_session(pipelines_dir / "chain.sql", spec_path=tmp_path / "absent.test.yaml")


def test_session_reads_only_new_messages(make_session, pipelines_dir: Path) -> None:
    broker = EmbeddedBroker()
    broker.produce("chain_orders", make_produce_batch([b'{"left": "by an earlier run"}'] * 4))
    session = make_session(pipelines_dir / "chain.sql", broker=broker)
    state = session.step()
    assert state.stats.records_in == 25
    assert session.dlq.count == 0
    assert session.output_table(state).num_rows == 25


def test_session_dlq_topic(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "readings.sql", records=0)
    bad = b'{"id": "seven"}'
    session.broker.produce("readings_in", make_produce_batch([bad], [b"r7"], [1234]))
    session.step()
    published = session.broker.read_all("readings_demo.dlq").to_pylist()
    assert len(published) == 1
    message = published[0]
    headers = {header["key"]: header["value"] for header in message["headers"]}
    assert message["value"] == bad
    assert message["key"] == b"r7"
    assert message["timestamp"] == 1234
    assert headers["velo.dlq.statement"] == b"readings_out"
    assert headers["velo.dlq.stage"] == b"validate"
    assert headers["velo.dlq.error_type"] == b"wrong_type"
    assert headers["velo.dlq.field"] == b"id"
    assert headers["velo.dlq.topic"] == b"readings_in"
    assert headers["velo.dlq.offset"] == b"0"


def test_session_dlq_entry_json(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "readings.sql", records=0)
    session.broker.produce("readings_in", make_produce_batch([b'{"id": 1, "name": "caf\xe9"}']))
    session.step()
    data = session.dlq.snapshot()[0].to_json()
    assert json.loads(json.dumps(data))["value"] == '{"id": 1, "name": "caf\\xe9"}'
    assert data["error_type"] == "invalid_encoding"


def test_session_warns_unfed_source(make_session, pipelines_dir: Path, tmp_path: Path) -> None:
    # Without its spec nothing fills the source topic, so the session says so.
    sql = tmp_path / "chain.sql"
    sql.write_text((pipelines_dir / "chain.sql").read_text(encoding="utf-8"), encoding="utf-8")
    session = make_session(sql)
    unfed = [w for w in session.warnings if "no spec input or schema named 'orders'" in w]
    assert len(unfed) == 1
    assert unfed[0].startswith(f"{sql}:4:")
    assert "valid_orders" in unfed[0]


def test_session_no_warning_when_fed(make_session, pipelines_dir: Path) -> None:
    session = make_session(pipelines_dir / "chain.sql")
    assert not [w for w in session.warnings if "no spec input" in w]
