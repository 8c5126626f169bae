"""A bot process for crash tests: ``python crashbot.py DIR CRASH_AT BARS [NTH [moves]]``.

It trades one symbol on a durable simulated venue (state kept in DIR, so the
"exchange" outlives this process) with a target strategy that wants 1 unit
from bar 5 on (``moves``: 1, then 0, then 1 ... every two bars, so that
there are many orders and fills). ``CRASH_AT`` names the step at which the
process SIGKILLs itself the ``NTH`` time (default 1) it gets there, once per
folder: ``before_persist``, ``after_persist`` (the order stored, not yet
journaled), ``after_send``, ``after_ack``, ``after_store_fill`` (a fill stored,
not yet journaled), ``after_store_update`` (an order's new state stored, not
yet journaled) or ``none``. The hooks are wrappers around the store, the venue
and the journal, so the code under test is the production code, unmodified.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from bastion.config import BotConfig
from bastion.engine.session import open_session
from bastion.execution.policy import ExecutionPolicy
from bastion.model import AccountSnapshot, Instrument, Intent, TargetPosition
from bastion.model.view import MarketView
from bastion.strategy import Strategy
from bastion.venues.sim import SimVenue
from bastion.venues.sim.durable import DurableSimVenue

SYMBOL = "SYN/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000


@dataclass(frozen=True)
class Params:
    qty: Decimal = Decimal(1)
    start_bar: int = 5


class WantOne(Strategy[Params, int]):
    name = "want_one"
    Params = Params

    def initial_memory(self) -> int:
        return 0

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: int
    ) -> tuple[Sequence[Intent], int]:
        seen = memory + 1
        if view[SYMBOL].bars and seen >= self.params.start_bar:
            return [TargetPosition(symbol=SYMBOL, qty=self.params.qty)], seen
        return [], seen


class Moves(WantOne):
    name = "moves"

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: int
    ) -> tuple[Sequence[Intent], int]:
        seen = memory + 1
        if view[SYMBOL].bars and seen >= self.params.start_bar:
            want = self.params.qty if (seen // 2) % 2 else Decimal(0)
            return [TargetPosition(symbol=SYMBOL, qty=want)], seen
        return [], seen


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    folder, crash_at, bars = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    nth = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    kind = sys.argv[5] if len(sys.argv) > 5 else "want_one"
    marker = folder / f"crashed-{crash_at}"
    armed = crash_at != "none" and not marker.exists()
    reached = 0

    def arm() -> None:
        nonlocal reached
        reached += 1
        if reached < nth:
            return
        marker.write_text("1")
        die()

    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, bars)))
    venue = DurableSimVenue(
        folder / "venue.pkl",
        factory=SimVenue([Instrument.spot(SYMBOL)], {"USDT": Decimal(100_000)}),
    )

    class Hooked:
        """Venue wrapper: dies right after the venue accepted the order."""

        def __getattr__(self, name: str) -> Any:
            return getattr(venue, name)

        def submit(self, request: Any) -> Any:
            report = venue.submit(request)
            if armed and crash_at == "after_send":
                arm()
            return report

    hooked = Hooked()
    start = int((folder / "bar").read_text()) if (folder / "bar").exists() else 0
    now = T0 + start * MINUTE
    strategy = (Moves if kind == "moves" else WantOne)(Params(), [SYMBOL], kind)
    session = open_session(
        data_dir=folder,
        venue=hooked,  # type: ignore[arg-type]
        strategies=[strategy],
        config=BotConfig(),
        intervals={SYMBOL: MINUTE},
        now=now,
        policy=ExecutionPolicy(unknown_grace_ms=0, unknown_checks=1, resend_if_younger_ms=0),
    )
    store, journal = session.store, session.journal
    real_save, real_append = store.save_order, journal.append
    real_fill, real_update = store.record_fill, store.update_order

    def record_fill(fill: Any) -> bool:
        new = real_fill(fill)
        if armed and crash_at == "after_store_fill" and new:
            arm()
        return new

    def update_order(client_id: str, **fields: Any) -> None:
        real_update(client_id, **fields)
        if armed and crash_at == "after_store_update":
            arm()

    def save_order(request: Any, status: Any, ts: int) -> None:
        if armed and crash_at == "before_persist":
            arm()
        real_save(request, status, ts)
        if armed and crash_at == "after_persist":
            arm()

    def append(kind: str, ts: int, payload: dict[str, Any]) -> None:
        real_append(kind, ts, payload)
        if armed and crash_at == "after_ack" and kind == "order_open":
            journal.flush()
            arm()

    store.save_order = save_order  # type: ignore[method-assign]
    store.record_fill = record_fill  # type: ignore[method-assign]
    store.update_order = update_order  # type: ignore[method-assign]
    session.bot.orders._store = store
    session.bot.orders._sink = append
    session.bot.journal = append
    for i in range(start, bars):
        t = T0 + i * MINUTE
        c = float(close[i])
        venue.on_bar(SYMBOL, t, c, c * 1.001, c * 0.999, c, 1000.0)
        session.bot.gate.on_bar(SYMBOL, t, c, c * 1.001, c * 0.999, c, 1000.0)
        session.cycle(t + MINUTE)
        (folder / "bar").write_text(str(i + 1))
    session.close()
    acct = venue.fetch_account()
    print(f"position={acct.position(SYMBOL)} orders_received={venue.sim.orders_received}")


if __name__ == "__main__":
    main()
