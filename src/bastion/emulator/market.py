"""Market data sources for the emulator: what the fake exchange's market does.

A source is a (possibly endless) iterator of ``Timed`` events: ``at_ms`` says
when the event happens on the source's own clock (pacing), the event carries
the exchange timestamp. The server paces them on the event loop and rebases
both clocks onto its own, so a replay of 2024 data looks fresh to a bot whose
data gate refuses stale prices.

Three sources:
- ``SyntheticSource``: a seeded random walk of quotes, book levels and trades;
- ``BarSource``: OHLCV bars (Parquet via ``bastion.data.loaders``) replayed
  as a price path open → low/high → close of trades, with display quotes;
- ``RecordedSource``: raw Binance combined-stream files (``<recv ns> <json>``
  per line, gzip or not), several merged by receive time.
"""

from __future__ import annotations

import gzip
import heapq
import math
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from bastion.data.loaders import load_bars
from bastion.emulator.binance_format import exchange_symbol
from bastion.model import BarSeries, Instrument
from bastion.model.money import quantize_down, to_decimal

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeEvent:
    symbol: str  # exchange id, BTCUSDT
    ts: int
    price: Decimal
    qty: Decimal
    buyer_maker: bool
    trade_id: int | None = None  # kept from a recording; numbered by the emulator otherwise


@dataclass(frozen=True, slots=True, kw_only=True)
class QuoteEvent:
    symbol: str
    ts: int
    bid: Decimal
    bid_qty: Decimal
    ask: Decimal
    ask_qty: Decimal
    update_id: int | None = None
    matches: bool = True  # False: shown on the streams but not used for matching


@dataclass(frozen=True, slots=True, kw_only=True)
class DepthEvent:
    """Book levels: a diff (qty 0 removes a level) or, with ``replace``, the whole book."""

    symbol: str
    ts: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    first_id: int | None = None
    last_id: int | None = None
    replace: bool = False


MarketEvent = TradeEvent | QuoteEvent | DepthEvent


@dataclass(frozen=True, slots=True)
class Timed:
    at_ms: int
    event: MarketEvent


class SyntheticSource:
    """A seeded geometric random walk per symbol, ``rate`` steps per second.

    Each step moves the mid, re-quotes the top ``levels`` of the book around it
    and, with probability ``trade_prob``, prints a trade at the bid or the ask.
    The same seed gives the same market, whatever the machine.
    """

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        start_ms: int,
        seed: int = 0,
        rate: float = 10.0,
        start_prices: dict[str, float] | None = None,
        sigma: float = 0.0002,
        spread_ticks: int = 1,
        levels: int = 10,
        trade_prob: float = 0.5,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"synthetic rate must be positive, got {rate}")
        self.instruments = list(instruments)
        self.start_ms = start_ms
        self.rng = random.Random(seed)
        self.step_ms = 1000.0 / rate
        self.sigma = sigma
        self.spread_ticks = spread_ticks
        self.levels = levels
        self.trade_prob = trade_prob
        prices = start_prices or {}
        self.mid = {i.symbol: prices.get(i.symbol, default_price(i.symbol)) for i in instruments}

    def __iter__(self) -> Iterator[Timed]:
        k = 0
        while True:
            at = self.start_ms + int(k * self.step_ms)
            for inst in self.instruments:
                yield from self._step(inst, at)
            k += 1

    def _step(self, inst: Instrument, at: int) -> Iterator[Timed]:
        rng = self.rng
        mid = self.mid[inst.symbol] * math.exp(self.sigma * rng.gauss(0.0, 1.0))
        self.mid[inst.symbol] = mid
        tick, lot = inst.tick_size, inst.lot_size
        sym = exchange_symbol(inst.symbol)
        bid = quantize_down(to_decimal(mid), tick)
        ask = bid + tick * self.spread_ticks
        # a level holds $1,000-$20,000: deep enough that a small order fills at the touch
        size = max(lot, quantize_down(to_decimal(1_000.0 / max(mid, 1e-9)), lot))

        def qty() -> Decimal:
            return size * rng.randint(1, 20)

        bids = tuple((bid - tick * n, qty()) for n in range(self.levels))
        asks = tuple((ask + tick * n, qty()) for n in range(self.levels))
        yield Timed(at, DepthEvent(symbol=sym, ts=at, bids=bids, asks=asks, replace=True))
        yield Timed(
            at,
            QuoteEvent(symbol=sym, ts=at, bid=bid, bid_qty=bids[0][1], ask=ask, ask_qty=asks[0][1]),
        )
        if rng.random() < self.trade_prob:
            buyer_maker = rng.random() < 0.5
            price = bid if buyer_maker else ask
            yield Timed(
                at, TradeEvent(symbol=sym, ts=at, price=price, qty=qty(), buyer_maker=buyer_maker)
            )


def default_price(symbol: str) -> float:
    base = symbol.partition("/")[0]
    return {"BTC": 60_000.0, "ETH": 3_000.0, "BNB": 500.0, "SOL": 150.0}.get(base, 100.0)


class BarSource:
    """Bars replayed as trades along open → low → high → close (high first on down bars).

    The path inside a bar is unknown; this one visits every price the bar
    says was traded, which is what a resting limit order needs to be honest.
    Quotes one tick either side are shown but not matched against, so the
    matching engine fills on the trades (at their prices, never better).
    """

    def __init__(self, bars: Iterable[BarSeries], instruments: Sequence[Instrument]) -> None:
        self.series = list(bars)
        self.inst = {i.symbol: i for i in instruments}

    @classmethod
    def from_files(cls, paths: Sequence[Path], instruments: Sequence[Instrument]) -> BarSource:
        return cls([load_bars(p) for p in paths], instruments)

    def __iter__(self) -> Iterator[Timed]:
        return heapq.merge(*(self._one(s) for s in self.series), key=lambda t: t.at_ms)

    def _one(self, s: BarSeries) -> Iterator[Timed]:
        inst = self.inst.get(s.symbol) or Instrument.spot(s.symbol)
        sym = exchange_symbol(s.symbol)
        step = s.interval_ms // 4
        for i in range(len(s)):
            ts = int(s.ts[i])
            o, h, low, c = (float(x[i]) for x in (s.open, s.high, s.low, s.close))
            path = (o, low, h, c) if c >= o else (o, h, low, c)
            qty = max(inst.lot_size, inst.round_qty(to_decimal(float(s.volume[i]) / 4)))
            prev = o
            for k, p in enumerate(path):
                at = ts + k * step + (step - 1 if k == 3 else 0)
                price = inst.round_price(to_decimal(p))
                tick = inst.tick_size
                yield Timed(
                    at,
                    QuoteEvent(
                        symbol=sym, ts=at, bid=price - tick, bid_qty=qty,
                        ask=price + tick, ask_qty=qty, matches=False,
                    ),
                )  # fmt: skip
                yield Timed(
                    at,
                    TradeEvent(symbol=sym, ts=at, price=price, qty=qty, buyer_maker=p < prev),
                )
                prev = p


_FILE_SYMBOL = re.compile(r"binance_spot_([a-z0-9]+)_", re.IGNORECASE)


class RecordedSource:
    """Raw Binance combined-stream recordings, merged by receive time.

    Trade ids, prices and quantities come out exactly as recorded. A line that
    is a REST depth snapshot (``{"lastUpdateId": ...}``) seeds the book of the
    file's symbol (named in the file name) without being streamed.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        if not paths:
            raise ValueError("a recorded source needs at least one file")
        self.paths = [Path(p) for p in paths]

    def __iter__(self) -> Iterator[Timed]:
        return heapq.merge(*(self._read(p) for p in self.paths), key=lambda t: t.at_ms)

    def _read(self, path: Path) -> Iterator[Timed]:
        match = _FILE_SYMBOL.search(path.name)
        file_symbol = match.group(1).upper() if match else None
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            for line in fh:
                stamp, _, body = line.partition(b" ")
                if not body.strip():
                    continue
                at = int(stamp) // 1_000_000
                event = parse_stream_message(orjson.loads(body), at, file_symbol)
                if event is not None:
                    yield Timed(at, event)


def parse_stream_message(
    msg: dict[str, Any], at_ms: int, default_symbol: str | None = None
) -> MarketEvent | None:
    """One recorded Binance message as an event, or None for one we do not replay."""
    if "lastUpdateId" in msg and default_symbol is not None:
        return DepthEvent(
            symbol=default_symbol, ts=at_ms, bids=_levels(msg.get("bids", ())),
            asks=_levels(msg.get("asks", ())), last_id=int(msg["lastUpdateId"]), replace=True,
        )  # fmt: skip
    data = msg.get("data", msg)
    if not isinstance(data, dict):
        return None
    kind = data.get("e")
    if kind == "trade":
        return TradeEvent(
            symbol=str(data["s"]), ts=int(data["T"]), price=Decimal(data["p"]),
            qty=Decimal(data["q"]), buyer_maker=bool(data["m"]), trade_id=int(data["t"]),
        )  # fmt: skip
    if kind == "depthUpdate":
        return DepthEvent(
            symbol=str(data["s"]), ts=int(data["E"]), bids=_levels(data["b"]),
            asks=_levels(data["a"]), first_id=int(data["U"]), last_id=int(data["u"]),
        )  # fmt: skip
    if kind is None and {"b", "a", "B", "A", "s"} <= data.keys():
        return QuoteEvent(
            symbol=str(data["s"]), ts=at_ms, bid=Decimal(data["b"]), bid_qty=Decimal(data["B"]),
            ask=Decimal(data["a"]), ask_qty=Decimal(data["A"]), update_id=data.get("u"),
        )  # fmt: skip
    return None


def _levels(raw: Iterable[Sequence[str]]) -> tuple[Level, ...]:
    return tuple((Decimal(p), Decimal(q)) for p, q in raw)
