"""The async shell that keeps ``OrderBook``s live: Binance's depth stream plus
REST snapshots.

Binance's recipe, followed to the letter: open ``<symbol>@depth@100ms``
first, buffer what it sends, then fetch ``/api/v3/depth`` (through ccxt's
``fetch_order_book``, whose ``nonce`` is ``lastUpdateId``) and let the book
replay the buffer against it. Whenever the book reports a gap, or its best
bid meets its best ask, it is thrown away and rebuilt from a fresh snapshot;
each resync is journaled (``book_resync``) with the update ids that did not
line up. A reconnect of the stream is a resync too: diffs were lost.

The depth stream is Binance's own dialect (ccxt.pro's ``watch_order_book``
keeps its book to itself and hides the update ids), so this shell speaks it
directly with aiohttp; the snapshot goes through ccxt like every REST call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import orjson

from bastion.clock import wall_ms
from bastion.data.book import DiffOutcome, OrderBook
from bastion.model import BookTop
from bastion.venues.ccxt.client import make_exchange

Sink = Callable[[str, int, dict[str, Any]], None]

BINANCE_STREAM = "wss://stream.binance.com:9443"


class BookFeed:
    def __init__(
        self,
        exchange_id: str,
        symbols: Sequence[str],
        sink: Sink,
        *,
        base_url: str | None = None,
        ws_url: str | None = None,
        sandbox: bool = False,
        depth_bps: float = 10.0,
        stale_ms: int = 5_000,
        snapshot_limit: int = 1000,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        if exchange_id != "binance":
            raise ValueError(f"the L2 book speaks Binance's depth stream, not {exchange_id!r}")
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self._sink = sink
        self._base_url, self._ws_url, self._sandbox = base_url, ws_url, sandbox
        self.depth_bps = depth_bps
        self.snapshot_limit = snapshot_limit
        self._clock = clock
        self.books = {s: OrderBook(s, stale_ms=stale_ms) for s in symbols}
        self._want_snapshot = {s: asyncio.Event() for s in symbols}
        self.snapshots = 0
        self.ready = asyncio.Event()  # every book has been live once

    def top(self, symbol: str, now: int) -> BookTop:
        return self.books[symbol].top(now, self.depth_bps)

    async def run(self) -> None:
        ex = make_exchange(
            self.exchange_id, base_url=self._base_url, ws_url=self._ws_url, sandbox=self._sandbox
        )
        try:
            async with asyncio.TaskGroup() as tg:
                for sym in self.symbols:
                    tg.create_task(self._stream(sym))
                    tg.create_task(self._snapshots(ex, sym))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(ex.close())

    # ----------------------------------------------------------------- stream
    def _url(self, symbol: str) -> str:
        base = (self._ws_url or BINANCE_STREAM).rstrip("/")
        return f"{base}/ws/{symbol.replace('/', '').lower()}@depth@100ms"

    async def _stream(self, symbol: str) -> None:
        delay = 0.5
        book = self.books[symbol]
        while True:
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.ws_connect(self._url(symbol), heartbeat=20.0) as ws,
                ):
                    book.invalidate()  # whatever came before this socket is gone
                    self._want_snapshot[symbol].set()
                    delay = 0.5
                    async for msg in ws:
                        if msg.type is aiohttp.WSMsgType.TEXT:
                            self.on_message(symbol, orjson.loads(msg.data))
                        elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                            break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a dropped socket: reconnect after a pause
                self._sink(
                    "feed_error",
                    self._clock(),
                    {"symbol": symbol, "feed": "depth", "error": f"{type(exc).__name__}: {exc}"},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def on_message(self, symbol: str, msg: Any) -> None:
        """One depth-stream message (public so a replay can drive the shell)."""
        data = msg.get("data", msg) if isinstance(msg, dict) else None
        if not isinstance(data, dict) or data.get("e") != "depthUpdate":
            return
        book = self.books[symbol]
        was = book.last_id
        # The parser's lists go to the book as they are: the book reads the texts.
        outcome = book.apply(int(data["U"]), int(data["u"]), data["b"], data["a"], int(data["E"]))
        if outcome is DiffOutcome.GAP:
            gap = book.gaps[-1]
            self._resync(symbol, "gap", expected=gap.expected, got=[gap.first_id, gap.last_id])
        elif outcome is DiffOutcome.APPLIED and book.crossed():
            book.invalidate()
            self._resync(symbol, "crossed", bid=book.best_bid, ask=book.best_ask, last_id=was)

    def _resync(self, symbol: str, why: str, **details: Any) -> None:
        self._sink(
            "book_resync", self._clock(), {"symbol": symbol, "why": why, **details, "alert": False}
        )
        self._want_snapshot[symbol].set()

    # -------------------------------------------------------------- snapshots
    async def _snapshots(self, ex: Any, symbol: str) -> None:
        book = self.books[symbol]
        want = self._want_snapshot[symbol]
        while True:
            await want.wait()
            want.clear()
            await asyncio.sleep(0.2)  # let a few diffs buffer: the snapshot must reach them
            try:
                async with asyncio.timeout(15):
                    snap = await ex.fetch_order_book(symbol, self.snapshot_limit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._sink(
                    "feed_error",
                    self._clock(),
                    {"symbol": symbol, "feed": "depth snapshot", "error": f"{exc}"[:300]},
                )
                await asyncio.sleep(1.0)
                want.set()
                continue
            self.snapshots += 1
            bids = {float(p): float(q) for p, q, *_ in snap["bids"]}
            asks = {float(p): float(q) for p, q, *_ in snap["asks"]}
            ts = snap.get("timestamp") or self._clock()
            book.load_snapshot(int(snap["nonce"]), bids, asks, int(ts))
            if book.needs_snapshot:  # older than the buffered diffs: fetch again
                want.set()
            elif all(not b.needs_snapshot for b in self.books.values()):
                self.ready.set()
