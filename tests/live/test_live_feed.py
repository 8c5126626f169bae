"""The trade feed over ccxt.pro against the emulator: loss is never silent."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from live_support import SYMBOL, start_emulator

from bastion.data.feeds import CcxtTradeFeed
from bastion.emulator import EmulatorConfig
from bastion.model import Trade


def test_a_trade_cache_overrun_is_reported_not_swallowed() -> None:
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=1_000))
    events: list[tuple[str, dict[str, Any]]] = []
    trades: list[Trade] = []

    def on_trade(t: Trade) -> None:
        trades.append(t)
        if len(trades) == 1:
            time.sleep(0.3)  # the loop is held up: ~150 trades queue behind a cache of 20

    async def body() -> CcxtTradeFeed:
        feed = CcxtTradeFeed(
            "binance", [SYMBOL], on_trade, lambda k, ts, p: events.append((k, p)),
            base_url=emu.url, ws_url=emu.ws_url, trades_limit=20,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(10):
                while not feed.overflows:
                    await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return feed

    try:
        feed = asyncio.run(body())
    finally:
        thread.stop()

    assert feed.overflows >= 1
    _, payload = next(e for e in events if e[0] == "feed_overflow")
    assert payload == {"symbol": SYMBOL, "trades_limit": 20, "alert": True}


def test_the_feed_keeps_no_trade_it_has_delivered() -> None:
    """ccxt.pro's cache kept the newest 10,000 trades per symbol (~23 MB) for as
    long as the bot ran, churning at the trade rate: the soak's RSS climbed
    with it. Emptied after each read, it holds only unread trades, and every
    trade still arrives exactly once."""
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=1_000))
    trades: list[Trade] = []
    held: list[int] = []

    async def body() -> None:
        feed = CcxtTradeFeed(
            "binance", [SYMBOL], trades.append, lambda k, ts, p: None,
            base_url=emu.url, ws_url=emu.ws_url,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(20):
                while len(trades) < 3_000:
                    await asyncio.sleep(0.05)
                    ex = feed.clients.get(SYMBOL)
                    if ex is not None:
                        held.append(len(ex.trades.get(SYMBOL, ())))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(body())
    finally:
        thread.stop()

    assert len(trades) >= 3_000
    assert max(held) < 500, f"the cache held {max(held)} trades already delivered"
    ids = [t.trade_id for t in trades]
    assert len(set(ids)) == len(ids)  # none twice
    nums = sorted(int(i) for i in ids)
    assert nums[-1] - nums[0] + 1 == len(nums)  # none missing


def test_a_dropped_stream_reconnects_through_the_same_client() -> None:
    """Each new ccxt client cost ~0.3 MB the process never gave back, and the
    soak's stream dropped every ~10 s. A drop now reconnects the socket of the
    client the feed has; trades still arrive after every drop."""
    from bastion.emulator.faults import FaultSpec

    drops = (FaultSpec(kind="ws_disconnect", probability=0.01, stream="*trade*"),)
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=1_000, faults=drops))
    trades: list[Trade] = []
    events: list[str] = []
    built: list[int] = []

    async def body() -> CcxtTradeFeed:
        feed = CcxtTradeFeed(
            "binance", [SYMBOL], trades.append, lambda k, ts, p: events.append(k),
            base_url=emu.url, ws_url=emu.ws_url, stale_s=5,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(30):
                while feed.rebuilds < 3 or len(trades) < 500:
                    await asyncio.sleep(0.05)
                    ex = feed.clients.get(SYMBOL)
                    if ex is not None and (not built or built[-1] != id(ex)):
                        built.append(id(ex))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return feed

    try:
        feed = asyncio.run(body())
    finally:
        thread.stop()

    assert feed.rebuilds >= 3 and "feed_error" in events  # the stream did drop
    assert len(built) == 1, f"{len(built)} clients built for {feed.rebuilds} reconnects"
    ids = [t.trade_id for t in trades]
    assert len(set(ids)) == len(ids)


def test_a_dropped_streams_connection_is_freed_by_the_bots_collections() -> None:
    """A dropped ccxt WebSocket client is a web of reference cycles holding the
    connection's zlib state (~330 KB of C memory). CPython's own full
    collections came every many minutes, so a bot whose stream drops grew by
    ~100 MB an hour (the soak). The live loop's collector frees them: after it
    runs, no dead connection is alive. Automatic collection is off here so that
    only the collector can free them (and the count is the same every run)."""
    import gc

    from aiohttp import ClientWebSocketResponse

    from bastion.emulator.faults import FaultSpec
    from bastion.engine.memory import Collector

    drops = (FaultSpec(kind="ws_disconnect", probability=0.02, stream="*trade*"),)
    thread, emu = start_emulator(EmulatorConfig(source="synthetic", rate=1_000, faults=drops))
    collector = Collector(every_s=0)
    seen: list[int] = []

    def alive() -> int:
        return sum(isinstance(o, ClientWebSocketResponse) for o in gc.get_objects())

    async def body() -> CcxtTradeFeed:
        feed = CcxtTradeFeed(
            "binance", [SYMBOL], lambda t: None, lambda k, ts, p: None,
            base_url=emu.url, ws_url=emu.ws_url, stale_s=5,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        try:
            async with asyncio.timeout(60):
                while feed.rebuilds < 10:
                    await asyncio.sleep(0.05)
            seen.append(alive())  # before: the dead connections wait for a collection
            collector.after_cycle()
            seen.append(alive())
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return feed

    gc.disable()
    try:
        feed = asyncio.run(body())
    finally:
        gc.enable()
        thread.stop()

    assert feed.rebuilds >= 10
    before, after = seen
    assert before >= 5, f"only {before} connections alive before: the test no longer tests"
    assert after <= 1, f"{after} WebSocket connections alive after a collection (1 is live)"
