"""The rules about the bot's own state: latch, blocked symbols, stale data,
inventory and order size. Each: approve, (resize,) reject, and a refusal
leaves the context untouched."""

from __future__ import annotations

from decimal import Decimal

from risk_factories import NOW, account, context, instruments, open_order, req, snapshot, view

from bastion.model import OrderReport, Side
from bastion.risk import HaltLatch, HaltState, RiskReason, Verdict
from bastion.risk.rules import (
    BlockedSymbolRule,
    FreshDataRule,
    HaltRule,
    InventoryRule,
    OrderSizeRule,
)

BTC = "BTC/USDT"


def halted(state: HaltState = HaltState.HALTED) -> HaltLatch:
    latch = HaltLatch()
    latch.set(state, reason="test", now=NOW, by="ops")
    return latch


# ----------------------------------------------------------------- halt
def test_active_latch_approves_new_exposure() -> None:
    ctx = context()

    assert HaltRule().check(req(), ctx) is None


def test_halted_latch_rejects_new_exposure_and_changes_nothing() -> None:
    ctx = context(account(positions={BTC: "0.1"}), latch=halted())
    before = snapshot(ctx)

    d = HaltRule().check(req(qty="0.1"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.HALTED
    assert d.details["latch_by"] == "ops"
    assert snapshot(ctx) == before


def test_halted_latch_lets_a_closing_order_through() -> None:
    ctx = context(account(positions={BTC: "0.1"}), latch=halted())

    assert HaltRule().check(req(side=Side.SELL, qty="0.1", reduces=True), ctx) is None


def test_halted_latch_refuses_a_closing_order_that_would_flip_the_position() -> None:
    ctx = context(account(positions={BTC: "0.1"}), latch=halted())

    d = HaltRule().check(req(side=Side.SELL, qty="0.3", reduces=True), ctx)

    assert d is not None and d.reason is RiskReason.HALTED


def test_reducing_latch_refuses_a_sell_on_top_of_working_sells() -> None:
    ctx = context(
        account(positions={BTC: "0.1"}, orders=[_sell("0.1")]), latch=halted(HaltState.REDUCING)
    )

    d = HaltRule().check(req(side=Side.SELL, qty="0.1", reduces=True), ctx)

    assert d is not None and d.reason is RiskReason.REDUCING_ONLY


def _sell(qty: str) -> OrderReport:
    return open_order(BTC, Side.SELL, qty, price="60000")


# -------------------------------------------------------------- blocked
def test_blocked_symbol_rejects_new_exposure_but_not_a_reduction() -> None:
    ctx = context(account(positions={BTC: "0.1"}), blocked=frozenset({BTC}))

    buy = BlockedSymbolRule().check(req(), ctx)
    sell = BlockedSymbolRule().check(req(side=Side.SELL, qty="0.1", reduces=True), ctx)

    assert buy is not None and buy.reason is RiskReason.SYMBOL_BLOCKED
    assert sell is None


# ---------------------------------------------------------------- fresh
def test_fresh_data_approves_and_stale_data_rejects() -> None:
    fresh = context()
    stale = context(market=view({BTC: 50_000.0}, stale=True))
    before = snapshot(stale)

    ok = FreshDataRule().check(req(), fresh)
    refused = FreshDataRule().check(req(), stale)

    assert ok is None
    assert refused is not None and refused.reason is RiskReason.STALE_DATA
    assert snapshot(stale) == before


# ------------------------------------------------------------ inventory
def test_inventory_approves_a_sell_of_what_is_held() -> None:
    ctx = context(account(positions={BTC: "0.2"}))

    assert InventoryRule().check(req(side=Side.SELL, qty="0.2"), ctx) is None


def test_inventory_rejects_selling_more_than_held_minus_working_sells() -> None:
    ctx = context(account(positions={BTC: "0.2"}, orders=[_sell("0.15")]))
    before = snapshot(ctx)

    d = InventoryRule().check(req(side=Side.SELL, qty="0.1"), ctx)

    assert d is not None and d.reason is RiskReason.INVENTORY
    assert d.details["working_sells"] == "0.15"
    assert snapshot(ctx) == before


def test_inventory_allows_shorts_when_configured() -> None:
    ctx = context()

    assert InventoryRule(allow_short=True).check(req(side=Side.SELL, qty="0.1"), ctx) is None


# ----------------------------------------------------------- order size
def test_order_size_approves_within_the_limit() -> None:
    ctx = context()  # equity 100,000; 0.2 BTC at 50,000 = 10%

    assert OrderSizeRule(Decimal("0.2")).check(req(qty="0.2"), ctx) is None


def test_order_size_resizes_to_the_limit() -> None:
    ctx = context()
    before = snapshot(ctx)

    d = OrderSizeRule(Decimal("0.2")).check(req(qty="1"), ctx)

    assert d is not None and d.verdict is Verdict.RESIZE
    assert d.reason is RiskReason.ORDER_SIZE
    assert d.request is not None and d.request.qty == Decimal("0.4")
    assert snapshot(ctx) == before


def test_order_size_rejects_when_the_resized_order_is_below_the_minimum() -> None:
    ctx = context(insts=instruments(BTC, min_notional="25000"))

    d = OrderSizeRule(Decimal("0.2")).check(req(qty="1"), ctx)

    assert d is not None and d.verdict is Verdict.REJECT
    assert d.reason is RiskReason.ORDER_SIZE
    assert "below minimum" in d.details["why"]


def test_order_size_uses_the_per_symbol_override() -> None:
    ctx = context()

    d = OrderSizeRule(Decimal("0.2"), {BTC: Decimal("0.05")}).check(req(qty="0.2"), ctx)

    assert d is not None and d.request is not None and d.request.qty == Decimal("0.1")


def test_order_size_rejects_without_a_price() -> None:
    ctx = context(market=view({"ETH/USDT": 3000.0}), insts=instruments(BTC, "ETH/USDT"))

    d = OrderSizeRule(Decimal("0.2")).check(req(qty="1"), ctx)

    assert d is not None and d.reason is RiskReason.NO_PRICE
