"""Protective orders in the core: their prices, and an order list's legs in the
order manager (on disk before the send, never re-sent alone)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.execution.manager import OrderManager
from bastion.execution.policy import ExecutionPolicy
from bastion.execution.protect import Protecting, Protection
from bastion.model import Instrument, OrderReport, OrderStatus, Side, StopKind, StrategyRef
from bastion.state.orders import OrderStore
from bastion.venues.errors import RateLimited, VenueTimeout
from bastion.venues.sim import SimVenue

INST = Instrument.spot("BTC/USDT", tick_size=Decimal("0.01"), lot_size=Decimal("0.00001"))
REF = StrategyRef(id="s", version="1")
RULE = Protection(
    stop_pct=Decimal("0.02"), limit_pct=Decimal("0.03"), take_profit_pct=Decimal("0.05")
)


def position(reference: Decimal, side: Side = Side.SELL) -> Protecting:
    return Protecting(
        inst=INST, strategy=REF, qty=Decimal("0.5"), reference=reference, rule=RULE, side=side
    )


@settings(max_examples=60, deadline=None)
@given(
    reference=st.decimals(min_value=Decimal("1"), max_value=Decimal("1000000"), places=3),
    side=st.sampled_from([Side.SELL, Side.BUY]),
)
def test_prices_sit_on_the_tick_and_never_closer_to_the_market_than_asked(
    reference: Decimal, side: Side
) -> None:
    p = position(reference, side)

    stop, tp = p.stop("bp-1"), p.take_profit("bp-2")

    assert stop.stop_price is not None and stop.price is not None and tp.price is not None
    for price in (stop.stop_price, stop.price, tp.price):
        assert price % INST.tick_size == 0
    against = -1 if side is Side.SELL else 1
    assert (stop.stop_price - reference * (1 + against * RULE.stop_pct)) * against >= 0
    assert (tp.price - reference * (1 - against * Decimal("0.05"))) * -against >= 0
    assert (stop.stop_kind, stop.reduces_exposure, stop.side) == (StopKind.STOP_LOSS, True, side)


def test_a_long_is_protected_below_and_taken_profit_above() -> None:
    p = position(Decimal("60000"))

    stop, tp = p.stop("bp-1"), p.take_profit("bp-2")

    assert (stop.stop_price, stop.price, tp.price) == (
        Decimal("58800.00"),
        Decimal("58200.00"),
        Decimal("63000.00"),
    )


def manager(tmp_path: Path) -> tuple[OrderManager, OrderStore, list[tuple[str, Any]]]:
    sim = SimVenue([INST], {"USDT": Decimal(100_000)})
    store = OrderStore(tmp_path / "state.sqlite")
    seen: list[tuple[str, Any]] = []
    policy = ExecutionPolicy(unknown_grace_ms=0, unknown_checks=2)
    mgr = OrderManager(sim, lambda k, ts, p: seen.append((k, p)), store, policy=policy)
    return mgr, store, seen


def test_legs_are_on_disk_before_the_send_and_an_unknown_outcome_is_never_resent(
    tmp_path: Path,
) -> None:
    mgr, store, _ = manager(tmp_path)
    p = position(Decimal("60000"))
    legs = [p.take_profit("bp-tp"), p.stop("bp-sl")]
    on_disk: list[bool] = []

    def send() -> list[OrderReport]:
        on_disk.extend(store.get(leg.client_id) is not None for leg in legs)
        raise VenueTimeout("no answer")

    mos = mgr.submit_linked(legs, send, now=1_000)
    for t in (2_000, 3_000, 4_000):
        mgr.tick(t)

    assert on_disk == [True, True]
    assert [m.status for m in mos] == [OrderStatus.EXPIRED] * 2  # not placed, never re-sent
    assert all(m.reason.startswith("not placed, and never re-sent") for m in mos)
    assert mgr.resends_due() == []
    with pytest.raises(ValueError, match="already used"):
        mgr.submit_linked(legs, send, now=5_000)


def test_a_rate_limited_list_ends_rejected_rather_than_retrying_a_leg_alone(tmp_path: Path) -> None:
    mgr, _, _ = manager(tmp_path)
    p = position(Decimal("60000"))
    calls: list[int] = []

    def send() -> list[OrderReport]:
        calls.append(1)
        raise RateLimited("429", retry_after_s=1)

    mos = mgr.submit_linked([p.take_profit("bp-tp"), p.stop("bp-sl")], send, now=1_000)
    mgr.tick(60_000)

    assert [m.status for m in mos] == [OrderStatus.REJECTED] * 2
    assert calls == [1]


def test_a_stop_survives_the_store_and_an_older_store_file_is_extended(tmp_path: Path) -> None:
    import sqlite3

    from bastion.state.orders import SCHEMA

    old = tmp_path / "old.sqlite"
    before_stops = SCHEMA.replace(
        ",\n    stop_price TEXT,\n    stop_kind  TEXT NOT NULL DEFAULT 'stop_loss'", ""
    )
    assert "stop_price" not in before_stops
    with sqlite3.connect(old) as db:  # a file written before stops existed
        db.executescript(before_stops)
        db.execute(
            "INSERT INTO orders(client_id, strategy, version, symbol, side, qty, type, price, tif,"
            " reduces, cycle, status, created_ts, updated_ts) VALUES"
            " ('bn-old', 's', '1', 'BTC/USDT', 'buy', '1', 'limit', '10', 'gtc', 0, 0, 'open',"
            " 1, 1)"
        )
    stop = position(Decimal("60000")).stop("bp-sl")

    store = OrderStore(old)
    store.save_order(stop, OrderStatus.NEW, 2)
    back, before = store.get("bp-sl"), store.get("bn-old")
    store.close()

    assert back is not None and back.request == stop
    assert before is not None and before.request.stop_price is None
