"""Stop-limits and OCO lists in the simulated venue (``bastion.venues.sim.stops``):
Binance's checks at submit, the tick rules paper trading uses, and a stop that
survives the paper book's file (a restarted paper bot's stop is still a stop,
not a limit sell below the market that fills at once)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bastion.model import (
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StopKind,
    StrategyRef,
    TimeInForce,
)
from bastion.venues.errors import InsufficientFunds, InvalidOrder
from bastion.venues.sim import SimVenue
from bastion.venues.sim.paper import PaperVenue

SYM = "BTC/USDT"
INST = Instrument.spot(SYM, tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))
REF = StrategyRef(id="s", version="1")


def stop(cid: str = "bp-1", *, stop_price: str = "98", price: str = "97") -> OrderRequest:
    return OrderRequest(
        client_id=cid, strategy=REF, symbol=SYM, side=Side.SELL, qty=Decimal(1),
        type=OrderType.LIMIT, price=Decimal(price), stop_price=Decimal(stop_price),
        stop_kind=StopKind.STOP_LOSS, reduces_exposure=True,
    )  # fmt: skip


def take_profit(cid: str = "bp-2", price: str = "105") -> OrderRequest:
    return OrderRequest(
        client_id=cid, strategy=REF, symbol=SYM, side=Side.SELL, qty=Decimal(1),
        type=OrderType.LIMIT, price=Decimal(price), tif=TimeInForce.POST_ONLY,
    )  # fmt: skip


def venue() -> SimVenue:
    sim = SimVenue([INST], {"USDT": Decimal(1000), "BTC": Decimal(1)})
    sim.on_trade(SYM, 1, 100.0, 1.0)
    return sim


def test_a_stop_that_would_trigger_at_once_is_refused_and_nothing_is_locked() -> None:
    sim = venue()

    with pytest.raises(InvalidOrder, match="would trigger immediately"):
        sim.submit(stop(stop_price="101", price="100"))

    assert sim.fetch_account().balances["BTC"].locked == 0 and sim.fetch_open_orders() == []


def test_a_resting_stop_locks_what_it_sells_so_a_second_sell_is_refused() -> None:
    sim = venue()
    sim.submit(stop())

    with pytest.raises(InsufficientFunds):
        sim.submit(
            OrderRequest(client_id="bn-1", strategy=REF, symbol=SYM, side=Side.SELL, qty=Decimal(1))
        )
    assert sim.fetch_account().balances["BTC"].locked == 1


def test_on_trades_a_stop_waits_above_its_trigger_then_sells_at_its_limit() -> None:
    sim = venue()
    sim.submit(stop())

    sim.on_trade(SYM, 2, 98.5, 1.0)
    waiting = sim.fetch_order(SYM, "bp-1")
    sim.on_trade(SYM, 3, 97.8, 1.0)

    assert waiting is not None and waiting.status is OrderStatus.OPEN and waiting.filled_qty == 0
    done = sim.fetch_order(SYM, "bp-1")
    assert done is not None and done.status is OrderStatus.FILLED
    assert [f.price for f in sim.fetch_fills()] == [Decimal("97.00")]


def test_an_oco_cancelled_by_one_leg_is_cancelled_whole_and_unlocks_once() -> None:
    sim = venue()
    sim.submit_oco(take_profit(), stop())
    assert sim.fetch_account().balances["BTC"].locked == 1

    sim.cancel(SYM, "bp-2")

    assert sim.fetch_open_orders() == []
    assert sim.fetch_account().balances["BTC"].locked == 0
    ended = sim.fetch_order(SYM, "bp-1")
    assert ended is not None and ended.status is OrderStatus.CANCELLED


def test_an_oco_with_its_prices_the_wrong_way_round_is_refused() -> None:
    sim = venue()

    with pytest.raises(InvalidOrder, match="relationship of the prices"):
        sim.submit_oco(take_profit(price="97.5"), stop())
    assert sim.fetch_open_orders() == [] and sim.fetch_account().balances["BTC"].locked == 0


def test_a_stop_in_the_paper_book_is_still_a_stop_after_a_restart(tmp_path: Path) -> None:
    book, _ = PaperVenue.open(tmp_path, [INST], {"USDT": "1000", "BTC": "1"})
    book.on_trade(SYM, 1, 100.0, 1.0)
    book.submit(stop())
    book.close()

    again, continued = PaperVenue.open(tmp_path, [INST], {})
    again.on_trade(SYM, 2, 99.0, 1.0)  # above the stop: a plain limit at 97 would fill here
    resting = again.fetch_order(SYM, "bp-1")
    again.on_trade(SYM, 3, 97.9, 1.0)
    after = again.fetch_order(SYM, "bp-1")
    again.close()

    assert continued and resting is not None and resting.status is OrderStatus.OPEN
    assert after is not None and after.status is OrderStatus.FILLED


def test_an_oco_in_the_paper_book_is_still_one_list_after_a_restart(tmp_path: Path) -> None:
    book, _ = PaperVenue.open(tmp_path, [INST], {"USDT": "1000", "BTC": "1"})
    book.on_trade(SYM, 1, 100.0, 1.0)
    book.submit_oco(take_profit(), stop())
    book.close()

    again, _ = PaperVenue.open(tmp_path, [INST], {})
    again.on_trade(SYM, 2, 105.0, 1.0)  # the take-profit's price
    tp, sl = again.fetch_order(SYM, "bp-2"), again.fetch_order(SYM, "bp-1")
    account = again.fetch_account()
    again.close()

    assert tp is not None and tp.status is OrderStatus.FILLED
    assert sl is not None and sl.status is OrderStatus.EXPIRED
    assert account.balances["BTC"].total == 0 and account.balances["BTC"].locked == 0
