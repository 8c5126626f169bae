"""The public market as the emulator shows it: book, quotes, trades, klines.

``MarketState`` applies market events and hands back the stream messages they
produce (sans I/O: the server sends them). It also answers the public REST
queries (depth, bookTicker, trades, klines, 24h ticker) from the same state,
so what a client polls and what it streams never disagree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bastion.emulator.binance_format import Json, fmt
from bastion.emulator.market import DepthEvent, Level, QuoteEvent, TradeEvent

MINUTE_MS = 60_000
_KEEP_KLINES = 1_500
_KEEP_TRADES = 1_000

INTERVALS_MS = {
    "1m": MINUTE_MS, "3m": 3 * MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS, "1h": 60 * MINUTE_MS, "2h": 120 * MINUTE_MS, "4h": 240 * MINUTE_MS,
}  # fmt: skip

# (stream names it goes out on, payload); the all-market arrays carry a list
Message = tuple[tuple[str, ...], Any]


@dataclass(slots=True)
class Kline:
    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal = Decimal(0)
    quote_volume: Decimal = Decimal(0)
    taker_base: Decimal = Decimal(0)
    taker_quote: Decimal = Decimal(0)
    trades: int = 0
    first_id: int = -1
    last_id: int = -1

    def add(self, price: Decimal, qty: Decimal, trade_id: int, taker_buy: bool) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += qty
        self.quote_volume += qty * price
        if taker_buy:
            self.taker_base += qty
            self.taker_quote += qty * price
        self.trades += 1
        if self.first_id < 0:
            self.first_id = trade_id
        self.last_id = trade_id

    def merged(self, other: Kline) -> Kline:
        """This kline extended by a later one (building 5m from 1m)."""
        return Kline(
            open_ms=self.open_ms, open=self.open, high=max(self.high, other.high),
            low=min(self.low, other.low), close=other.close, volume=self.volume + other.volume,
            quote_volume=self.quote_volume + other.quote_volume,
            taker_base=self.taker_base + other.taker_base,
            taker_quote=self.taker_quote + other.taker_quote, trades=self.trades + other.trades,
            first_id=self.first_id, last_id=other.last_id,
        )  # fmt: skip

    def row(self, interval_ms: int) -> list[Any]:
        return [
            self.open_ms, fmt(self.open), fmt(self.high), fmt(self.low), fmt(self.close),
            fmt(self.volume), self.open_ms + interval_ms - 1, fmt(self.quote_volume),
            self.trades, fmt(self.taker_base), fmt(self.taker_quote), "0",
        ]  # fmt: skip

    def stream(self, symbol: str, closed: bool, event_ms: int) -> Json:
        return {
            "e": "kline",
            "E": event_ms,
            "s": symbol,
            "k": {
                "t": self.open_ms, "T": self.open_ms + MINUTE_MS - 1, "s": symbol, "i": "1m",
                "f": self.first_id, "L": self.last_id, "o": fmt(self.open), "c": fmt(self.close),
                "h": fmt(self.high), "l": fmt(self.low), "v": fmt(self.volume), "n": self.trades,
                "x": closed, "q": fmt(self.quote_volume), "V": fmt(self.taker_base),
                "Q": fmt(self.taker_quote), "B": "0",
            },
        }  # fmt: skip


@dataclass(slots=True)
class SymbolMarket:
    symbol: str
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    update_id: int = 0
    quote: tuple[Decimal, Decimal, Decimal, Decimal] | None = None
    trades: deque[tuple[int, Decimal, Decimal, int, bool]] = field(
        default_factory=lambda: deque(maxlen=_KEEP_TRADES)
    )
    next_trade_id: int = 1
    klines: dict[int, Kline] = field(default_factory=dict)

    def depth(self, limit: int) -> Json:
        bids = sorted(self.bids.items(), key=lambda kv: kv[0], reverse=True)[:limit]
        asks = sorted(self.asks.items(), key=lambda kv: kv[0])[:limit]
        if not bids and not asks and self.quote is not None:
            bid, bid_qty, ask, ask_qty = self.quote
            bids, asks = [(bid, bid_qty)], [(ask, ask_qty)]
        return {
            "lastUpdateId": self.update_id,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }

    def book_ticker(self) -> Json:
        bid, bid_qty, ask, ask_qty = self.quote or (None, None, None, None)
        return {
            "symbol": self.symbol, "bidPrice": fmt(bid), "bidQty": fmt(bid_qty),
            "askPrice": fmt(ask), "askQty": fmt(ask_qty),
        }  # fmt: skip

    def recent_trades(self, limit: int) -> list[Json]:
        rows = list(self.trades)[-limit:]
        return [
            {
                "id": t, "price": fmt(p), "qty": fmt(q), "quoteQty": fmt(p * q), "time": ts,
                "isBuyerMaker": m, "isBestMatch": True,
            }
            for t, p, q, ts, m in rows
        ]  # fmt: skip

    def agg_trades(
        self, start: int | None, end: int | None, from_id: int | None, limit: int
    ) -> list[Json]:
        """``aggTrades``: every trade is its own aggregate (one taker order each)."""
        rows = [
            t
            for t in self.trades
            if (from_id is None or t[0] >= from_id)
            and (start is None or t[3] >= start)
            and (end is None or t[3] <= end)
        ]
        rows = rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
        return [
            {"a": t, "p": fmt(p), "q": fmt(q), "f": t, "l": t, "T": ts, "m": m, "M": True}
            for t, p, q, ts, m in rows
        ]

    def kline_rows(
        self, interval_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[list[Any]]:
        buckets: dict[int, Kline] = {}
        for k in sorted(self.klines.values(), key=lambda k: k.open_ms):
            key = k.open_ms - k.open_ms % interval_ms
            prev = buckets.get(key)
            if prev is None:
                buckets[key] = replace(k, open_ms=key)
            else:
                buckets[key] = prev.merged(k)
        rows = [
            k
            for key, k in sorted(buckets.items())
            if (start is None or key >= start) and (end is None or key <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [k.row(interval_ms) for k in rows]

    def ticker_24h(self, now_ms: int) -> Json:
        since = now_ms - 24 * 60 * MINUTE_MS
        ks = [
            k for k in sorted(self.klines.values(), key=lambda k: k.open_ms) if k.open_ms >= since
        ]
        last = self.trades[-1][1] if self.trades else None
        first = ks[0].open if ks else last
        bid, bid_qty, ask, ask_qty = self.quote or (None, None, None, None)
        vol = sum((k.volume for k in ks), Decimal(0))
        qvol = sum((k.quote_volume for k in ks), Decimal(0))
        change = (last - first) if last is not None and first is not None else None
        return {
            "symbol": self.symbol,
            "priceChange": fmt(change),
            "priceChangePercent": f"{(change / first * 100) if change and first else 0:.3f}",
            "weightedAvgPrice": fmt(qvol / vol if vol else last),
            "prevClosePrice": fmt(first),
            "lastPrice": fmt(last),
            "lastQty": fmt(self.trades[-1][2] if self.trades else None),
            "bidPrice": fmt(bid), "bidQty": fmt(bid_qty),
            "askPrice": fmt(ask), "askQty": fmt(ask_qty),
            "openPrice": fmt(first),
            "highPrice": fmt(max((k.high for k in ks), default=last)),
            "lowPrice": fmt(min((k.low for k in ks), default=last)),
            "volume": fmt(vol), "quoteVolume": fmt(qvol),
            "openTime": ks[0].open_ms if ks else since, "closeTime": now_ms,
            "firstId": ks[0].first_id if ks else -1, "lastId": ks[-1].last_id if ks else -1,
            "count": sum(k.trades for k in ks),
        }  # fmt: skip

    def mini_ticker(self, event_ms: int) -> Json:
        """``<symbol>@miniTicker``: the 24h window in Binance's short form."""
        t = self.ticker_24h(event_ms)
        return {
            "e": "24hrMiniTicker", "E": event_ms, "s": self.symbol, "c": t["lastPrice"],
            "o": t["openPrice"], "h": t["highPrice"], "l": t["lowPrice"], "v": t["volume"],
            "q": t["quoteVolume"],
        }  # fmt: skip

    def full_ticker(self, event_ms: int) -> Json:
        """``<symbol>@ticker``: the 24h window with the best bid and ask."""
        t = self.ticker_24h(event_ms)
        return {
            "e": "24hrTicker", "E": event_ms, "s": self.symbol, "p": t["priceChange"],
            "P": t["priceChangePercent"], "w": t["weightedAvgPrice"], "x": t["prevClosePrice"],
            "c": t["lastPrice"], "Q": t["lastQty"], "b": t["bidPrice"], "B": t["bidQty"],
            "a": t["askPrice"], "A": t["askQty"], "o": t["openPrice"], "h": t["highPrice"],
            "l": t["lowPrice"], "v": t["volume"], "q": t["quoteVolume"], "O": t["openTime"],
            "C": t["closeTime"], "F": t["firstId"], "L": t["lastId"], "n": t["count"],
        }  # fmt: skip


class MarketState:
    """Every symbol's public market; ``apply_*`` return the messages to stream."""

    def __init__(self, symbols: list[str]) -> None:
        self.symbols = {s: SymbolMarket(s) for s in symbols}

    def get(self, symbol: str) -> SymbolMarket | None:
        return self.symbols.get(symbol)

    def symbol_market(self, symbol: str) -> SymbolMarket:
        m = self.symbols.get(symbol)
        if m is None:
            m = self.symbols[symbol] = SymbolMarket(symbol)
        return m

    def apply_trade(self, ev: TradeEvent, event_ms: int) -> tuple[int, list[Message]]:
        """Record a public trade; returns its id and the trade and kline messages."""
        m = self.symbol_market(ev.symbol)
        tid = ev.trade_id if ev.trade_id is not None else m.next_trade_id
        m.next_trade_id = max(m.next_trade_id, tid + 1)
        m.trades.append((tid, ev.price, ev.qty, ev.ts, ev.buyer_maker))
        low = ev.symbol.lower()
        out: list[Message] = [
            (
                (f"{low}@trade",),
                {
                    "e": "trade", "E": event_ms, "s": ev.symbol, "t": tid, "p": fmt(ev.price),
                    "q": fmt(ev.qty), "T": ev.ts, "m": ev.buyer_maker, "M": True,
                },
            )
        ]  # fmt: skip
        out.append(
            (
                (f"{low}@aggTrade",),
                {
                    "e": "aggTrade", "E": event_ms, "s": ev.symbol, "a": tid, "p": fmt(ev.price),
                    "q": fmt(ev.qty), "f": tid, "l": tid, "T": ev.ts, "m": ev.buyer_maker,
                    "M": True,
                },
            )
        )  # fmt: skip
        open_ms = ev.ts - ev.ts % MINUTE_MS
        kline = m.klines.get(open_ms)
        if kline is None:
            for prev in [k for k in m.klines.values() if k.open_ms < open_ms][-1:]:
                out.append(((f"{low}@kline_1m",), prev.stream(ev.symbol, True, event_ms)))
            kline = m.klines[open_ms] = Kline(open_ms, ev.price, ev.price, ev.price, ev.price)
            if len(m.klines) > _KEEP_KLINES:
                del m.klines[min(m.klines)]
        kline.add(ev.price, ev.qty, tid, taker_buy=not ev.buyer_maker)
        out.append(((f"{low}@kline_1m",), kline.stream(ev.symbol, False, event_ms)))
        return tid, out

    def ticker_messages(
        self, symbol: str, event_ms: int, wanted: Callable[[tuple[str, ...]], bool]
    ) -> list[Message]:
        """The 24h ticker streams after a trade, built only for streams someone
        is subscribed to (each is a pass over a day of klines). Binance pushes
        these once a second; one per trade is what a client sees, only sooner."""
        m = self.symbol_market(symbol)
        low = symbol.lower()
        out: list[Message] = []
        streams = (
            ((f"{low}@miniTicker", "!miniTicker@arr"), m.mini_ticker),
            ((f"{low}@ticker", "!ticker@arr"), m.full_ticker),
        )
        for names, build in streams:
            if wanted(names):
                payload = build(event_ms)
                out.append(((names[0],), payload))
                out.append(((names[1],), [payload]))
        return out

    def apply_quote(self, ev: QuoteEvent) -> list[Message]:
        m = self.symbol_market(ev.symbol)
        m.quote = (ev.bid, ev.bid_qty, ev.ask, ev.ask_qty)
        uid = ev.update_id if ev.update_id is not None else m.update_id
        payload = {
            "u": uid, "s": ev.symbol, "b": fmt(ev.bid), "B": fmt(ev.bid_qty),
            "a": fmt(ev.ask), "A": fmt(ev.ask_qty),
        }  # fmt: skip
        return [((f"{ev.symbol.lower()}@bookTicker",), payload)]

    def apply_depth(self, ev: DepthEvent, event_ms: int) -> list[Message]:
        """Apply levels; a whole-book replacement goes out as the diff it amounts to."""
        m = self.symbol_market(ev.symbol)
        if ev.replace and ev.last_id is not None:  # a REST snapshot: seed, do not stream
            m.bids, m.asks = dict(ev.bids), dict(ev.asks)
            m.update_id = ev.last_id
            return []
        if ev.replace:
            bids = _diff(m.bids, dict(ev.bids))
            asks = _diff(m.asks, dict(ev.asks))
        else:
            bids, asks = list(ev.bids), list(ev.asks)
        if not bids and not asks:
            return []
        _apply(m.bids, bids)
        _apply(m.asks, asks)
        first = ev.first_id if ev.first_id is not None else m.update_id + 1
        last = ev.last_id if ev.last_id is not None else m.update_id + len(bids) + len(asks)
        m.update_id = max(m.update_id, last)
        payload = {
            "e": "depthUpdate", "E": event_ms, "s": ev.symbol, "U": first, "u": last,
            "b": [[fmt(p), fmt(q)] for p, q in bids], "a": [[fmt(p), fmt(q)] for p, q in asks],
        }  # fmt: skip
        low = ev.symbol.lower()
        return [((f"{low}@depth@100ms", f"{low}@depth"), payload)]


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[Level]:
    changes = [(p, q) for p, q in new.items() if old.get(p) != q]
    changes += [(p, Decimal(0)) for p in old if p not in new]
    return changes


def _apply(side: dict[Decimal, Decimal], levels: list[Level]) -> None:
    for p, q in levels:
        if q == 0:
            side.pop(p, None)
        else:
            side[p] = q
