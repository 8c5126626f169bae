"""``bastion new-strategy`` writes a template whose own tests pass, run here by
pytest in a temporary folder outside the project."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli import app
from bastion.cli_strategy import render

runner = CliRunner()


@pytest.mark.slow
def test_the_template_passes_its_own_test(tmp_path: Path) -> None:
    folder = tmp_path / "my_strategies"
    res = runner.invoke(app, ["new-strategy", "mean-revert", "--dir", str(folder)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in folder.iterdir()) == ["mean_revert.py", "test_mean_revert.py"]

    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "--rootdir", str(folder), str(folder)],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout


def test_the_template_backtests_from_the_cli(tmp_path: Path) -> None:
    runner.invoke(app, ["new-strategy", "dip", "--dir", str(tmp_path)])
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        ["backtest", "--strategy", f"{tmp_path / 'dip.py'}:Dip", "--synthetic-bars", "3000",
         "--param", "qty=0.5", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (out / "report.html").is_file()


def test_existing_files_are_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "dip.py").write_text("mine")

    res = runner.invoke(app, ["new-strategy", "dip", "--dir", str(tmp_path)])

    assert res.exit_code == 2
    assert "exists (use --force to overwrite)" in res.output
    assert (tmp_path / "dip.py").read_text() == "mine"


@pytest.mark.parametrize("name", ["9lives", "has space!", "class", ""])
def test_bad_names_are_refused(name: str, tmp_path: Path) -> None:
    res = runner.invoke(app, ["new-strategy", name, "--dir", str(tmp_path)])

    assert res.exit_code == 2
    assert "error: strategy name" in res.output
    assert not list(tmp_path.iterdir())


def test_names_become_a_module_and_a_class() -> None:
    files = render("RsiDip")

    assert set(files) == {"rsi_dip.py", "test_rsi_dip.py"}
    assert "class RsiDip(Strategy[Params, Memory]):" in files["rsi_dip.py"]
    assert 'name = "rsi_dip"' in files["rsi_dip.py"]
