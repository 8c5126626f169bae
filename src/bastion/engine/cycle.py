"""The decision cycle, identical in backtest, paper and live.

gate → reconcile → protect → resend → (stop-outs) → decide → plan →
(unprotect) → review → journal → execute → (keep protected). The steps in
brackets run only for strategies with ``[strategies.protect]``
(``bastion.engine.protective``). Decisions are journaled before the orders they cause are sent
(write-ahead); an order proven not placed is re-sent only once the risk gate
has reviewed it again, like any new send.

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
from bastion.engine.context import journal_context, journal_cycle, journal_decision
from bastion.engine.protective import (
    Protector,
    hold_targets,
    journal_cancels,
    keep_protected,
    needed_cancels,
    note_stop_fills,
    unprotect,
)
from bastion.execution import OrderManager, client_order_id
from bastion.execution.planner import Plan, plan
from bastion.execution.tracked import CapReached
from bastion.model import (
    AccountSnapshot,
    CancelRequest,
    Instrument,
    Intent,
    OrderReport,
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
from bastion.model.account import closable
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk import Decision, Flatten, HaltState, RiskContext, RiskGate, RiskReason, Verdict
from bastion.state import Reconciler
from bastion.state.killorders import KillOrder, KillOrderReader
from bastion.strategy import Strategy, guarded_decide
from bastion.venues.port import Venue

FLATTEN_REF = StrategyRef(id="risk.flatten", version="1")
SETTLE_MS = 15_000  # how long a reported fill may take to arrive before it is fetched
# The kill switch's closes, as the bot adopts them (the kill's own ref, by value:
# the engine does not import the kill switch).
KILL_REF = StrategyRef(id="killswitch", version="1")
KILL_LOOKBACK_MS = 3_600_000  # an adopted close's fills are looked for from this far back


@dataclass(slots=True)
class StrategySlot:
    strategy: Strategy[Any, Any]
    memory: Any
    index: int  # position among the bot's strategies; part of every client id
    mode: str = "live"  # or "shadow": decided, reviewed and journaled, never sent


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
    kill_orders: KillOrderReader | None = None  # the kill switch's closes, to adopt
    record_every_cycle: bool = False  # sessions: a context every cycle, for replay
    shadow: Any = None  # a ShadowRunner (bastion.engine.shadow): the shadow slots
    context_cycle: int = -1  # the last cycle whose context is journaled
    context_account: tuple[Any, int] = (None, 0)  # the account last journaled, and its cycle
    protection: Protector | None = None  # exchange-side stops under longs (engine.protective)
    # Call every step every cycle, even those with nothing to work on (``run_cycle``
    # skips them): the reference the skipping cycle is tested against.
    every_step: bool = False

    def ledger(self) -> dict[str, Decimal]:
        """Net quantity per symbol from our own fills, across strategies."""
        out: dict[str, Decimal] = {}
        for (_sid, sym), qty in self.orders.attributed.items():
            out[sym] = out.get(sym, Decimal(0)) + qty
        return out


def run_cycle(bot: Bot, now: int) -> None:
    """One decision: every line is one step of the cycle.

    A step that has nothing to work on is not called: without working orders
    there is nothing to re-send, and without ``[strategies.protect]`` no stop-out
    to note and no protection to keep. Each of those steps would return at its
    first line then; on a backtest's quiet bar (most of them) that is most of the
    cycle's calls (``tests/engine/test_cycle_skips.py`` runs both ways)."""
    bot.cycle += 1
    view = bot.gate.view_at(now)  # gate
    account = reconcile(bot, now)  # reconcile
    protect(bot, account, view, now)  # account-level risk: flatten and halt
    # orders proven not placed: reviewed as new sends
    every = bot.every_step
    if (every or bot.orders.working) and resend(bot, account, view, now):
        account = reconcile(bot, now, fresh=True)  # what they did is in the account decided on
    guarded = every or bot.protection is not None
    if guarded:
        note_stop_fills(bot, now)  # a protective order that filled: the strategy was stopped out
    if bot.record_every_cycle:
        journal_context(bot, view, account, now)  # what a replay feeds the strategies
    for slot in bot.slots:
        intents = decide(bot, slot, view, account)  # decide
        if not intents:
            continue
        journal_context(bot, view, account, now)  # what they saw, once per cycle
        orders_plan = make_plan(bot, slot, intents, account, view)  # plan
        orders_plan = unprotect(bot, slot, orders_plan)  # a sell's protection is cancelled first
        decisions = review(bot, orders_plan, account, view, now)  # review
        journal_cycle(bot, slot, intents, orders_plan, decisions, now)  # journal (write-ahead)
        cancels = needed_cancels(orders_plan.cancels, decisions)
        journal_cancels(bot, cancels, now)
        if bot.durable_journal and hasattr(bot.journal, "flush"):
            bot.journal.flush()  # the decisions are on disk before the orders are sent
        execute(bot, cancels, decisions, now)  # execute
    if guarded:
        keep_protected(bot, view, now)  # protection rests under each protected long position
    if bot.shadow is not None:
        bot.shadow.run(bot, view, account, now)  # shadow versions: decided, never sent


def reconcile(bot: Bot, now: int, *, fresh: bool = False) -> AccountSnapshot:
    if fresh:
        bot.reconciler.invalidate()
    take_news(bot, now)
    if bot.orders.working:
        bot.caps.extend(bot.orders.tick(now))  # due retries, unknown outcomes
    if bot.orders.settling:
        settle(bot, now)
    return account_of(bot, now)


def catch_up(bot: Bot, now: int) -> AccountSnapshot:
    """Between decisions (live): what the venue told us, then the account as the
    next decision's ``reconcile`` would read it, read now so that the decision
    finds it cached. The same steps, less the ones that may place an order
    (due retries and unknown-outcome checks stay the decision's; the one order
    call left is a cancel the order manager owes, for an order whose cancel was
    asked while its outcome was unknown); the decision still re-reads if
    anything changes after this."""
    take_news(bot, now)
    return account_of(bot, now)


def take_news(bot: Bot, now: int) -> None:
    """The kill switch's closes, then the venue's order updates and fills."""
    if bot.kill_orders is not None:
        adopt_kill_closes(bot, bot.kill_orders.read_new(), now)
    events = bot.venue.drain_events()
    if events:
        bot.orders.on_events(events, now)


def account_of(bot: Bot, now: int) -> AccountSnapshot:
    """The reconciled account: cached while nothing can have changed, else re-read."""
    cached = bot.reconciler.current(now)
    if cached is not None:
        return cached
    account = bot.reconciler.account(
        now, bot.ledger(), lambda acct: in_flight(bot, acct.open_orders)
    )
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


def resend(bot: Bot, account: AccountSnapshot, view: MarketView, now: int) -> bool:
    """A re-send is a new send: the risk gate (latch included) reviews it with
    today's account, and one it would not approve as it stands is dropped.
    True when anything went out: the account read before it is then stale (a
    re-sent sell filled by its reply would otherwise be sold again by the plan)."""
    due = bot.orders.resends_due()
    if not due:
        return False
    sent = False
    ctx = RiskContext.build(
        account=account,
        view=view,
        now=now,
        instruments=bot.instruments,
        latch=bot.risk.latch,
        blocked=blocked_symbols(bot),
    )
    for mo, d in zip(due, bot.risk.review([mo.request for mo in due], ctx), strict=True):
        journal_decision(bot, mo.request.strategy, d, now, resend=True)
        cid = mo.request.client_id
        if d.verdict is Verdict.APPROVE and d.request == mo.request:
            bot.orders.resend(cid, now)
            sent = True
        else:
            why = d.reason.value if d.reason is not None else d.verdict.value
            bot.orders.drop(cid, f"not placed, and its re-send was not approved: {why}", now)
    return sent


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
    # Only the bot's share: a flatten never sells the holding below its baseline.
    for leg, sym in enumerate(sorted(account.account_positions)):
        inst = bot.instruments.get(sym)
        share = closable(account.holding(sym), account.floor(sym))
        if inst is None or share == 0:
            continue
        qty = inst.round_qty(abs(share))
        mark = view[sym].mark if sym in view else account.account_positions[sym].avg_price
        why = inst.below_minimum(qty, mark)
        if why is not None:
            bot.journal("flatten_dust", now, {"symbol": sym, "qty": str(share), "why": why})
            continue
        bot.orders.submit(
            OrderRequest(
                client_id=client_order_id(bot.run_id, bot.cycle, leg, 0, prefix="bx"),
                strategy=owner(bot, sym),
                symbol=sym,
                side=Side.SELL if share > 0 else Side.BUY,
                qty=qty,
                type=OrderType.MARKET,
                reduces_exposure=True,
                cycle=bot.cycle,
            ),
            now,
        )


def adopt_kill_closes(bot: Bot, closes: Sequence[KillOrder], now: int) -> None:
    """The kill switch's closes on the bot's share become the bot's orders, before
    the account is compared with the ledger: the fall they made is the bot's
    sale, not a withdrawal to take out of the baseline."""
    for ko in closes:
        try:
            side, qty = Side(ko.side), Decimal(ko.qty)
        except (ValueError, ArithmeticError):
            continue  # not a close the kill switch wrote
        if ko.symbol not in bot.instruments or qty <= 0:
            continue
        req = OrderRequest(
            client_id=ko.client_id,
            strategy=KILL_REF,
            symbol=ko.symbol,
            side=side,
            qty=qty,
            type=OrderType.MARKET,
            reduces_exposure=True,
        )
        bot.orders.adopt_close(req, now, min(now, ko.ts) - KILL_LOOKBACK_MS)
        bot.reconciler.invalidate()


def in_flight(bot: Bot, listed: Sequence[OrderReport] = ()) -> dict[str, tuple[Decimal, Decimal]]:
    """Per symbol, the (buy, sell) quantity our orders may have filled without
    the fills having reached us: what an order's reply said was filled (a market
    order filled by its submit reply) beyond the fills applied so far, and for a
    working order its remainder, unless the snapshot read with the balances
    (``listed``) shows it resting, with what it has filled: then only that fill
    beyond ours can be in transit. The snapshot's open orders are read after its
    balances, so their fills are at least those the balances include."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    resting = {o.client_id: o.filled_qty for o in listed}
    working = [
        (
            mo,
            mo.remaining if (f := resting.get(cid)) is None else min(f, mo.request.qty) - mo.filled,
        )
        for cid, mo in bot.orders.working.items()
    ]
    settling = [(mo, mo.reported - mo.filled) for mo in bot.orders.settling.values()]
    for mo, qty in working + settling:
        if qty <= 0:
            continue
        buys, sells = out.get(mo.request.symbol, (ZERO, ZERO))
        if mo.request.side is Side.BUY:
            buys += qty
        else:
            sells += qty
        out[mo.request.symbol] = (buys, sells)
    return out


def settle(bot: Bot, now: int) -> None:
    """Orders the venue reported filled whose fills never arrived within
    ``SETTLE_MS``: fetch their fills once, then stop counting them in flight
    (a fill lost for good is then a difference the reconciler reports)."""
    stale = [mo for mo in bot.orders.settling.values() if now - mo.updated_ts > SETTLE_MS]
    if not stale:
        return
    bot.orders.catch_up_fills(min(mo.created_ts for mo in stale), now)
    for mo in stale:
        bot.orders.settling.pop(mo.request.client_id, None)


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
    intents = hold_targets(bot, slot, intents, positions)  # after a stop-out: no buy-back
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
    """Cancels first; a replacement goes out only where every cancel of its
    symbol is confirmed. The plan and the risk review counted the cancelled
    orders as gone: if one still rests (the cancel failed) or filled meanwhile,
    the replacement would sit beside it (two asks where one was wanted, a sell
    below the baseline), so that symbol waits for the next cycle's fresh read."""
    unsettled: set[str] = set()
    for c in cancels:
        bot.orders.cancel(c, now)
        mo = bot.orders.orders.get(c.client_id)
        if mo is not None and mo.status is not OrderStatus.CANCELLED:
            unsettled.add(c.symbol)
    for d in decisions:
        if d.request is None:
            continue
        if d.request.symbol in unsettled:
            bot.journal(
                "replace_deferred",
                now,
                {"client_id": d.request.client_id, "symbol": d.request.symbol},
            )
            continue
        bot.orders.submit(d.request, now)
