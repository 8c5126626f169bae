"""Live path latency: market message received by the bot -> order handed to ccxt.

Two figures, both over loopback against the exchange emulator (run in its own
process, so it does not share the bot's interpreter lock):

1. **Tick to order, bastion's own share.** The live loop's hot path, built
   from the same parts ``run_bot`` uses: the ccxt.pro trade feed
   (``CcxtTradeFeed``), ``BarBuilder``, the cycle thread (``CycleThread``,
   fed bars by the feed, catching up with the account between decisions) and
   the live step (``LiveCycle``), a durable session (SQLite journal and order
   store, write-ahead), every default risk rule, the order manager and
   ``CcxtVenue`` on its own event-loop thread. A strategy flips between flat
   and a small long on every bar (``every`` 1; or every 4th), so each change
   of target sends one market order. Each window's steps are stamped too
   (``STEPS``), and where the time goes is printed per step.
   ``t0``: ``perf_counter_ns`` when ccxt.pro hands the feed the trade that
   closes a bar (``CcxtTradeFeed._deliver``). ``t1``: when the venue thread
   calls the ccxt exchange's ``create_order`` for that bar's order. Venue
   calls inside the window (an account re-read not caught up before the bar)
   are
   exchange time, not bastion's: they are timed and subtracted, and the raw
   figure is printed too. Bars closed by the clock (no trade) give no sample.
   Bars are 50 ms so that a minute gives ~1,000 samples; risk thresholds for
   order rate and volume share are raised to let an order through every bar
   (the rules still run).
2. **Emulator order rate through ccxt.** ``ccxt.async_support.binance``
   sends market orders (alternating buy/sell) as fast as the emulator answers:
   one in flight, then 16 in flight.

    .venv/bin/python bench/live_path.py [--seconds 60] [--rate-seconds 5]
    .venv/bin/python bench/live_path.py --record [--rounds 2]  # recording's cost: off, on, ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt_async

from bastion.clock import wall_ms
from bastion.config import BotConfig
from bastion.data.bar_builder import BarBuilder
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.recorder import Recorder
from bastion.emulator import CCXT_OPTIONS, TEST_API_KEY, TEST_API_SECRET, point_ccxt
from bastion.emulator.server import Emulator, EmulatorConfig
from bastion.engine.cycle_thread import CycleThread
from bastion.engine.health import after_cycle
from bastion.engine.live_cycle import LiveCycle
from bastion.engine.service import stale_after_ms
from bastion.engine.session import open_session
from bastion.model import AccountSnapshot, Bar, Intent, TargetPosition, Trade
from bastion.model.view import MarketView
from bastion.strategy import Strategy
from bastion.venues.ccxt import CcxtVenue, Credentials

SYMBOL = "BTC/USDT"
QTY = Decimal("0.0001")


# ------------------------------------------------------------ the emulator
def _serve(kwargs: dict[str, Any], conn: Any) -> None:
    async def main() -> None:
        emu = Emulator(EmulatorConfig(**kwargs))
        await emu.start()
        conn.send((emu.url, emu.ws_url, emu.admin_url))
        await asyncio.Event().wait()

    asyncio.run(main())


@dataclass
class EmulatorProcess:
    url: str
    ws_url: str
    admin_url: str
    process: Any

    @classmethod
    def start(cls, **kwargs: Any) -> EmulatorProcess:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(kwargs, child), daemon=True)
        proc.start()
        if not parent.poll(60):
            proc.terminate()
            raise RuntimeError("the emulator process did not start")
        url, ws_url, admin_url = parent.recv()
        return cls(url, ws_url, admin_url, proc)

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


# ------------------------------------------------------- instrumented parts
@dataclass
class Marks:
    arrival_ns: int = 0  # the trade ccxt.pro handed the feed last
    current_t0: int | None = None  # the trade that closed the bar being decided
    samples: list[tuple[int, int]] = field(default_factory=list)  # (t0, t1)
    io: list[tuple[int, int]] = field(default_factory=list)  # venue calls (start, end)
    # --probe: per sample, the stamps of the steps between t0 and t1 (see ``STEPS``)
    stamps: dict[str, int] = field(default_factory=dict)
    probes: list[dict[str, int]] = field(default_factory=list)
    catch_ups: int = 0  # account re-reads the cycle thread made between decisions


MARKS = Marks()
# Where a window's time goes (--probe): each step ends at its stamp, taken with
# perf_counter_ns where the step's code runs; a step starts where the one before ended.
STEPS = (
    ("t0", "trade reaches the feed callback"),
    ("cycle", "hand-off: the cycle starts on its thread"),
    ("flush0", "gate, reconcile, protect, decide, plan, review, journal"),
    ("flush1", "write-ahead journal flush"),
    ("store0", "the send check (kill flag, latch)"),
    ("store1", "order store write of the client id"),
    ("submit", "order manager up to the venue call"),
    ("t1", "hand-off to the venue's loop, up to create_order"),
)


def stamp(name: str) -> None:
    if MARKS.current_t0 is not None:
        MARKS.stamps[name] = time.perf_counter_ns()


def probe(session: Any) -> None:
    """Stamp the write-ahead flush and the order store write of ``session``."""
    journal, store = session.journal, session.store
    flush, save = journal.flush, store.save_order

    def timed_flush() -> None:
        stamp("flush0")
        flush()
        stamp("flush1")

    def timed_save(*args: Any, **kwargs: Any) -> None:
        stamp("store0")
        save(*args, **kwargs)
        stamp("store1")

    journal.flush = timed_flush
    store.save_order = timed_save


class TimedFeed(CcxtTradeFeed):
    def _deliver(self, symbol: str, t: Any) -> None:
        MARKS.arrival_ns = time.perf_counter_ns()
        super()._deliver(symbol, t)


class TimedVenue(CcxtVenue):
    async def _open(self) -> None:
        await super()._open()
        create = self._ex.create_order

        async def timed_create(*args: Any, **kwargs: Any) -> Any:
            t0 = MARKS.current_t0
            if t0 is not None:
                t1 = time.perf_counter_ns()
                MARKS.samples.append((t0, t1))
                MARKS.probes.append({**MARKS.stamps, "t0": t0, "t1": t1})
                MARKS.current_t0 = None
            return await create(*args, **kwargs)

        self._ex.create_order = timed_create

    def submit(self, request: Any) -> Any:
        stamp("submit")
        return super().submit(request)

    def _run(self, coro: Any, what: str) -> Any:
        if what == "create_order":
            return super()._run(coro, what)
        start = time.perf_counter_ns()
        try:
            return super()._run(coro, what)
        finally:
            MARKS.io.append((start, time.perf_counter_ns()))


@dataclass(frozen=True)
class _NoParams:
    pass


class Flip(Strategy[_NoParams, int]):
    """Long ``QTY`` for ``every`` bars, then flat for ``every`` bars: one market
    order each time the target changes."""

    name = "flip"
    Params = _NoParams
    every = 1

    def initial_memory(self) -> int:
        return 0

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: int
    ) -> tuple[Sequence[Intent], int]:
        long = (memory // type(self).every) % 2 == 0
        return [TargetPosition(symbol=SYMBOL, qty=QTY if long else Decimal(0))], memory + 1


def bench_config() -> BotConfig:
    return BotConfig.model_validate(
        {
            "name": "bench-live",
            "risk": {
                "rate": {"orders_per_minute": 100_000, "orders_per_minute_symbol": 100_000},
                "volume": {"max_share": 10, "max_book_share": 10},
            },
        }
    )


# ---------------------------------------------------------- tick to order
async def tick_to_order(
    seconds: float,
    interval_ms: int,
    folder: Path,
    every: int = 1,
    observe: bool = False,
    record: bool = False,
) -> tuple[int, int, int]:
    Flip.every = every
    MARKS.samples.clear()
    MARKS.probes.clear()
    MARKS.io.clear()
    emu = EmulatorProcess.start(
        source="synthetic", rate=400.0, weight_limit=10**9,
        balances={"USDT": Decimal(1_000_000)}, admin_port=None,
    )  # fmt: skip
    venue = TimedVenue(
        "binance", [SYMBOL], credentials=Credentials(TEST_API_KEY, TEST_API_SECRET),
        base_url=emu.url, ws_url=emu.ws_url, call_timeout_s=5.0, rate_limit=False,
    )  # fmt: skip
    await asyncio.to_thread(venue.start)
    session = await asyncio.to_thread(
        open_session,
        data_dir=folder,
        venue=venue,
        strategies=[Flip(_NoParams(), [SYMBOL], "flip")],
        config=bench_config(),
        intervals={SYMBOL: interval_ms},
        now=wall_ms(),
        refresh_ms=30_000,
    )
    venue.set_sink(session.journal)
    probe(session)
    builder = BarBuilder(SYMBOL, interval_ms, session.journal)
    recorder = Recorder(folder) if record else None  # as run_bot's with [data] record on
    if recorder is not None:
        recorder.start()
    t0_by_bar: dict[int, int] = {}
    stack = ObservedStack.start(folder) if observe else None
    step = LiveCycle(session, stale_after_ms(bench_config()), recorder=recorder)
    if stack is not None:  # as run_bot: the health sample after the cycle

        def sample(taken: float, sent: int) -> None:
            after_cycle(session, taken, sent, {SYMBOL: builder}, feed)

        step.sample = sample

    def timed_step(bars: list[Bar], taken: float) -> None:
        MARKS.stamps.clear()
        MARKS.current_t0 = t0_by_bar.pop(bars[0].ts, None) if len(bars) == 1 else None
        stamp("cycle")
        step(bars, taken)

    worker = CycleThread(timed_step, 1, idle=step)  # as run_bot's: the feed hands it bars
    venue.on_change = worker.nudge

    def on_trade(t: Trade) -> None:  # as run_bot's
        if recorder is not None:
            recorder.trade(t.symbol, t.trade_id, t.ts, wall_ms(), t.price, t.qty, t.buyer_is_maker)
        for bar in builder.on_trade(t.trade_id, t.ts, t.price, t.qty):
            t0_by_bar[bar.ts] = MARKS.arrival_ns
            worker.put(bar)

    async def ticker() -> None:  # as run_bot's: quiet intervals still close
        while True:
            await asyncio.sleep(0.1)
            for bar in builder.on_clock(wall_ms()):
                worker.put(bar)

    feed = TimedFeed(
        "binance", [SYMBOL], on_trade, session.journal, base_url=emu.url, ws_url=emu.ws_url,
        stale_s=10.0, clock=wall_ms,
    )  # fmt: skip
    tasks = [asyncio.create_task(feed.run()), asyncio.create_task(ticker())]
    try:
        await asyncio.wait_for(feed.ready.wait(), 30)
        worker.start()
        async with asyncio.timeout(seconds):
            await worker.wait()
    except TimeoutError:
        pass
    finally:
        worker.stop()
        await asyncio.to_thread(worker.join, 30)
        cycles, MARKS.catch_ups = worker.cycles, worker.catch_ups
        if stack is not None:
            stack.stop()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if recorder is not None:
            await asyncio.to_thread(recorder.close)
        orders = len(session.bot.orders.orders)
        refused = sum(v for k, v in session.bot.decisions.items() if k != "APPROVED")
        await asyncio.to_thread(session.close)
        await asyncio.to_thread(venue.close)
        emu.stop()
    return cycles, orders, refused


@dataclass
class ObservedStack:
    """The observers, the dashboard, /metrics, alerts and logs, plus their readers."""

    service: Any
    receiver: Any
    stop_flag: Any
    threads: list[Any]

    @classmethod
    def start(cls, folder: Path) -> ObservedStack:
        import socket
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from bastion.engine.observers import start_observers

        class Sink(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        receiver = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"json://127.0.0.1:{receiver.server_address[1]}/"
        os.environ.setdefault("BASTION_DASHBOARD_TOKEN", "bench-token")
        cfg = bench_config().model_copy(
            update={"observe": BotConfig.model_validate({"observe": {
                "dashboard": {"enabled": True, "port": port},
                "alerts": {"enabled": True, "routes": {"info": [url], "warning": [url],
                                                        "critical": [url]}},
            }}).observe}
        )  # fmt: skip
        service = start_observers(cfg, folder)
        stop = threading.Event()
        base = f"http://127.0.0.1:{port}"

        def scrape() -> None:  # Prometheus, every second
            while not stop.wait(1.0):
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(base + "/metrics", timeout=5).read()

        def watch() -> None:  # a dashboard page following the stream
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    req = urllib.request.Request(base + "/api/stream?token=bench-token")
                    with urllib.request.urlopen(req, timeout=5) as resp:
                        while not stop.is_set() and resp.readline():
                            pass
                stop.wait(0.5)

        threads = [threading.Thread(target=f, daemon=True) for f in (scrape, watch)]
        for t in threads:
            t.start()
        return cls(service, receiver, stop, threads)

    def stop(self) -> None:
        self.stop_flag.set()
        if self.service is not None:
            self.service.stop(timeout=2.0)
        self.receiver.shutdown()


def overlap(t0: int, t1: int, spans: Iterable[tuple[int, int]]) -> int:
    return sum(max(0, min(t1, b) - max(t0, a)) for a, b in spans)


# ------------------------------------------------------------- order rate
async def order_rate(seconds: float, in_flight: int) -> tuple[int, float]:
    emu = EmulatorProcess.start(
        source="none", weight_limit=10**9, admin_port=0,
        balances={"USDT": Decimal(10**9), "BTC": Decimal(10**4)},
    )  # fmt: skip
    try:
        body = json.dumps(
            {"symbol": SYMBOL, "bid": "60000", "ask": "60000.01",
             "bid_qty": "1000000", "ask_qty": "1000000"}
        ).encode()  # fmt: skip
        urllib.request.urlopen(urllib.request.Request(emu.admin_url + "/market/quote", body))
        ex = point_ccxt(
            ccxt_async.binance(
                {"apiKey": TEST_API_KEY, "secret": TEST_API_SECRET, "enableRateLimit": False,
                 "options": dict(CCXT_OPTIONS)}
            ),
            emu.url,
        )  # fmt: skip
        await ex.load_markets()
        sent = 0
        deadline = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal sent
            n = 0
            while time.perf_counter() < deadline:
                side = "buy" if n % 2 == 0 else "sell"
                await ex.create_order(
                    SYMBOL, "market", side, 0.001, params={"newClientOrderId": f"r{k}-{n}"}
                )
                n += 1
                sent += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(in_flight)))
        elapsed = time.perf_counter() - start
        await ex.close()
        return sent, sent / elapsed
    finally:
        emu.stop()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(label: str, cycles: int, orders: int, refused: int) -> None:
    raw = [(t1 - t0) / 1000 for t0, t1 in MARKS.samples]
    net = [(t1 - t0 - overlap(t0, t1, MARKS.io)) / 1000 for t0, t1 in MARKS.samples]
    with_io = sum(1 for r, n in zip(raw, net, strict=True) if r != n)
    print(
        f"tick to order, {label}: {len(net)} samples from {cycles} cycles, {orders} orders, "
        f"{refused} refused by risk; {with_io} windows held a venue call (subtracted); "
        f"{MARKS.catch_ups} account re-reads between decisions"
    )
    if net:
        verdict = "PASS" if pct(net, 0.99) < 1000 else "MISS"
        print(
            f"  bastion's share  p50 {statistics.median(net):7.1f} us"
            f"  p99 {pct(net, 0.99):7.1f} us  max {max(net):8.1f} us"
            f"   target p99 < 1000 us: {verdict}"
        )
        print(
            f"  raw window       p50 {statistics.median(raw):7.1f} us"
            f"  p99 {pct(raw, 0.99):7.1f} us  max {max(raw):8.1f} us"
        )
        report_steps()


def report_steps() -> None:
    """Each step's p50 and p99 over the windows that stamped every step."""
    names = [n for n, _ in STEPS]
    full = [p for p in MARKS.probes if all(n in p for n in names)]
    if not full:
        return
    print(f"  where the time goes ({len(full)} windows with every stamp), p50 / p99 us:")
    for (prev, _), (name, what) in itertools.pairwise(STEPS):
        spans = [(p[name] - p[prev]) / 1000 for p in full]
        print(f"    {statistics.median(spans):7.1f} / {pct(spans, 0.99):7.1f}  {what}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=60.0, help="each tick-to-order run")
    ap.add_argument("--interval-ms", type=int, default=50, help="bar length")
    ap.add_argument("--rate-seconds", type=float, default=5.0, help="order-rate run length")
    ap.add_argument("--observe", action="store_true", help="also run with [observe] on")
    ap.add_argument("--rounds", type=int, default=1, help="off/on pairs with --observe or --record")
    ap.add_argument(
        "--record", action="store_true", help="instead: tick to order with recording off, then on"
    )
    args = ap.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; "
        f"emulator in its own process, loopback; {args.interval_ms} ms bars"
    )
    if args.observe:
        for k in range(args.rounds):
            for on in (False, True):
                with tempfile.TemporaryDirectory() as tmp:
                    cycles, orders, refused = asyncio.run(
                        tick_to_order(args.seconds, args.interval_ms, Path(tmp), 1, observe=on)
                    )
                report(f"round {k + 1}, observers {'ON' if on else 'off'}", cycles, orders, refused)
        return
    runs = [(1, "an order every bar", False), (4, "an order every 4th bar", False)]
    if args.record:
        runs = [  # alternating, so that a change in the machine's load hits both
            (1, f"round {k + 1}, recording {'ON' if on else 'off'}", on)
            for k in range(args.rounds)
            for on in (False, True)
        ]
    for every, label, record in runs:
        with tempfile.TemporaryDirectory() as tmp:
            cycles, orders, refused = asyncio.run(
                tick_to_order(args.seconds, args.interval_ms, Path(tmp), every, record=record)
            )
        report(label, cycles, orders, refused)
    for in_flight in (1, 16) if not args.record else ():
        sent, per_s = asyncio.run(order_rate(args.rate_seconds, in_flight))
        print(
            f"emulator order rate via ccxt, {in_flight:2d} in flight: "
            f"{per_s:7.0f} orders/s ({sent} orders)"
        )


if __name__ == "__main__":
    main()
