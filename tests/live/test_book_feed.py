"""The book feed against the emulator's depth stream and ``/api/v3/depth``: it
syncs on a snapshot, follows the diffs, and when one diff is dropped on the
wire it notices by the update ids, journals it and rebuilds from a fresh
snapshot, ending equal to the exchange's own book."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from live_support import EX_SYMBOL, SYMBOL, admin, start_emulator, wall_ms

from bastion.data.book import BookState
from bastion.data.bookfeed import BookFeed
from bastion.emulator import Emulator, EmulatorThread
from bastion.emulator.market import DepthEvent

D = Decimal


def push(thread: EmulatorThread, emu: Emulator, bids: dict[str, str], asks: dict[str, str]) -> None:
    ev = DepthEvent(
        symbol=EX_SYMBOL, ts=wall_ms(),
        bids=tuple((D(p), D(q)) for p, q in bids.items()),
        asks=tuple((D(p), D(q)) for p, q in asks.items()),
    )  # fmt: skip
    thread.call(lambda: emu.apply(ev))


def exchange_book(thread: EmulatorThread, emu: Emulator) -> tuple[dict[float, float], ...]:
    m = thread.call(lambda: emu.market.symbols[EX_SYMBOL])
    return (
        {float(p): float(q) for p, q in m.bids.items()},
        {float(p): float(q) for p, q in m.asks.items()},
    )


def live_levels(feed: BookFeed) -> tuple[dict[float, float], ...]:
    book = feed.books[SYMBOL]
    return (
        {p: q for p, q in book.bids.items() if q},
        {p: q for p, q in book.asks.items() if q},
    )


def test_a_dropped_diff_is_caught_by_update_id_and_the_book_resyncs() -> None:
    thread, emu = start_emulator()
    journal: list[tuple[str, dict[str, Any]]] = []
    push(thread, emu, {"60000": "1", "59999": "2"}, {"60001": "1.5", "60002": "3"})

    async def body() -> BookFeed:
        feed = BookFeed(
            "binance", [SYMBOL], lambda k, ts, p: journal.append((k, p)),
            base_url=emu.url, ws_url=emu.ws_url, depth_bps=5.0,
        )  # fmt: skip
        task = asyncio.create_task(feed.run())
        book = feed.books[SYMBOL]

        async def until(pred: Any, what: str) -> None:
            async with asyncio.timeout(15):
                while not pred():
                    await asyncio.sleep(0.02)

        try:
            await until(feed.ready.is_set, "first snapshot")
            await asyncio.to_thread(push, thread, emu, {"60000": "1.2"}, {})
            await until(lambda: book.state is BookState.LIVE, "in sequence")
            assert live_levels(feed) == exchange_book(thread, emu)
            # one diff lost on the wire: the socket stays open, the ids skip
            await asyncio.to_thread(
                admin, emu, "/faults",
                {"kind": "ws_stall", "stream": "btcusdt@depth@100ms", "count": 1},
            )  # fmt: skip
            await asyncio.to_thread(push, thread, emu, {"59998": "4"}, {})  # dropped
            await asyncio.to_thread(push, thread, emu, {}, {"60001": "0"})  # reveals the gap
            await until(lambda: feed.snapshots >= 2, "a fresh snapshot")
            await asyncio.to_thread(push, thread, emu, {"60000": "0.7"}, {})
            await until(
                lambda: book.state is BookState.LIVE and book.bids.get(60000.0) == 0.7, "resynced"
            )
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return feed

    try:
        feed = asyncio.run(body())
        want = exchange_book(thread, emu)
    finally:
        thread.stop()

    resyncs = [p for k, p in journal if k == "book_resync"]
    assert [r["why"] for r in resyncs] == ["gap"]
    book = feed.books[SYMBOL]
    assert resyncs[0]["expected"] == book.gaps[0].expected
    assert book.gaps[0].first_id == book.gaps[0].expected + 1  # exactly one diff missing
    assert live_levels(feed) == want  # the dropped level (59998) is back, from the snapshot
    assert 59998.0 in want[0]
    top = feed.top(SYMBOL, wall_ms())
    assert top.usable and (top.bid, top.ask) == (60000.0, 60002.0)
