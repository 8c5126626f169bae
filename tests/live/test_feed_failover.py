"""Primary and fallback feeds against the emulator: the WebSocket stalls (socket
open, silence), REST polling carries the bars, the stream comes back, the bot
fails back, and every bar before, across and after the switches is the
emulator's own bar: none missing, none twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from live_support import EX_SYMBOL, SYMBOL, admin, start_emulator, wall_ms

from bastion.config import ExchangeConfig
from bastion.config_feeds import FeedsConfig
from bastion.data.bar_builder import BarBuilder
from bastion.data.feedset import FeedSet
from bastion.emulator import Emulator, EmulatorConfig
from bastion.model import Bar

INTERVAL = 1_000


def emulator_bars(emu: Emulator) -> dict[int, Bar]:
    """The exchange's own 1 s bars, from every trade it printed."""
    builder = BarBuilder(SYMBOL, INTERVAL, lambda *a: None)
    tape = list(emu.market.symbols[EX_SYMBOL].trades)
    bars = [
        bar
        for tid, price, qty, ts, _ in tape
        for bar in builder.on_trade(str(tid), ts, float(price), float(qty))
    ]
    return {b.ts: b for b in bars}


async def run_feeds(
    emu: Emulator, feeds: FeedsConfig, script: list[tuple[float, str, Any]], total_s: float
) -> tuple[list[Bar], list[tuple[str, dict[str, Any]]], FeedSet]:
    bars: list[Bar] = []
    journal: list[tuple[str, dict[str, Any]]] = []
    exchange = ExchangeConfig(base_url=emu.url, ws_url=emu.ws_url)
    fs = FeedSet(
        exchange, feeds, [SYMBOL], INTERVAL, bars.append, lambda k, ts, p: journal.append((k, p))
    )
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.05)
            fs.on_clock(wall_ms())

    tasks = [asyncio.create_task(fs.run()), asyncio.create_task(ticker())]
    try:
        async with asyncio.timeout(20):
            await fs.ready.wait()
        # Script times count from 0.6 s into a bar: a stall that starts late in a
        # bar is the one a clock-closed bar would cut short before it is noticed.
        await asyncio.sleep(((600 - wall_ms()) % INTERVAL) / 1000)
        t0 = loop.time()
        for at_s, method, body in script:
            await asyncio.sleep(max(0.0, t0 + at_s - loop.time()))
            path = "/faults" if method == "POST" else f"/faults?id={body}"
            reply = await asyncio.to_thread(admin, emu, path, body if method == "POST" else None,
                                            method)  # fmt: skip
            if method == "POST":
                body.update(_id=reply["ids"][0])
        await asyncio.sleep(max(0.0, t0 + total_s - loop.time()))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return bars, journal, fs


def stall_and_restore(stall_at: float, restore_at: float) -> list[tuple[float, str, Any]]:
    fault = {"kind": "ws_stall", "stream": "btcusdt@trade"}
    return [(stall_at, "POST", fault), (restore_at, "DELETE", _Later(fault))]


class _Later:
    """The id of a fault posted earlier in the script, read when the step runs."""

    def __init__(self, fault: dict[str, Any]) -> None:
        self.fault = fault

    def __str__(self) -> str:
        return str(self.fault["_id"])


@pytest.mark.slow
def test_a_stalled_stream_fails_over_to_rest_and_back_with_every_bar_exact() -> None:
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20.0, seed=7))
    feeds = FeedsConfig.model_validate(
        {
            "failback_s": 2.0,
            "sources": [
                {"name": "ws", "kind": "ws", "stall_s": 1.0},
                {"name": "rest", "kind": "rest", "poll_s": 0.2, "stall_s": 2.0, "limit": 300},
            ],
        }
    )
    try:
        bars, journal, fs = asyncio.run(
            run_feeds(emu, feeds, stall_and_restore(3.0, 7.0), total_s=14.0)
        )
        want = thread.call(lambda: emulator_bars(emu))
    finally:
        thread.stop()

    switches = [(p["from"], p["to"], p["reason"]) for k, p in journal if k == "feed_switched"]
    assert switches == [("ws", "rest", "FAILOVER"), ("rest", "ws", "FAILBACK")], journal
    assert any(k == "feed_stalled" and p["feed"] == "ws" and p["alert"] for k, p in journal)
    sel = fs.selectors[SYMBOL]
    assert sel.emitted["rest"] >= 2, "the fallback carried no bars"
    assert sel.emitted["ws"] >= 4, "bars before and after the switches come from the stream"
    stamps = [b.ts for b in bars]
    assert stamps == sorted(set(stamps)), "a bar doubled or out of order"
    expected = [ts for ts in sorted(want) if stamps[0] <= ts <= stamps[-1]]
    assert stamps == expected, "a bar is missing"
    for b in bars:
        w = want[b.ts]
        assert (b.open, b.high, b.low, b.close) == (w.open, w.high, w.low, w.close), b.ts
        assert b.volume == pytest.approx(w.volume, rel=1e-12), b.ts


@pytest.mark.slow
def test_both_feeds_stalled_means_no_bars_and_the_symbol_is_dark() -> None:
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=20.0, seed=3))
    feeds = FeedsConfig.model_validate(
        {
            "failback_s": 1.0,
            "sources": [
                {"name": "ws", "kind": "ws", "stall_s": 1.0},
                {"name": "rest", "kind": "rest", "poll_s": 0.2, "stall_s": 1.0, "limit": 300},
            ],
        }
    )
    script = [
        (2.0, "POST", {"kind": "ws_stall", "stream": "btcusdt@trade"}),
        (2.0, "POST", {"kind": "http_error", "path": "/api/v3/trades", "status": 503}),
    ]
    try:
        bars, journal, fs = asyncio.run(run_feeds(emu, feeds, script, total_s=6.0))
    finally:
        thread.stop()

    down = [p for k, p in journal if k == "feeds_down"]
    assert down and down[0]["alert"] is True and down[0]["reason"] == "ALL_STALLED"
    assert fs.selectors[SYMBOL].active is None
    assert "NO FEED" in fs.status()
    last_bar_end = max(b.ts for b in bars) + INTERVAL
    assert all(b.ts < last_bar_end for b in bars)
