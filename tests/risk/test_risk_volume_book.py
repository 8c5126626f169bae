"""The volume rule reads an L2 book's depth near the mid when the view has one."""

from __future__ import annotations

from decimal import Decimal

from risk_factories import context, req, snapshot, view
from test_risk_volume import BTC, tape_of

from bastion.model import BookTop, Side
from bastion.risk import RiskLimits, RiskReason, Verdict
from bastion.risk.volume import VolumeRule


def top(*, ask_depth: float = 2.0, bid_depth: float = 3.0, crossed: bool = False) -> BookTop:
    return BookTop(
        bid=99.99, bid_qty=1.0, ask=100.01, ask_qty=1.0, depth_bps=10.0,
        bid_depth=bid_depth, ask_depth=ask_depth, ts=0, synced=True, crossed=crossed,
        stale=False,
    )  # fmt: skip


def test_a_buy_is_capped_by_the_asks_resting_near_the_mid() -> None:
    market = view({BTC: 100.0})
    market[BTC].book = top(ask_depth=2.0)
    ctx = context(market=market)
    ctx.tape = tape_of(market, [1_000.0] * 30)  # bar volume allows 100: the book binds
    before = snapshot(ctx)

    d = VolumeRule(RiskLimits()).check(req(qty="5"), ctx)

    assert d is not None and d.verdict is Verdict.RESIZE
    assert d.details["basis"] == "book depth"
    assert d.request is not None and d.request.qty == Decimal("1")  # half of 2.0 on the asks
    assert snapshot(ctx) == before


def test_a_sell_reads_the_bid_side() -> None:
    market = view({BTC: 100.0})
    market[BTC].book = top(bid_depth=3.0, ask_depth=0.1)
    ctx = context(market=market)
    ctx.tape = tape_of(market, [1_000.0] * 30)

    d = VolumeRule(RiskLimits()).check(req(qty="5", side=Side.SELL), ctx)

    assert d is not None and d.request is not None and d.request.qty == Decimal("1.5")


def test_a_crossed_book_lends_no_depth_so_new_exposure_is_refused() -> None:
    market = view({BTC: 100.0})
    market[BTC].book = top(crossed=True)
    ctx = context(market=market)
    ctx.tape = tape_of(market, [1_000.0] * 30)

    d = VolumeRule(RiskLimits()).check(req(qty="1"), ctx)

    assert d is not None and d.reason is RiskReason.VOLUME_LIMIT
