"""The risk gate: every order passes every rule, in order, before it is sent.

A resize feeds the smaller order to the remaining rules; a reject stops there.
Cancels are never reviewed: taking risk off is always allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bastion.model import AccountSnapshot, OrderRequest
from bastion.model.view import MarketView
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, Flatten, Verdict, approve
from bastion.risk.latch import HaltLatch
from bastion.risk.rules import (
    BlockedSymbolRule,
    FreshDataRule,
    GrossExposureRule,
    HaltRule,
    InventoryRule,
    OrderSizeRule,
    PositionLimitRule,
    Rule,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """Conservative defaults: fractions of equity."""

    max_position: Decimal = Decimal("0.5")
    max_gross_exposure: Decimal = Decimal("1.0")
    max_order: Decimal = Decimal("0.25")
    allow_short: bool = False


def default_rules(limits: RiskLimits) -> tuple[Rule, ...]:
    return (
        HaltRule(),
        BlockedSymbolRule(),
        FreshDataRule(),
        InventoryRule(allow_short=limits.allow_short),
        OrderSizeRule(limits.max_order),
        PositionLimitRule(limits.max_position),
        GrossExposureRule(limits.max_gross_exposure),
    )


class RiskGate:
    def __init__(self, rules: Sequence[Rule], latch: HaltLatch | None = None) -> None:
        self.rules = tuple(rules)
        self.latch = latch or HaltLatch()

    def watch(self, account: AccountSnapshot, view: MarketView, now: int) -> Flatten | None:
        """Account-level checks run every cycle, before any decision (daily loss,
        drawdown). Returning ``Flatten`` makes the engine close everything and
        halt in this same cycle. Must be cheap: it runs on every bar, so cache
        on the account object's identity (a new snapshot means something changed)."""
        return None

    def review(self, requests: Sequence[OrderRequest], ctx: RiskContext) -> list[Decision]:
        out: list[Decision] = []
        for req in requests:
            decision = self._review_one(req, ctx)
            if decision.request is not None:
                ctx.add(decision.request)
            out.append(decision)
        return out

    def _review_one(self, req: OrderRequest, ctx: RiskContext) -> Decision:
        current = req
        first_resize: Decision | None = None
        for rule in self.rules:
            d = rule.check(current, ctx)
            if d is None:
                continue
            if d.verdict is Verdict.REJECT:
                return d if current is req else _rebase(d, req)
            assert d.request is not None
            current = d.request
            first_resize = first_resize or d
        if current is req:
            return approve(req)
        assert first_resize is not None
        return Decision(
            verdict=Verdict.RESIZE,
            original=req,
            request=current,
            reason=first_resize.reason,
            rule=first_resize.rule,
            details=first_resize.details,
        )


def _rebase(d: Decision, original: OrderRequest) -> Decision:
    return Decision(
        verdict=d.verdict,
        original=original,
        request=None,
        reason=d.reason,
        rule=d.rule,
        details=d.details,
    )
