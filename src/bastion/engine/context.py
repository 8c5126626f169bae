"""The decision context: what the strategies saw when they decided.

``bastion explain`` must be able to show, months later, the market view and the
account a decision was taken on; ``bastion replay`` must be able to feed a
strategy the same account again. Both read it from the journal, so the cycle
journals it, compactly:

- ``context`` once per cycle that decided something (every cycle in a paper or
  live session, where ``record_every_cycle`` is on, so that a replay knows each
  cycle's number, time and account): the view of every symbol (latest bar, quote,
  last trade, staleness, indicator values) and the account. The account is
  written only when it changed since the last context (the reconciler hands back
  the same snapshot object while nothing changed); otherwise ``account_cycle``
  names the cycle whose context holds it. ``cycle`` and ``risk_decision`` events
  refer to the context by cycle number.
- ``strategies`` once per run: each strategy's id, version hash, name,
  parameters, symbols and mode, and the risk rules in the order they review.

Values are written as they are (floats for the view, Decimal strings for the
account): what is printed is exactly what the strategy read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from decimal import Decimal
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bastion.execution.planner import Plan
from bastion.model import (
    AccountSnapshot,
    Balance,
    Intent,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    StrategyRef,
    TimeInForce,
)
from bastion.model.indicators import IndicatorSpec
from bastion.model.view import MarketView
from bastion.risk import Decision, Verdict
from bastion.venues.sim.snapshot import instrument_row

if TYPE_CHECKING:
    from bastion.engine.cycle import Bot, StrategySlot

CONTEXT_KIND = "context"
STRATEGIES_KIND = "strategies"

# By identity (hashing a dataclass spec costs more than the rest of the view);
# the spec is kept beside its name so that its id is never reused meanwhile.
_LABELS: dict[int, tuple[IndicatorSpec, str]] = {}


def label(spec: IndicatorSpec) -> str:
    """``SMA(20,close)``: a short, stable name for an indicator spec (cached)."""
    hit = _LABELS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    if dataclasses.is_dataclass(spec):
        args = ",".join(str(getattr(spec, f.name)) for f in dataclasses.fields(spec))
        name = f"{type(spec).__name__}({args})"
    else:
        name = repr(spec)
    _LABELS[id(spec)] = (spec, name)
    return name


def view_dict(view: MarketView) -> dict[str, dict[str, Any]]:
    """Each symbol's view as the strategy read it; fields at their defaults are left out."""
    out: dict[str, dict[str, Any]] = {}
    for sym, sv in view.items():
        d: dict[str, Any] = {
            "ts": sv.ts,
            "o": sv.open,
            "h": sv.high,
            "l": sv.low,
            "c": sv.close,
            "v": sv.volume,
        }
        if sv.bid is not None or sv.ask is not None:
            d["bid"], d["ask"] = sv.bid, sv.ask
        if sv.last is not None:
            d["last"] = sv.last
        if sv.stale:
            d["stale"] = True
        if sv.gap_ms:
            d["gap_ms"] = sv.gap_ms
        inds = sv._indicators
        if inds:
            d["ind"] = {label(spec): ind.value for spec, ind in inds.items()}
        out[sym] = d
    return out


def account_dict(acct: AccountSnapshot) -> dict[str, Any]:
    """The account snapshot, every amount a Decimal string; ``account_from`` reads it back."""
    out: dict[str, Any] = {
        "ts": acct.ts,
        "quote": acct.quote_asset,
        "balances": {a: [str(b.free), str(b.locked)] for a, b in acct.balances.items()},
        "positions": {s: [str(p.qty), str(p.avg_price)] for s, p in acct.positions.items()},
    }
    if acct.holdings is not None:
        out["holdings"] = {s: [str(p.qty), str(p.avg_price)] for s, p in acct.holdings.items()}
    if acct.floors:
        out["floors"] = {s: str(q) for s, q in acct.floors.items()}
    if acct.open_orders:
        out["open_orders"] = [order_dict(o) for o in acct.open_orders]
    return out


def order_dict(o: OrderReport) -> dict[str, Any]:
    return {
        "client_id": o.client_id,
        "venue_order_id": o.venue_order_id,
        "symbol": o.symbol,
        "side": o.side.value,
        "type": o.type.value,
        "qty": str(o.qty),
        "price": None if o.price is None else str(o.price),
        "tif": o.tif.value,
        "status": o.status.value,
        "filled_qty": str(o.filled_qty),
        "avg_fill_price": None if o.avg_fill_price is None else str(o.avg_fill_price),
        "ts": o.ts,
        "reason": o.reason,
    }


def order_from(d: dict[str, Any]) -> OrderReport:
    def dec(key: str) -> Decimal | None:
        v = d.get(key)
        return None if v is None else Decimal(v)

    return OrderReport(
        client_id=d["client_id"],
        venue_order_id=d["venue_order_id"],
        symbol=d["symbol"],
        side=Side(d["side"]),
        type=OrderType(d["type"]),
        qty=Decimal(d["qty"]),
        price=dec("price"),
        tif=TimeInForce(d["tif"]),
        status=OrderStatus(d["status"]),
        filled_qty=Decimal(d["filled_qty"]),
        avg_fill_price=dec("avg_fill_price"),
        ts=d.get("ts", 0),
        reason=d.get("reason", ""),
    )


def account_from(d: dict[str, Any]) -> AccountSnapshot:
    """The snapshot ``account_dict`` wrote, as the strategy received it."""

    def positions(rows: dict[str, list[str]]) -> MappingProxyType[str, Position]:
        return MappingProxyType(
            {
                s: Position(symbol=s, qty=Decimal(q), avg_price=Decimal(a))
                for s, (q, a) in rows.items()
            }
        )

    holdings = d.get("holdings")
    return AccountSnapshot(
        ts=d["ts"],
        quote_asset=d["quote"],
        balances=MappingProxyType(
            {
                a: Balance(asset=a, free=Decimal(f), locked=Decimal(lk))
                for a, (f, lk) in d["balances"].items()
            }
        ),
        positions=positions(d["positions"]),
        open_orders=tuple(order_from(o) for o in d.get("open_orders", [])),
        holdings=None if holdings is None else positions(holdings),
        floors=MappingProxyType({s: Decimal(q) for s, q in d.get("floors", {}).items()}),
    )


def journal_context(bot: Bot, view: MarketView, account: AccountSnapshot, now: int) -> None:
    """One ``context`` event for this cycle (at most one: the first caller wins)."""
    if bot.context_cycle == bot.cycle:
        return
    bot.context_cycle = bot.cycle
    payload: dict[str, Any] = {"cycle": bot.cycle, "view": view_dict(view)}
    if account is bot.context_account[0]:
        payload["account_cycle"] = bot.context_account[1]
    else:
        bot.context_account = (account, bot.cycle)
        payload["account"] = account_dict(account)
    latch = bot.risk.latch.state
    if latch.value != "ACTIVE":
        payload["latch"] = latch.value
    if bot.orders.blocked:
        payload["blocked"] = sorted(bot.orders.blocked)
    if bot.size_scale != 1:
        payload["size_scale"] = str(bot.size_scale)
    if bot.orders.working:  # what each planner will count as its resting orders
        working = {
            s.strategy.ref.id: [order_dict(o) for o in bot.orders.working_for(s.strategy.ref.id)]
            for s in bot.slots
        }
        payload["working"] = {sid: orders for sid, orders in working.items() if orders}
    protect = protect_context(bot)
    if protect:
        payload["protect"] = protect
    if len(bot.slots) > 1 and _shared_symbols(bot):
        # A shared symbol's position is the strategy's own fills, not the account's.
        payload["attributed"] = {
            s.strategy.ref.id: {
                sym: str(q) for sym, q in bot.orders.positions_for(s.strategy.ref.id).items()
            }
            for s in bot.slots
        }
    bot.journal(CONTEXT_KIND, now, payload)


def protect_context(bot: Bot) -> dict[str, Any]:
    """What a protected strategy's plan depends on beyond the account (a replay
    feeds it back): the targets held after a stop-out and the protection
    resting in each strategy's name (``bastion.engine.protective``)."""
    guard = bot.protection
    if guard is None:
        return {}
    out: dict[str, Any] = {}
    if guard.held:
        out["held"] = sorted([list(k) for k in guard.held])
    legs = {s.strategy.ref.id: bot.orders.protection_for(s.strategy.ref.id) for s in bot.slots}
    rows = {sid: [order_dict(r) for r in reports] for sid, reports in legs.items() if reports}
    if rows:
        out["legs"] = rows
    return out


def _shared_symbols(bot: Bot) -> bool:
    seen: set[str] = set()
    for s in bot.slots:
        if seen & set(s.strategy.symbols):
            return True
        seen |= set(s.strategy.symbols)
    return False


def journal_strategies(bot: Bot, now: int, *, venue_mode: str) -> None:
    """The run's ``strategies`` event: every slot, live and shadow, the risk rules,
    and what the venue is (``live`` money, ``paper``, ``backtest``)."""
    shadows = bot.shadow.slots if bot.shadow is not None else []
    payload = strategies_payload([*bot.slots, *shadows], bot.risk.rules)
    payload["instruments"] = {s: instrument_row(i) for s, i in bot.instruments.items()}
    bot.journal(STRATEGIES_KIND, now, payload | {"venue_mode": venue_mode})


def strategies_payload(slots: Iterable[StrategySlot], rules: Sequence[Any]) -> dict[str, Any]:
    """Who decides (id, version, name, parameters, symbols, mode) and which rules review."""
    return {
        "strategies": [
            {
                "id": s.strategy.ref.id,
                "version": s.strategy.ref.version,
                "name": s.strategy.name,
                "params": _params(s.strategy.params),
                "symbols": list(s.strategy.symbols),
                "mode": s.mode,
                "index": s.index,
            }
            for s in slots
        ],
        "rules": [r.name for r in rules],
    }


def _params(params: Any) -> dict[str, Any] | str:
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(params):
            v = getattr(params, f.name)
            out[f.name] = str(v) if isinstance(v, Decimal) else v
        return out
    return repr(params)


def journal_cycle(
    bot: Bot,
    slot: StrategySlot,
    intents: Sequence[Intent],
    orders_plan: Plan,
    decisions: Sequence[Decision],
    now: int,
) -> None:
    """The strategy's intents and the plan made of them, then each order's verdict."""
    ref = slot.strategy.ref
    bot.intents_total += len(intents)
    payload: dict[str, Any] = {
        "cycle": bot.cycle,
        "strategy": str(ref),
        "intents": [intent_dict(i) for i in intents],
        "orders": len(orders_plan.orders),
        "cancels": len(orders_plan.cancels),
        "skipped": [{"intent": intent_dict(i), "why": w} for i, w in orders_plan.skipped],
        "plan": [_planned(o) for o in orders_plan.orders],
    }
    if orders_plan.cancels:
        payload["cancel_ids"] = [c.client_id for c in orders_plan.cancels]
    if slot.mode != "live":
        payload["mode"] = slot.mode
    bot.journal("cycle", now, payload)
    for d in decisions:
        journal_decision(bot, ref, d, now, mode=slot.mode)


def _planned(o: OrderRequest) -> list[Any]:
    """One planned order: client id, side, quantity, type, limit price."""
    return [o.client_id, o.side.value, str(o.qty), o.type.value, o.price and str(o.price)]


def journal_decision(
    bot: Bot,
    ref: StrategyRef,
    d: Decision,
    now: int,
    *,
    resend: bool = False,
    mode: str = "live",
) -> None:
    if mode == "live":  # a shadow's verdicts are its own, not the bot's
        key = d.reason.value if d.reason is not None else "APPROVED"
        bot.decisions[key] = bot.decisions.get(key, 0) + 1
        if d.verdict is Verdict.RESIZE:  # sent smaller: not a refusal
            bot.resized[key] = bot.resized.get(key, 0) + 1
    head = {
        "cycle": bot.cycle,
        "strategy": str(ref),
        "symbol": d.original.symbol,
        "client_id": d.original.client_id,
    } | ({"resend": True} if resend else {})
    if mode != "live":
        head["mode"] = mode
    bot.journal(
        "risk_decision",
        now,
        head
        | {
            "verdict": d.verdict.value,
            "reason": d.reason.value if d.reason else None,
            "rule": d.rule,
            "details": dict(d.details),
            "side": d.original.side.value,
            "qty": str(d.original.qty),
            "approved_qty": str(d.request.qty) if d.request is not None else None,
        }
        if d.verdict is not Verdict.APPROVE
        else head | {"verdict": "approve"},
    )


def intent_dict(intent: Intent) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in intent.__slots__:
        value = getattr(intent, name)
        if isinstance(value, tuple):
            value = [[str(lv.price), str(lv.qty)] for lv in value]
        elif value is not None and not isinstance(value, str | int | float | bool):
            value = str(value)
        out[name] = value
    return out
