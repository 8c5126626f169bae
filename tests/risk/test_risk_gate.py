"""The gate as a whole: rules in order, resizes chained, a refusal changes
nothing, every non-approval carries the context an operator needs, and
``watch`` feeds the gate's market memory and answers Flatten."""

from __future__ import annotations

from decimal import Decimal

from risk_factories import NOW, account, context, gate, instruments, req, snapshot, view

from bastion.model import Side
from bastion.risk import HaltLatch, HaltState, RiskReason, Verdict

BTC = "BTC/USDT"
D = Decimal


def test_a_small_order_passes_every_rule_unchanged() -> None:
    g = gate()
    ctx = context()

    [d] = g.review([req(qty="0.01")], ctx)

    assert d.verdict is Verdict.APPROVE and d.request is d.original
    assert ctx.exposure[BTC].buys == D("0.01")
    assert g.rate.count(NOW, BTC) == 1


def test_a_refusal_leaves_context_and_rate_record_untouched() -> None:
    latch = HaltLatch()
    latch.set(HaltState.HALTED, reason="ops", now=NOW, by="alice")
    g = gate(latch=latch)
    ctx = context(latch=latch)
    before = snapshot(ctx)

    [d] = g.review([req(qty="0.01")], ctx)

    assert d.verdict is Verdict.REJECT and d.reason is RiskReason.HALTED
    assert snapshot(ctx) == before
    assert g.rate.count(NOW) == 0


def test_resizes_chain_and_report_the_first_reason() -> None:
    g = gate()
    ctx = context(insts=instruments(BTC))

    [d] = g.review([req(qty="2")], ctx)  # order size 20% → 0.4, inside the 25% position limit

    assert d.verdict is Verdict.RESIZE and d.reason is RiskReason.ORDER_SIZE
    assert d.original.qty == D("2") and d.request is not None and d.request.qty == D("0.4")


def test_two_orders_in_one_review_cannot_jointly_pass_a_limit() -> None:
    g = gate()
    ctx = context()

    first, second = g.review([req(qty="0.4", client_id="a"), req(qty="0.4", client_id="b")], ctx)

    assert first.verdict is Verdict.APPROVE
    assert second.verdict is Verdict.RESIZE and second.reason is RiskReason.POSITION_LIMIT
    assert second.request is not None and second.request.qty == D("0.1")


def test_non_approvals_carry_the_context_for_the_journal() -> None:
    g = gate()
    ctx = context(account(positions={BTC: "0.1"}))

    [d] = g.review([req(side=Side.SELL, qty="0.5")], ctx)

    assert d.reason is RiskReason.INVENTORY
    assert d.details["context"] == {
        "type": "market",
        "price": None,
        "reduces_exposure": False,
        "mark": "50000.0",
        "equity": "105000.00",
        "latch": "ACTIVE",
    }


def test_watch_answers_flatten_on_a_daily_loss() -> None:
    g = gate()
    market = view({BTC: 50_000.0})
    acct = account("0", {BTC: "2"})
    g.watch(acct, market, NOW)
    market[BTC].close = 47_000.0

    action = g.watch(acct, market, NOW + 60_000)

    assert action is not None and action.reason is RiskReason.DAILY_LOSS
    assert action.halt_state == "HALTED"


def test_watch_feeds_the_tape_from_the_view() -> None:
    g = gate()
    market = view({BTC: 50_000.0}, volume=7.0)

    g.watch(account(), market, NOW)

    assert g.tape.mean_volume(BTC) == 7.0
