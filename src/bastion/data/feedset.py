"""The async shell around the feed selectors: every configured feed, running.

``[feeds]`` lists each symbol's sources; this module starts them (WebSocket
trade streams through ``CcxtTradeFeed``, REST polling through
``PollTradeFeed``), stamps what arrives with our receive time and hands it to
the symbol's ``FeedSelector``, which decides which feed's bars the bot sees.
The bars it hands on go to ``on_bar``; trades of the bot's own exchange go,
once each (by trade id), to ``on_tape`` (paper matching). Everything here is
I/O; every decision is in the selector.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from bastion.clock import wall_ms
from bastion.config import ExchangeConfig
from bastion.config_feeds import FeedsConfig, FeedSourceConfig
from bastion.data.feeds import CcxtTradeFeed
from bastion.data.selector import FeedKind, FeedSelector, FeedSpec
from bastion.model import Bar, Trade
from bastion.venues.ccxt.client import make_exchange

Sink = Callable[[str, int, dict[str, Any]], None]
OnBar = Callable[[Bar], None]
OnTape = Callable[[Trade], None]


class PollTradeFeed:
    """Recent trades by REST, every ``poll_s``: the fallback a stalled stream
    falls over to. Binance's ``/api/v3/trades`` carries the same trade ids as
    the ``@trade`` stream, which is what makes the seam between them exact."""

    def __init__(
        self,
        name: str,
        exchange_id: str,
        symbols: Sequence[str],
        on_trade: Callable[[str, Trade], None],
        on_poll: Callable[[str, str, int], None],
        sink: Sink,
        *,
        base_url: str | None = None,
        ws_url: str | None = None,
        sandbox: bool = False,
        poll_s: float = 1.0,
        limit: int = 1000,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self.name = name
        self.exchange_id = exchange_id
        self.symbols = tuple(symbols)
        self._on_trade = on_trade
        self._on_poll = on_poll
        self._sink = sink
        self._base_url, self._ws_url, self._sandbox = base_url, ws_url, sandbox
        self.poll_s = poll_s
        self.limit = limit
        self._clock = clock
        self.polls = 0
        self.errors = 0

    async def run(self) -> None:
        options = {"fetchTradesMethod": "publicGetTrades"} if self.exchange_id == "binance" else {}
        ex = make_exchange(
            self.exchange_id,
            base_url=self._base_url,
            ws_url=self._ws_url,
            sandbox=self._sandbox,
            options=options,
        )
        try:
            async with asyncio.TaskGroup() as tg:
                for sym in self.symbols:
                    tg.create_task(self._poll(ex, sym))
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(ex.close())

    async def _poll(self, ex: Any, symbol: str) -> None:
        newest: tuple[int, str] = (0, "")
        streak = 0
        while True:
            asked = self._clock()
            try:
                async with asyncio.timeout(max(10.0, 5 * self.poll_s)):
                    trades = await ex.fetch_trades(symbol, limit=self.limit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # an outage of the fallback is journaled, not fatal
                streak += 1
                self.errors += 1
                if streak == 1:
                    self._sink(
                        "feed_error",
                        self._clock(),
                        {
                            "symbol": symbol,
                            "feed": self.name,
                            "error": f"{type(exc).__name__}: {exc}"[:300],
                        },
                    )
                await asyncio.sleep(min(self.poll_s * 2**streak, 30.0))
                continue
            streak = 0
            self.polls += 1
            for t in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
                ts, price, qty = t.get("timestamp"), t.get("price"), t.get("amount")
                if ts is None or price is None or qty is None:
                    continue
                key = (int(ts), str(t.get("id")))
                if key <= newest:
                    continue  # seen in an earlier poll
                newest = key
                self._on_trade(
                    self.name,
                    Trade(
                        symbol=symbol,
                        ts=int(ts),
                        trade_id=key[1],
                        price=float(price),
                        qty=float(qty),
                    ),
                )
            self._on_poll(self.name, symbol, asked)
            await asyncio.sleep(self.poll_s)


class FeedSet:
    """Each symbol's feeds and selector; ``run`` until cancelled, ``on_clock``
    from the bot's ticker."""

    def __init__(
        self,
        exchange: ExchangeConfig,
        feeds: FeedsConfig,
        symbols: Sequence[str],
        interval_ms: int,
        on_bar: OnBar,
        sink: Sink,
        *,
        on_tape: OnTape | None = None,
        clock: Callable[[], int] = wall_ms,
    ) -> None:
        self._on_bar = on_bar
        self._on_tape = on_tape
        self._sink = sink
        self._clock = clock
        self.ready = asyncio.Event()
        self._seen: set[str] = set()
        self._tape_ids: dict[str, tuple[set[str], deque[str]]] = {}
        now = clock()
        by_source: dict[str, tuple[FeedSourceConfig, list[str]]] = {}
        self.selectors: dict[str, FeedSelector] = {}
        for sym in symbols:
            sources = feeds.for_symbol(sym) or [
                FeedSourceConfig(name="ws", kind="ws", stall_s=exchange.feed_stale_s)
            ]
            specs = []
            for src in sources:
                by_source.setdefault(src.name, (src, []))[1].append(sym)
                kind: FeedKind = "stream" if src.kind == "ws" else "poll"
                where = f"{src.exchange or exchange.id} {src.kind}"
                specs.append(FeedSpec(src.name, kind, int(src.stall_s * 1000), where))
            self.selectors[sym] = FeedSelector(
                sym, interval_ms, specs, sink,
                failback_ms=int(feeds.failback_s * 1000), start_ms=now,
            )  # fmt: skip
        own = exchange.id
        self._own = {n for n, (s, _) in by_source.items() if (s.exchange or own) == own}
        self.streams: list[CcxtTradeFeed] = []
        self.polls: list[PollTradeFeed] = []
        for name, (src, syms) in by_source.items():
            same = (src.exchange or exchange.id) == exchange.id
            common: dict[str, Any] = {
                "base_url": src.base_url or (exchange.base_url if same else None),
                "ws_url": src.ws_url or (exchange.ws_url if same else None),
                "sandbox": exchange.sandbox if same else False,
            }
            ex_id = src.exchange or exchange.id
            if src.kind == "ws":
                self.streams.append(
                    CcxtTradeFeed(
                        ex_id, syms, self._stream_trade(name), sink,
                        stale_s=src.stall_s, clock=clock, **common,
                    )
                )  # fmt: skip
            else:
                self.polls.append(
                    PollTradeFeed(
                        name, ex_id, syms, self._trade, self._poll, sink,
                        poll_s=src.poll_s, limit=src.limit, clock=clock, **common,
                    )
                )  # fmt: skip

    @property
    def rebuilds(self) -> int:
        return sum(f.rebuilds for f in self.streams)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for s in self.streams:
                tg.create_task(s.run())
            for p in self.polls:
                tg.create_task(p.run())

    def on_clock(self, now: int) -> None:
        for sel in self.selectors.values():
            for bar in sel.on_clock(now):
                self._on_bar(bar)

    def status(self) -> str:
        """``ok``, or which symbols trade on which feed and how often it switched."""
        parts = []
        for sym, sel in self.selectors.items():
            primary = next(iter(sel.feeds))
            switches = len(sel.machine.switches)
            if sel.active != primary or switches:
                parts.append(f"{sym} on {sel.active or 'NO FEED'} ({switches} switches)")
        return "; ".join(parts) or "ok"

    # --------------------------------------------------------------- intake
    def _stream_trade(self, feed: str) -> Callable[[Trade], None]:
        return lambda t: self._trade(feed, t)

    def _trade(self, feed: str, t: Trade) -> None:
        now = self._clock()
        for bar in self.selectors[t.symbol].on_trade(feed, t.trade_id, t.ts, t.price, t.qty, now):
            self._on_bar(bar)
        if self._on_tape is not None and feed in self._own and self._first_sight(t):
            self._on_tape(t)
        if t.symbol not in self._seen:
            self._seen.add(t.symbol)
            if len(self._seen) == len(self.selectors):
                self.ready.set()

    def _poll(self, feed: str, symbol: str, asked_at: int) -> None:
        for bar in self.selectors[symbol].on_poll(feed, asked_at, self._clock()):
            self._on_bar(bar)

    def _first_sight(self, t: Trade) -> bool:
        """Paper matching sees each trade once, whichever feeds carried it."""
        ids, order = self._tape_ids.setdefault(t.symbol, (set(), deque()))
        if t.trade_id in ids:
            return False
        ids.add(t.trade_id)
        order.append(t.trade_id)
        if len(order) > 20_000:
            ids.discard(order.popleft())
        return True
