"""The book's top in the market view: the data gate puts it there, the quoting
example centres on it and stops quoting when it cannot be trusted."""

from __future__ import annotations

from decimal import Decimal

from bastion.data.book import OrderBook
from bastion.data.gate import DataGate
from bastion.model import AccountSnapshot, BookTop, TargetQuotes
from bastion.strategy import build_strategy

ETH = "ETH/USDT"


def gate_with_bar() -> DataGate:
    gate = DataGate({ETH: 1_000}, max_age_ms=10_000, sink=lambda *a: None)
    gate.on_bar(ETH, 0, 3_000.0, 3_000.0, 3_000.0, 3_000.0, 1.0)
    return gate


def book_top(*, crossed: bool = False) -> BookTop:
    book = OrderBook(ETH, stale_ms=5_000)
    book.load_snapshot(1, {3_010.0: 2.0, 3_009.0: 1.0}, {3_012.0: 1.5}, ts=0)
    book.apply(2, 2, {3_013.0: 1.0} if crossed else {3_010.0: 2.5}, {}, ts=500)
    return book.top(now=900, depth_bps=10.0)


def quotes(gate: DataGate) -> list[TargetQuotes]:
    quoter = build_strategy("quoter", [ETH], {"spread_bps": "10", "qty": "0.01"})
    account = AccountSnapshot(ts=1_000, quote_asset="USDT")
    intents, _ = quoter.decide(gate.view_at(1_000), account, {})
    return [i for i in intents if isinstance(i, TargetQuotes)]


def test_the_gate_shows_the_books_best_prices_and_depth() -> None:
    gate = gate_with_bar()

    gate.on_book(ETH, book_top())

    sv = gate.view_at(1_000)[ETH]
    assert (sv.bid, sv.ask) == (3_010.0, 3_012.0)
    assert sv.book is not None and sv.book.bid_depth == 3.5 and sv.book.ask_depth == 1.5
    assert sv.price == 3_011.0


def test_the_quoter_centres_on_the_books_mid() -> None:
    gate = gate_with_bar()
    gate.on_book(ETH, book_top())

    (q,) = quotes(gate)

    # 5 bps below the book's mid (3,011), not the last bar's close (3,000)
    assert abs(q.bids[0].price - Decimal(3011) * (1 - Decimal(5) / 10_000)) < Decimal("0.0001")


def test_a_crossed_book_stops_the_quoting_and_lends_the_view_no_price() -> None:
    gate = gate_with_bar()

    gate.on_book(ETH, book_top(crossed=True))

    sv = gate.view_at(1_000)[ETH]
    assert sv.book is not None and sv.book.crossed
    assert sv.bid is None and sv.ask is None
    assert quotes(gate) == []
