"""The ladder at ``bastion run``'s start: refuse live trading before promotion,
and trade at the stage's size.

A paper start records the stage ``paper`` in a folder that has none (its
first run; a backtest folder moves up too). A live start needs the stage
``live-small`` or ``live``, which only ``bastion promote`` records; a
live-small bot trades at most ``[promotion] live_small_scale`` of every
intent (never more than ``[exchange] size_scale``). Every start journals
``run_stage`` (stage, mode, size): the evidence a later promotion reads.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.config import BotConfig
from bastion.engine.errors import LiveError
from bastion.promotion.evidence import RUN_STAGE_KIND
from bastion.state.stage import STAGE_KIND, Stage, StageStore

Sink = Callable[[str, int, dict[str, Any]], None]


def stage_at_start(config: BotConfig, folder: Path, sink: Sink, now: int) -> Decimal:
    """The size scale this run trades at; ``LiveError`` when the stage forbids the mode."""
    mode = config.exchange.mode
    with StageStore(folder) as store:
        row = store.load()
        stage = row.stage if row is not None else None
        if mode == "live" and (stage is None or not stage.trades_live):
            now_at = "not recorded (no paper run)" if stage is None else stage.value
            raise LiveError(
                f"{folder}: live mode refused: the bot's stage is {now_at}; a bot trades live "
                f"only once promoted: run it in paper mode, then `bastion promote {folder} "
                "--to live-small` (it checks the journal's evidence)"
            )
        if mode == "paper" and stage in (None, Stage.BACKTEST):
            store.set(Stage.PAPER, ts=now, reason="first paper start", by="bastion run")
            first = {"stage": Stage.PAPER.value, "previous": stage, "reason": "first paper start"}
            sink(STAGE_KIND, now, first | {"by": "bastion run"})
            stage = Stage.PAPER
    scale = config.exchange.size_scale
    if mode == "live" and stage is Stage.LIVE_SMALL:
        scale = min(scale, config.promotion.live_small_scale)
    assert stage is not None
    sink(RUN_STAGE_KIND, now, {"stage": stage.value, "mode": mode, "size_scale": str(scale)})
    return scale


def record_stage(folder: Path, stage: Stage, *, reason: str, by: str, now: int) -> None:
    """Set the folder's stage outright, journaled, for a folder whose venue is
    no exchange (the demo's emulator, a test's): never the way a real bot is
    promoted (``bastion promote`` checks the evidence)."""
    from bastion.observe.journal import Journal

    with StageStore(folder) as store:
        previous = store.set(stage, ts=now, reason=reason, by=by)
    with Journal(folder / "journal.sqlite") as journal:
        journal.append(
            STAGE_KIND,
            now,
            {"stage": stage.value, "previous": previous, "by": by, "reason": reason},
        )
