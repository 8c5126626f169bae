"""``promote``: move a bot one rung up the ladder when its journal holds the evidence.

The shell around ``evidence.assess``: it reads the folder's stage and
journal, and on success records the new stage (``StageStore``) and journals
``stage_changed`` with the evidence. A refusal changes nothing. An operator
may override a refusal with a reason: the override is recorded, journaled
with the missing evidence and alerted, never silent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.config import BotConfig
from bastion.observe.journal import Journal, read_events
from bastion.promotion.evidence import FROM, KINDS, Evidence, Rules, assess
from bastion.state.folder import require_bot_folder
from bastion.state.stage import STAGE_KIND, Stage, StageStore, read_stage

JOURNAL_FILE = "journal.sqlite"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    evidence: Evidence
    promoted: bool
    forced: str = ""


def rules_for(target: Stage, config: BotConfig, max_gap_ms: int) -> Rules:
    """``[promotion]`` for a move to ``target``; ``max_gap_ms`` when the table sets none."""
    p = config.promotion
    gap = int(p.max_gap_s * 1000) if p.max_gap_s is not None else max_gap_ms
    if target is Stage.LIVE_SMALL:
        return Rules(days=p.paper_days, max_gap_ms=gap)
    return Rules(
        days=p.live_small_days,
        max_gap_ms=gap,
        adverse_move=p.adverse_move,
        adverse_loss=p.adverse_loss,
    )


def check(folder: Path, target: Stage, rules: Rules) -> Evidence:
    """What the folder's journal proves for ``target`` (reads only)."""
    require_bot_folder(folder)
    if target not in FROM:
        raise ValueError(f"--to {target.value}: promote moves a bot to live-small or live")
    stage = read_stage(folder)
    events = read_events(folder / JOURNAL_FILE, kinds=KINDS)
    return assess(events, target, rules, stage)


def promote(
    folder: Path, target: Stage, rules: Rules, *, now: int, by: str, force_reason: str = ""
) -> Outcome:
    """Record ``target`` when the evidence holds (or ``force_reason`` overrides it)."""
    evidence = check(folder, target, rules)
    if not evidence.ok and not force_reason:
        return Outcome(evidence=evidence, promoted=False)
    summary = evidence.summary()
    reason = f"forced: {force_reason}" if not evidence.ok else "evidence holds"
    with StageStore(folder) as store:
        previous = store.set(target, ts=now, reason=reason, by=by, evidence=json.dumps(summary))
    payload: dict[str, Any] = {
        "stage": target.value,
        "previous": None if previous is None else previous.value,
        "by": by,
        "reason": reason,
        "evidence": summary,
    }
    if not evidence.ok:
        payload |= {"forced": force_reason, "alert": True}
    with Journal(folder / JOURNAL_FILE) as journal:
        journal.append(STAGE_KIND, now, payload)
    return Outcome(evidence=evidence, promoted=True, forced=force_reason if not evidence.ok else "")
