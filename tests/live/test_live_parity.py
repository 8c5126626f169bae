"""Parity: the same strategy on the same recorded stream decides the same in a
backtest and in a live run through the emulator.

What is compared, bar by bar: every ``cycle`` event the two journals hold,
as (decision time, strategy id and version, intents), where the decision time
is the bar's close (its open time plus the interval) and intents are the
strategy's output before planning and risk. Both runs must decide at exactly
the same bars and say exactly the same thing there. The bars themselves are
compared too (a mismatch there explains a mismatch in intents).

What is not compared: orders, fills and risk verdicts. Those depend on the
venue (the simulated venue fills at the next bar's open, the emulator at the
replayed book when the order arrives, which at replay speed is later) and are
covered by the contract and fault tests.

The two paths:
- backtest: trades from the recording, aggregated into bars here (plain
  arithmetic, independent of ``BarBuilder``), then ``run_backtest``;
- live: the emulator replays the recording (original timestamps kept), the
  real ccxt.pro client's ``watch_trades`` feeds ``CcxtTradeFeed``, trades go
  through ``BarBuilder``, and each closed bar is one ``Session.cycle`` over
  ``CcxtVenue`` (orders really go to the emulator). The session's clock is
  the bar close, as the backtest's is: the replay runs faster than real time.

The recording is ``binance_spot_btcusdt_20240808.jsonl.gz`` from the shared
data folder (skipped when absent); a synthetic recording written by the test
in the same format runs everywhere.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from live_support import make_venue, start_emulator

from bastion.config import BotConfig
from bastion.data.bar_builder import BarBuilder
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.paths import shared_data_dir
from bastion.emulator import EmulatorConfig
from bastion.engine.backtest import run_backtest
from bastion.engine.session import open_session
from bastion.model import Bar, BarSeries, Trade
from bastion.observe.journal import read_events
from bastion.strategy import build_strategy

SYMBOL = "BTC/USDT"
INTERVAL_MS = 5_000
PARAMS = {"fast": 3, "slow": 8, "qty": "0.01"}
RECORDING = "binance_spot_btcusdt_20240808.jsonl.gz"

Trades = list[tuple[str, int, float, float]]  # (trade id, time ms, price, qty)


# ------------------------------------------------------------------ inputs
def read_trades(path: Path) -> Trades:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    out: Trades = []
    with opener(path, "rb") as fh:
        for line in fh:
            _, _, body = line.partition(b" ")
            data = orjson.loads(body).get("data", {})
            if data.get("e") == "trade":
                out.append((str(data["t"]), int(data["T"]), float(data["p"]), float(data["q"])))
    return out


def write_synthetic_recording(path: Path, *, seconds: int = 240, seed: int = 7) -> None:
    """A recorded stream in Binance's combined-stream format: a random walk with
    quotes and trades, ~8 trades a second, with a few quiet gaps."""
    rng = random.Random(seed)
    t0 = 1_723_161_255_000
    mid, tid, lines = 60_000.0, 1_000, []
    for step in range(seconds * 10):
        at = t0 + step * 100
        mid *= math.exp(rng.gauss(0.0, 0.0006))
        bid = round(mid, 2)
        ask = round(bid + 0.01, 2)
        lines.append(
            (
                at,
                {
                    "stream": "btcusdt@bookTicker",
                    "data": {
                        "u": step,
                        "s": "BTCUSDT",
                        "b": f"{bid:.2f}",
                        "B": "2.5",
                        "a": f"{ask:.2f}",
                        "A": "2.5",
                    },
                },
            )
        )
        if 600 <= step % 900 < 640 or rng.random() > 0.8:
            continue  # quiet: no trade this step (and a 4-second gap every 90 s)
        buyer_maker = rng.random() < 0.5
        tid += 1
        lines.append((at + 1, {"stream": "btcusdt@trade", "data": {
            "e": "trade", "E": at + 1, "s": "BTCUSDT", "t": tid,
            "p": f"{bid if buyer_maker else ask:.2f}", "q": f"{rng.uniform(0.0001, 0.05):.5f}",
            "T": at, "m": buyer_maker, "M": True}}))  # fmt: skip
    with path.open("wb") as fh:
        for at, msg in lines:
            fh.write(str(at * 1_000_000).encode() + b" " + orjson.dumps(msg) + b"\n")


def bars_from_trades(trades: Trades, interval_ms: int) -> list[Bar]:
    """The backtest's bars: OHLCV per interval with at least one trade (no flat fill-ins)."""
    out: list[Bar] = []
    cur: list[Any] | None = None
    for _tid, ts, price, qty in trades:
        start = ts - ts % interval_ms
        if cur is not None and start != cur[0]:
            out.append(Bar(symbol=SYMBOL, ts=cur[0], interval_ms=interval_ms, open=cur[1],
                           high=cur[2], low=cur[3], close=cur[4], volume=cur[5]))  # fmt: skip
            cur = None
        if cur is None:
            cur = [start, price, price, price, price, qty]
        else:
            cur[2], cur[3], cur[4] = max(cur[2], price), min(cur[3], price), price
            cur[5] += qty
    if cur is not None:
        out.append(Bar(symbol=SYMBOL, ts=cur[0], interval_ms=interval_ms, open=cur[1],
                       high=cur[2], low=cur[3], close=cur[4], volume=cur[5]))  # fmt: skip
    return out


def series_of(bars: list[Bar]) -> BarSeries:
    def col(name: str) -> np.ndarray:
        return np.array([getattr(b, name) for b in bars], dtype=np.float64)

    return BarSeries(
        symbol=SYMBOL, interval_ms=INTERVAL_MS, ts=np.array([b.ts for b in bars], dtype=np.int64),
        open=col("open"), high=col("high"), low=col("low"), close=col("close"),
        volume=col("volume"), source="recorded stream",
    )  # fmt: skip


def decisions(folder: Path) -> list[tuple[int, str, Any]]:
    return [(e["ts"], e["strategy"], e["intents"]) for e in read_events(folder, kinds=["cycle"])]


# ---------------------------------------------------------------- the runs
def run_backtest_path(bars: list[Bar], folder: Path) -> list[tuple[int, str, Any]]:
    strategy = build_strategy("sma_cross", [SYMBOL], PARAMS)
    run_backtest([series_of(bars)], [strategy], BotConfig(), journal_path=folder / "journal.sqlite")
    return decisions(folder)


async def _live(emu: Any, thread: Any, folder: Path, expected: int) -> tuple[list[Bar], int]:
    venue = await asyncio.to_thread(make_venue, emu, call_timeout_s=5.0)
    session = await asyncio.to_thread(
        open_session,
        data_dir=folder,
        venue=venue,
        strategies=[build_strategy("sma_cross", [SYMBOL], PARAMS)],
        config=BotConfig(),
        intervals={SYMBOL: INTERVAL_MS},
        now=0,
        refresh_ms=0,
    )
    venue.set_sink(session.journal)
    builder = BarBuilder(SYMBOL, INTERVAL_MS, session.journal)
    closed: asyncio.Queue[Bar | None] = asyncio.Queue()
    seen = 0

    def on_trade(t: Trade) -> None:
        nonlocal seen
        seen += 1
        for bar in builder.on_trade(t.trade_id, t.ts, t.price, t.qty):
            closed.put_nowait(bar)
        if seen >= expected:
            for bar in builder.on_clock(t.ts + INTERVAL_MS + builder.grace_ms):
                closed.put_nowait(bar)  # the stream is over: close the last bar
            closed.put_nowait(None)

    def cycle(bar: Bar) -> None:
        gate = session.bot.gate
        gate.on_bar(bar.symbol, bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume)
        session.cycle(bar.ts + bar.interval_ms)  # decided at the bar's close, as in a backtest

    feed = CcxtTradeFeed(
        "binance", [SYMBOL], on_trade, session.journal, base_url=emu.url, ws_url=emu.ws_url,
        stale_s=20.0,
    )  # fmt: skip
    task = asyncio.create_task(feed.run())
    live_bars: list[Bar] = []
    try:
        # Replay only once the trade stream is subscribed: nothing may be missed.
        for _ in range(500):
            if thread.call(
                lambda: any(s.endswith("@trade") for c in emu.hub.connections for s in c.streams)
            ):
                break
            await asyncio.sleep(0.01)
        thread.call(emu.resume_market)
        async with asyncio.timeout(90):
            while (bar := await closed.get()) is not None:
                live_bars.append(bar)
                await asyncio.to_thread(cycle, bar)
    except TimeoutError:
        pass  # reported by the caller: fewer trades than recorded
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(session.close)
        await asyncio.to_thread(venue.close)
    return live_bars, seen


def run_live_path(
    recording: Path, folder: Path, expected: int, speed: float
) -> tuple[list[Bar], int]:
    thread, emu = start_emulator(
        EmulatorConfig(
            source="files", source_paths=(recording,), speed=speed, rebase_time=False,
            start_paused=True, balances={"USDT": Decimal(100_000)},
        )
    )  # fmt: skip
    try:
        return asyncio.run(_live(emu, thread, folder, expected))
    finally:
        thread.stop()


def check_parity(recording: Path, tmp_path: Path, speed: float) -> int:
    trades = read_trades(recording)
    bars = bars_from_trades(trades, INTERVAL_MS)
    expected = run_backtest_path(bars, tmp_path / "backtest")

    live_bars, seen = run_live_path(recording, tmp_path / "live", len(trades), speed)
    live = decisions(tmp_path / "live")

    assert seen == len(trades), f"the live feed saw {seen} of {len(trades)} recorded trades"
    assert live_bars == bars
    assert len(expected) >= 3, "too few decisions for a meaningful comparison"
    assert live == expected
    # Every order filled at once; its fills came with the reply, so the
    # reconciler never saw a position that no fill explained.
    assert list(read_events(tmp_path / "live", kinds=["reconcile_delta"])) == []
    return len(expected)


def test_same_intents_on_a_synthetic_recorded_stream(tmp_path) -> None:
    recording = tmp_path / "binance_spot_btcusdt_synthetic.jsonl"
    write_synthetic_recording(recording)

    check_parity(recording, tmp_path, speed=0)


@pytest.mark.realdata
@pytest.mark.slow
def test_same_intents_on_the_recorded_binance_stream(tmp_path) -> None:
    data = shared_data_dir()
    recording = data / "ticks" / RECORDING if data is not None else None
    if recording is None or not recording.exists():
        pytest.skip(f"{RECORDING} is not in the shared data folder")

    check_parity(recording, tmp_path, speed=0)
