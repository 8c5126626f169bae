"""Exposure rules: position, gross, net and correlation clusters, all measured
from the exchange's account plus working orders at their worst case."""

from __future__ import annotations

from decimal import Decimal

from risk_factories import account, context, open_order, req, snapshot, view

from bastion.model import Side
from bastion.risk import RiskReason, Verdict
from bastion.risk.exposure import (
    ClusterExposureRule,
    GrossExposureRule,
    NetExposureRule,
    PositionLimitRule,
)

BTC, ETH, SOL = "BTC/USDT", "ETH/USDT", "SOL/USDT"
D = Decimal
PRICES = {BTC: 50_000.0, ETH: 2_500.0, SOL: 100.0}


# ------------------------------------------------------------- position
def test_position_limit_approves_within_the_limit() -> None:
    ctx = context()  # equity 100,000; 25% = 0.5 BTC

    assert PositionLimitRule(D("0.25")).check(req(qty="0.5"), ctx) is None


def test_position_limit_counts_the_held_position_and_working_buys() -> None:
    acct = account("80000", {BTC: "0.2"}, [open_order(BTC, Side.BUY, "0.2", "49000")])
    ctx = context(acct)  # equity 90,000 → 22,500 = 0.45 BTC; worst long 0.4
    before = snapshot(ctx)

    d = PositionLimitRule(D("0.25")).check(req(qty="0.2"), ctx)

    assert d is not None and d.verdict is Verdict.RESIZE
    assert d.reason is RiskReason.POSITION_LIMIT
    assert d.request is not None and d.request.qty == D("0.05")
    assert snapshot(ctx) == before


def test_position_limit_rejects_when_there_is_no_room() -> None:
    ctx = context(account("75000", {BTC: "0.5"}))

    d = PositionLimitRule(D("0.25")).check(req(qty="0.1"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.POSITION_LIMIT


def test_position_limit_never_limits_a_reduction() -> None:
    ctx = context(account("0", {BTC: "5"}))  # 250,000 of BTC, far above 25%

    assert PositionLimitRule(D("0.25")).check(req(side=Side.SELL, qty="1"), ctx) is None


def test_position_limit_per_symbol_override() -> None:
    ctx = context()

    d = PositionLimitRule(D("0.25"), {BTC: D("0.1")}).check(req(qty="0.5"), ctx)

    assert d is not None and d.request is not None and d.request.qty == D("0.2")


# ---------------------------------------------------------------- gross
def test_gross_exposure_approves_within_the_limit() -> None:
    ctx = context(account("50000", {ETH: "20"}), view(PRICES))  # gross 50,000 of 100,000

    assert GrossExposureRule(D("1")).check(req(qty="0.5"), ctx) is None


def test_gross_exposure_resizes_with_exposure_in_other_symbols() -> None:
    ctx = context(account("20000", {ETH: "20", SOL: "300"}), view(PRICES))  # gross 80,000
    before = snapshot(ctx)

    d = GrossExposureRule(D("1")).check(req(qty="1"), ctx)

    assert d is not None and d.reason is RiskReason.EXPOSURE_LIMIT
    assert d.request is not None and d.request.qty == D("0.4")
    assert snapshot(ctx) == before


def test_gross_exposure_rejects_when_full() -> None:
    ctx = context(account("0", {ETH: "40"}), view(PRICES))

    d = GrossExposureRule(D("1")).check(req(qty="0.1"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.EXPOSURE_LIMIT


def test_gross_exposure_includes_orders_approved_earlier_in_the_review() -> None:
    ctx = context(market=view(PRICES))
    ctx.add(req(ETH, qty="30"))  # 75,000 working

    d = GrossExposureRule(D("1")).check(req(qty="1"), ctx)

    assert d is not None and d.request is not None and d.request.qty == D("0.5")


# ------------------------------------------------------------------ net
def test_net_exposure_approves_a_hedge_and_resizes_a_one_way_bet() -> None:
    acct = account("100000", {BTC: "-1"})  # short 50,000 of 50,000+... equity 50,000
    ctx = context(acct, view(PRICES))
    before = snapshot(ctx)

    hedge = NetExposureRule(D("1")).check(req(ETH, Side.BUY, "10"), ctx)
    more_short = NetExposureRule(D("1")).check(req(SOL, Side.SELL, "100"), ctx)

    assert hedge is None
    assert more_short is not None and more_short.reason is RiskReason.NET_EXPOSURE_LIMIT
    assert more_short.verdict is Verdict.REJECT  # short 50,000 = 100% of 50,000 already
    assert snapshot(ctx) == before


def test_net_exposure_resizes_to_the_room_left() -> None:
    ctx = context(account("100000", {ETH: "20"}), view(PRICES))  # equity 150,000, net 50,000

    d = NetExposureRule(D("0.5")).check(req(qty="1"), ctx)

    assert d is not None and d.verdict is Verdict.RESIZE
    assert d.request is not None and d.request.qty == D("0.5")


# -------------------------------------------------------------- cluster
def test_cluster_limit_ignores_symbols_outside_any_cluster() -> None:
    ctx = context(account("0", {ETH: "40"}), view(PRICES))
    ctx.clusters = {ETH: frozenset({ETH, SOL}), SOL: frozenset({ETH, SOL})}

    assert ClusterExposureRule(D("0.5")).check(req(qty="0.1"), ctx) is None


def test_cluster_limit_resizes_and_rejects_on_combined_exposure() -> None:
    ctx = context(account("60000", {ETH: "16"}), view(PRICES))  # equity 100,000
    cluster = frozenset({ETH, SOL})
    ctx.clusters = {ETH: cluster, SOL: cluster}
    before = snapshot(ctx)

    resized = ClusterExposureRule(D("0.5")).check(req(SOL, qty="200"), ctx)
    ctx.add(req(SOL, qty="100"))
    refused = ClusterExposureRule(D("0.5")).check(req(SOL, qty="1"), ctx)

    assert resized is not None and resized.reason is RiskReason.CORRELATION_LIMIT
    assert resized.request is not None and resized.request.qty == D("100")
    assert resized.details["cluster"] == [ETH, SOL]
    assert refused is not None and refused.verdict is Verdict.REJECT
    assert before[ETH] == snapshot(ctx)[ETH]
