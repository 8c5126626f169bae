"""The persistent halt latch: risk's state machine, the state store's row.

A halt (by the bot's own risk rules, by ``bastion halt`` from a shell, by the
kill switch) is written to the state store before ``HaltLatch.set`` returns,
and journaled; a running bot adopts a change another process made once per
cycle; a restarted bot starts from what was left (HALTED stays HALTED).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bastion.observe.journal import Journal
from bastion.risk.latch import HaltLatch, HaltState
from bastion.risk.report import LATCH_KIND
from bastion.state.store import StateStore

Sink = Callable[[str, int, dict[str, Any]], None]


def open_latch(state_dir: str | Path, sink: Sink | None = None) -> tuple[HaltLatch, StateStore]:
    """The bot's latch as it was left (HALTED stays HALTED across a restart),
    subscribed so that every change is saved, and journaled to ``sink``,
    before ``HaltLatch.set`` returns. Close the store on shutdown."""
    store = StateStore(state_dir)
    latch = HaltLatch.restore(store.load_latch())

    def persist(changed: HaltLatch, previous: HaltState) -> None:
        store.save_latch(changed, previous=previous.value)
        if sink is not None:
            sink(LATCH_KIND, changed.since_ts, latch_event(changed, previous.value))

    latch.subscribe(persist)
    return latch, store


def sync_latch(latch: HaltLatch, store: StateStore) -> bool:
    """Adopt a change another process (``bastion halt``) made; call once per
    cycle. Cheap when nothing changed. Returns True when the latch moved."""
    if not store.changed():
        return False
    row = store.load_latch()
    if row is None or (row.state, row.reason, row.since_ts) == (
        latch.state.value,
        latch.reason,
        latch.since_ts,
    ):
        return False
    latch.state, latch.reason = HaltState(row.state), row.reason
    latch.since_ts, latch.by = row.since_ts, row.by
    return True


def latch_event(latch: HaltLatch, previous: str | None) -> dict[str, Any]:
    return {
        "state": latch.state.value,
        "previous": previous,
        "reason": latch.reason,
        "by": latch.by,
    }


def change_latch(
    state_dir: Path, state: HaltState, reason: str, by: str, now: int, source: str = "cli"
) -> str:
    """Set the stored latch and journal it, as ``bastion halt``/``resume`` and the
    dashboard's buttons do; returns the state it left. The running bot adopts it
    at its next cycle (``sync_latch``)."""
    with StateStore(state_dir) as store:
        row = store.load_latch()
        previous = row.state if row is not None else HaltState.ACTIVE.value
        latch = HaltLatch(state=state, reason=reason, since_ts=now, by=by)
        store.save_latch(latch, previous=previous)
    with Journal(Path(state_dir) / "journal.sqlite") as journal:
        journal.append(LATCH_KIND, now, {**latch_event(latch, previous), "source": source})
    return previous
