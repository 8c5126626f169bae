"""Schema versions: a folder written by the schema of before versions
(``tests/fixtures/folder_v1``, made by that code) is migrated when a bot opens
it, and nothing in it is lost; a file of a newer schema is refused with one
line naming it, before anything is written."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.ops.simbot import HOUR, run_days
from typer.testing import CliRunner

from bastion.cli import app
from bastion.dbschema import SchemaTooNew
from bastion.model import Instrument
from bastion.observe.journal import JOURNAL_SCHEMA, Journal, read_events
from bastion.state.baseline import BaselineStore
from bastion.state.orders import ORDERS_SCHEMA, OrderStore
from bastion.state.store import STATE_SCHEMA
from bastion.venues.sim.paper import PAPER_SCHEMA, PaperVenue

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "folder_v1"
FILES = {
    "journal.sqlite": JOURNAL_SCHEMA,
    "state.sqlite": ORDERS_SCHEMA,
    "latch.sqlite": STATE_SCHEMA,
    "paper.sqlite": PAPER_SCHEMA,
}
OPENERS: dict[str, Callable[[Path], Any]] = {
    "journal.sqlite": lambda d: Journal(d / "journal.sqlite"),
    "state.sqlite": lambda d: OrderStore(d / "state.sqlite"),
    "latch.sqlite": BaselineStore,
    "paper.sqlite": lambda d: PaperVenue.open(d, [Instrument.spot("SYN/USDT")], {})[0],
}


@pytest.fixture
def old_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "bot"
    shutil.copytree(FIXTURE, folder)
    return folder


def _query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _version(path: Path) -> int:
    return int(_query(path, "PRAGMA user_version")[0][0])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_fixture_is_of_the_old_schema() -> None:
    for name in FILES:
        assert _version(FIXTURE / name) == 0, name  # written before versions existed


def test_a_bot_opening_an_old_folder_migrates_every_file_and_loses_nothing(old_folder) -> None:
    events_before = list(read_events(old_folder))
    orders_before = _query(old_folder / "state.sqlite", "SELECT * FROM orders ORDER BY client_id")
    fills_before = _query(old_folder / "state.sqlite", "SELECT * FROM fills ORDER BY trade_id")
    latch_before = _query(old_folder / "latch.sqlite", "SELECT * FROM halt_history")

    run_days(old_folder, 0.25, start=events_before[-1]["ts"] + HOUR, seed=9)  # the bot goes on

    for name, schema in FILES.items():
        path = old_folder / name
        assert _version(path) == schema.version, name
        log = _query(path, "SELECT version, came_from FROM schema_log ORDER BY seq")
        assert log[0] == (2, 1), (name, log)  # migrated from the unversioned layout
    events_after = list(read_events(old_folder))
    assert events_after[: len(events_before)] == events_before
    assert len(events_after) > len(events_before)
    orders_after = _query(old_folder / "state.sqlite", "SELECT * FROM orders ORDER BY client_id")
    width = len(orders_before[0])  # later versions append columns (v3: a stop's trigger)
    assert set(orders_before) <= {row[:width] for row in orders_after}
    assert set(fills_before) <= set(
        _query(old_folder / "state.sqlite", "SELECT * FROM fills ORDER BY trade_id")
    )
    assert _query(old_folder / "latch.sqlite", "SELECT * FROM halt_history")[:2] == latch_before
    indexes = {r[0] for r in _query(old_folder / "state.sqlite", "SELECT name FROM sqlite_master")}
    assert "fills_client" in indexes  # the v2 step ran


def test_a_migrated_file_is_not_migrated_again(old_folder) -> None:
    Journal(old_folder / "journal.sqlite").close()
    Journal(old_folder / "journal.sqlite").close()

    assert _query(old_folder / "journal.sqlite", "SELECT COUNT(*) FROM schema_log") == [(1,)]


def test_a_new_folder_is_created_at_the_current_version(tmp_path) -> None:
    for name, opener in OPENERS.items():
        opener(tmp_path).close()
        assert _version(tmp_path / name) == FILES[name].version
        assert _query(tmp_path / name, "SELECT came_from FROM schema_log") == [(0,)]


@pytest.mark.parametrize("name", sorted(FILES))
def test_a_newer_file_is_refused_naming_it_and_left_as_it_was(old_folder, name) -> None:
    path = old_folder / name
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {FILES[name].version + 1}")
    db.close()
    before = _digest(path)

    with pytest.raises(SchemaTooNew) as info:
        OPENERS[name](old_folder)

    assert str(path) in str(info.value) and "newer" in str(info.value)
    assert _digest(path) == before
    assert not (old_folder / f"{name}-wal").exists() or _version(path) == FILES[name].version + 1


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("latch.sqlite", ["halt", "--reason", "test", "--state", "{dir}"]),
        ("journal.sqlite", ["journal", "{dir}"]),
        ("state.sqlite", ["fills", "export", "{dir}", "--out", "{dir}/fills.csv"]),
        ("latch.sqlite", ["run", "--config", "{dir}/bot.toml", "--data-dir", "{dir}"]),
    ],
)
def test_the_cli_refuses_a_newer_folder_with_one_line(old_folder, name, argv) -> None:
    path = old_folder / name
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()

    (old_folder / "bot.toml").write_text(
        '[exchange]\nbase_url = "http://127.0.0.1:9"\n[[strategies]]\nname = "sma_cross"\n'
        'symbols = ["SYN/USDT"]\n'
    )  # `run` stops at the folder, before any connection

    result = CliRunner().invoke(app, [a.format(dir=old_folder) for a in argv])

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and name in lines[0]
    assert "version 99" in lines[0] and "Traceback" not in result.output
