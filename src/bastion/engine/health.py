"""The live loop's health sample: one compact ``cycle_stats`` journal event per
cycle, so that the dashboard, the metrics and the alerts can show what the
bot does not otherwise journal (cycle time, tick to order, venue latency and
errors, rate-limit weight, feed ages, marks, the account's equity and
positions as last read). Built after the cycle's orders are sent: the sample
never sits between a tick and its order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from bastion.clock import wall_ms
from bastion.engine.memory import Collector
from bastion.engine.session import Session


def cycle_stats(
    session: Session,
    *,
    now: int,
    cycle_ms: float,
    tick_to_order_ms: float | None,
    feeds: Mapping[str, int | None],
    rebuilds: int,
    tasks: int | None = None,
    collector: Collector | None = None,
) -> dict[str, Any]:
    bot = session.bot
    marks = bot.gate.view.marks()
    acct, read_at = bot.reconciler.last_read
    out: dict[str, Any] = {
        "cycle": bot.cycle,
        "cycle_ms": round(cycle_ms, 3),
        "marks": {s: str(m) for s, m in marks.items()},
        "feeds": dict(feeds),
        "rebuilds": rebuilds,
        # What a months-long run must not accumulate (bench/soak.py watches them).
        "proc": {"threads": threading.active_count()}
        | ({"tasks": tasks} if tasks is not None else {})
        | ({"gc": collector.sample()} if collector is not None else {}),
    }
    if tick_to_order_ms is not None:
        out["tick_to_order_ms"] = round(tick_to_order_ms, 3)
    if acct is not None:
        out["equity"] = str(acct.equity(marks))
        out["account"] = {s: str(p.qty) for s, p in acct.positions.items() if p.qty}  # bot's
        # the whole account, baseline included: what the exchange shows
        out["holdings"] = {s: str(p.qty) for s, p in acct.account_positions.items() if p.qty}
        out["reconciled_ts"] = read_at
    calls = getattr(bot.venue, "calls", None)
    if calls is not None:
        out["venue"] = calls.drain()
    return out


def journal_cycle_stats(session: Session, **kwargs: Any) -> None:
    session.journal.append("cycle_stats", kwargs["now"], cycle_stats(session, **kwargs))
    session.journal.flush()


def after_cycle(
    session: Session,
    started: float,
    orders_before: int,
    builders: Mapping[str, Any],
    feed: Any,
    tasks: int | None = None,
    collector: Collector | None = None,
) -> None:
    """The live loop's sample: ``started`` is when the cycle's first bar was taken
    (``perf_counter``), so the figure is bar-in to cycle-done; it counts as tick
    to order when the cycle sent an order. ``tasks``: the live loop's asyncio
    tasks, counted on the loop (this runs on the cycle thread). ``collector``:
    its collection, if one is due, runs after the sample is on disk."""
    took_ms = (time.perf_counter() - started) * 1000
    sent = session.bot.orders.submitted > orders_before
    journal_cycle_stats(
        session, now=wall_ms(), cycle_ms=took_ms, tick_to_order_ms=took_ms if sent else None,
        feeds={s: b.last_trade_ts or None for s, b in builders.items()},
        rebuilds=getattr(feed, "rebuilds", 0), tasks=tasks, collector=collector,
    )  # fmt: skip
    if collector is not None:
        collector.after_cycle()
