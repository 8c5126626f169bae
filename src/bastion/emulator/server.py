"""The emulator process: one REST+WebSocket port, one admin port, one market loop.

``Emulator`` wires the pieces (matching engine, order desk, market state,
stream hub, REST API, faults, weights) and runs them on the caller's event
loop: ``await start()`` … ``await stop()``. ``EmulatorThread`` runs one on a
background thread for tests with blocking clients; ``run_emulator`` serves
until interrupted (the ``bastion emulator`` command).

Time: the exchange clock is the injected wall ``clock`` plus any clock-skew
fault; signed requests are checked against it, as Binance checks them against
its own. The event loop's clock paces market data and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aiohttp import web

from bastion.data.loaders import load_bars
from bastion.emulator import admin
from bastion.emulator.binance_format import exchange_symbol
from bastion.emulator.btcmarkets import BTCM_API_KEY, BTCM_API_SECRET, BtcMarketsApi
from bastion.emulator.exchange import Exchange
from bastion.emulator.faults import FaultPlan, FaultSpec
from bastion.emulator.history import KlineHistory, synthetic_history
from bastion.emulator.market import (
    BarSource,
    DepthEvent,
    MarketEvent,
    QuoteEvent,
    RecordedSource,
    SyntheticSource,
    Timed,
    TradeEvent,
)
from bastion.emulator.marketstate import MarketState
from bastion.emulator.rest import RestApi
from bastion.emulator.streams import ListenKeys, StreamHub
from bastion.emulator.weights import WeightMeter
from bastion.model import Instrument
from bastion.venues.sim import SimVenue

_log = logging.getLogger(__name__)

# Test credentials, not secrets: the emulator holds no real account.
TEST_API_KEY = "bastion-emulator-key"
TEST_API_SECRET = "bastion-emulator-secret"

DEFAULT_INSTRUMENTS = (
    Instrument.spot(
        "BTC/USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"),
        min_qty=Decimal("0.00001"), min_notional=Decimal("5"),
    ),
    Instrument.spot(
        "ETH/USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.0001"),
        min_qty=Decimal("0.0001"), min_notional=Decimal("5"),
    ),
)  # fmt: skip
DEFAULT_BALANCES: Mapping[str, Decimal] = MappingProxyType(
    {"USDT": Decimal("100000"), "BTC": Decimal("1"), "ETH": Decimal("10")}
)


@dataclass(frozen=True, kw_only=True)
class EmulatorConfig:
    """How to run an emulator. ``source``: ``synthetic``, ``none`` (events pushed
    by the caller or the admin API) or ``files`` (``source_paths``: recorded
    ``.jsonl[.gz]`` streams, or bar files such as Parquet)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port; read ``Emulator.port`` after start
    admin_port: int | None = 0  # None: no admin server
    instruments: tuple[Instrument, ...] = DEFAULT_INSTRUMENTS
    balances: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_BALANCES))
    api_keys: Mapping[str, str] = field(default_factory=lambda: {TEST_API_KEY: TEST_API_SECRET})
    btcm_api_keys: Mapping[str, str] = field(
        default_factory=lambda: {BTCM_API_KEY: BTCM_API_SECRET}
    )
    btcm_limits: tuple[int, int] = (50, 30)  # BTC Markets: calls, order placements per 10 s
    source: str = "synthetic"
    source_paths: tuple[Path, ...] = ()
    speed: float = 1.0  # replay speed; 0 = as fast as possible
    rate: float = 10.0  # synthetic steps per second
    seed: int = 0
    start_paused: bool = False  # the market waits for ``resume_market()``
    rebase_time: bool = True  # replayed timestamps start at the emulator's "now"
    weight_limit: int = 6_000
    max_num_orders: int = 200  # Binance's MAX_NUM_ORDERS filter per symbol
    ban_s: float = 120.0
    venue_latency_ms: int = 0
    faults: tuple[FaultSpec, ...] = ()
    history_paths: tuple[Path, ...] = ()  # bar files served by /klines at their own times
    history_bars: int = 0  # synthetic: this many 1m bars of past, ending at the start


class Emulator:
    """A loopback exchange backed by ``SimVenue``: Binance spot (``/api/v3``,
    streams) and BTC Markets REST v3 (``/v3``) over one order desk."""

    def __init__(
        self, config: EmulatorConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config or EmulatorConfig()
        _check(self.config)
        self._clock = clock
        self.port = 0
        self.admin_port: int | None = None
        self._runners: list[web.AppRunner] = []
        self._market_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.market_done = asyncio.Event()
        self.events_applied = 0
        self.market_error: BaseException | None = None  # why the market source stopped early
        self.rest: RestApi | None = None  # set by start()
        cfg = self.config
        self.venue = SimVenue(cfg.instruments, cfg.balances, latency_ms=cfg.venue_latency_ms)
        self.exchange = Exchange(self.venue, max_num_orders=cfg.max_num_orders)
        self.market = MarketState([exchange_symbol(i.symbol) for i in cfg.instruments])
        self.weights = WeightMeter(limit=cfg.weight_limit, ban_s=cfg.ban_s)
        self.listen_keys = ListenKeys()
        self.faults = FaultPlan(time.monotonic, seed=cfg.seed)
        self.faults.add(cfg.faults)
        self.hub = StreamHub(self.faults, self.listen_keys, cfg.api_keys, self.server_ms)

    # ------------------------------------------------------------------ clock
    def wall_ms(self) -> int:
        return int(self._clock() * 1000)

    def server_ms(self) -> int:
        """The exchange's clock: wall time plus any clock-skew fault."""
        return self.wall_ms() + self.faults.skew_ms()

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self.market_done = asyncio.Event()
        rest = RestApi(
            exchange=self.exchange, market=self.market, faults=self.faults,
            weights=self.weights, listen_keys=self.listen_keys, api_keys=self.config.api_keys,
            server_ms=self.server_ms, after_change=self.flush_user, stopping=self._stopping,
            history=self._history(),
        )  # fmt: skip
        self.rest = rest
        app = web.Application()
        btcm = BtcMarketsApi(
            exchange=self.exchange, market=self.market, faults=self.faults,
            api_keys=self.config.btcm_api_keys, server_ms=self.server_ms,
            after_change=self.flush_user, limits=self.config.btcm_limits,
        )  # fmt: skip
        app.add_routes(rest.routes() + btcm.routes() + self.hub.routes())
        self.port = await self._serve(app, self.config.port)
        if self.config.admin_port is not None:
            self.admin_port = await self._serve(admin.make_app(self), self.config.admin_port)
        if not self.config.start_paused:
            self.resume_market()

    def _history(self) -> KlineHistory:
        cfg = self.config
        history = KlineHistory(load_bars(p) for p in cfg.history_paths)
        if cfg.history_bars and cfg.source == "synthetic":
            for inst in cfg.instruments:
                history.add(
                    synthetic_history(inst.symbol, cfg.history_bars, self.wall_ms(), cfg.seed)
                )
        return history

    async def _serve(self, app: web.Application, port: int) -> int:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, port)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[-1][1])

    async def stop(self) -> None:
        self._stopping.set()
        if self._market_task is not None:
            self._market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market_task
        await self.hub.close_all()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{self.config.host}:{self.admin_port}"

    # ------------------------------------------------------------ market data
    def resume_market(self) -> None:
        """Start the configured market source (once)."""
        if self._market_task is None and self.config.source != "none":
            self._market_task = asyncio.get_running_loop().create_task(self._run_market())

    def _source(self) -> Iterable[Timed]:
        cfg = self.config
        if cfg.source == "synthetic":
            return SyntheticSource(
                cfg.instruments, start_ms=self.wall_ms(), seed=cfg.seed, rate=cfg.rate
            )
        paths = list(cfg.source_paths)
        if all(".jsonl" in p.name or p.suffix == ".jsonl" for p in paths):
            return RecordedSource(paths)
        return BarSource.from_files(paths, cfg.instruments)

    async def _run_market(self) -> None:
        loop = asyncio.get_running_loop()
        speed = self.config.speed
        first: int | None = None
        t0 = start_ms = 0.0
        try:
            for n, timed in enumerate(self._source()):
                if first is None:
                    first, t0, start_ms = timed.at_ms, loop.time(), self.wall_ms()
                elapsed_ms = timed.at_ms - first
                if speed > 0:
                    delay = t0 + elapsed_ms / 1000 / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif n % 500 == 0:
                    await asyncio.sleep(0)
                event = timed.event
                if self.config.rebase_time:
                    ts = int(start_ms + (event.ts - first) / (speed or 1))
                    event = dataclasses.replace(event, ts=ts)
                self.apply(event)
        except Exception as exc:  # a bad file line must not pass silently
            self.market_error = exc
            _log.exception("emulator market source %s failed", self.config.source)
        finally:
            self.market_done.set()

    def apply(self, event: MarketEvent) -> None:
        """One market event: public state, the streams, then matching."""
        now = self.server_ms()
        if isinstance(event, TradeEvent):
            _, msgs = self.market.apply_trade(event, now)
            msgs += self.market.ticker_messages(event.symbol, now, self.hub.wants)
        elif isinstance(event, QuoteEvent):
            msgs = self.market.apply_quote(event)
        else:
            assert isinstance(event, DepthEvent)
            msgs = self.market.apply_depth(event, now)
        for names, payload in msgs:
            self.hub.publish(names, payload)
        if isinstance(event, TradeEvent):
            self.exchange.on_trade(event, now)
        elif isinstance(event, QuoteEvent):
            self.exchange.on_quote(event, now)
        self.events_applied += 1
        self.flush_user()

    def flush_user(self) -> None:
        """Send queued user-data events (order reports, balances) to subscribers."""
        outbox = self.exchange.outbox
        if outbox:
            self.exchange.outbox = []
            for payload in outbox:
                self.hub.publish_user(payload)


def _check(config: EmulatorConfig) -> None:
    if config.source not in ("synthetic", "none", "files"):
        raise ValueError(
            f"source {config.source!r}: expected synthetic, none or files (with source_paths)"
        )
    if config.source == "files" and not config.source_paths:
        raise ValueError("source 'files' needs source_paths")
    if config.speed < 0 or config.rate <= 0:
        raise ValueError(f"speed {config.speed} must be >= 0 and rate {config.rate} > 0")
    if not config.instruments:
        raise ValueError("an emulator needs at least one instrument")


class EmulatorThread:
    """An emulator on its own thread and event loop, for tests with blocking clients.

    The emulator is not thread-safe: from other threads, touch it only through
    ``call`` (``thread.call(lambda: emu.apply(event))``).
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config
        self.loop = asyncio.new_event_loop()
        self.emulator: Emulator | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> Emulator:
        self._thread.start()
        self.emulator = self.call(self._make)
        return self.emulator

    async def _make(self) -> Emulator:
        emu = Emulator(self.config)
        await emu.start()
        return emu

    def call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Run ``fn`` (a coroutine function or a plain one) on the emulator's loop."""

        async def run() -> Any:
            out = fn()
            return await out if asyncio.iscoroutine(out) else out

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def stop(self) -> None:
        if self.emulator is not None:
            self.call(self.emulator.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
