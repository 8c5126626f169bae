"""Tests that run a bot live against the emulator put its folder at the stage
``live`` first: live mode is refused for a folder not promoted (the ladder,
``bastion.engine.stage``), and the emulator's account has no ladder to climb."""

from __future__ import annotations

from pathlib import Path

from bastion.engine.stage import record_stage
from bastion.state.stage import Stage

T_STAGED = 1_700_000_000_000  # before any test's clock: the stage predates the run


def live_folder(folder: str | Path) -> Path:
    """``folder`` (created), at the stage ``live``."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    record_stage(path, Stage.LIVE, reason="test: trades the emulator", by="test", now=T_STAGED)
    return path
