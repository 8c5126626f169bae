"""Replay a live day: a live bot on the emulator, through the real ccxt client,
records what it consumed and journals each cycle's context; replaying that day
from the recording and the journal gives every decision again (intents, risk
verdicts, client ids), a changed parameter shows where it would have differed,
and ``explain`` tells the whole story of one of its orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from service_support import KEY_ENV, write_config
from typer.testing import CliRunner

from bastion.cli import app
from bastion.cli_replay import with_params
from bastion.config import load_config
from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig, EmulatorThread
from bastion.engine.live import run_bot
from bastion.engine.replay import replay_day
from bastion.observe.explain import explain
from bastion.observe.journal import read_events

runner = CliRunner()


@pytest.fixture(scope="module")
def live_day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("replay")
    mp = pytest.MonkeyPatch()
    mp.setenv(f"{KEY_ENV}_API_KEY", TEST_API_KEY)
    mp.setenv(f"{KEY_ENV}_API_SECRET", TEST_API_SECRET)
    mp.setenv("BASTION_STORE", str(folder / "no-store"))  # warm-up from the exchange
    thread = EmulatorThread(
        EmulatorConfig(source="synthetic", rate=20, balances={"USDT": Decimal(100_000)})
    )
    emu = thread.start()
    path = write_config(folder, emu, strategy="sma_cross")  # sma_cross(2, 3), 0.001 BTC
    try:
        asyncio.run(run_bot(load_config(path), duration_s=10, status=lambda _: None))
    finally:
        thread.stop()
        mp.undo()
    bot = folder / "data"
    first = next(read_events(bot, kinds=["order_submitted"]), None)
    assert first is not None, "the live run placed no order: nothing to replay"
    day = datetime.fromtimestamp(first["ts"] / 1000, tz=UTC).date()
    return {"config": path, "bot": bot, "day": day, "order": first["client_id"]}


@pytest.mark.slow
def test_the_replayed_day_decides_exactly_as_the_live_run_did(live_day) -> None:
    result = replay_day(load_config(live_day["config"]), live_day["bot"], live_day["day"])

    assert result.identical, result.differences[:3]
    assert result.cycles >= 5 and result.decisions >= 1 and result.intents >= 1
    (was, now), *_ = result.versions.values()
    assert was == now


@pytest.mark.slow
def test_a_changed_parameter_shows_where_it_would_have_differed(live_day) -> None:
    changed = with_params(load_config(live_day["config"]), ["sma_cross.qty=0.002"])

    result = replay_day(changed, live_day["bot"], live_day["day"])

    assert not result.identical
    first = result.differences[0]
    assert first.what == "intents" and first.strategy == "sma_cross"
    assert first.journal[0]["qty"] in ("0.001", "0") and first.replay[0]["qty"] in ("0.002", "0")
    (was, now), *_ = result.versions.values()
    assert was != now


@pytest.mark.slow
def test_the_replay_command_says_identical_or_prints_the_differences(live_day) -> None:
    args = ["replay", "--config", str(live_day["config"]), "--day", live_day["day"].isoformat()]

    same = runner.invoke(app, args, env={"COLUMNS": "160"})
    other = runner.invoke(app, [*args, "--param", "sma_cross.qty=0.002"], env={"COLUMNS": "160"})
    bad = runner.invoke(app, [*args[:3], "--day", "2001-01-01"])

    assert same.exit_code == 0 and "identical" in same.output, same.output
    assert other.exit_code == 1 and "difference(s)" in other.output
    assert "ANOTHER VERSION" in other.output
    assert bad.exit_code == 2 and "no cycle with a journaled decision context" in bad.output


@pytest.mark.slow
def test_explain_shows_every_item_of_an_order_from_the_live_run(live_day) -> None:
    ex = explain(live_day["bot"], live_day["order"])
    text = runner.invoke(app, ["explain", str(live_day["bot"]), live_day["order"]],
                         env={"COLUMNS": "160"})  # fmt: skip

    assert ex.run is not None and ex.run["run_id"]
    assert ex.strategy is not None and ex.strategy["params"]["qty"] == "0.001"
    assert ex.context is not None and ex.context["view"]["BTC/USDT"]["ind"]["SMA(2,close)"]
    assert ex.account is not None and "USDT" in ex.account["balances"]
    assert ex.intent is not None and ex.planned is not None and ex.decision is not None
    assert ex.verdicts and ex.verdicts[0][0] == "halt"
    kinds = [e["kind"] for e in ex.events]
    assert kinds[0] == "order_submitted" and "order_filled" in kinds
    assert ex.fills and ex.fills[0]["client_id"] == live_day["order"]
    for part in ("who decided", "what it saw", "what it decided", "what happened",
                 "reconciliations around it"):  # fmt: skip
        assert part in text.output
