"""Per-order sanity: market orders need a price, limit prices stay near the
market, sizes and prices on the exchange's increments and above its minimums."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from risk_factories import NOW, account, context, instruments, req, snapshot, view

from bastion.model import Side
from bastion.model.view import MarketView
from bastion.risk import RiskLimits, RiskReason, SanityLimits, Verdict
from bastion.risk.sanity import PrecisionRule, PriceBandRule, QuoteRule
from bastion.risk.tape import MarketTape

BTC = "BTC/USDT"
D = Decimal


# ---------------------------------------------------------------- quote
def test_market_order_with_a_price_is_approved() -> None:
    assert QuoteRule().check(req(), context()) is None


def test_market_order_without_any_price_is_rejected() -> None:
    ctx = context(market=view({"ETH/USDT": 2000.0}), insts=instruments(BTC, "ETH/USDT"))
    before = snapshot(ctx)

    d = QuoteRule().check(req(), ctx)

    assert d is not None and d.reason is RiskReason.NO_PRICE
    assert snapshot(ctx) == before


def test_market_order_on_an_old_price_is_rejected_when_it_adds_exposure() -> None:
    ctx = context(account(positions={BTC: "0.1"}), now=NOW + 30_000)
    rule = QuoteRule(max_quote_age_ms=10_000)

    buy = rule.check(req(), ctx)
    sell = rule.check(req(side=Side.SELL, qty="0.1", reduces=True), ctx)

    assert buy is not None and buy.reason is RiskReason.STALE_QUOTE
    assert buy.details["observed"] == 30_000
    assert sell is None


def test_limit_orders_are_not_judged_by_the_quote_rule() -> None:
    ctx = context(market=view({"ETH/USDT": 2000.0}), insts=instruments(BTC, "ETH/USDT"))

    assert QuoteRule().check(req(price="50000"), ctx) is None


# ----------------------------------------------------------- price band
def test_limit_price_inside_the_band_is_approved() -> None:
    rule = PriceBandRule(RiskLimits())  # 5%

    assert rule.check(req(price="52000"), context()) is None
    assert rule.check(req(side=Side.SELL, price="48000"), context()) is None


def test_limit_price_outside_the_band_is_rejected() -> None:
    ctx = context()
    before = snapshot(ctx)

    d = PriceBandRule(RiskLimits()).check(req(price="55000"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.PRICE_BAND
    assert D(d.details["limit"]) == 2500 and D(d.details["observed"]) == 5000
    assert snapshot(ctx) == before


def _tape_with_atr(market: MarketView, atr: float) -> MarketTape:
    tape = MarketTape(with_atr=True)
    sv = market[BTC]
    for i in range(20):
        sv.ts += 60_000
        sv.high, sv.low = sv.close + atr / 2, sv.close - atr / 2
        tape.observe(market, NOW + i)
    return tape


def test_price_band_in_atr_multiples_when_configured() -> None:
    limits = RiskLimits(sanity=SanityLimits(price_band_atr=3.0))
    market = view({BTC: 50_000.0})
    ctx = context(market=market)
    ctx.tape = _tape_with_atr(market, 100.0)  # band 300

    inside = PriceBandRule(limits).check(req(price="50250"), ctx)
    outside = PriceBandRule(limits).check(req(price="50400"), ctx)

    assert inside is None
    assert outside is not None and outside.reason is RiskReason.PRICE_BAND
    assert outside.details["basis"] == "3.0 x ATR"


# ------------------------------------------------------------ precision
def test_precision_approves_an_order_on_the_increments() -> None:
    assert PrecisionRule().check(req(qty="0.123", price="50000.01"), context()) is None


def test_precision_rounds_size_down_and_prices_away_from_the_market() -> None:
    ctx = context(account(positions={BTC: "1"}))

    buy = PrecisionRule().check(req(qty="0.1239", price="50000.019"), ctx)
    sell = PrecisionRule().check(req(side=Side.SELL, qty="0.1", price="50000.011"), ctx)

    assert buy is not None and buy.reason is RiskReason.PRECISION
    assert buy.request is not None
    assert (buy.request.qty, buy.request.price) == (D("0.123"), D("50000.01"))
    assert sell is not None and sell.request is not None
    assert sell.request.price == D("50000.02")


def test_precision_rejects_below_the_minimum_notional() -> None:
    ctx = context(insts=instruments(BTC, min_notional="10"))
    before = snapshot(ctx)

    d = PrecisionRule().check(req(qty="0.0001"), ctx)

    assert d is not None and d.reason is RiskReason.BELOW_MINIMUM
    assert snapshot(ctx) == before


def test_precision_rejects_below_the_minimum_size() -> None:
    ctx = context(insts=instruments(BTC, min_qty="0.01"))

    d = PrecisionRule().check(req(qty="0.005"), ctx)

    assert d is not None and d.reason is RiskReason.BELOW_MINIMUM
    assert "minimum 0.01" in d.details["why"]


def test_precision_rejects_an_unknown_instrument() -> None:
    ctx = context(insts={})

    d = PrecisionRule().check(req(), ctx)

    assert d is not None and d.reason is RiskReason.BELOW_MINIMUM


def test_per_symbol_price_deviation_override() -> None:
    base = RiskLimits()
    limits = replace(base, symbols={BTC: replace(base.base, max_price_deviation=D("0.01"))})

    refused = PriceBandRule(limits).check(req(price="50600"), context())
    other = PriceBandRule(limits).check(
        req("ETH/USDT", price="2600"), context(market=view({"ETH/USDT": 2500.0}))
    )

    assert refused is not None and refused.reason is RiskReason.PRICE_BAND
    assert PriceBandRule(limits).check(req(price="50400"), context()) is None
    assert other is None  # 4% is inside ETH's default 5% band
