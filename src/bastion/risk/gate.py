"""The risk gate: every order passes every rule, in order, before it is sent.

A resize feeds the smaller order to the remaining rules; a reject stops there.
Cancels are never reviewed: taking risk off is always allowed.

The gate is sans-I/O and keeps its own state, all fed by what it is shown:
the orders it approved with their ``now`` (order rate, runaway detection),
the market history it sampled from the view in ``watch`` (volume, ATR,
correlation clusters) and the account watch (daily loss, drawdown).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import getcontext
from types import MappingProxyType

from bastion.model import AccountSnapshot, OrderRequest, OrderType, Side
from bastion.model.indicators import SMA, IndicatorSpec
from bastion.model.view import MarketView
from bastion.risk.baseline import BaselineRule
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, Flatten, RiskReason, Verdict, approve
from bastion.risk.exposure import (
    ClusterExposureRule,
    GrossExposureRule,
    NetExposureRule,
    PositionLimitRule,
)
from bastion.risk.latch import HaltLatch, HaltState
from bastion.risk.limits import RiskLimits
from bastion.risk.rate import OrderRateRule, RateBook
from bastion.risk.rules import (
    BlockedSymbolRule,
    FreshDataRule,
    HaltRule,
    InventoryRule,
    OrderSizeRule,
    Rule,
    applies,
)
from bastion.risk.sanity import PrecisionRule, PriceBandRule, QuoteRule
from bastion.risk.tape import MarketTape
from bastion.risk.volume import VolumeRule
from bastion.risk.watch import RISK_ACTOR, AccountWatch

_SCREEN_PREC = 20


def default_rules(limits: RiskLimits) -> tuple[Rule, ...]:
    """Every rule, cheapest refusals first; sizing rules resize in order;
    precision last, so what leaves the gate is what the exchange accepts."""
    per_symbol = limits.symbols
    rules: list[Rule] = [HaltRule(), BlockedSymbolRule(), FreshDataRule()]
    if limits.sanity.enabled:
        rules += [QuoteRule(limits.sanity.max_quote_age_ms), PriceBandRule(limits)]
    rules += [InventoryRule(allow_short=limits.allow_short), BaselineRule()]
    if limits.rate.enabled:
        rules.append(OrderRateRule(limits))
    rules.append(OrderSizeRule(limits.max_order, {s: v.max_order for s, v in per_symbol.items()}))
    if limits.volume.enabled:
        rules.append(VolumeRule(limits))
    rules += [
        PositionLimitRule(limits.max_position, {s: v.max_position for s, v in per_symbol.items()}),
        GrossExposureRule(limits.max_gross_exposure),
        NetExposureRule(limits.max_net_exposure),
    ]
    if limits.correlation.enabled:
        rules.append(ClusterExposureRule(limits.correlation.max_cluster_exposure))
    rules.append(PrecisionRule())
    return tuple(rules)


class RiskGate:
    def __init__(
        self,
        rules: Sequence[Rule],
        latch: HaltLatch | None = None,
        *,
        limits: RiskLimits | None = None,
        screen: bool = True,
    ) -> None:
        self.rules = tuple(rules)
        # The rules that can object to an order, by side and type (the others
        # would return None at their first line).
        self._plans = {
            (side, kind): tuple(r for r in self.rules if applies(r, side, kind))
            for side in Side
            for kind in OrderType
        }
        # Clear passes judged on floats (``bastion.risk.screen``): the same verdicts;
        # False keeps every check in Decimal (the reference the tests compare with).
        self.screen = screen
        self.latch = latch if latch is not None else HaltLatch()
        self.limits = limits if limits is not None else RiskLimits()
        lim = self.limits
        self.rate = RateBook()
        self.tape = MarketTape(
            volume_window=lim.volume.window,
            sample_interval_ms=lim.correlation.interval_ms,
            sample_window=lim.correlation.window,
            with_atr=lim.sanity.enabled and lim.sanity.price_band_atr is not None,
            with_samples=lim.correlation.enabled,
        )
        self.account_watch = AccountWatch(lim.loss) if lim.loss.enabled else None

    @classmethod
    def from_limits(
        cls, limits: RiskLimits, latch: HaltLatch | None = None, *, screen: bool = True
    ) -> RiskGate:
        return cls(default_rules(limits), latch, limits=limits, screen=screen)

    def indicators(self, symbol: str) -> tuple[IndicatorSpec, ...]:
        """Indicators the data gate should maintain for ``symbol``: the volume rule
        then reads the mean bar volume from the view instead of the gate's tape
        keeping its own window. (The ATR for the price band is kept by the tape,
        only when ``price_band_atr`` is configured.)"""
        if not self.limits.volume.enabled:
            return ()
        return (SMA(self.limits.volume.window, "volume"),)

    def watch(self, account: AccountSnapshot, view: MarketView, now: int) -> Flatten | None:
        """Account-level checks run every cycle, before any decision (daily loss,
        drawdown), and the market sampling the order rules rely on. Returning
        ``Flatten`` makes the engine close everything and halt in this cycle."""
        self.tape.observe(view, now)
        if self.account_watch is None:
            return None
        return self.account_watch.check(account, view, self.latch, now)

    def review(self, requests: Sequence[OrderRequest], ctx: RiskContext) -> list[Decision]:
        ctx.rate = self.rate
        ctx.tape = self.tape
        # The screens' error bound assumes Decimal at (near) its default 28 digits.
        ctx.screen = self.screen and getcontext().prec >= _SCREEN_PREC
        corr = self.limits.correlation
        if corr.enabled:
            ctx.clusters = self.tape.clusters(
                threshold=corr.threshold,
                min_samples=corr.min_samples,
                recompute_every=corr.recompute_every,
            )
        out: list[Decision] = []
        for req in requests:
            decision = self._review_one(req, ctx)
            if decision.request is not None:
                ctx.add(decision.request)
                self.rate.record(req.symbol, ctx.now)
            elif decision.reason is RiskReason.ORDER_RATE:
                decision = self._on_rate_breach(decision, ctx)
            out.append(decision)
        return out

    def _on_rate_breach(self, decision: Decision, ctx: RiskContext) -> Decision:
        """Count the breach; at the configured count within the window, halt."""
        rate = self.limits.rate
        breaches = self.rate.breach(ctx.now, rate.runaway_window_ms)
        halt = breaches >= rate.runaway_breaches
        if halt:
            self.latch.set(
                HaltState.HALTED, reason=RiskReason.RUNAWAY.value, now=ctx.now, by=RISK_ACTOR
            )
        details = {**decision.details, "breaches": breaches, "runaway_halt": halt}
        return _with_details(decision, details)

    def _review_one(self, req: OrderRequest, ctx: RiskContext) -> Decision:
        current = req
        first_resize: Decision | None = None
        for rule in self._plans[req.side, req.type]:  # a resize keeps side and type
            d = rule.check(current, ctx)
            if d is None:
                continue
            if d.verdict is Verdict.REJECT:
                return _explained(d, req, ctx)
            assert d.request is not None
            current = d.request
            first_resize = first_resize or d
        if current is req:
            return approve(req)
        assert first_resize is not None
        d = Decision(
            verdict=Verdict.RESIZE,
            original=req,
            request=current,
            reason=first_resize.reason,
            rule=first_resize.rule,
            details=first_resize.details,
        )
        return _explained(d, req, ctx)


def _explained(d: Decision, original: OrderRequest, ctx: RiskContext) -> Decision:
    """The decision against the original request, with the context an operator
    needs to judge it later (the journal keeps the details)."""
    mark = ctx.mark(original.symbol)
    context = {
        "type": original.type.value,
        "price": str(original.price) if original.price is not None else None,
        "reduces_exposure": original.reduces_exposure,
        "mark": str(mark) if mark is not None else None,
        "equity": str(ctx.equity),
        "latch": ctx.latch.state.value,
    }
    return Decision(
        verdict=d.verdict,
        original=original,
        request=d.request,
        reason=d.reason,
        rule=d.rule,
        details=MappingProxyType({**d.details, "context": context}),
    )


def _with_details(d: Decision, details: dict[str, object]) -> Decision:
    return Decision(
        verdict=d.verdict,
        original=d.original,
        request=d.request,
        reason=d.reason,
        rule=d.rule,
        details=MappingProxyType(details),
    )
