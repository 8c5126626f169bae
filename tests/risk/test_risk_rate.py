"""Order rate, globally and per symbol, over a rolling minute; a runaway loop
(the limit broken again and again) halts the bot. The gate keeps the record
of approved orders itself, stamped with ``now``."""

from __future__ import annotations

from dataclasses import replace

from risk_factories import NOW, account, context, gate, req, snapshot, view

from bastion.model import Side
from bastion.risk import HaltState, RateLimits, RiskLimits, RiskReason, Verdict
from bastion.risk.rate import OrderRateRule, RateBook

BTC, ETH = "BTC/USDT", "ETH/USDT"
LIMITS = RiskLimits(rate=RateLimits(orders_per_minute=4, orders_per_minute_symbol=2))


def filled_book(stamps: list[tuple[str, int]]) -> RateBook:
    book = RateBook()
    for sym, ts in stamps:
        book.record(sym, ts)
    return book


def test_rate_rule_approves_below_the_limits() -> None:
    ctx = context()
    ctx.rate = filled_book([(BTC, NOW - 1000)])

    assert OrderRateRule(LIMITS).check(req(), ctx) is None


def test_rate_rule_rejects_at_the_per_symbol_limit() -> None:
    ctx = context()
    ctx.rate = filled_book([(BTC, NOW - 2000), (BTC, NOW - 1000)])
    before = snapshot(ctx)

    d = OrderRateRule(LIMITS).check(req(), ctx)

    assert d is not None and d.reason is RiskReason.ORDER_RATE
    assert (d.details["scope"], d.details["limit"], d.details["observed"]) == ("symbol", 2, 3)
    assert snapshot(ctx) == before
    assert ctx.rate.count(NOW) == 2


def test_rate_rule_rejects_at_the_global_limit() -> None:
    ctx = context(market=view({BTC: 100.0, ETH: 10.0}))
    ctx.rate = filled_book([(ETH, NOW - 4000), (ETH, NOW - 3000), ("X/USDT", NOW - 1)] * 1)
    ctx.rate.record("Y/USDT", NOW - 1)

    d = OrderRateRule(LIMITS).check(req(), ctx)

    assert d is not None and d.details["scope"] == "global"


def test_orders_older_than_a_minute_no_longer_count() -> None:
    ctx = context()
    ctx.rate = filled_book([(BTC, NOW - 60_000), (BTC, NOW - 60_001)])

    assert OrderRateRule(LIMITS).check(req(), ctx) is None


def test_exposure_cutting_orders_are_never_refused_by_the_rate_limit() -> None:
    ctx = context(account(positions={BTC: "1"}))
    ctx.rate = filled_book([(BTC, NOW - 2000), (BTC, NOW - 1000)])

    assert OrderRateRule(LIMITS).check(req(side=Side.SELL, qty="1", reduces=True), ctx) is None


def test_gate_records_approvals_with_now_and_refuses_the_next_one() -> None:
    g = gate(LIMITS)
    ctx = context()

    out = g.review([req(qty="0.01", client_id=f"c{i}") for i in range(3)], ctx)

    assert [d.verdict for d in out] == [Verdict.APPROVE, Verdict.APPROVE, Verdict.REJECT]
    assert out[2].reason is RiskReason.ORDER_RATE
    assert g.rate.count(NOW, BTC) == 2
    assert ctx.exposure[BTC].buys == out[0].original.qty * 2  # the refused one is not counted


def test_repeated_breaches_within_the_window_halt_the_gate() -> None:
    limits = replace(LIMITS, rate=replace(LIMITS.rate, runaway_breaches=3))
    g = gate(limits)
    last = None

    for cycle in range(3):
        now = NOW + cycle * 1000
        ctx = context(now=now)
        last = g.review([req(qty="0.01", client_id=f"{cycle}-{i}") for i in range(4)], ctx)

    assert g.latch.state is HaltState.HALTED
    assert g.latch.reason == RiskReason.RUNAWAY.value and g.latch.by == "risk"
    assert last is not None and last[-1].details["runaway_halt"] is True
    assert last[-1].details["breaches"] == 3


def test_breaches_spread_beyond_the_window_do_not_halt() -> None:
    limits = replace(
        LIMITS, rate=replace(LIMITS.rate, runaway_breaches=2, runaway_window_ms=60_000)
    )
    g = gate(limits)

    for cycle in range(3):
        now = NOW + cycle * 120_000
        g.review([req(qty="0.01", client_id=f"{cycle}-{i}") for i in range(3)], context(now=now))

    assert g.latch.state is HaltState.ACTIVE
