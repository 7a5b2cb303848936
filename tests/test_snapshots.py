"""SVG snapshot tests of the debugger's screens at pinned terminal sizes.

Every app comes from the `app_factory` fixture (frozen clock, no cursor blink) over the example
pipelines or the tricky-text pipeline, whose data is seeded, so a screen depends only on the
keys pressed. Baselines live under `snapshots/` at the repository root; refresh them with
`pytest tests/test_snapshots.py --snapshot-update` and review the SVG files before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_textual_snapshot

from velo_tui.engine.session import SessionOptions

#: Folder of the SVG baselines, one subfolder per test module.
SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "snapshots"

WIDE = (120, 36)
NARROW = (80, 24)

#: Records per generated input: enough that line_total > 1000 leaves some records out.
RECORDS = 60


class RepositorySnapshots(pytest_textual_snapshot.SVGImageExtension):
    """The plugin's SVG extension, storing baselines under `snapshots/<test module>/`."""

    @classmethod
    def dirname(cls, *, test_location) -> str:
        return str(SNAPSHOT_DIR / test_location.basename)


@pytest.fixture
def snapshot(snapshot, monkeypatch):
    # `snap_compare` picks its syrupy extension from this module attribute when it is set up,
    # which happens after this fixture because it depends on `snapshot`.
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", RepositorySnapshots)
    return snapshot


def keys_then_settle(settle, *steps):
    """Return a `run_before` that presses each step's keys and waits for the workers after it.

    A step is a key name, a tuple of key names, or `("type", text)` to set the focused input.
    """

    async def run(pilot) -> None:
        await settle(pilot)
        for step in steps:
            if isinstance(step, tuple) and step and step[0] == "type":
                pilot.app.focused.value = step[1]
            elif isinstance(step, tuple):
                await pilot.press(*step)
            else:
                await pilot.press(step)
            await settle(pilot)

    return run


# -- the debug pipeline --------------------------------------------------------------------------


def test_before_run(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle))


def test_after_step(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s"))


def test_head_after_step(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s", "h"))


def test_paused_at_breakpoint(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", ("down", "b"), "c")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_after_run(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "r", "h"))


def test_filtered(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", "h", "slash", ("type", "line_total > 1000"), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_filter_prompt(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", "h", "slash", ("type", "line_total > 1000"))
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_export_prompt(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s", "e"))


def test_record_detail(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", "h", ("tab", "tab", "down"), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_second_page(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=250))
    run_before = keys_then_settle(settle, "s", "h", ("tab", "tab"), "n")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_help(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "question_mark"))


def test_topics_focused(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s", "tab"))


def test_records_focused(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", "h", ("tab", "tab"))
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_command_bar_focused(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "colon", ("type", "head validated_orders -n 5"))
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_command_output(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    run_before = keys_then_settle(settle, "s", "colon", ("type", "topics"), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_narrow_before_run(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=NARROW, run_before=keys_then_settle(settle))


def test_narrow_head(snap_compare, app_factory, debug_sql, settle):
    app = app_factory(debug_sql, SessionOptions(records=RECORDS))
    assert snap_compare(app, terminal_size=NARROW, run_before=keys_then_settle(settle, "s", "h"))


# -- the DLQ pipeline ----------------------------------------------------------------------------


def test_dlq_entries(snap_compare, app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s"))


def test_dlq_focused(snap_compare, app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    run_before = keys_then_settle(settle, "s", ("tab", "tab", "tab"))
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_dlq_detail(snap_compare, app_factory, dlq_sql, settle):
    app = app_factory(dlq_sql)
    run_before = keys_then_settle(settle, "s", ("tab", "tab", "tab"), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


# -- tricky record text and errors ---------------------------------------------------------------


def test_tricky_records(snap_compare, app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s", "h"))


def test_tricky_markup_detail(snap_compare, app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    run_before = keys_then_settle(settle, "s", "h", ("tab", "tab"), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_tricky_control_detail(snap_compare, app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    run_before = keys_then_settle(settle, "s", "h", ("tab", "tab", *["down"] * 5), "enter")
    assert snap_compare(app, terminal_size=WIDE, run_before=run_before)


def test_tricky_narrow(snap_compare, app_factory, tricky_sql, settle):
    app = app_factory(tricky_sql)
    assert snap_compare(app, terminal_size=NARROW, run_before=keys_then_settle(settle, "s", "h"))


def test_error_dialog(snap_compare, app_factory, tricky_sql, settle, failing_broker):
    app = app_factory(tricky_sql, SessionOptions(broker=failing_broker))
    assert snap_compare(app, terminal_size=WIDE, run_before=keys_then_settle(settle, "s"))
