"""The last word before an order leaves the bot: the kill flag and the halt latch.

The cycle reads both at its start, but a cycle takes time, and a bot can hang
inside it (a SIGSTOP, a laptop lid, a slow exchange call) while a kill runs
and reports FLAT. Found: a bot woken after such a kill placed a new buy, and a
killed bot re-sent an order whose outcome had been unknown. So the order
manager asks ``SendCheck`` immediately before every send, retries and
re-sends included; an order it refuses is withheld for good, with the reason.

Cheap by construction, because it runs on the order path (``bench/order_path.py``):
a ``stat`` of the ``KILLED`` file, SQLite's ``data_version`` of the latch file
(an in-memory counter that moves only when another process committed, e.g.
``bastion halt``; the row is read only then), and the latch in memory.

- The flag refuses everything: the kill switch is flattening the account, and
  a closing order of the bot's own would race its closes.
- A latch other than ACTIVE refuses what does not reduce exposure (a risk
  flatten's closing orders pass, as the latch promises).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bastion.engine.latch import sync_latch
from bastion.model import OrderRequest
from bastion.risk import HaltLatch, HaltState
from bastion.state.killflag import flag_path
from bastion.state.store import StateStore

KillCheck = Callable[[int], bool]  # halt when killed (``session.halt_if_killed``); True if so


class SendCheck:
    """``SendGuard`` for a session: None lets an order go, a text withholds it."""

    def __init__(
        self,
        latch: HaltLatch,
        state: StateStore,
        data_dir: Path,
        on_flag: KillCheck,
    ) -> None:
        self._latch = latch
        self._state = state
        self._flag = str(flag_path(data_dir))
        self._on_flag = on_flag
        self.withheld = 0

    def __call__(self, request: OrderRequest, now: int) -> str | None:
        latch = self._latch
        if os.path.exists(self._flag) and (latch.state is HaltState.HALTED or self._on_flag(now)):
            return self._refuse(f"KILLED flag: {latch.reason}")
        sync_latch(latch, self._state)  # a halt another process stored meanwhile
        if latch.state is HaltState.ACTIVE or request.reduces_exposure:
            return None
        return self._refuse(f"halt latch {latch.state.value}: {latch.reason}")

    def _refuse(self, why: str) -> str:
        self.withheld += 1
        return why
