"""The live loop: the backtest's cycle, driven by the wall clock from asyncio.

Structure (every task belongs to one scope; nothing outlives ``run_bot``):

- the trade feed (ccxt.pro) folds trades into bars and, in paper mode, into
  the simulated venue's matching;
- a clock ticker closes bars on time even when the market is quiet;
- the feed hands each closed bar straight to the cycle thread, which runs one
  decision per interval (``bastion.engine.cycle_thread``, the step in
  ``bastion.engine.live_cycle``): the cycle is synchronous and calls the
  venue, which has its own event loop, so feeds keep flowing while exchange
  calls wait, and no bar waits for the loop or a thread pool on its way in;
- start-up waits out transient exchange failures until a deadline and
  refuses a data folder another bot holds (``bastion.engine.service``);
- on the way out (duration reached, Ctrl-C, SIGTERM) the cycle under way
  finishes, then clean-up is shielded and bounded: working orders are
  cancelled, left or flattened (``[service] on_exit``), feeds stop, ``run_end``
  is journaled, the journal and state store are closed, the venue disconnects.
  Stopping the bot is not a kill; ``bastion kill`` is.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.data.bar_builder import BarBuilder
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.feedset import FeedSet
from bastion.engine import version_gate, warmup
from bastion.engine.cycle_thread import CycleThread
from bastion.engine.errors import LiveError
from bastion.engine.health import after_cycle
from bastion.engine.live_cycle import LiveCycle
from bastion.engine.live_start import (
    book_feed,
    build_strategies,
    recorder_for,
    start_session,
    warm_up,
)
from bastion.engine.live_summary import LiveSummary, RunStart, equity_of, finish, status_line
from bastion.engine.memory import Collector
from bastion.engine.observers import ObserveError, start_observers
from bastion.engine.service import (
    StartupClock,
    Stopper,
    on_exit,
    stale_after_ms,
)
from bastion.engine.session import Session
from bastion.engine.shadow import split_modes
from bastion.model import Bar, BookTop, Trade
from bastion.model.timeframe import parse_interval
from bastion.state.folder import FolderInUse, FolderLock
from bastion.strategy import Strategy
from bastion.venues.ccxt import CcxtVenue
from bastion.venues.errors import VenueError
from bastion.venues.port import Venue

Status = Callable[[str], None]
Retry = Callable[[Callable[[], Any], str], Any]
__all__ = ["LiveError", "LiveSummary", "build_strategies", "run_bot"]


async def run_bot(
    config: BotConfig,
    *,
    duration_s: float | None = None,
    status: Status = print,
    status_every_s: float = 10.0,
    data_dir: Path | None = None,
    force_reason: str | None = None,
) -> LiveSummary:
    """Run the bot until ``duration_s`` passes (or forever), SIGTERM or Ctrl-C.

    ``force_reason`` lets a version the version gate refuses trade anyway."""
    strategies = build_strategies(config)
    trading, _ = split_modes(config, strategies)  # a bad [flags] table ends it here
    folder = data_dir or Path(config.data_dir)
    lock = FolderLock(folder)
    try:
        lock.acquire()
    except FolderInUse as exc:
        raise LiveError(str(exc)) from None
    stopper = Stopper()
    stopper.install()
    observers = None
    try:
        observers = start_observers(config, folder)  # own threads; they read the journal
        version_gate.check(config, folder, trading, force_reason=force_reason, now=wall_ms())
        return await _run_locked(
            config, strategies, folder, duration_s, status, status_every_s, stopper
        )
    except ObserveError as exc:
        raise LiveError(str(exc)) from None
    finally:
        if observers is not None:
            await asyncio.to_thread(observers.stop)  # after run_end: "bot stopped" pages
        stopper.uninstall()
        lock.release()


async def _run_locked(
    config: BotConfig,
    strategies: list[Strategy[Any, Any]],
    folder: Path,
    duration_s: float | None,
    status: Status,
    status_every_s: float,
    stopper: Stopper,
) -> LiveSummary:
    symbols = sorted({s for st in strategies for s in st.symbols})
    interval = parse_interval(config.exchange.bar_interval)
    startup = StartupClock(config.service)
    session, venue, sim = await start_session(config, strategies, folder, status, stopper, startup)
    journal = session.journal
    run = RunStart.of(session)
    set_sink = getattr(venue, "set_sink", None)
    if set_sink is not None:
        set_sink(journal)  # stream errors and schema drift from now on reach the journal
    summary = LiveSummary(mode=config.exchange.mode, data_dir=str(folder))
    corrected: deque[Bar] = deque()  # amended bars, applied at the next cycle
    builders = {
        s: BarBuilder(s, interval, journal, on_correction=lambda _b, a: corrected.append(a))
        for s in symbols
    }
    recorder = recorder_for(config, folder, journal)
    collector = Collector()  # full collections between cycles (engine.memory)
    wants = warmup.needed(strategies, symbols)
    await warm_up(config, session, wants, status, data_dir=folder, recorder=recorder)
    loop = asyncio.get_running_loop()
    books = book_feed(config, symbols, journal)
    tasks_seen = [0]  # the loop's asyncio tasks, counted on the loop (the soak watches them)
    last_status = [0.0]
    feed: CcxtTradeFeed | FeedSet

    def tops() -> dict[str, BookTop]:  # on the loop's thread, where the books live
        async def read() -> dict[str, BookTop]:
            assert books is not None
            return {s: books.top(s, wall_ms()) for s in symbols}

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=10)

    def sample(taken: float, sent: int) -> None:
        after_cycle(session, taken, sent, builders, feed, tasks_seen[0], collector)

    def after() -> None:
        if summary.equity_start is None and session.bot.reconciler.last is not None:
            summary.equity_start = equity_of(session, run, session.bot.reconciler.last)
        if time.monotonic() - last_status[0] >= status_every_s:
            last_status[0] = time.monotonic()
            status(status_line(session, feed, run, wants))

    step = LiveCycle(
        session, stale_after_ms(config), corrected, recorder,
        tops=tops if books is not None else None, sample=sample, after=after,
    )  # fmt: skip
    worker = CycleThread(step, len(symbols), idle=step)  # idle: catches up with the account
    if isinstance(venue, CcxtVenue):
        venue.on_change = worker.nudge

    def on_trade(t: Trade) -> None:
        run.last_price[t.symbol] = t.price
        if recorder is not None:
            recorder.trade(t.symbol, t.trade_id, t.ts, wall_ms(), t.price, t.qty, t.buyer_is_maker)
        if sim is not None:
            sim.on_trade(t.symbol, t.ts, t.price, t.qty)  # paper: match on the live tape
        for bar in builders[t.symbol].on_trade(t.trade_id, t.ts, t.price, t.qty):
            worker.put(bar)

    if config.feeds.enabled:  # primary and fallback feeds per symbol, with failover
        tape = None if sim is None else (lambda t: sim.on_trade(t.symbol, t.ts, t.price, t.qty))
        feed = FeedSet(
            config.exchange, config.feeds, symbols, interval, worker.put, journal, on_tape=tape,
        )  # fmt: skip
    else:
        feed = CcxtTradeFeed(
            config.exchange.id,
            symbols,
            on_trade,
            journal,
            base_url=config.exchange.base_url,
            ws_url=config.exchange.ws_url,
            sandbox=config.exchange.sandbox,
            stale_s=config.exchange.feed_stale_s,
            clock=wall_ms,
        )

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.1)
            tasks_seen[0] = len(asyncio.all_tasks())
            now = wall_ms()
            if isinstance(feed, FeedSet):
                feed.on_clock(now)
                continue
            for b in builders.values():
                for bar in b.on_clock(now):
                    worker.put(bar)

    tasks = [
        asyncio.create_task(feed.run(), name="feed"),
        asyncio.create_task(ticker(), name="clock"),
    ]
    if books is not None:
        tasks.append(asyncio.create_task(books.run(), name="book"))
    try:
        async with asyncio.timeout(duration_s):
            wait_s = max(startup.left(), 30.0)
            if not await _first_of(feed.ready, stopper, wait_s):
                if stopper.stopping:
                    return summary  # stopped before the first bar: the way out below
                raise LiveError(f"no market data within {wait_s:.0f} s: is the exchange reachable?")
            status(
                f"bastion {summary.mode}: {', '.join(symbols)} on {config.exchange.id}, "
                f"bars {config.exchange.bar_interval}"
            )
            with contextlib.suppress(VenueError):  # a ban at start is not a reason to stop
                summary.equity_start = await asyncio.to_thread(equity_of, session, run)
            collector.freeze()  # start-up is done: what it built is never garbage
            worker.start()  # from here on the cycle thread alone holds the session
            await _until_stopped(worker, stopper)
    except TimeoutError:
        pass  # the requested duration is over
    finally:
        collector.thaw()  # the freeze is this run's
        worker.stop()  # the cycle under way finishes before anything is cleaned up
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.to_thread(worker.join, config.service.shutdown_timeout_s))
        await _stopped(session, venue, summary, config, stopper, tasks, feed, run)
        if recorder is not None:  # after the feeds stopped: nothing appends any more
            with contextlib.suppress(Exception):
                async with asyncio.timeout(30):
                    await asyncio.shield(asyncio.to_thread(recorder.close))
    return summary


async def _until_stopped(worker: CycleThread, stopper: Stopper) -> None:
    """Until a stop is asked for, or the cycle thread ended (raising what ended it)."""
    ended = asyncio.ensure_future(worker.wait())
    stop = asyncio.ensure_future(stopper.event.wait())
    try:
        await asyncio.wait((ended, stop), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not ended.done():
            ended.cancel()
    if ended.done() and not ended.cancelled():
        ended.result()


async def _first_of(ready: asyncio.Event, stopper: Stopper, timeout_s: float) -> bool:
    """Wait for ``ready``; False if the stop came first or the time ran out."""
    waits = [asyncio.ensure_future(ready.wait()), asyncio.ensure_future(stopper.event.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
    return ready.is_set() and not stopper.stopping


async def _stopped(
    session: Session,
    venue: Venue,
    summary: LiveSummary,
    config: BotConfig,
    stopper: Stopper,
    tasks: list[asyncio.Task[Any]],
    feed: CcxtTradeFeed | FeedSet,
    run: RunStart,
) -> LiveSummary:
    """The bounded, shielded way out: feeds stop, working orders get
    ``on_exit``, ``run_end`` is journaled, everything closes."""
    for t in tasks:
        t.cancel()
    with contextlib.suppress(BaseException):
        async with asyncio.timeout(10):
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
    summary.feed_rebuilds = feed.rebuilds
    policy = config.service.on_exit
    with contextlib.suppress(Exception):
        async with asyncio.timeout(config.service.shutdown_timeout_s):
            await asyncio.shield(
                asyncio.to_thread(_exit_orders, session, policy, stopper.signal or "end")
            )
    with contextlib.suppress(Exception):
        async with asyncio.timeout(15):
            await asyncio.shield(asyncio.to_thread(finish, session, venue, summary, run))
    return summary


def _exit_orders(session: Session, policy: str, why: str) -> None:
    """``[service] on_exit`` for the working orders, journaled before ``run_end``."""
    now = wall_ms()
    try:
        done = on_exit(session, policy, now)
    except VenueError as exc:
        done = {"on_exit": policy, "error": f"{type(exc).__name__}: {exc}"[:300], "alert": True}
    session.journal.append("shutdown", now, {"why": why, **done})
    session.journal.flush()
