"""What a live run reports: the summary at the end, the status line, and the
last clean-up step (``finish``: the fills still due, the account as it ends,
``run_end`` journaled, the session and the venue closed)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from bastion.clock import wall_ms
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.feedset import FeedSet
from bastion.engine.session import Session
from bastion.model import AccountSnapshot
from bastion.venues.errors import VenueError
from bastion.venues.port import Venue


@dataclass(slots=True)
class LiveSummary:
    mode: str
    cycles: int = 0
    orders: int = 0
    fills: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    alerts: int = 0
    positions: dict[str, str] = field(default_factory=dict)
    equity_start: Decimal | None = None
    equity_end: Decimal | None = None
    halt_state: str = "ACTIVE"
    data_dir: str = ""
    feed_rebuilds: int = 0


@dataclass(slots=True)
class RunStart:
    """What this run started from: the counts the folder already held (a
    restarted bot reloads every earlier order and fill; a summary counts this
    run's own), when it started, and the last traded price per symbol."""

    orders: int
    fills: int
    ts: int
    last_price: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, session: Session) -> RunStart:
        bot = session.bot
        return cls(orders=bot.orders.submitted, fills=bot.orders.fills_applied, ts=wall_ms())

    def counts(self, session: Session) -> tuple[int, int]:
        bot = session.bot
        return bot.orders.submitted - self.orders, bot.orders.fills_applied - self.fills


def equity_of(
    session: Session, run: RunStart, acct: AccountSnapshot | None = None
) -> Decimal | None:
    """The whole account (``acct``, else read now), every holding marked at its
    last price (the bar's, else the last trade's); None when a holding has no
    price yet: counting it at zero would show a gain or loss that never was."""
    acct = acct or session.bot.venue.fetch_account()
    marks = {s: Decimal(str(p)) for s, p in run.last_price.items()}
    marks.update(session.bot.gate.view.marks())
    return acct.marked_equity(marks)


def positions_of(acct: AccountSnapshot | None, symbols: Sequence[str]) -> dict[str, str]:
    """The bot's reconciled position per symbol (and the account's holding when a
    baseline sets part of it aside), or "unknown" without a reconciled account."""
    out: dict[str, str] = {}
    for sym in symbols:
        if acct is None:
            out[sym] = "unknown"
        elif acct.floor(sym):
            out[sym] = f"{acct.position(sym)} of {acct.holding(sym)}"
        else:
            out[sym] = str(acct.position(sym))
    return out


def status_line(
    session: Session,
    feed: CcxtTradeFeed | FeedSet,
    run: RunStart,
    wants: dict[str, int] | None = None,
) -> str:
    bot = session.bot
    view = bot.gate.view
    parts = [time.strftime("%H:%M:%S", time.gmtime()), f"cycle {bot.cycle}"]
    positions = positions_of(bot.reconciler.last, list(view))  # the newest reconciled account
    for sym in view:
        sv = view[sym]
        need = (wants or {}).get(sym, 0)
        warming = f" warming up {sv.bars}/{need}" if sv.bars < need else ""
        stale = " STALE" if sv.stale else ""
        parts.append(f"{sym} {sv.close:,.2f} pos {positions[sym]}{stale}{warming}")
    n_orders, n_fills = run.counts(session)
    rejected = sum(v for k, v in bot.decisions.items() if k != "APPROVED")
    parts += [
        f"orders {n_orders} fills {n_fills} refused {rejected}",
        f"latch {bot.risk.latch.state.value}",
        f"feed {'rebuilt x' + str(feed.rebuilds) if feed.rebuilds else 'ok'}"
        + (f", {feed.status()}" if isinstance(feed, FeedSet) and feed.status() != "ok" else ""),
    ]
    return " | ".join(parts)


def drain(session: Session) -> None:
    """Apply what the venue told us since the last cycle (the fill of an order
    sent in the last cycle before shutdown), and fetch the fills of orders
    reported filled whose fills have not come: they belong to this run."""
    bot, now = session.bot, wall_ms()
    events = bot.venue.drain_events()
    if events:
        bot.orders.on_events(events, now)
    if bot.orders.settling:
        since = min(mo.created_ts for mo in bot.orders.settling.values())
        bot.orders.catch_up_fills(since, now)


def finish(session: Session, venue: Venue, summary: LiveSummary, run: RunStart) -> None:
    bot = session.bot
    with contextlib.suppress(VenueError):
        drain(session)
    try:
        summary.equity_end = equity_of(session, run)
        acct = bot.venue.fetch_account().with_baseline(bot.reconciler.floors())
        summary.positions = positions_of(acct, list(bot.gate.view))
    except Exception as exc:  # the venue may be the reason we are stopping
        summary.positions = positions_of(bot.reconciler.last, list(bot.gate.view))
        summary.positions["error"] = f"{type(exc).__name__}: {exc}"
    summary.cycles = bot.cycle
    summary.orders, summary.fills = run.counts(session)
    summary.rejected = {k: v for k, v in bot.decisions.items() if k != "APPROVED"}
    summary.halt_state = bot.risk.latch.state.value
    summary.alerts = sum(1 for _ in run_alerts(session, run.ts))
    session.journal.append(
        "run_end",
        wall_ms(),
        {"cycles": summary.cycles, "orders": summary.orders, "fills": summary.fills},
    )
    session.close()
    close = getattr(venue, "close", None)
    if close is not None:
        close()


def run_alerts(session: Session, since_ts: int) -> list[str]:
    """This run's alerts."""
    from bastion.observe.journal import read_events

    session.journal.flush()
    events = read_events(session.journal.path, since_ts=since_ts)
    return [e["kind"] for e in events if e.get("alert")]
