"""Before the live loop runs: the strategies, the venue (live keys checked, or
the paper book continued), the session recovered, the recorder, the warm-up
history and the book feed. Each exchange step is retried while the exchange
fails transiently and the start-up deadline allows (``bastion.engine.service``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.data.bookfeed import BookFeed
from bastion.data.recorder import Recorder
from bastion.data.store import default_root
from bastion.engine import warmup
from bastion.engine.errors import LiveError
from bastion.engine.parts import protect_refusal
from bastion.engine.service import StartupClock, Stopper, retry_startup, turn_on_downtime_rule
from bastion.engine.session import Session, open_session
from bastion.engine.shadow import split_modes
from bastion.engine.stage import stage_at_start
from bastion.model.timeframe import parse_interval
from bastion.strategy import Strategy, build_strategy
from bastion.venues.capabilities import capabilities
from bastion.venues.ccxt import CcxtVenue, Credentials
from bastion.venues.errors import SchemaDrift
from bastion.venues.port import Venue
from bastion.venues.sim.paper import PaperVenue

Status = Callable[[str], None]
Retry = Callable[[Callable[[], Any], str], Any]


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


async def start_session(
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


def recorder_for(config: BotConfig, folder: Path, journal: Any) -> Recorder | None:
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


async def warm_up(
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


def book_feed(config: BotConfig, symbols: Sequence[str], sink: Any) -> BookFeed | None:
    if not config.feeds.book:
        return None
    ex = config.exchange
    if ex.id != "binance":
        raise LiveError(f"feeds.book = true needs Binance's depth stream; exchange.id is {ex.id!r}")
    return BookFeed(
        ex.id, symbols, sink, base_url=ex.base_url, ws_url=ex.ws_url, sandbox=ex.sandbox,
        depth_bps=config.feeds.book_depth_bps, stale_ms=int(config.feeds.book_stale_s * 1000),
    )  # fmt: skip
