"""Live market data through ccxt.pro: a thin async shell around the bar builder.

Each symbol's ``watch_trades`` runs in its own task inside our own staleness
timeout, because a WebSocket can stay open while the exchange stops sending
(ccxt.pro does not notice). A silent stream is reported (``feed_stale``,
alerting) and its socket reconnected; meanwhile no bars arrive, so the
data gate marks the symbol stale and risk refuses new exposure on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from bastion.clock import wall_ms
from bastion.model import Trade
from bastion.venues.ccxt.client import make_exchange

Sink = Callable[[str, int, dict[str, Any]], None]
OnTrade = Callable[[Trade], None]


def drop_caches(ex: Any) -> None:
    """Empty a closed client's market caches at once. A client is a web of
    reference cycles that lingers until a full garbage collection, which a big
    heap makes rare; with up to ``trades_limit`` trades per symbol (a few KB
    each) in its cache, every rebuild after a dropped stream would otherwise
    hold tens of MB for minutes, and a bot whose stream drops often grows."""
    for name in ("trades", "ohlcvs", "orderbooks", "tickers"):
        with contextlib.suppress(Exception):
            setattr(ex, name, {})


def forget_read(ex: Any, symbol: str) -> None:
    """Empty ``symbol``'s trade cache once its trades are delivered.

    ccxt.pro keeps the newest ``tradesLimit`` trades per symbol (each a dict
    with the raw message beside it, about 2.3 KB) whether or not anybody still
    needs them; we need only the trades that arrive between two reads. A full
    cache is tens of MB that churn at the trade rate, and the soak showed what
    that churn does to a long-running process: Python's allocator keeps the
    high-water mark of the churn, so the bot's RSS climbed for as long as it
    ran (issue 17) while its live objects stayed flat. Emptied after each read
    (no ``await`` between the read and this, so no trade arrives unread in
    between), the cache holds only the unread trades; ``trades_limit`` still
    bounds a stall and the overflow check still sees one."""
    cache = getattr(ex, "trades", {}).get(symbol)
    if cache is not None:
        cache.clear()


FRESH_AFTER = 8  # reconnects in a row with no trade before the whole client is rebuilt


class CcxtTradeFeed:
    def __init__(
        self,
        exchange_id: str,
        symbols: Sequence[str],
        on_trade: OnTrade,
        sink: Sink,
        *,
        base_url: str | None = None,
        ws_url: str | None = None,
        sandbox: bool = False,
        stale_s: float = 30.0,
        clock: Callable[[], int] | None = None,
        trades_limit: int = 10_000,
    ) -> None:
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self._on_trade = on_trade
        self._sink = sink
        self._base_url = base_url
        self._ws_url = ws_url
        self._sandbox = sandbox
        self.stale_s = stale_s
        self._clock = clock or wall_ms  # stamps the feed's own journal events
        self.ready = asyncio.Event()  # set once every symbol has delivered a trade
        self._seen: set[str] = set()
        # ccxt.pro keeps the trades that arrive between two reads in a cache of
        # this size and silently drops the oldest beyond it (its default, 1,000,
        # is overrun by a busy symbol while the loop is held up for a moment).
        self.trades_limit = trades_limit
        self.clients: dict[str, Any] = {}  # each symbol's current ccxt client
        self.rebuilds = 0
        self.trades = 0
        self.overflows = 0

    def _client(self) -> Any:
        ex = make_exchange(
            self.exchange_id,
            base_url=self._base_url,
            ws_url=self._ws_url,
            sandbox=self._sandbox,
            options={"tradesLimit": self.trades_limit},
        )
        return ex

    async def run(self) -> None:
        """Watch every symbol until cancelled."""
        async with asyncio.TaskGroup() as tg:
            for sym in self.symbols:
                tg.create_task(self._watch(sym))

    async def _watch(self, symbol: str) -> None:
        while True:
            ex = self._client()
            self.clients[symbol] = ex
            try:
                await self._reconnecting(symbol, ex)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.shield(ex.close())
                drop_caches(ex)

    async def _reconnecting(self, symbol: str, ex: Any) -> None:
        """Read ``symbol`` through ``ex``, reconnecting its socket after a drop or
        a silence, until ``FRESH_AFTER`` reconnects in a row delivered nothing
        (then the caller builds a fresh client).

        A reconnect closes only the WebSocket: the client, its markets, HTTP
        session and TLS context are kept. Building a whole ccxt client per
        dropped stream (as before) cost about 0.3 MB that the process never gave
        back (the soak's feed dropped every ~10 s: ~100 MB/h, issue 17)."""
        delay, dry = 0.5, 0
        while dry < FRESH_AFTER:
            try:
                while True:
                    async with asyncio.timeout(self.stale_s):
                        trades = await ex.watch_trades(symbol)
                    if len(trades) >= self.trades_limit:
                        self._overflowed(symbol)
                    for t in trades:
                        self._deliver(symbol, t)
                    forget_read(ex, symbol)
                    delay, dry = 0.5, 0
            except TimeoutError:
                self._sink(
                    "feed_stale",
                    self._clock(),
                    {
                        "symbol": symbol,
                        "silent_s": self.stale_s,
                        "action": "rebuild",
                        "alert": True,
                    },
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # dropped socket, bad frame: reconnect after a pause
                self._sink(
                    "feed_error",
                    self._clock(),
                    {"symbol": symbol, "error": f"{type(exc).__name__}: {exc}"[:300]},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            self.rebuilds += 1
            dry += 1
            with contextlib.suppress(Exception):
                await asyncio.shield(ex.close_ws_clients())
            forget_read(ex, symbol)

    def _overflowed(self, symbol: str) -> None:
        """A full cache between two reads: trades were (probably) dropped, so the
        bars being built now are short of volume. Said out loud, never silent."""
        self.overflows += 1
        self._sink(
            "feed_overflow",
            self._clock(),
            {"symbol": symbol, "trades_limit": self.trades_limit, "alert": True},
        )

    def _deliver(self, symbol: str, t: Any) -> None:
        ts, price, qty = t.get("timestamp"), t.get("price"), t.get("amount")
        if ts is None or price is None or qty is None:
            self._sink(
                "feed_schema_drift",
                self._clock(),
                {"symbol": symbol, "trade": str(t)[:200], "alert": True},
            )
            return
        self.trades += 1
        self._on_trade(
            Trade(
                symbol=symbol,
                ts=int(ts),
                trade_id=str(t.get("id")),
                price=float(price),
                qty=float(qty),
            )
        )
        if symbol not in self._seen:
            self._seen.add(symbol)
            if len(self._seen) == len(self.symbols):
                self.ready.set()
