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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.data.bar_builder import BarBuilder
from bastion.data.bookfeed import BookFeed
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.feedset import FeedSet
from bastion.data.recorder import Recorder
from bastion.data.store import default_root
from bastion.engine import version_gate, warmup
from bastion.engine.cycle_thread import CycleThread
from bastion.engine.errors import LiveError
from bastion.engine.health import after_cycle
from bastion.engine.live_cycle import LiveCycle
from bastion.engine.observers import ObserveError, start_observers
from bastion.engine.parts import protect_refusal
from bastion.engine.service import (
    StartupClock,
    Stopper,
    on_exit,
    retry_startup,
    stale_after_ms,
    turn_on_downtime_rule,
)
from bastion.engine.session import Session, open_session
from bastion.engine.shadow import split_modes
from bastion.engine.stage import stage_at_start
from bastion.model import AccountSnapshot, Bar, BookTop, Trade
from bastion.model.timeframe import parse_interval
from bastion.state.folder import FolderInUse, FolderLock
from bastion.strategy import Strategy, build_strategy
from bastion.venues.capabilities import capabilities
from bastion.venues.ccxt import CcxtVenue, Credentials
from bastion.venues.errors import SchemaDrift, VenueError
from bastion.venues.port import Venue
from bastion.venues.sim.paper import PaperVenue

Status = Callable[[str], None]
Retry = Callable[[Callable[[], Any], str], Any]
__all__ = ["LiveError", "LiveSummary", "run_bot"]


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


def build_strategies(config: BotConfig) -> list[Strategy[Any, Any]]:
    if not config.strategies:
        raise LiveError("the config has no [[strategies]]")
    refusal = protect_refusal(config)
    if refusal is not None:  # paper too: a paper run must be what live would be
        raise LiveError(refusal)
    return [build_strategy(s.name, s.symbols, s.params, s.id) for s in config.strategies]


def make_venue(
    config: BotConfig,
    symbols: Sequence[str],
    sink: Any,
    data_dir: Path,
    retry: Retry | None = None,
) -> tuple[Venue, PaperVenue | None]:
    """The live venue, or the paper book in ``data_dir`` matched on live data.

    The paper book is continued when the folder has one (``paper_balances``
    only opens a new book): a restarted paper bot finds its account as it left
    it, as a live bot finds its exchange account. ``retry(step, what)`` runs
    each connection attempt (start-up retries); live keys are checked here
    with one account read, not at the first order."""
    run: Retry = retry or (lambda step, _what: step())
    ex = config.exchange
    common = {
        "base_url": ex.base_url,
        "ws_url": ex.ws_url,
        "sandbox": ex.sandbox,
        "call_timeout_s": ex.call_timeout_s,
        "rate_limit": ex.rate_limit,
        "sink": sink,
        "snapshot_every_s": ex.refresh_s,
    }
    if ex.mode == "live":
        refusal = capabilities(ex.id).live_refusal
        if refusal is not None:  # an unknown outcome could never be resolved safely
            raise LiveError(f"live mode refused: {refusal} (paper mode works)")
        creds = Credentials.from_env(ex.key_env)
        if creds is None:
            raise LiveError(
                f"live mode needs {ex.key_env}_API_KEY and {ex.key_env}_API_SECRET "
                "in the environment"
            )

        def connect() -> CcxtVenue:
            venue = _started(CcxtVenue(ex.id, symbols, credentials=creds, **common))
            try:
                venue.fetch_account()  # refused keys end the start-up here, at once
            except SchemaDrift:
                pass  # journaled by the venue; new exposure stays blocked
            except BaseException:
                venue.close()
                raise
            return venue

        return run(connect, f"connecting to {ex.id}"), None

    # Paper: instruments (precision, minimums) from the exchange's public markets.
    def markets() -> list[Any]:
        public = _started(
            CcxtVenue(ex.id, symbols, credentials=None, private_stream=False, **common)
        )
        try:
            return list(public.instruments().values())
        finally:
            public.close()

    instruments = run(markets, f"loading {ex.id} markets")
    book, continued = PaperVenue.open(data_dir, instruments, ex.paper_balances)
    balances = {a: str(b.total) for a, b in book.fetch_account().balances.items() if b.total}
    sink(
        "paper_book",
        wall_ms(),
        {"path": str(book.path), "continued": continued, "balances": balances},
    )
    return book, book


def _started(venue: CcxtVenue) -> CcxtVenue:
    """``venue`` started, or closed (its thread stopped) if it could not start."""
    try:
        venue.start()
    except BaseException:
        venue.close()
        raise
    return venue


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


async def _start(
    config: BotConfig,
    strategies: list[Strategy[Any, Any]],
    folder: Path,
    status: Status,
    stopper: Stopper,
    startup: StartupClock,
) -> tuple[Session, Venue, PaperVenue | None]:
    """Connect, check the keys and recover, each step retried while the exchange
    fails transiently and the start-up deadline allows."""
    symbols = sorted({s for st in strategies for s in st.symbols})
    interval = parse_interval(config.exchange.bar_interval)
    early: list[tuple[str, int, dict[str, Any]]] = []

    def early_sink(kind: str, ts: int, payload: dict[str, Any]) -> None:
        early.append((kind, ts, payload))  # the journal does not exist yet

    size_scale = stage_at_start(config, folder, early_sink, wall_ms())  # live needs promotion

    def retry(step: Callable[[], Any], what: str) -> Any:
        key_env = config.exchange.key_env
        return retry_startup(
            step, what=what, key_env=key_env, clock=startup, status=status, stopper=stopper
        )

    venue, sim = await asyncio.to_thread(make_venue, config, symbols, early_sink, folder, retry)

    trading, shadows = split_modes(config, strategies)

    def session_now() -> Session:
        return open_session(
            data_dir=folder,
            venue=venue,
            strategies=trading,
            shadows=shadows,
            config=config,
            intervals=dict.fromkeys(symbols, interval),
            now=wall_ms(),
            refresh_ms=int(config.exchange.refresh_s * 1000),
            size_scale=size_scale,  # the stage's (bastion.engine.stage)
            clock=wall_ms,  # order_submitted carries the send time, not the cycle's start
        )

    try:
        session = await asyncio.to_thread(retry, session_now, "recovering open orders")
    except BaseException:
        close = getattr(venue, "close", None)
        if close is not None:
            await asyncio.to_thread(close)
        raise
    turn_on_downtime_rule(session, config)
    session.bot.gate.keep_prior = True  # a late trade may amend the newest bar
    for kind, ts, payload in early:
        session.journal.append(kind, ts, payload)
    return session, venue, sim


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
    session, venue, sim = await _start(config, strategies, folder, status, stopper, startup)
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
    recorder = _recorder(config, folder, journal)
    wants = warmup.needed(strategies, symbols)
    await _warm_up(config, session, wants, status, data_dir=folder, recorder=recorder)
    loop = asyncio.get_running_loop()
    books = _book_feed(config, symbols, journal)
    tasks_seen = [0]  # the loop's asyncio tasks, counted on the loop (the soak watches them)
    last_status = [0.0]
    feed: CcxtTradeFeed | FeedSet

    def tops() -> dict[str, BookTop]:  # on the loop's thread, where the books live
        async def read() -> dict[str, BookTop]:
            assert books is not None
            return {s: books.top(s, wall_ms()) for s in symbols}

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=10)

    def sample(taken: float, sent: int) -> None:
        after_cycle(session, taken, sent, builders, feed, tasks_seen[0])

    def after() -> None:
        if summary.equity_start is None and session.bot.reconciler.last is not None:
            summary.equity_start = _equity(session, run, session.bot.reconciler.last)
        if time.monotonic() - last_status[0] >= status_every_s:
            last_status[0] = time.monotonic()
            status(_status_line(session, feed, run, wants))

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
                summary.equity_start = await asyncio.to_thread(_equity, session, run)
            worker.start()  # from here on the cycle thread alone holds the session
            await _until_stopped(worker, stopper)
    except TimeoutError:
        pass  # the requested duration is over
    finally:
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
            await asyncio.shield(asyncio.to_thread(_finish, session, venue, summary, run))
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


def _recorder(config: BotConfig, folder: Path, journal: Any) -> Recorder | None:
    """What the bot consumes, to Parquet in its folder (off the cycle's path)."""
    if not config.data.record:
        return None

    def failed(message: str) -> None:
        journal.append("recording_failed", wall_ms(), {"error": message, "alert": True})

    rec = Recorder(folder, seq_start=wall_ms() * 1000, on_error=failed)
    # Arrow's default pool (mimalloc in the wheels) keeps what it frees; a bot
    # that writes a few small files every few seconds for months grew by it
    # (the soak's bot: 212 MB/h with it, 107 without; issue 17). A process-wide
    # choice, so it is the long-running shell's, not the recorder's; backtests
    # keep the faster pool.
    pa.set_memory_pool(pa.system_memory_pool())
    rec.start()
    return rec


async def _warm_up(
    config: BotConfig,
    session: Session,
    wants: dict[str, int],
    status: Status,
    *,
    data_dir: Path,
    recorder: Recorder | None = None,
) -> None:
    """History into the gate before the first decision (store, else the exchange),
    recorded as ``warmup`` bars: a replay starts its indicators from the same history."""
    if not any(wants.values()):
        return
    ex = config.exchange
    history, reports = await warmup.load(
        ex.id, ex.bar_interval, wants, wall_ms(), store=default_root(),
        base_url=ex.base_url, ws_url=ex.ws_url, sandbox=ex.sandbox,
    )  # fmt: skip
    await asyncio.to_thread(warmup.apply, session.bot, history)
    if recorder is not None:
        applied = wall_ms()
        for b in sorted(
            (b for bars in history.values() for b in bars), key=lambda b: (b.ts, b.symbol)
        ):
            recorder.bar(b, applied, "warmup")
    for r in reports:
        session.journal.append(
            "warmup", wall_ms(),
            {"symbol": r.symbol, "needed": r.needed, "loaded": r.loaded, "source": r.source},
        )  # fmt: skip
        status(f"warming up {r.symbol}: {r.loaded}/{r.needed} bars from {r.source}")
    session.journal.flush()


def _book_feed(config: BotConfig, symbols: Sequence[str], sink: Any) -> BookFeed | None:
    if not config.feeds.book:
        return None
    ex = config.exchange
    if ex.id != "binance":
        raise LiveError(f"feeds.book = true needs Binance's depth stream; exchange.id is {ex.id!r}")
    return BookFeed(
        ex.id, symbols, sink, base_url=ex.base_url, ws_url=ex.ws_url, sandbox=ex.sandbox,
        depth_bps=config.feeds.book_depth_bps, stale_ms=int(config.feeds.book_stale_s * 1000),
    )  # fmt: skip


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


def _equity(session: Session, run: RunStart, acct: AccountSnapshot | None = None) -> Decimal | None:
    """The whole account (``acct``, else read now), every holding marked at its
    last price (the bar's, else the last trade's); None when a holding has no
    price yet: counting it at zero would show a gain or loss that never was."""
    acct = acct or session.bot.venue.fetch_account()
    marks = {s: Decimal(str(p)) for s, p in run.last_price.items()}
    marks.update(session.bot.gate.view.marks())
    return acct.marked_equity(marks)


def _positions(acct: AccountSnapshot | None, symbols: Sequence[str]) -> dict[str, str]:
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


def _status_line(
    session: Session,
    feed: CcxtTradeFeed | FeedSet,
    run: RunStart,
    wants: dict[str, int] | None = None,
) -> str:
    bot = session.bot
    view = bot.gate.view
    parts = [time.strftime("%H:%M:%S", time.gmtime()), f"cycle {bot.cycle}"]
    positions = _positions(bot.reconciler.last, list(view))  # the newest reconciled account
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


def _drain(session: Session) -> None:
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


def _finish(session: Session, venue: Venue, summary: LiveSummary, run: RunStart) -> None:
    bot = session.bot
    with contextlib.suppress(VenueError):
        _drain(session)
    try:
        summary.equity_end = _equity(session, run)
        acct = bot.venue.fetch_account().with_baseline(bot.reconciler.floors())
        summary.positions = _positions(acct, list(bot.gate.view))
    except Exception as exc:  # the venue may be the reason we are stopping
        summary.positions = _positions(bot.reconciler.last, list(bot.gate.view))
        summary.positions["error"] = f"{type(exc).__name__}: {exc}"
    summary.cycles = bot.cycle
    summary.orders, summary.fills = run.counts(session)
    summary.rejected = {k: v for k, v in bot.decisions.items() if k != "APPROVED"}
    summary.halt_state = bot.risk.latch.state.value
    summary.alerts = sum(1 for _ in _alerts(session, run.ts))
    session.journal.append(
        "run_end",
        wall_ms(),
        {"cycles": summary.cycles, "orders": summary.orders, "fills": summary.fills},
    )
    session.close()
    close = getattr(venue, "close", None)
    if close is not None:
        close()


def _alerts(session: Session, since_ts: int) -> list[str]:
    """This run's alerts."""
    from bastion.observe.journal import read_events

    session.journal.flush()
    events = read_events(session.journal.path, since_ts=since_ts)
    return [e["kind"] for e in events if e.get("alert")]
