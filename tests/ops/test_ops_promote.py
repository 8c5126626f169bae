"""The promotion ladder over a seeded simulation: the production session,
paper book, strategy and the live loop's start (``stage_at_start``) and health
sample, driven hour by hour on a clock the test controls (``simbot``). The
"live" runs trade the same simulated book (no exchange exists here): what the
ladder judges is the journal, and the journal is the bot's own.

- a bot with 3 days of paper is refused live-small, with the missing evidence
  listed, and nothing changes;
- one with 14 days of paper is promoted, and then trades at 1% size;
- live-small -> live needs 30 days including an adverse day survived without
  a limit breach;
- live mode is refused before promotion.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.ops.simbot import DAY, T0, run_days
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import BotConfig, parse_config
from bastion.engine.errors import LiveError
from bastion.engine.stage import stage_at_start
from bastion.observe.journal import read_events
from bastion.state.orders import OrderStore
from bastion.state.stage import Stage, read_stage

PAPER = parse_config({"exchange": {"bar_interval": "1h"}})
LIVE = parse_config({"exchange": {"bar_interval": "1h", "mode": "live"}})


def _config_file(tmp_path: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text('[exchange]\nbar_interval = "1h"\n')
    return path


def _promote(folder: Path, to: str, config: Path, *extra: str):
    return CliRunner().invoke(
        app, ["promote", str(folder), "--to", to, "--config", str(config), *extra]
    )


def _stage_events(folder: Path) -> list[dict]:
    return list(read_events(folder, kinds=["stage_changed"]))


def test_three_days_of_paper_are_refused_with_the_missing_evidence(tmp_path) -> None:
    folder = tmp_path / "bot"
    run_days(folder, 3, config=PAPER)
    before = _stage_events(folder)

    checked = _promote(folder, "live-small", _config_file(tmp_path), "--check")
    result = _promote(folder, "live-small", _config_file(tmp_path))

    assert checked.exit_code == 1 and "missing: paper running time: 3.0 days" in checked.output
    assert result.exit_code == 1, result.output
    assert "promote refused" in result.output
    assert "paper running time: 3.0 days of the 14 required (11.0 more; " in result.output
    assert read_stage(folder) is Stage.PAPER  # nothing changed
    assert _stage_events(folder) == before


def test_live_mode_is_refused_for_a_paper_folder(tmp_path) -> None:
    folder = tmp_path / "bot"
    run_days(folder, 1, config=PAPER)
    journaled = len(list(read_events(folder)))

    with pytest.raises(LiveError, match="live mode refused: the bot's stage is paper"):
        stage_at_start(LIVE, folder, lambda *e: None, T0 + 2 * DAY)
    with pytest.raises(LiveError, match="not recorded"):
        stage_at_start(LIVE, tmp_path / "fresh", lambda *e: None, T0)

    assert len(list(read_events(folder))) == journaled


@pytest.mark.slow
def test_the_ladder_paper_to_live_small_to_live_on_the_journal_evidence(tmp_path) -> None:
    folder = tmp_path / "bot"
    config = _config_file(tmp_path)
    end = run_days(folder, 14.5, config=PAPER, seed=3, record=False)

    assert _promote(folder, "live-small", config, "--check").exit_code == 0
    assert read_stage(folder) is Stage.PAPER  # --check changes nothing
    promoted = _promote(folder, "live-small", config)

    assert promoted.exit_code == 0, promoted.output
    assert read_stage(folder) is Stage.LIVE_SMALL
    change = _stage_events(folder)[-1]
    assert change["stage"] == "live-small" and change["previous"] == "paper"
    assert change["evidence"]["running_days"] >= 14 and change["evidence"]["missing"] == []

    # live-small: every intent at 1% (the strategy's 0.5 becomes 0.005)
    first_order = _order_count(folder)
    end = run_days(folder, 5, start=end, config=LIVE, seed=4, record=False)
    sizes = {o.request.qty for o in _orders(folder)[first_order:]}
    assert sizes and max(sizes) <= Decimal("0.005"), sizes
    run = list(read_events(folder, kinds=["run_stage"]))[-1]
    assert (run["stage"], run["mode"], run["size_scale"]) == ("live-small", "live", "0.01")

    early = _promote(folder, "live", config)
    assert early.exit_code == 1
    assert "live-small running time: 5.0 days of the 30 required" in early.output
    assert "no adverse day survived" in early.output

    run_days(folder, 27, start=end, config=LIVE, seed=6, shock_days=[10], record=False)
    done = _promote(folder, "live", config)

    assert done.exit_code == 0, done.output
    assert read_stage(folder) is Stage.LIVE
    evidence = _stage_events(folder)[-1]["evidence"]
    assert evidence["adverse_days"] and evidence["running_days"] >= 30


def test_an_override_is_journaled_with_what_was_missing_and_alerted(tmp_path) -> None:
    folder = tmp_path / "bot"
    run_days(folder, 1, config=PAPER)

    result = _promote(folder, "live-small", _config_file(tmp_path), "--force-reason", "drill")

    assert result.exit_code == 0 and "FORCED" in result.output
    change = _stage_events(folder)[-1]
    assert change["forced"] == "drill" and change["alert"] is True
    assert change["evidence"]["missing"]
    assert stage_at_start(LIVE, folder, lambda *e: None, T0 + 2 * DAY) == Decimal("0.01")


def test_a_paper_run_of_a_live_small_folder_is_not_live_small_evidence(tmp_path) -> None:
    folder = tmp_path / "bot"
    end = run_days(folder, 1, config=PAPER)
    _promote(folder, "live-small", _config_file(tmp_path), "--force-reason", "drill")
    run_days(folder, 2, start=end, config=PAPER)  # paper again, at the live-small stage

    result = _promote(folder, "live", _config_file(tmp_path))

    assert "live-small running time: 0.0 days" in result.output


def _orders(folder: Path) -> list:
    store = OrderStore(folder / "state.sqlite")
    try:
        return list(store.all_orders())
    finally:
        store.close()


def _order_count(folder: Path) -> int:
    return len(_orders(folder))


def test_default_config_is_valid() -> None:
    assert BotConfig().promotion.live_small_scale == Decimal("0.01")
