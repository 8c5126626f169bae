"""The halt latch persisted: the state store, a restart, and the operator's
``bastion halt`` / ``bastion resume``, journaled with who and why."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from typer.testing import CliRunner

from bastion.cli_risk import halt_cmd, resume_cmd, risk_app
from bastion.engine.latch import open_latch, sync_latch
from bastion.observe.journal import Journal, read_events
from bastion.risk import HaltLatch, HaltState
from bastion.state.orders import OrderStore
from bastion.state.store import StateStore

NOW = 1_717_200_000_000


def bot_folder(path: Path) -> Path:
    """A folder a bot session has run in (its order store exists)."""
    OrderStore(path / "state.sqlite").close()
    return path


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("halt")(halt_cmd)
    app.command("resume")(resume_cmd)
    app.add_typer(risk_app, name="risk")
    return app


def test_a_fresh_store_has_no_latch_and_restores_active(tmp_path: Path) -> None:
    with StateStore(tmp_path) as store:
        assert store.load_latch() is None
        assert HaltLatch.restore(store.load_latch()).state is HaltState.ACTIVE


def test_a_halted_bot_restarted_from_its_store_is_still_halted(tmp_path: Path) -> None:
    latch, store = open_latch(tmp_path)
    latch.set(HaltState.HALTED, reason="DAILY_LOSS", now=NOW, by="risk")
    store.close()  # the process dies here

    restarted, store2 = open_latch(tmp_path)

    assert restarted.state is HaltState.HALTED
    assert (restarted.reason, restarted.since_ts, restarted.by) == ("DAILY_LOSS", NOW, "risk")
    store2.close()


def test_every_change_is_kept_in_the_history_and_journaled(tmp_path: Path) -> None:
    events: list[tuple[str, int, dict[str, object]]] = []
    latch, store = open_latch(tmp_path, sink=lambda k, ts, p: events.append((k, ts, p)))

    latch.set(HaltState.HALTED, reason="RUNAWAY", now=NOW, by="risk")
    latch.set(HaltState.ACTIVE, reason="fixed", now=NOW + 1, by="alice")
    history = store.latch_history()
    store.close()

    assert [(c.previous, c.state, c.by) for c in history] == [
        ("ACTIVE", "HALTED", "risk"),
        ("HALTED", "ACTIVE", "alice"),
    ]
    assert [(k, p["state"], p["previous"]) for k, _, p in events] == [
        ("latch", "HALTED", "ACTIVE"),
        ("latch", "ACTIVE", "HALTED"),
    ]


def test_cli_halt_is_stored_journaled_with_the_os_user_and_seen_by_a_running_bot(
    tmp_path: Path,
) -> None:
    latch, store = open_latch(bot_folder(tmp_path))  # the running bot

    result = CliRunner().invoke(
        cli(), ["halt", "--reason", "exchange incident", "--state", str(tmp_path)]
    )
    moved = sync_latch(latch, store)
    store.close()

    assert result.exit_code == 0, result.output
    assert moved and latch.state is HaltState.HALTED
    assert latch.by == getpass.getuser() and latch.reason == "exchange incident"
    [event] = list(read_events(tmp_path, kinds=["latch"]))
    assert (event["state"], event["previous"], event["by"]) == (
        "HALTED",
        "ACTIVE",
        getpass.getuser(),
    )
    assert event["reason"] == "exchange incident"


def test_cli_resume_and_reducing(tmp_path: Path) -> None:
    runner = CliRunner()
    bot_folder(tmp_path)

    runner.invoke(cli(), ["halt", "--reducing", "--reason", "wind down", "--state", str(tmp_path)])
    with StateStore(tmp_path) as store:
        reducing = store.load_latch()
    runner.invoke(cli(), ["resume", "--reason", "all clear", "--state", str(tmp_path)])
    with StateStore(tmp_path) as store:
        resumed = store.load_latch()

    assert reducing is not None and reducing.state == "REDUCING"
    assert resumed is not None and (resumed.state, resumed.reason) == ("ACTIVE", "all clear")


def test_cli_halt_needs_a_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["halt", "--reason", " ", "--state", str(tmp_path)])

    assert result.exit_code != 0
    with StateStore(tmp_path) as store:
        assert store.load_latch() is None


def test_sync_is_quiet_when_nothing_changed(tmp_path: Path) -> None:
    latch, store = open_latch(tmp_path)
    latch.set(HaltState.HALTED, reason="own change", now=NOW, by="risk")

    assert sync_latch(latch, store) is False
    store.close()


def test_risk_report_counts_rejections_by_reason_strategy_and_symbol(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.sqlite") as j:
        for i, (reason, sym) in enumerate(
            [("POSITION_LIMIT", "BTC/USDT"), ("HALTED", "ETH/USDT"), ("HALTED", "BTC/USDT")]
        ):
            j.append(
                "risk_decision",
                NOW + i,
                {
                    "strategy": "s@1",
                    "symbol": sym,
                    "verdict": "reject",
                    "reason": reason,
                    "rule": "r",
                    "details": {"limit": "1"},
                    "side": "buy",
                    "qty": "1",
                    "approved_qty": None,
                },
            )
        j.append("risk_decision", NOW, {"strategy": "s@1", "symbol": "X", "verdict": "approve"})
        j.append("risk_decision", NOW - 8 * 86_400_000, {"verdict": "reject", "reason": "OLD"})

    result = CliRunner().invoke(cli(), ["risk", "report", str(tmp_path), "--since", "7d"])

    assert result.exit_code == 0, result.output
    out = result.output
    assert "1 approved, 0 resized, 3 rejected" in out
    assert "HALTED" in out and "POSITION_LIMIT" in out and "OLD" not in out
    assert "BTC/USDT" in out and "s@1" in out and "examples:" in out


def test_risk_report_on_a_missing_journal_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["risk", "report", str(tmp_path / "nope")])

    assert result.exit_code == 2
    assert "no journal" in result.output
