"""Market events as feeds deliver them.

These are observations, not money: prices are floats so indicators stay cheap;
the venue boundary turns them into ``Decimal``. Each event carries the
exchange's timestamp (``ts``, ms UTC) and, where known, when we received it
(``recv_ts``), so late data can be told from old data.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    """An OHLCV bar; ``ts`` is the bar's open time, ``interval_ms`` its length."""

    symbol: str
    ts: int
    interval_ms: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    recv_ts: int | None = None

    @property
    def close_ts(self) -> int:
        """When the bar's data is complete and may be acted on."""
        return self.ts + self.interval_ms


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """A public trade print. ``trade_id`` is the venue's id, used for dedupe."""

    symbol: str
    ts: int
    trade_id: str
    price: float
    qty: float
    buyer_is_maker: bool | None = None
    recv_ts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """Best bid and ask."""

    symbol: str
    ts: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float
    recv_ts: int | None = None


@dataclass(frozen=True, slots=True)
class BookLevel:
    price: float
    qty: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """An order book (bids best first, asks best first)."""

    symbol: str
    ts: int
    bids: tuple[BookLevel, ...] = field(default_factory=tuple)
    asks: tuple[BookLevel, ...] = field(default_factory=tuple)
    recv_ts: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BookTop:
    """The part of a live L2 book a decision reads: best prices, the quantity
    resting within ``depth_bps`` of the mid on each side, and whether the book
    can be trusted (``usable``: in sequence, complete, not crossed, not stale).
    A frozen value, so a strategy cannot disturb the book through its view."""

    bid: float | None
    bid_qty: float
    ask: float | None
    ask_qty: float
    depth_bps: float
    bid_depth: float
    ask_depth: float
    ts: int
    synced: bool
    crossed: bool
    stale: bool

    @property
    def usable(self) -> bool:
        return self.synced and not self.crossed and not self.stale and self.bid is not None

    @property
    def mid(self) -> float | None:
        if self.bid is None or self.ask is None:
            return None
        return (self.bid + self.ask) / 2.0
