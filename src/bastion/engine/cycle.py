"""The decision cycle, identical in backtest, paper and live.

gate → reconcile → protect → decide → plan → review → journal → execute.
Decisions are journaled before the orders they cause are sent (write-ahead).

``Bot`` holds the assembled parts; it performs no I/O of its own beyond what
its venue and journal do, and reads no clock: ``now`` is passed in by the
shell (a simulated clock in backtests, the wall clock live).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from bastion.data.gate import DataGate
from bastion.execution import OrderManager, client_order_id
from bastion.execution.planner import Plan, plan
from bastion.execution.tracked import CapReached
from bastion.model import (
    AccountSnapshot,
    CancelRequest,
    Instrument,
    Intent,
    OrderRequest,
    OrderStatus,
    OrderType,
    PlaceOrder,
    QuoteLevel,
    Side,
    StrategyRef,
    TargetPosition,
    TargetQuotes,
)
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk import Decision, Flatten, HaltState, RiskContext, RiskGate, RiskReason, Verdict
from bastion.state import Reconciler
from bastion.strategy import Strategy, guarded_decide
from bastion.venues.port import Venue

FLATTEN_REF = StrategyRef(id="risk.flatten", version="1")


@dataclass(slots=True)
class StrategySlot:
    strategy: Strategy[Any, Any]
    memory: Any
    index: int  # position among the bot's strategies; part of every client id


@dataclass(slots=True)
class Bot:
    run_id: str
    venue: Venue
    gate: DataGate
    reconciler: Reconciler
    risk: RiskGate
    orders: OrderManager
    journal: Any  # a Sink: (kind, ts, payload) -> None
    instruments: dict[str, Instrument]
    slots: list[StrategySlot]
    guard: bool = False
    durable_journal: bool = False  # live: flush decisions before sending (backtests batch)
    size_scale: Decimal = Decimal(1)  # live at a fraction of target size (first weeks)
    cycle: int = 0
    intents_total: int = 0
    caps: list[CapReached] = field(default_factory=list)  # retries exhausted: flatten
    decisions: dict[str, int] = field(default_factory=dict)
    resized: dict[str, int] = field(default_factory=dict)  # by reason, within decisions

    def ledger(self) -> dict[str, Decimal]:
        """Net quantity per symbol from our own fills, across strategies."""
        out: dict[str, Decimal] = {}
        for (_sid, sym), qty in self.orders.attributed.items():
            out[sym] = out.get(sym, Decimal(0)) + qty
        return out


def run_cycle(bot: Bot, now: int) -> None:
    """One decision: every line is one step of the cycle."""
    bot.cycle += 1
    view = bot.gate.view_at(now)  # gate
    account = reconcile(bot, now)  # reconcile
    protect(bot, account, view, now)  # account-level risk: flatten and halt
    for slot in bot.slots:
        intents = decide(bot, slot, view, account)  # decide
        if not intents:
            continue
        orders_plan = make_plan(bot, slot, intents, account, view)  # plan
        decisions = review(bot, orders_plan, account, view, now)  # review
        journal_cycle(bot, slot, intents, orders_plan, decisions, now)  # journal (write-ahead)
        if bot.durable_journal and hasattr(bot.journal, "flush"):
            bot.journal.flush()  # the decisions are on disk before the orders are sent
        execute(bot, orders_plan.cancels, decisions, now)  # execute


def reconcile(bot: Bot, now: int) -> AccountSnapshot:
    events = bot.venue.drain_events()
    if events:
        bot.orders.on_events(events, now)
    if bot.orders.working:
        bot.caps.extend(bot.orders.tick(now))  # due retries, unknown outcomes
    cached = bot.reconciler.current(now)
    if cached is not None:
        return cached
    account = bot.reconciler.account(now, bot.ledger(), in_flight(bot))
    if bot.orders.working or account.open_orders:
        bot.orders.sync(account.open_orders, now)  # the stream may have dropped updates
    return account


def protect(bot: Bot, account: AccountSnapshot, view: MarketView, now: int) -> None:
    action = bot.risk.watch(account, view, now)
    if action is None and bot.caps:
        cap = bot.caps[0]
        bot.caps.clear()
        action = Flatten(
            reason=RiskReason.RETRY_CAP,
            details={"client_id": cap.client_id, "symbol": cap.symbol, "attempts": cap.attempts},
        )
    if action is not None:
        flatten(bot, account, view, now, action)
    elif bot.risk.latch.state is not HaltState.ACTIVE and bot.orders.working:
        withdraw(bot, now)


def withdraw(bot: Bot, now: int) -> None:
    """Halted or reducing (an operator, a runaway loop): cancel every working
    order that could add exposure, so a resting bid placed before the halt
    cannot fill after it. Orders that only reduce exposure stay."""
    for mo in list(bot.orders.working.values()):
        req = mo.request
        live = mo.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
        if req.reduces_exposure or not live:
            continue
        bot.orders.cancel(
            CancelRequest(
                client_id=req.client_id,
                symbol=req.symbol,
                reason=f"halt latch {bot.risk.latch.state.value}",
            ),
            now,
        )


def flatten(
    bot: Bot, account: AccountSnapshot, view: MarketView, now: int, action: Flatten
) -> None:
    """Cancel every working order, close every position with market orders, halt.

    The closing orders go through the same order manager (client ids in their
    own ``x`` namespace) and are marked as reducing exposure, so the halt
    latch lets them pass; dust below the exchange minimum is reported.
    """
    bot.risk.latch.set(HaltState(action.halt_state), reason=action.reason.value, now=now, by="risk")
    bot.journal(
        "flatten",
        now,
        {"reason": action.reason.value, "details": dict(action.details), "cycle": bot.cycle},
    )
    for mo in list(bot.orders.working.values()):
        bot.orders.cancel(
            CancelRequest(
                client_id=mo.request.client_id, symbol=mo.request.symbol, reason="flatten"
            ),
            now,
        )
    for leg, (sym, pos) in enumerate(sorted(account.positions.items())):
        inst = bot.instruments.get(sym)
        if inst is None or pos.qty == 0:
            continue
        qty = inst.round_qty(abs(pos.qty))
        mark = view[sym].mark if sym in view else pos.avg_price
        why = inst.below_minimum(qty, mark)
        if why is not None:
            bot.journal("flatten_dust", now, {"symbol": sym, "qty": str(pos.qty), "why": why})
            continue
        bot.orders.submit(
            OrderRequest(
                client_id=client_order_id(bot.run_id, bot.cycle, leg, 0, prefix="bx"),
                strategy=owner(bot, sym),
                symbol=sym,
                side=Side.SELL if pos.qty > 0 else Side.BUY,
                qty=qty,
                type=OrderType.MARKET,
                reduces_exposure=True,
                cycle=bot.cycle,
            ),
            now,
        )


def in_flight(bot: Bot) -> dict[str, tuple[Decimal, Decimal]]:
    """Per symbol, the (buy, sell) quantity our working orders may still fill."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for mo in bot.orders.working.values():
        buys, sells = out.get(mo.request.symbol, (ZERO, ZERO))
        if mo.request.side is Side.BUY:
            buys += mo.remaining
        else:
            sells += mo.remaining
        out[mo.request.symbol] = (buys, sells)
    return out


def owner(bot: Bot, symbol: str) -> StrategyRef:
    """Whose position a flatten closes: the one strategy trading ``symbol`` (so its
    round trips close), or ``risk.flatten`` when several share it."""
    refs = [s.strategy.ref for s in bot.slots if symbol in s.strategy.symbols]
    return refs[0] if len(refs) == 1 else FLATTEN_REF


def decide(
    bot: Bot, slot: StrategySlot, view: MarketView, account: AccountSnapshot
) -> Sequence[Intent]:
    if bot.guard:
        intents, slot.memory = guarded_decide(slot.strategy, view, account, slot.memory)
    else:
        intents, slot.memory = slot.strategy.decide(view, account, slot.memory)
    return intents


def make_plan(
    bot: Bot,
    slot: StrategySlot,
    intents: Sequence[Intent],
    account: AccountSnapshot,
    view: MarketView,
) -> Plan:
    strategy = slot.strategy
    if bot.size_scale != 1:
        intents = [scale(i, bot.size_scale) for i in intents]
    # The exchange's position wherever this strategy alone trades the symbol;
    # its own fills only where it shares the symbol (the exchange nets them).
    own_fills = bot.orders.positions_for(strategy.ref.id)
    positions = {
        s: account.position(s) if owner(bot, s) is strategy.ref else own_fills.get(s, ZERO)
        for s in strategy.symbols
    }
    cycle, run, idx = bot.cycle, bot.run_id, slot.index

    def new_id(intent: int, leg: int) -> str:
        return client_order_id(run, cycle, intent * 16 + idx, leg)

    return plan(
        strategy=strategy.ref,
        intents=intents,
        positions=positions,
        own_orders=bot.orders.working_for(strategy.ref.id),
        instruments=bot.instruments,
        marks={s: view[s].price for s in strategy.symbols if s in view},
        cycle=cycle,
        new_id=new_id,
    )


def scale(intent: Intent, k: Decimal) -> Intent:
    """The same intent at ``k`` times the size (quantized later by the planner)."""
    if isinstance(intent, TargetPosition | PlaceOrder):
        return replace(intent, qty=intent.qty * k)
    if isinstance(intent, TargetQuotes):
        return replace(
            intent,
            bids=tuple(QuoteLevel(lv.price, lv.qty * k) for lv in intent.bids),
            asks=tuple(QuoteLevel(lv.price, lv.qty * k) for lv in intent.asks),
        )
    return intent


def review(
    bot: Bot, orders_plan: Plan, account: AccountSnapshot, view: MarketView, now: int
) -> list[Decision]:
    if not orders_plan.orders:
        return []
    if orders_plan.cancels:
        # Orders this plan cancels no longer count against limits or inventory.
        going = {c.client_id for c in orders_plan.cancels}
        account = replace(
            account, open_orders=tuple(o for o in account.open_orders if o.client_id not in going)
        )
    ctx = RiskContext.build(
        account=account,
        view=view,
        now=now,
        instruments=bot.instruments,
        latch=bot.risk.latch,
        blocked=blocked_symbols(bot),
    )
    return bot.risk.review(orders_plan.orders, ctx)


def blocked_symbols(bot: Bot) -> frozenset[str]:
    """Symbols that take no new exposure: an order of unknown outcome on them, or
    every symbol when the venue's answers drifted from the schema we rely on."""
    if getattr(bot.venue, "schema_drift", None):
        return frozenset(bot.instruments)
    return frozenset(bot.orders.blocked)


def execute(
    bot: Bot, cancels: Sequence[CancelRequest], decisions: Sequence[Decision], now: int
) -> None:
    for c in cancels:
        bot.orders.cancel(c, now)
    for d in decisions:
        if d.request is not None:
            bot.orders.submit(d.request, now)


def journal_cycle(
    bot: Bot,
    slot: StrategySlot,
    intents: Sequence[Intent],
    orders_plan: Plan,
    decisions: Sequence[Decision],
    now: int,
) -> None:
    ref = slot.strategy.ref
    bot.intents_total += len(intents)
    bot.journal(
        "cycle",
        now,
        {
            "cycle": bot.cycle,
            "strategy": str(ref),
            "intents": [_intent_dict(i) for i in intents],
            "orders": len(orders_plan.orders),
            "cancels": len(orders_plan.cancels),
            "skipped": [{"intent": _intent_dict(i), "why": w} for i, w in orders_plan.skipped],
        },
    )
    for d in decisions:
        key = d.reason.value if d.reason is not None else "APPROVED"
        bot.decisions[key] = bot.decisions.get(key, 0) + 1
        if d.verdict is Verdict.RESIZE:  # sent smaller: not a refusal
            bot.resized[key] = bot.resized.get(key, 0) + 1
        bot.journal(
            "risk_decision",
            now,
            {
                "cycle": bot.cycle,
                "strategy": str(ref),
                "symbol": d.original.symbol,
                "client_id": d.original.client_id,
                "verdict": d.verdict.value,
                "reason": d.reason.value if d.reason else None,
                "rule": d.rule,
                "details": dict(d.details),
                "side": d.original.side.value,
                "qty": str(d.original.qty),
                "approved_qty": str(d.request.qty) if d.request is not None else None,
            }
            if d.verdict is not Verdict.APPROVE
            else {
                "cycle": bot.cycle,
                "strategy": str(ref),
                "symbol": d.original.symbol,
                "client_id": d.original.client_id,
                "verdict": "approve",
            },
        )


def _intent_dict(intent: Intent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in intent.__slots__:
        value = getattr(intent, name)
        if isinstance(value, tuple):
            value = [[str(lv.price), str(lv.qty)] for lv in value]
        elif value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        out[name] = value
    return out
