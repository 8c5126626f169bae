"""``bastion halt`` / ``resume`` name the bot (``--config`` or ``--state``) and
refuse a folder no bot has run in: a latch written there halts nothing, and
printing success while the bot keeps trading is the worst answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.state.orders import OrderStore
from bastion.state.store import StateStore


def _config(tmp_path: Path, data: Path) -> Path:
    path = tmp_path / "bot.toml"
    path.write_text(
        f'name = "op"\ndata_dir = "{data}"\n[[strategies]]\nname = "sma_cross"\n'
        'symbols = ["BTC/USDT"]\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("command", ["halt", "resume"])
def test_a_folder_that_is_not_a_bots_is_refused_and_left_untouched(tmp_path, command) -> None:
    stranger = tmp_path / "cwd"
    stranger.mkdir()
    cfg = _config(tmp_path, tmp_path / "never-ran")
    runner = CliRunner()
    cwd = os.getcwd()
    os.chdir(stranger)  # today's default: the current folder
    try:
        bare = runner.invoke(app, [command, "--reason", "incident"])
        by_state = runner.invoke(app, [command, "--reason", "incident", "--state", "."])
    finally:
        os.chdir(cwd)
    by_config = runner.invoke(app, [command, "--reason", "incident", "--config", str(cfg)])

    assert bare.exit_code != 0 and "--config" in bare.output
    for result, text in ((by_state, "not a bot's data folder"), (by_config, "no bot has run")):
        lines = [x for x in result.output.splitlines() if x.strip()]
        assert result.exit_code == 2 and len(lines) == 1 and text in lines[0], result.output
        assert "HALTED" not in result.output and "ACTIVE" not in result.output
    assert list(stranger.iterdir()) == [] and not (tmp_path / "never-ran").exists()


def test_halt_by_config_reaches_the_bots_folder(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    OrderStore(data / "state.sqlite").close()  # a session has run here
    cfg = _config(tmp_path, data)

    result = CliRunner().invoke(app, ["halt", "--reason", "incident", "--config", str(cfg)])

    assert result.exit_code == 0, result.output
    with StateStore(data) as store:
        latch = store.load_latch()
    assert latch is not None and latch.state == "HALTED" and latch.reason == "incident"
