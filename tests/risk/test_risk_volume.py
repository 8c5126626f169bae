"""Size relative to the market: a share of the mean bar volume (from the
gate's own tape, or the view's SMA volume indicator when the data gate keeps
it) and of visible book depth."""

from __future__ import annotations

from decimal import Decimal

from risk_factories import NOW, account, context, instruments, req, snapshot, view

from bastion.model import Side
from bastion.model.indicators import SMA
from bastion.model.view import MarketView, SymbolView
from bastion.risk import RiskLimits, RiskReason, Verdict
from bastion.risk.tape import MarketTape
from bastion.risk.volume import VolumeRule

BTC = "BTC/USDT"
D = Decimal


def tape_of(market: MarketView, volumes: list[float]) -> MarketTape:
    """Feed bars of the given volumes through the tape, as ``watch`` would."""
    tape = MarketTape(volume_window=30)
    sv = market[BTC]
    for i, v in enumerate(volumes):
        sv.ts += 60_000
        sv.volume = v
        tape.observe(market, NOW + i)
    return tape


def test_order_within_the_volume_share_is_approved() -> None:
    market = view({BTC: 100.0})
    ctx = context(market=market)
    ctx.tape = tape_of(market, [50.0] * 30)  # 10% of 50 = 5

    assert VolumeRule(RiskLimits()).check(req(qty="5"), ctx) is None


def test_order_above_the_volume_share_is_resized() -> None:
    market = view({BTC: 100.0})
    ctx = context(market=market)
    ctx.tape = tape_of(market, [10.0] * 20 + [30.0] * 10)  # mean 16.67 → cap 1.667
    before = snapshot(ctx)

    d = VolumeRule(RiskLimits()).check(req(qty="10"), ctx)

    assert d is not None and d.verdict is Verdict.RESIZE
    assert d.reason is RiskReason.RESIZED_VOLUME
    assert d.request is not None and d.request.qty == D("1.666")
    assert d.details["basis"] == "bar volume"
    assert snapshot(ctx) == before


def test_volume_share_below_the_exchange_minimum_is_rejected() -> None:
    market = view({BTC: 100.0})
    ctx = context(market=market, insts=instruments(BTC, min_qty="1"))
    ctx.tape = tape_of(market, [2.0] * 30)  # cap 0.2 < min 1

    d = VolumeRule(RiskLimits()).check(req(qty="5"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.VOLUME_LIMIT


def test_a_market_without_volume_refuses_new_exposure() -> None:
    market = view({BTC: 100.0})
    ctx = context(market=market)
    ctx.tape = tape_of(market, [0.0] * 30)

    d = VolumeRule(RiskLimits()).check(req(qty="1"), ctx)

    assert d is not None and d.reason is RiskReason.VOLUME_LIMIT


def test_exits_are_not_limited_by_volume() -> None:
    market = view({BTC: 100.0})
    ctx = context(account(positions={BTC: "100"}), market)
    ctx.tape = tape_of(market, [1.0] * 30)

    assert VolumeRule(RiskLimits()).check(req(side=Side.SELL, qty="100"), ctx) is None


def test_the_view_indicator_is_preferred_when_the_data_gate_keeps_it() -> None:
    market = view({BTC: 100.0})
    sv = market[BTC]
    sv.add_indicators([SMA(30, "volume")])
    for _ in range(30):
        sv.indicator(SMA(30, "volume")).update(0, 0, 0, 0, 20.0)
    ctx = context(market=market)
    ctx.tape = tape_of(market, [1000.0] * 30)  # ignored: the view knows better

    d = VolumeRule(RiskLimits()).check(req(qty="5"), ctx)

    assert d is not None and d.request is not None and d.request.qty == D("2")


def test_no_volume_history_means_no_objection() -> None:
    assert VolumeRule(RiskLimits()).check(req(qty="5"), context()) is None


def test_illiquid_symbol_fixed_unit_order_is_resized_to_the_volume_share() -> None:
    # A strategy that always buys 1 unit, on a market trading 0.5 units a bar.
    market = view({BTC: 100.0})
    ctx = context(market=market)
    ctx.tape = tape_of(market, [0.5] * 30)

    d = VolumeRule(RiskLimits()).check(req(qty="1"), ctx)

    assert d is not None and d.reason is RiskReason.RESIZED_VOLUME
    assert d.request is not None and d.request.qty == D("0.05")


class BookView(SymbolView):
    """A view with visible depth at the touch, as a quote feed would give."""

    __slots__ = ("ask_qty", "bid_qty")


def test_order_is_resized_to_a_share_of_visible_book_depth() -> None:
    market = view({BTC: 100.0})
    sv = BookView(BTC, 60_000)
    for name in ("ts", "data_ts", "close", "volume", "bars", "stale"):
        setattr(sv, name, getattr(market[BTC], name))
    sv.ask_qty, sv.bid_qty = 4.0, 1.0
    book = MarketView({BTC: sv})
    ctx = context(market=book)

    d = VolumeRule(RiskLimits()).check(req(qty="3"), ctx)  # 50% of 4 on the ask

    assert d is not None and d.reason is RiskReason.RESIZED_VOLUME
    assert d.details["basis"] == "book depth"
    assert d.request is not None and d.request.qty == D("2")
