"""The order manager over the simulated venue: never twice, always attributed."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from bastion.execution import OrderManager
from bastion.execution.planner import plan
from bastion.model import (
    CancelRequest,
    Instrument,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyRef,
    TargetPosition,
)
from bastion.venues import DuplicateClientId, VenueTimeout
from bastion.venues.sim import SimVenue, VolumeParticipation

D = Decimal
SYM = "BTC/USDT"
T0 = 1_704_067_200_000
MINUTE = 60_000
A = StrategyRef(id="alpha", version="a1")
B = StrategyRef(id="beta", version="b1")
BUY, SELL = Side.BUY, Side.SELL


# ------------------------------------------------------------------ factories
class Journal:
    """A sink that keeps what it is told."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, dict[str, Any]]] = []

    def __call__(self, kind: str, ts: int, payload: dict[str, Any]) -> None:
        self.rows.append((kind, ts, payload))

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.rows]


def sim(**kwargs: Any) -> SimVenue:
    inst = Instrument.spot(SYM, tick_size=D("0.01"), lot_size=D("0.001"))
    v = SimVenue([inst], {"USDT": D(100_000), "BTC": D(0)}, **kwargs)
    v.on_bar(SYM, T0, 100.0, 100.5, 99.5, 100.0, 1000.0)
    v.set_time(T0 + MINUTE)
    return v


def request(
    cid: str,
    side: Side,
    qty: str,
    *,
    strategy: StrategyRef = A,
    price: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_id=cid,
        strategy=strategy,
        symbol=SYM,
        side=side,
        qty=D(qty),
        type=OrderType.MARKET if price is None else OrderType.LIMIT,
        price=None if price is None else D(price),
    )


def next_bar(v: Any, om: OrderManager, i: int, *, low: float = 99.5, vol: float = 1000.0) -> None:
    """Bar ``i`` completes; the manager takes the venue's events at its close."""
    v.on_bar(SYM, T0 + i * MINUTE, 100.0, 100.5, low, 100.0, vol)
    v.set_time(T0 + (i + 1) * MINUTE)
    om.on_events(v.drain_events(), T0 + (i + 1) * MINUTE)


class TimeoutOnSubmit:
    """Stands in for the fault-injecting venue wrapper of a later issue.

    Forwards everything to a real SimVenue, but ``submit`` raises VenueTimeout:
    after the venue took the order (``landed=True``: the answer was lost) or
    before (``landed=False``: the request was lost).
    """

    def __init__(self, inner: SimVenue, *, landed: bool) -> None:
        self.inner = inner
        self.landed = landed

    def submit(self, req: OrderRequest) -> OrderReport:
        if self.landed:
            self.inner.submit(req)
        raise VenueTimeout("no answer within 10 s")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class SlowCancel:
    """A venue whose cancel is only acknowledged: the order stays live until it
    says otherwise, so fills can race the cancel."""

    def __init__(self, inner: SimVenue) -> None:
        self.inner = inner

    def cancel(self, symbol: str, client_id: str) -> OrderReport:
        report = self.inner.fetch_order(symbol, client_id)
        assert report is not None
        return report

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


# -------------------------------------------------------------------- fills
def test_a_fill_applied_twice_is_counted_once() -> None:
    v, journal = sim(), Journal()
    om = OrderManager(v, journal)
    om.submit(request("c1", BUY, "1"), T0 + MINUTE)
    next_bar(v, om, 1)
    [fill] = v.fetch_fills()
    counted = (list(om.fills), dict(om.attributed), om.orders["c1"].filled)

    om.apply_fill(fill, T0 + 3 * MINUTE)
    om.apply_fill(dataclasses.replace(fill), T0 + 3 * MINUTE)  # an equal copy, as a replay brings

    assert counted == ([("alpha", fill)], {("alpha", SYM): D(1)}, D(1))
    assert (list(om.fills), dict(om.attributed), om.orders["c1"].filled) == counted
    assert om.orders["c1"].fees == fill.fee
    assert journal.kinds().count("fill") == 1
    assert journal.kinds().count("fill_duplicate") == 2


def test_fills_are_attributed_to_the_strategy_that_placed_the_order() -> None:
    v = sim()
    om = OrderManager(v, Journal())
    om.submit(request("a1", BUY, "1"), T0 + MINUTE)
    om.submit(request("b1", BUY, "0.5", strategy=B), T0 + MINUTE)
    next_bar(v, om, 1)
    om.submit(request("b2", SELL, "0.2", strategy=B), T0 + 2 * MINUTE)

    next_bar(v, om, 2)

    assert om.positions_for("alpha") == {SYM: D(1)}
    assert om.positions_for("beta") == {SYM: D("0.3")}
    assert [(sid, f.client_id) for sid, f in om.fills] == [
        ("alpha", "a1"),
        ("beta", "b1"),
        ("beta", "b2"),
    ]
    assert {cid: mo.status for cid, mo in om.orders.items()} == {
        "a1": OrderStatus.FILLED,
        "b1": OrderStatus.FILLED,
        "b2": OrderStatus.FILLED,
    }
    assert om.working == {}


# ---------------------------------------------------------- unknown outcome
@pytest.mark.parametrize("landed", [True, False], ids=["answer_lost", "request_lost"])
def test_a_submit_that_times_out_is_unknown_blocks_its_symbol_and_is_not_resent(
    landed: bool,
) -> None:
    inner = sim()
    v, journal = TimeoutOnSubmit(inner, landed=landed), Journal()
    om = OrderManager(v, journal)  # type: ignore[arg-type]
    req = request("c1", BUY, "1")

    mo = om.submit(req, T0 + MINUTE)

    assert mo.status is OrderStatus.UNKNOWN
    assert "VenueTimeout" in mo.reason
    assert om.blocked == {SYM}
    assert "c1" in om.working
    assert inner.orders_received == (1 if landed else 0)
    assert "order_unknown" in journal.kinds()
    # The next cycle's planner sees the order as on its way: nothing new to send...
    again = plan(
        strategy=A,
        intents=[TargetPosition(symbol=SYM, qty=D(1))],
        positions={SYM: D(0)},
        own_orders=om.working_for("alpha"),
        instruments=inner.instruments(),
        marks={SYM: 100.0},
        cycle=2,
        new_id=lambda i, leg: f"new-{i}-{leg}",
    )
    assert (again.orders, again.cancels) == ([], [])
    # ...and the same client id cannot be pushed through the manager twice.
    with pytest.raises(ValueError, match="already used"):
        om.submit(req, T0 + MINUTE)
    assert inner.orders_received == (1 if landed else 0)


def test_an_unknown_order_that_landed_takes_the_venues_state_when_resolved() -> None:
    inner = sim()
    om = OrderManager(TimeoutOnSubmit(inner, landed=True), Journal())  # type: ignore[arg-type]
    om.submit(request("c1", BUY, "1"), T0 + MINUTE)
    inner.on_bar(SYM, T0 + MINUTE, 101.0, 101.5, 100.5, 101.0, 1000.0)

    om.tick(T0 + 2 * MINUTE)  # before the next decision: ask the venue by client id

    assert om.orders["c1"].status is OrderStatus.FILLED
    assert om.orders["c1"].filled == D(1)  # its fills were caught up too
    assert om.positions_for("alpha") == {SYM: D(1)}
    assert om.blocked == set()
    assert om.working == {}
    assert inner.orders_received == 1


def test_one_not_found_answer_is_not_proof_the_order_was_never_placed() -> None:
    inner = sim()
    om = OrderManager(TimeoutOnSubmit(inner, landed=False), Journal())  # type: ignore[arg-type]
    om.submit(request("c1", BUY, "1"), T0 + MINUTE)

    om.tick(T0 + MINUTE + 1_000)  # asked at once: the venue may simply not show it yet

    assert om.orders["c1"].status is OrderStatus.UNKNOWN
    assert om.blocked == {SYM}
    assert inner.orders_received == 0


def test_a_duplicate_client_id_means_an_earlier_attempt_landed() -> None:
    v = sim()
    req = request("c1", BUY, "1", price="95")
    v.submit(req)  # the first attempt, whose answer we never saw
    om = OrderManager(v, Journal())

    mo = om.submit(req, T0 + MINUTE)

    assert mo.status is OrderStatus.OPEN
    assert mo.venue_id == "S1"
    assert om.blocked == set()
    assert [o.client_id for o in v.fetch_open_orders()] == ["c1"]
    with pytest.raises(DuplicateClientId):
        v.submit(req)


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("req", "error"),
    [
        (request("c1", BUY, "0.0001"), "InvalidOrder"),  # not a multiple of the lot
        (request("c1", SELL, "1"), "InsufficientFunds"),  # nothing to sell
        (request("c1", BUY, "5000"), "InsufficientFunds"),  # beyond cash
    ],
    ids=["bad_lot", "sell_unheld", "beyond_cash"],
)
def test_a_submit_the_venue_refuses_ends_rejected_and_nothing_is_placed(
    req: OrderRequest, error: str
) -> None:
    v, journal = sim(), Journal()
    om = OrderManager(v, journal)
    start = v.fetch_account()

    mo = om.submit(req, T0 + MINUTE)

    assert mo.status is OrderStatus.REJECTED
    assert mo.reason.startswith(error)
    assert om.working == {}
    assert om.blocked == set()
    assert v.fetch_account() == start
    assert journal.kinds() == ["order_submitted", "order_rejected"]


# --------------------------------------------------------- races and order
def test_a_fill_racing_a_cancel_keeps_it_cancel_pending_then_filled() -> None:
    inner = sim(slippage=VolumeParticipation(share=D("0.1")))
    v = SlowCancel(inner)
    om = OrderManager(v, Journal())  # type: ignore[arg-type]
    om.submit(request("c1", BUY, "3", price="99"), T0 + MINUTE)

    om.cancel(CancelRequest(client_id="c1", symbol=SYM), T0 + MINUTE)
    after_cancel = om.orders["c1"].status
    next_bar(v, om, 1, low=98.0, vol=10.0)  # 1 of 3 fills while the cancel is pending
    during_race = (om.orders["c1"].status, om.orders["c1"].filled)
    next_bar(v, om, 2, low=98.0, vol=10.0)
    next_bar(v, om, 3, low=98.0, vol=10.0)

    assert after_cancel is OrderStatus.CANCEL_PENDING
    assert during_race == (OrderStatus.CANCEL_PENDING, D(1))
    assert (om.orders["c1"].status, om.orders["c1"].filled) == (OrderStatus.FILLED, D(3))
    assert om.working == {}


@pytest.mark.parametrize("late", [OrderStatus.OPEN, OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_a_late_report_after_a_fill_leaves_the_order_filled(late: OrderStatus) -> None:
    v, journal = sim(), Journal()
    om = OrderManager(v, journal)
    om.submit(request("c1", BUY, "1"), T0 + MINUTE)
    next_bar(v, om, 1)
    filled = om.orders["c1"].as_report()
    stale = dataclasses.replace(filled, status=late, filled_qty=D(0))
    rows = len(journal.rows)

    om.apply_report(stale, T0 + 3 * MINUTE)

    assert om.orders["c1"].status is OrderStatus.FILLED
    assert om.orders["c1"].filled == D(1)
    assert om.working == {}
    assert not any(k.startswith("order_") for k, _, _ in journal.rows[rows:])


def test_cancel_of_an_order_that_already_filled_learns_how_it_ended() -> None:
    v = sim()
    om = OrderManager(v, Journal())
    om.submit(request("c1", BUY, "1"), T0 + MINUTE)
    v.on_bar(SYM, T0 + MINUTE, 100.0, 100.5, 99.5, 100.0, 1000.0)  # fills; events not yet read

    om.cancel(CancelRequest(client_id="c1", symbol=SYM), T0 + 2 * MINUTE)

    assert om.orders["c1"].status is OrderStatus.FILLED
    assert om.working == {}


def _ids(reports: Sequence[OrderReport]) -> list[str]:
    return [r.client_id for r in reports]


def test_working_orders_are_reported_per_strategy() -> None:
    v = sim()
    om = OrderManager(v, Journal())
    om.submit(request("a1", BUY, "1", price="95"), T0 + MINUTE)
    om.submit(request("b1", BUY, "1", price="94", strategy=B), T0 + MINUTE)

    assert _ids(om.working_for("alpha")) == ["a1"]
    assert _ids(om.working_for("beta")) == ["b1"]
