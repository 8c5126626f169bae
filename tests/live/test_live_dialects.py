"""One contract for every exchange: the venue port over the real ccxt class
of each emulated dialect (Binance spot, BTC Markets v3), behind the same
``CcxtVenue`` the bot uses, driven by the per-exchange capability table.

Each test runs once per dialect: submit, fetch and cancel by our client id;
the error table; a partial fill; an order whose reply is lost after the
exchange accepted it, resolved by client id without a second order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from tests.live.live_support import FAST_POLICY, wait_for

from bastion.emulator import TEST_API_KEY, TEST_API_SECRET, EmulatorConfig, EmulatorThread
from bastion.emulator.btcmarkets import BTCM_API_KEY, BTCM_API_SECRET
from bastion.emulator.faults import FaultKind, FaultSpec
from bastion.emulator.market import QuoteEvent
from bastion.emulator.server import DEFAULT_INSTRUMENTS
from bastion.execution.manager import OrderManager
from bastion.model import Instrument, OrderRequest, OrderStatus, OrderType, Side, StrategyRef
from bastion.venues import errors as venue_errors
from bastion.venues.ccxt import CcxtVenue, Credentials

BTC_AUD = Instrument.spot(
    "BTC/AUD", tick_size=Decimal("0.01"), lot_size=Decimal("0.00000001"),
    min_qty=Decimal("0.00001"), min_notional=Decimal("5"),
)  # fmt: skip
REF = StrategyRef(id="contract", version="1")


@dataclass(frozen=True)
class Dialect:
    exchange_id: str
    symbol: str
    ex_symbol: str
    key: str
    secret: str
    order_path: str  # where orders are placed, for faults


DIALECTS = [
    Dialect("binance", "BTC/USDT", "BTCUSDT", TEST_API_KEY, TEST_API_SECRET, "/api/v3/order"),
    Dialect("btcmarkets", "BTC/AUD", "BTCAUD", BTCM_API_KEY, BTCM_API_SECRET, "/v3/orders"),
]


@dataclass
class Rig:
    d: Dialect
    thread: EmulatorThread
    venue: CcxtVenue

    @property
    def emu(self) -> Any:
        return self.thread.emulator

    def quote(self, bid: str, ask: str, ask_qty: str = "2") -> None:
        emu, sym = self.emu, self.d.ex_symbol
        self.thread.call(
            lambda: emu.apply(
                QuoteEvent(symbol=sym, ts=emu.server_ms(), bid=Decimal(bid), bid_qty=Decimal(2),
                           ask=Decimal(ask), ask_qty=Decimal(ask_qty))
            )
        )  # fmt: skip

    def order(self, cid: str, qty: str, price: str | None, side: Side = Side.BUY) -> OrderRequest:
        return OrderRequest(
            client_id=cid, strategy=REF, symbol=self.d.symbol, side=side, qty=Decimal(qty),
            type=OrderType.MARKET if price is None else OrderType.LIMIT,
            price=None if price is None else Decimal(price),
        )  # fmt: skip

    def accepted(self, cid: str) -> int:
        return sum(1 for r in self.emu.exchange.requests_for(cid) if r.outcome == "accepted")


@pytest.fixture(params=DIALECTS, ids=[d.exchange_id for d in DIALECTS])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    d: Dialect = request.param
    config = EmulatorConfig(
        source="none", instruments=(*DEFAULT_INSTRUMENTS, BTC_AUD),
        balances={"USDT": Decimal(100_000), "AUD": Decimal(100_000), "BTC": Decimal(1)},
    )  # fmt: skip
    thread = EmulatorThread(config)
    emu = thread.start()
    venue = CcxtVenue(
        d.exchange_id, [d.symbol], credentials=Credentials(d.key, d.secret), base_url=emu.url,
        ws_url=emu.ws_url, call_timeout_s=1.0, rate_limit=False,
    )  # fmt: skip
    venue.start()
    r = Rig(d, thread, venue)
    r.quote("60000", "60000.5")
    try:
        yield r
    finally:
        venue.close()
        thread.stop()


def test_submit_fetch_and_cancel_by_client_id(rig: Rig) -> None:
    placed = rig.venue.submit(rig.order("k-1", "0.01", "59000"))
    found = rig.venue.fetch_order(rig.d.symbol, "k-1")
    cancelled = rig.venue.cancel(rig.d.symbol, "k-1")
    after = rig.venue.fetch_order(rig.d.symbol, "k-1")

    assert (placed.client_id, placed.status) == ("k-1", OrderStatus.OPEN)
    assert found is not None and found.venue_order_id == placed.venue_order_id
    assert cancelled.status is OrderStatus.CANCELLED
    assert after is not None and after.status is OrderStatus.CANCELLED
    assert rig.venue.fetch_open_orders(rig.d.symbol) == []


@pytest.mark.parametrize(
    ("act", "error"),
    [
        (lambda r: r.venue.submit(r.order("e-1", "50", "59000")), venue_errors.InsufficientFunds),
        (lambda r: r.venue.cancel(r.d.symbol, "never-sent"), venue_errors.OrderNotFound),
        (lambda r: r.venue.submit(r.order("e-2", "0.000001", "59000")), venue_errors.InvalidOrder),
    ],
    ids=["insufficient funds", "cancel unknown", "below minimum"],
)
def test_the_error_table(rig: Rig, act: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        act(rig)

    assert rig.venue.fetch_order(rig.d.symbol, "never-sent") is None
    assert rig.venue.fetch_open_orders(rig.d.symbol) == []


def test_a_partial_fill_is_reported_and_its_fill_fetched(rig: Rig) -> None:
    rig.quote("60000", "60000.5", ask_qty="0.2")

    placed = rig.venue.submit(rig.order("p-1", "0.5", "60000.5"))
    report = wait_for(lambda: rig.venue.fetch_order(rig.d.symbol, "p-1"))
    fills = rig.venue.fetch_fills(0, rig.d.symbol)

    assert placed.client_id == "p-1"
    assert report.status is OrderStatus.PARTIALLY_FILLED and report.filled_qty == Decimal("0.2")
    assert [(f.client_id, f.qty, f.price) for f in fills] == [
        ("p-1", Decimal("0.2"), Decimal("60000.5"))
    ]


def test_a_reply_lost_after_accept_resolves_by_client_id_without_a_second_order(rig: Rig) -> None:
    spec = FaultSpec(kind=FaultKind.TIMEOUT_AFTER_ACCEPT, path=rig.d.order_path, method="POST",
                     count=1, mode="drop")  # fmt: skip
    rig.thread.call(lambda: rig.emu.faults.add([spec]))
    manager = OrderManager(rig.venue, lambda kind, ts, payload: None, policy=FAST_POLICY)
    now = int(time.time() * 1000)

    mo = manager.submit(rig.order("u-1", "0.01", "59000"), now)
    unknown = mo.status
    wait_for(
        lambda: manager.tick(int(time.time() * 1000)) is not None and mo.status is OrderStatus.OPEN
    )

    assert unknown is OrderStatus.UNKNOWN
    assert rig.accepted("u-1") == 1 and len(rig.emu.exchange.requests_for("u-1")) == 1
    assert manager.resends_due() == []
