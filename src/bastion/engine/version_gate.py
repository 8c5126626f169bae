"""The version gate: a live bot refuses, at start, a strategy version that has
not earned its place in shadow.

For every trading strategy of a ``mode = "live"`` bot: a version that already
traded live money on this bot passes; so does every version of a bot that never
traded live (its first live start is the promotion ladder's question, not a
change's). Any other version needs ``[shadow] min_hours`` of shadow on this
bot since the last halt or critical alert (``bastion.observe.shadow``).
``--force-reason TEXT`` lets a refused version trade anyway: the override is
journaled with the reason and the operator, and alerts. Each verdict is
journaled (``version_gate``) before the session opens, so the journal shows
why the bot was allowed to trade what it traded.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bastion.config import BotConfig
from bastion.engine.errors import LiveError
from bastion.observe.journal import Journal
from bastion.observe.shadow import evidence
from bastion.strategy import Strategy

KIND = "version_gate"


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def verdicts(
    config: BotConfig, folder: Path, live: Sequence[Strategy[Any, Any]]
) -> list[dict[str, Any]]:
    """One verdict per trading strategy: ``allowed`` with why, or ``refused``."""
    out = []
    required = config.shadow.min_hours
    for s in live:
        ev = evidence(folder, s.ref.id, s.ref.version)
        v: dict[str, Any] = {"strategy": str(s.ref), "shadow_hours": round(ev.hours, 3),
                             "required_hours": required}  # fmt: skip
        if not config.shadow.gate:
            v |= {"verdict": "allowed", "why": "[shadow] gate = false"}
        elif ev.traded_live:
            v |= {"verdict": "allowed", "why": "this version traded live on this bot before"}
        elif not ev.bot_traded_live:
            v |= {"verdict": "allowed", "why": "the bot's first live start"}
        elif ev.hours >= required:
            v |= {"verdict": "allowed", "why": f"{ev.hours:.1f} h in shadow"}
        else:
            why = f"{ev.hours:.1f} h in shadow of the {required:g} h required ([shadow] min_hours)"
            if ev.disqualified is not None:
                why += f", counted since the last {ev.disqualified[1]}"
            v |= {"verdict": "refused", "why": why}
        out.append(v)
    return out


def check(
    config: BotConfig,
    folder: Path,
    live: Sequence[Strategy[Any, Any]],
    *,
    force_reason: str | None,
    now: int,
) -> list[dict[str, Any]]:
    """Journal the verdicts; raise ``LiveError`` naming the first refused version
    unless ``force_reason`` overrides it (journaled, with an alert)."""
    if config.exchange.mode != "live":
        return []
    found = verdicts(config, folder, live)
    refused = [v for v in found if v["verdict"] == "refused"]
    reason = (force_reason or "").strip()
    with Journal(folder / "journal.sqlite") as journal:
        for v in found:
            if v["verdict"] == "refused" and reason:
                v |= {"verdict": "overridden", "force_reason": reason, "by": _operator(),
                      "alert": True}  # fmt: skip
            elif v["verdict"] == "refused":
                v |= {"alert": True}
            journal.append(KIND, now, v)
    if refused and not reason:
        first = refused[0]
        raise LiveError(
            f"strategy {first['strategy']} may not trade live yet: {first['why']}; run it "
            'with mode = "shadow" first, or start with --force-reason TEXT to override'
        )
    return found
