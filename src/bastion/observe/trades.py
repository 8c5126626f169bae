"""Round trips: fills grouped into trades that open and close a position.

A *round trip* starts when a strategy's position in a symbol leaves zero and
ends when it returns to zero. Scaling in or out inside that span stays one
round trip; a fill that crosses zero (long 1, sell 3) closes the trip with
the part that flattens the position and opens the opposite trip with the
rest, its fee split pro rata. A position still open at the end is not a
closed trade. This is the count backtrader reports as closed trades, and for
a strategy that enters with one order and exits with one order it is also
backtesting.py's (which instead counts one trade per entry order when a
strategy pyramids).

Everything is exact ``Decimal``: the PnL of a trip is the sum of its cash
flows, never derived from rounded average prices, so the trips of a run plus
what is still open add up to the run's cash flow to the last digit. Fees are
taken to be in the quote currency, as the simulated venue charges them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from bastion.model.money import ZERO
from bastion.model.orders import Fill

TripSide = Literal["long", "short"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Extra decimal places kept when a crossing fill's fee is split: enough that the
# split is faithful, few enough that sums of trips stay exact at 28 digits.
_FEE_SPLIT_EXTRA_PLACES = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundTrip:
    """One closed trade: flat → position → flat for one strategy and symbol.

    ``qty`` is the largest absolute size held during the trip. ``entry_price``
    and ``exit_price`` are volume-weighted over the fills (or fill parts) that
    grew and shrank the position; they are rounded to the Decimal context and
    for display only. ``gross_pnl`` is the sum of the trip's cash flows (sells
    minus buys), ``net_pnl`` is that minus ``fees``. ``fills`` counts the fills
    that touched the trip; a fill crossing zero counts in both trips.
    """

    strategy_id: str
    symbol: str
    side: TripSide
    entry_ts: int
    exit_ts: int
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    gross_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    fills: int

    @property
    def duration_ms(self) -> int:
        return self.exit_ts - self.entry_ts

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenTrip:
    """The trip still open for one strategy and symbol (not a closed trade).

    ``cash_flow`` is the trip's cash so far (sells minus buys, before fees), so
    ``pnl_at(mark)`` is what the trip would net if closed at ``mark`` without
    further fees, including what partial exits already realised.
    """

    strategy_id: str
    symbol: str
    side: TripSide
    entry_ts: int
    position: Decimal
    peak_qty: Decimal
    entry_price: Decimal
    cash_flow: Decimal
    fees: Decimal
    fills: int

    def pnl_at(self, mark: Decimal) -> Decimal:
        return self.cash_flow + self.position * mark - self.fees


@dataclass(slots=True)
class _Building:
    """Mutable accumulator for the trip being built; private to ``TripBook``."""

    strategy_id: str
    symbol: str
    direction: int
    entry_ts: int
    position: Decimal = ZERO
    peak: Decimal = ZERO
    entry_qty: Decimal = ZERO
    entry_notional: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_notional: Decimal = ZERO
    cash: Decimal = ZERO
    fees: Decimal = ZERO
    fills: int = 0

    def grow(self, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        self.position += self.direction * qty
        self.peak = max(self.peak, abs(self.position))
        self.entry_qty += qty
        self.entry_notional += qty * price
        self.cash -= self.direction * qty * price
        self.fees += fee
        self.fills += 1

    def shrink(self, qty: Decimal, price: Decimal, fee: Decimal) -> None:
        self.position -= self.direction * qty
        self.exit_qty += qty
        self.exit_notional += qty * price
        self.cash += self.direction * qty * price
        self.fees += fee
        self.fills += 1

    @property
    def side(self) -> TripSide:
        return "long" if self.direction > 0 else "short"

    def closed(self, exit_ts: int) -> RoundTrip:
        return RoundTrip(
            strategy_id=self.strategy_id,
            symbol=self.symbol,
            side=self.side,
            entry_ts=self.entry_ts,
            exit_ts=exit_ts,
            qty=self.peak,
            entry_price=self.entry_notional / self.entry_qty,
            exit_price=self.exit_notional / self.exit_qty,
            gross_pnl=self.cash,
            fees=self.fees,
            net_pnl=self.cash - self.fees,
            fills=self.fills,
        )

    def snapshot(self) -> OpenTrip:
        return OpenTrip(
            strategy_id=self.strategy_id,
            symbol=self.symbol,
            side=self.side,
            entry_ts=self.entry_ts,
            position=self.position,
            peak_qty=self.peak,
            entry_price=self.entry_notional / self.entry_qty,
            cash_flow=self.cash,
            fees=self.fees,
            fills=self.fills,
        )


def _split_fee(fee: Decimal, part: Decimal, whole: Decimal) -> tuple[Decimal, Decimal]:
    """Split ``fee`` into (share of ``part``, rest) so that the two add up exactly."""
    exponent = fee.as_tuple().exponent
    assert isinstance(exponent, int)  # finite: checked by _check
    # Never ask for more digits than the context holds (a huge fee keeps fewer places).
    places = max(min(exponent, 0) - _FEE_SPLIT_EXTRA_PLACES, fee.adjusted() - 20)
    quantum = Decimal(1).scaleb(places)
    share = (fee * part / whole).quantize(quantum)
    return share, fee - share


def _check(fill: Fill) -> None:
    if not (fill.qty.is_finite() and fill.price.is_finite() and fill.fee.is_finite()):
        raise ValueError(f"fill {fill.trade_id!r}: qty, price and fee must be finite")
    if fill.qty <= 0:
        raise ValueError(f"fill {fill.trade_id!r}: qty must be positive, got {fill.qty}")


class TripBook:
    """Builds round trips fill by fill, per (strategy id, symbol).

    Sans-I/O and incremental, so a live dashboard can feed it journal fills as
    they arrive and a backtest can feed it the whole run. Fills are applied in
    the order given, which must be the order they happened in (journal order);
    the book does not sort by timestamp because fills in one millisecond keep
    their venue order only in the journal.
    """

    def __init__(self, *, keep_closed: bool = True) -> None:
        self._open: dict[tuple[str, str], _Building] = {}
        self._closed: list[RoundTrip] = []
        # A live book sums each closed trip as it comes and keeps none of them.
        self._keep_closed = keep_closed

    @property
    def closed(self) -> list[RoundTrip]:
        """Closed trips in the order they closed (a copy)."""
        return list(self._closed)

    def forget_closed_before(self, ts: int) -> None:
        """Drop closed trips that ended before ``ts`` (a live book keeps a window;
        a backtest never calls this)."""
        n = 0
        while n < len(self._closed) and self._closed[n].exit_ts < ts:
            n += 1
        if n:
            del self._closed[:n]

    def open_trips(self) -> list[OpenTrip]:
        """Trips still open, in the order they were opened."""
        return [b.snapshot() for b in self._open.values()]

    def add(self, strategy_id: str, fill: Fill) -> RoundTrip | None:
        """Apply one fill; return the trip it closed, if it closed one."""
        _check(fill)
        key = (strategy_id, fill.symbol)
        sign = fill.side.sign
        building = self._open.get(key)
        if building is None:
            self._open[key] = self._start(strategy_id, fill, fill.qty, fill.fee)
            return None
        if sign == building.direction:
            building.grow(fill.qty, fill.price, fill.fee)
            return None
        held = abs(building.position)
        if fill.qty < held:
            building.shrink(fill.qty, fill.price, fill.fee)
            return None
        # The fill flattens the position, and may carry on to open the other side.
        remainder = fill.qty - held
        close_fee, open_fee = (
            _split_fee(fill.fee, held, fill.qty) if remainder > 0 else (fill.fee, ZERO)
        )
        building.shrink(held, fill.price, close_fee)
        trip = building.closed(fill.ts)
        if self._keep_closed:
            self._closed.append(trip)
        del self._open[key]
        if remainder > 0:
            self._open[key] = self._start(strategy_id, fill, remainder, open_fee)
        return trip

    @staticmethod
    def _start(strategy_id: str, fill: Fill, qty: Decimal, fee: Decimal) -> _Building:
        building = _Building(
            strategy_id=strategy_id,
            symbol=fill.symbol,
            direction=fill.side.sign,
            entry_ts=fill.ts,
        )
        building.grow(qty, fill.price, fee)
        return building


def round_trips(fills: Iterable[tuple[str, Fill]]) -> list[RoundTrip]:
    """Closed round trips from ``(strategy_id, fill)`` pairs, in the order they closed."""
    book = TripBook()
    for strategy_id, fill in fills:
        book.add(strategy_id, fill)
    return book.closed


TRADES_CSV_COLUMNS = (
    "strategy_id",
    "symbol",
    "side",
    "entry_ts",
    "exit_ts",
    "entry_time",
    "exit_time",
    "duration_s",
    "qty",
    "entry_price",
    "exit_price",
    "gross_pnl",
    "fees",
    "net_pnl",
    "fills",
)


def _iso(ts_ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ts_ms)).isoformat(timespec="milliseconds")


def write_trades_csv(path: str | Path, trips: Sequence[RoundTrip]) -> Path:
    """Write ``trips`` as CSV (Decimals as exact strings, times as ms and ISO UTC)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(TRADES_CSV_COLUMNS)
        for t in trips:
            writer.writerow(
                (
                    t.strategy_id,
                    t.symbol,
                    t.side,
                    t.entry_ts,
                    t.exit_ts,
                    _iso(t.entry_ts),
                    _iso(t.exit_ts),
                    f"{t.duration_s:.3f}",
                    t.qty,
                    t.entry_price,
                    t.exit_price,
                    t.gross_pnl,
                    t.fees,
                    t.net_pnl,
                    t.fills,
                )
            )
    return out
