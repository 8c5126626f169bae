"""Round trips: hand-computed cases, the cash-flow identity, and the CSV."""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal
from itertools import count
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.model.orders import Fill, Liquidity, Side
from bastion.observe.trades import (
    TRADES_CSV_COLUMNS,
    RoundTrip,
    TripBook,
    round_trips,
    write_trades_csv,
)

D = Decimal
_ids = count()


def fill(
    side: Side,
    qty: str,
    price: str,
    *,
    fee: str = "0",
    ts: int = 0,
    symbol: str = "BTC/USDT",
) -> Fill:
    n = next(_ids)
    return Fill(
        trade_id=f"t{n}",
        client_id=f"c{n}",
        venue_order_id=f"v{n}",
        symbol=symbol,
        side=side,
        qty=D(qty),
        price=D(price),
        fee=D(fee),
        fee_asset="USDT",
        liquidity=Liquidity.TAKER,
        ts=ts,
    )


def tagged(*fills: Fill, strategy: str = "s1") -> list[tuple[str, Fill]]:
    return [(strategy, f) for f in fills]


BUY, SELL = Side.BUY, Side.SELL


def test_long_round_trip() -> None:
    fills = tagged(
        fill(BUY, "1", "100", fee="0.1", ts=1_000),
        fill(SELL, "1", "110", fee="0.11", ts=61_000),
    )

    (trip,) = round_trips(fills)

    assert trip == RoundTrip(
        strategy_id="s1",
        symbol="BTC/USDT",
        side="long",
        entry_ts=1_000,
        exit_ts=61_000,
        qty=D("1"),
        entry_price=D("100"),
        exit_price=D("110"),
        gross_pnl=D("10"),
        fees=D("0.21"),
        net_pnl=D("9.79"),
        fills=2,
    )
    assert trip.duration_ms == 60_000
    assert trip.duration_s == 60.0


def test_short_round_trip() -> None:
    fills = tagged(
        fill(SELL, "2", "50", fee="0.05", ts=0),
        fill(BUY, "2", "45", fee="0.045", ts=10),
    )

    (trip,) = round_trips(fills)

    assert trip.side == "short"
    assert trip.qty == D("2")
    assert (trip.entry_price, trip.exit_price) == (D("50"), D("45"))
    assert trip.gross_pnl == D("10")
    assert trip.fees == D("0.095")
    assert trip.net_pnl == D("9.905")


def test_losing_short() -> None:
    (trip,) = round_trips(tagged(fill(SELL, "1", "50"), fill(BUY, "1", "60")))

    assert trip.gross_pnl == D("-10")


def test_flip_across_zero_splits_the_fill_and_its_fee() -> None:
    fills = tagged(
        fill(BUY, "1", "100", fee="0.1", ts=1),
        fill(SELL, "3", "110", fee="0.33", ts=2),  # 1 closes the long, 2 open a short
        fill(BUY, "2", "105", fee="0.21", ts=3),
    )

    first, second = round_trips(fills)

    assert (first.side, first.entry_ts, first.exit_ts) == ("long", 1, 2)
    assert first.qty == D("1")
    assert first.gross_pnl == D("10")
    assert first.fees == D("0.21")  # 0.1 + a third of 0.33
    assert first.net_pnl == D("9.79")
    assert (second.side, second.entry_ts, second.exit_ts) == ("short", 2, 3)
    assert second.qty == D("2")
    assert (second.entry_price, second.exit_price) == (D("110"), D("105"))
    assert second.gross_pnl == D("10")
    assert second.fees == D("0.43")  # two thirds of 0.33 + 0.21
    assert second.net_pnl == D("9.57")
    assert first.fills == 2 and second.fills == 2


def test_fee_split_with_a_repeating_ratio_still_adds_up_exactly() -> None:
    book = TripBook()
    book.add("s1", fill(BUY, "1", "100", fee="0"))
    crossing = fill(SELL, "3", "100", fee="0.01")

    closed = book.add("s1", crossing)

    (still_open,) = book.open_trips()
    assert closed is not None
    assert closed.fees + still_open.fees == D("0.01")
    assert D("0.0033") < closed.fees < D("0.0034")


def test_exact_flat_with_the_last_fill_is_not_a_flip() -> None:
    book = TripBook()
    book.add("s1", fill(BUY, "0.3", "10"))
    book.add("s1", fill(BUY, "0.2", "10"))

    trip = book.add("s1", fill(SELL, "0.5", "12", fee="0.01"))

    assert trip is not None and trip.fees == D("0.01")
    assert book.open_trips() == []


def test_partial_exits_stay_one_trip() -> None:
    fills = tagged(
        fill(BUY, "2", "100", ts=0),
        fill(SELL, "0.5", "110", ts=1),
        fill(SELL, "1.5", "120", ts=2),
    )

    (trip,) = round_trips(fills)

    assert trip.qty == D("2")
    assert trip.exit_price == D("117.5")  # (55 + 180) / 2
    assert trip.gross_pnl == D("35")
    assert trip.fills == 3


def test_scaling_in_and_out_reports_peak_size_and_weighted_prices() -> None:
    fills = tagged(
        fill(BUY, "1", "100"),
        fill(BUY, "1", "110"),
        fill(SELL, "0.5", "120"),
        fill(BUY, "0.5", "100"),
        fill(SELL, "2", "130"),
    )

    (trip,) = round_trips(fills)

    assert trip.qty == D("2")
    assert trip.entry_price == D("104")  # 260 / 2.5
    assert trip.exit_price == D("128")  # 320 / 2.5
    assert trip.gross_pnl == D("60")


def test_open_position_at_the_end_is_not_a_closed_trade() -> None:
    book = TripBook()
    for f in (fill(BUY, "1", "100"), fill(SELL, "1", "101"), fill(BUY, "0.1", "102", fee="0.01")):
        book.add("s1", f)

    (open_trip,) = book.open_trips()
    assert len(book.closed) == 1
    assert open_trip.position == D("0.1")
    assert open_trip.pnl_at(D("112")) == D("0.99")  # 0.1 * 10 - 0.01


def test_buy_then_sell_all_counts_like_backtrader() -> None:
    # The simple long-only strategy of the peer comparison: buy 0.1, later sell
    # the whole position; three complete pairs and a last buy still open.
    fills = []
    for i in range(3):
        fills += [fill(BUY, "0.1", str(100 + i), ts=2 * i), fill(SELL, "0.1", "105", ts=2 * i + 1)]
    fills.append(fill(BUY, "0.1", "99", ts=10))

    trips = round_trips(tagged(*fills))

    assert len(trips) == 3
    assert [t.gross_pnl for t in trips] == [D("0.5"), D("0.4"), D("0.3")]


def test_two_strategies_on_one_symbol_are_kept_apart() -> None:
    fills = [
        ("a", fill(BUY, "1", "100", ts=1)),
        ("b", fill(SELL, "1", "101", ts=2)),
        ("a", fill(SELL, "1", "102", ts=3)),
        ("b", fill(BUY, "1", "99", ts=4)),
    ]

    trip_a, trip_b = round_trips(fills)

    assert (trip_a.strategy_id, trip_a.side, trip_a.gross_pnl) == ("a", "long", D("2"))
    assert (trip_b.strategy_id, trip_b.side, trip_b.gross_pnl) == ("b", "short", D("2"))


def test_symbols_are_kept_apart() -> None:
    fills = tagged(
        fill(BUY, "1", "100", symbol="BTC/USDT"),
        fill(SELL, "1", "10", symbol="ETH/USDT"),
        fill(SELL, "1", "110", symbol="BTC/USDT"),
    )

    (trip,) = round_trips(fills)

    assert trip.symbol == "BTC/USDT" and trip.gross_pnl == D("10")


@pytest.mark.parametrize(
    ("qty", "price"),
    [("0", "100"), ("-1", "100"), ("NaN", "100"), ("1", "Infinity")],
)
def test_a_malformed_fill_is_refused_and_changes_nothing(qty: str, price: str) -> None:
    book = TripBook()
    book.add("s1", fill(BUY, "1", "100"))
    before = book.open_trips()

    with pytest.raises(ValueError, match="fill 't"):
        book.add("s1", fill(SELL, qty, price))

    assert book.open_trips() == before
    assert book.closed == []


def test_closed_is_a_copy() -> None:
    book = TripBook()
    book.add("s1", fill(BUY, "1", "1"))
    book.add("s1", fill(SELL, "1", "2"))

    book.closed.clear()

    assert len(book.closed) == 1


# -- the cash-flow identity ---------------------------------------------------

_decimal_qty = st.integers(1, 500).map(lambda n: D(n) / 100)
_decimal_price = st.integers(1, 100_000).map(lambda n: D(n) / 100)
_decimal_fee = st.integers(0, 1_000).map(lambda n: D(n) / 10_000)
_fill_args = st.tuples(
    st.sampled_from(["a", "b"]),
    st.sampled_from(["X/USDT", "Y/USDT"]),
    st.sampled_from([BUY, SELL]),
    _decimal_qty,
    _decimal_price,
    _decimal_fee,
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(_fill_args, max_size=60),
    marks=st.fixed_dictionaries({"X/USDT": _decimal_price, "Y/USDT": _decimal_price}),
)
def test_trips_plus_open_position_equal_the_cash_flow(
    rows: list[tuple[str, str, Side, Decimal, Decimal, Decimal]],
    marks: dict[str, Decimal],
) -> None:
    book = TripBook()
    cash = D(0)
    position: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for ts, (sid, symbol, side, qty, price, fee) in enumerate(rows):
        f = fill(side, str(qty), str(price), fee=str(fee), ts=ts, symbol=symbol)
        book.add(sid, f)
        cash += -f.signed_qty * f.price - f.fee
        position[(sid, symbol)] += f.signed_qty

    realised = sum((t.net_pnl for t in book.closed), D(0))
    open_trips = book.open_trips()
    unrealised = sum((o.pnl_at(marks[o.symbol]) for o in open_trips), D(0))
    marked = sum((q * marks[sym] for (_, sym), q in position.items()), D(0))

    assert realised + unrealised == cash + marked
    assert {(o.strategy_id, o.symbol): o.position for o in open_trips} == {
        k: q for k, q in position.items() if q != 0
    }
    for t in book.closed:
        assert t.net_pnl == t.gross_pnl - t.fees
        assert t.entry_ts <= t.exit_ts
        assert t.qty > 0


# -- CSV -------------------------------------------------------------------------


def test_csv_round_trips_exact_decimals(tmp_path: Path) -> None:
    trips = round_trips(
        tagged(
            fill(BUY, "0.1", "27123.45", fee="0.00271234", ts=1_700_000_000_000),
            fill(SELL, "0.1", "27200.01", fee="0.00272", ts=1_700_000_360_500),
        )
    )

    out = write_trades_csv(tmp_path / "sub" / "trades.csv", trips)

    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0].keys()) == TRADES_CSV_COLUMNS
    (row,) = rows
    assert D(row["net_pnl"]) == trips[0].net_pnl
    assert row["entry_time"] == "2023-11-14T22:13:20.000+00:00"
    assert row["duration_s"] == "360.500"
    assert row["side"] == "long"


def test_csv_with_no_trips_has_a_header(tmp_path: Path) -> None:
    out = write_trades_csv(tmp_path / "trades.csv", [])

    assert out.read_text().strip() == ",".join(TRADES_CSV_COLUMNS)
