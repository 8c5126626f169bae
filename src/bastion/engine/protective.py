"""Protection on the exchange for strategies' long positions: the cycle's steps.

A strategy configured with ``[strategies.protect]`` keeps a protective sell
resting on the exchange under its long position: a stop-limit, or an OCO of a
take-profit limit and a stop-limit (``bastion.execution.protect``). The bot
can die; an order on the exchange keeps protecting the position while it is
down. Three steps of the one decision cycle (``bastion.engine.cycle``) own it:

1. ``note_stop_fills`` (after reconcile, before any decision): a protective
   order that filled (while the bot ran or while it was down: the restart's
   recovery fetches the fill) is the strategy's sale, attributed to it like
   any fill, so the strategy sees itself flat. The bot does not buy back by
   itself: the strategy's *target* on that symbol is held at what it holds
   until the strategy asks for no more than it holds (it has seen the exit);
   an explicit order is the strategy's new decision and passes.
2. ``unprotect`` (after the plan, before the risk review): where the strategy
   sells, its protection is cancelled first, because the exchange locks the
   base asset a resting sell would sell (a market sell beside a stop for the
   whole position is refused for insufficient balance). The cancels lead the
   plan's execution, and ``execute`` sends the sell only once every cancel of
   its symbol is confirmed; a cancel whose sell the risk gate refused is not
   sent.
3. ``keep_protected`` (after execution): where the strategy holds a long
   position at rest (no order of its own on the symbol in flight, no fill
   awaited), the protection rests for exactly that position less what its own
   resting sells offer (and never more than the bot's own fills on the
   symbol hold in all), rounded down to the lot, priced from the current mark;
   below the exchange's minimum there is none (journaled). When the position
   changed, the old protection is cancelled and, once the cancel is
   confirmed, the new one placed (never both resting, never more than the
   position). A placement the exchange refused is not tried again until the
   position changes or the market moves by the stop's distance.

Protective orders go through the order manager like every order (client id on
disk before the send, an unknown outcome looked up and never re-sent, ``bp``
client ids that no strategy's plan cancels) but not through the risk gate:
they only sell what the strategy holds, so they reduce exposure (the halt
latch lets them pass; exposure counts a resting sell as the position's way
out, not as new exposure), and the order-rate rule counts only what it
approved, so it can never delay a stop. While the halt latch is not ACTIVE no
protection is placed or replaced (a flatten or the kill switch is closing the
positions and cancels every order, protection included); existing protection
stays. Every placement, replacement, cancel and fill is journaled as a
``protection`` event with its reason and the client ids, which
``bastion explain`` shows with the order.

Spot, long positions only; the reference price is the mark when the
protection is placed, so a replacement (the position grew or shrank) is
priced from the market at that time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bastion.execution import client_order_id
from bastion.execution.planner import Plan
from bastion.execution.protect import Protecting, Protection, place_oco
from bastion.execution.tracked import ManagedOrder
from bastion.model import (
    CancelRequest,
    Intent,
    OrderRequest,
    OrderStatus,
    Side,
    TargetPosition,
)
from bastion.model.money import ZERO
from bastion.model.view import MarketView
from bastion.risk import Decision, HaltState, Verdict

if TYPE_CHECKING:
    from bastion.engine.cycle import Bot, StrategySlot

Key = tuple[str, str]  # (strategy id, symbol)
_RESTING = (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
_UNSURE = (OrderStatus.SUBMITTING, OrderStatus.UNKNOWN, OrderStatus.CANCEL_PENDING, OrderStatus.NEW)
KEEP_TRADES = 500  # protective trade ids remembered (to tell a new stop-out from an old one)


class Memory:
    """Where the protection's durable facts live: the order store's key-value
    table in a session, nothing in a backtest (the run is its own lifetime)."""

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str) -> None:
        return None


@dataclass(slots=True)
class Protector:
    """The bot's protection rules and what they remember between cycles."""

    rules: dict[Key, Protection]
    memory: Memory = field(default_factory=Memory)
    held: set[Key] = field(default_factory=set)  # stopped out: targets held
    trades: list[str] = field(default_factory=list)  # protective fills already noted
    # (qty, reference) of the last placement the exchange refused
    refused: dict[Key, tuple[Decimal, Decimal]] = field(default_factory=dict)
    skipped: dict[Key, str] = field(default_factory=dict)  # the last "none placed" journaled
    cursor: int = 0  # fills_applied already looked at

    def __post_init__(self) -> None:
        held = self.memory.get("protect.held")
        trades = self.memory.get("protect.trades")
        if held:
            self.held = {(k[0], k[1]) for k in json.loads(held)}
        if trades:
            self.trades = list(json.loads(trades))

    def save(self) -> None:
        self.memory.set("protect.held", json.dumps(sorted(self.held)))
        self.memory.set("protect.trades", json.dumps(self.trades[-KEEP_TRADES:]))


def legs(bot: Bot, sid: str, symbol: str) -> list[ManagedOrder]:
    """The strategy's protective orders on ``symbol`` still working."""
    return [
        mo
        for mo in bot.orders.working.values()
        if mo.request.origin == "protect"
        and mo.request.strategy.id == sid
        and mo.request.symbol == symbol
    ]


# ------------------------------------------------------------ 1. stop-outs
def note_stop_fills(bot: Bot, now: int) -> None:
    """Protective fills not seen before: the strategy was stopped out there."""
    guard = bot.protection
    if guard is None:
        return
    orders = bot.orders
    new = orders.fills_applied - guard.cursor
    guard.cursor = orders.fills_applied
    if new <= 0:
        return
    changed = False
    for sid, fill in orders.fills[-new:]:
        if not fill.client_id.startswith("bp") or fill.trade_id in guard.trades:
            continue
        guard.trades = [*guard.trades[-KEEP_TRADES + 1 :], fill.trade_id]
        guard.held.add((sid, fill.symbol))
        changed = True
        bot.journal(
            "protection",
            now,
            {
                "action": "filled",
                "client_id": fill.client_id,
                "strategy": sid,
                "symbol": fill.symbol,
                "qty": str(fill.qty),
                "price": str(fill.price),
                "reason": "the exchange-side protection filled: the position is sold; "
                "the strategy's target is held until it asks for no more than it holds",
            },
        )
    if changed:
        guard.save()


def hold_targets(
    bot: Bot, slot: StrategySlot, intents: Sequence[Intent], positions: Mapping[str, Decimal]
) -> list[Intent]:
    """After a stop-out, a target above the position is held at the position."""
    guard = bot.protection
    if guard is None or not guard.held:
        return list(intents)
    sid = slot.strategy.ref.id
    out: list[Intent] = []
    changed = False
    for intent in intents:
        key = (sid, getattr(intent, "symbol", ""))
        if isinstance(intent, TargetPosition) and key in guard.held:
            have = positions.get(intent.symbol, ZERO)
            if intent.qty > have:
                out.append(replace(intent, qty=have))
                continue
            guard.held.discard(key)  # it has seen the exit
            changed = True
        out.append(intent)
    if changed:
        guard.save()
    return out


# ------------------------------------------------------ 2. before a sell
def unprotect(bot: Bot, slot: StrategySlot, orders_plan: Plan) -> Plan:
    """The plan with its sells' protection cancelled first (see the module).
    Reads the order manager's ``protection_for`` (a replay's: the context's)."""
    if bot.protection is None:
        return orders_plan
    sid = slot.strategy.ref.id
    selling = {o.symbol for o in orders_plan.orders if o.side is Side.SELL}
    cancels = [
        CancelRequest(
            client_id=r.client_id,
            symbol=r.symbol,
            strategy=slot.strategy.ref,
            reason="protection: the strategy sells; cancelled first to free what it locks",
        )
        for r in bot.orders.protection_for(sid)
        if r.symbol in selling  # resting, or possibly resting: the sell waits for the truth
    ]
    if not cancels:
        return orders_plan
    return replace(orders_plan, cancels=[*orders_plan.cancels, *cancels])


def needed_cancels(
    cancels: Sequence[CancelRequest], decisions: Sequence[Decision]
) -> list[CancelRequest]:
    """The plan's cancels less the protection of symbols whose sells were refused."""
    selling = {
        d.request.symbol
        for d in decisions
        if d.request is not None and d.verdict is not Verdict.REJECT and d.request.side is Side.SELL
    }
    return [c for c in cancels if not c.reason.startswith("protection:") or c.symbol in selling]


def journal_cancels(bot: Bot, cancels: Sequence[CancelRequest], now: int) -> None:
    for c in cancels:
        if c.reason.startswith("protection:"):
            bot.journal(
                "protection",
                now,
                {
                    "action": "cancel",
                    "client_id": c.client_id,
                    "strategy": str(c.strategy) if c.strategy else "",
                    "symbol": c.symbol,
                    "cycle": bot.cycle,
                    "reason": c.reason,
                },
            )


# ------------------------------------------------------ 3. keep protected
def keep_protected(bot: Bot, view: MarketView, now: int) -> None:
    """Every protected strategy's long positions: protection sized to each."""
    guard = bot.protection
    if guard is None or bot.risk.latch.state is not HaltState.ACTIVE:
        return
    for slot in bot.slots:
        if slot.mode != "live":
            continue
        for k, sym in enumerate(slot.strategy.symbols):
            rule = guard.rules.get((slot.strategy.ref.id, sym))
            if rule is not None and sym in bot.instruments:
                _keep(bot, guard, slot, k, sym, rule, view, now)


def wanted(bot: Bot, sid: str, symbol: str) -> Decimal | None:
    """What the protection should sell: the strategy's position less its own
    resting sells, rounded down to the lot; None while it is not at rest."""
    orders = bot.orders
    mine = [
        mo
        for mo in [*orders.working.values(), *orders.settling.values()]
        if mo.request.strategy.id == sid
        and mo.request.symbol == symbol
        and mo.request.origin != "protect"
    ]
    if any(mo.status in _UNSURE or mo.request.client_id in orders.settling for mo in mine):
        return None  # an order of its own in flight, or fills awaited: next cycle
    # Its own fills, but never more than the bot's fills on the symbol hold in
    # all (a kill switch's close on the bot's share is the bot's, not the strategy's).
    held = min(orders.positions_for(sid).get(symbol, ZERO), bot.ledger().get(symbol, ZERO))
    offered = sum(
        (mo.remaining for mo in mine if mo.request.side is Side.SELL and mo.status in _RESTING),
        ZERO,
    )
    inst = bot.instruments[symbol]
    return inst.round_qty(max(held - offered, ZERO))


def _keep(
    bot: Bot,
    guard: Protector,
    slot: StrategySlot,
    k: int,
    sym: str,
    rule: Protection,
    view: MarketView,
    now: int,
) -> None:
    ref = slot.strategy.ref
    key = (ref.id, sym)
    resting = legs(bot, ref.id, sym)
    if any(mo.status not in _RESTING for mo in resting) or sym in bot.orders.blocked:
        return  # a send or a cancel of its own is in flight
    want = wanted(bot, ref.id, sym)
    if want is None:
        return
    have = max((mo.remaining for mo in resting), default=ZERO)
    oco = rule.take_profit_pct is not None and hasattr(bot.venue, "submit_oco")
    if resting and have == want and (len(resting) > 1) == oco:
        return
    if not resting and want == 0:
        return
    if resting:
        why = f"protection: the position is {want}, the protection sells {have}: replaced"
        if want == 0:
            why = "protection: the strategy holds no position: cancelled"
        for mo in resting:
            c = CancelRequest(client_id=mo.request.client_id, symbol=sym, strategy=ref, reason=why)
            journal_cancels(bot, [c], now)
            bot.orders.cancel(c, now)
        if any(bot.orders.orders[mo.request.client_id].status.working for mo in resting):
            return  # not confirmed yet: placed next cycle, never beside the old one
        if any(mo.filled > 0 for mo in resting):
            return  # it sold meanwhile: the position is re-read next cycle
    if want == 0 or sym not in view or _refused(guard, key, want, view[sym].mark, rule):
        return
    p = Protecting(
        inst=bot.instruments[sym], strategy=ref, qty=want, reference=view[sym].mark, rule=rule
    )
    intent = k * 16 + slot.index

    def cid(leg: int) -> str:
        return client_order_id(bot.run_id, bot.cycle, intent, leg, prefix="bp")

    stop = replace(p.stop(cid(0)), cycle=bot.cycle)
    assert stop.price is not None
    small = bot.instruments[sym].below_minimum(want, stop.price)
    if small is not None:
        if guard.skipped.get(key) != str(want):  # once per position size
            guard.skipped[key] = str(want)
            bot.journal(
                "protection",
                now,
                {"action": "none", "strategy": str(ref), "symbol": sym, "qty": str(want),
                 "reason": f"protection: none placed, {small}"},
            )  # fmt: skip
        return
    tp = replace(p.take_profit(cid(1)), cycle=bot.cycle) if oco else None
    reason = "protection: a long position with no protection" if not resting else why
    _place(bot, guard, key, stop, tp, reason, now, p.reference)


def _refused(guard: Protector, key: Key, want: Decimal, mark: Decimal, rule: Protection) -> bool:
    """After the exchange refused a placement, it is tried again only once the
    position changed or the market moved by the stop's distance (a stop priced
    from a mark the market had already left "would trigger immediately"): one
    refusal per cause, not one per cycle."""
    last = guard.refused.get(key)
    if last is None or last[0] != want:
        return False
    return abs(mark - last[1]) < last[1] * rule.stop_pct


def _place(
    bot: Bot,
    guard: Protector,
    key: Key,
    stop: OrderRequest,
    tp: OrderRequest | None,
    reason: str,
    now: int,
    reference: Decimal,
) -> None:
    """Journal (write-ahead), then send: the stop alone, or both legs in one call."""
    detail: dict[str, Any] = {
        "action": "place",
        "strategy": str(stop.strategy),
        "symbol": stop.symbol,
        "cycle": bot.cycle,
        "qty": str(stop.qty),
        "stop": str(stop.stop_price),
        "limit": str(stop.price),
        "reason": reason,
    }
    if tp is not None:
        detail |= {"take_profit": str(tp.price), "legs": [tp.client_id, stop.client_id]}
    for leg in (stop, tp):
        if leg is not None:
            bot.journal("protection", now, detail | {"client_id": leg.client_id})
    if bot.durable_journal and hasattr(bot.journal, "flush"):
        bot.journal.flush()
    if tp is None:
        mos = [bot.orders.submit(stop, now)]
    else:
        mos = place_oco(bot.orders, bot.venue, tp, stop, now)  # type: ignore[arg-type]
    if any(mo.status is OrderStatus.REJECTED for mo in mos):
        guard.refused[key] = (stop.qty, reference)  # see ``_refused``
        bot.journal(
            "protection",
            now,
            {"action": "refused", "client_id": stop.client_id, "strategy": str(stop.strategy),
             "symbol": stop.symbol, "reason": mos[-1].reason, "alert": True},
        )  # fmt: skip
    else:
        guard.refused.pop(key, None)
        guard.skipped.pop(key, None)
