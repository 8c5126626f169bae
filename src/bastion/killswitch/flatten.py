"""Flatten: cancel every open order, close every position, poll until flat.

The loop is a sequence of *rounds*, each starting from a fresh read of the
exchange, because the exchange is the only truth a kill can trust (the bot's
database may be the thing that is broken). Per round:

1. look up, by client id, every closing order whose outcome is unknown (a
   timeout, a 5xx): nothing new is sent on a symbol until its last close is
   known, so a close that landed despite the error is never doubled;
2. read the account; flat (no open order, every position zero or dust) ends
   the kill;
3. cancel every open order in scope, then go straight back to 2: closing
   orders are sized only from a read taken with no order resting, so that the
   balance an order had locked is counted once;
4. close each position with one market order sized from that read, rounded
   down to the lot; a remainder below the exchange's minimum is *dust*,
   reported and left. A position is the bot's share: the holding above its
   baseline (``floors``), which no round ever sells.

Flat is claimed only from evidence: a read with no open order and no position
above dust, and every closing order the kill sent known to have finished (a
close last seen working is looked up by client id, and cancelled if it still
rests, even when the open-orders listing omits it). A position whose close the
exchange refused is not dust: it is reported as remaining, and the kill is
NOT flat.

Errors are classified as the venue port names them: a refusal (``InvalidOrder``)
is final for that symbol (not retried; the kill ends NOT flat once nothing
else is left to do); a rate limit waits as told; anything else is
unknown and retried next round; refused keys (nothing readable, an
authentication error) end the loop at once. Polling slows down as a kill
drags on, and a rate limit's ``Retry-After`` is obeyed even on reads: every
read costs request weight, and hammering an exchange that said 429 gets the
key banned. The loop
stops at ``deadline_s`` and reports what remains. Running it twice is safe:
a second run finds nothing to do.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bastion.clock import wall_ms as read_wall_clock
from bastion.killswitch.share import OwnShare
from bastion.killswitch.venueset import VenueSet
from bastion.model import (
    Instrument,
    OrderReport,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    StrategyRef,
)
from bastion.model.account import closable
from bastion.model.money import ZERO
from bastion.state.baseline import BaselineUnreadable
from bastion.state.killorders import KillOrder, record_kill_orders
from bastion.venues.errors import (
    DuplicateClientId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
)

KILLSWITCH = StrategyRef(id="killswitch", version="1")


@dataclass(slots=True)
class FlattenResult:
    """What a flatten did and what it left. ``flat``: nothing open, nothing held
    in scope but dust."""

    flat: bool = False
    rounds: int = 0
    cancelled: list[str] = field(default_factory=list)
    closes: list[dict[str, str]] = field(default_factory=list)
    dust: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # closes the exchange refused
    remaining_positions: dict[str, str] = field(default_factory=dict)
    remaining_orders: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # held above the baseline, but more than the bot's records say it owns: left
    unexplained: dict[str, str] = field(default_factory=dict)
    # the bot's records own more than the account holds above the baseline: not flat
    short: dict[str, str] = field(default_factory=dict)

    def absorb(self, later: FlattenResult) -> None:
        """Add a later pass (after the bot acknowledged the halt): its actions
        add up, its view of what remains replaces ours."""
        self.rounds += later.rounds
        self.cancelled += later.cancelled
        self.closes += later.closes
        self.errors += later.errors
        self.flat, self.dust, self.unresolved = later.flat, later.dust, later.unresolved
        self.refused = later.refused
        self.remaining_positions = later.remaining_positions
        self.remaining_orders = later.remaining_orders
        self.unexplained = later.unexplained
        self.short = later.short

    def as_dict(self) -> dict[str, Any]:
        return {
            "flat": self.flat,
            "rounds": self.rounds,
            "cancelled": self.cancelled,
            "closes": self.closes,
            "dust": self.dust,
            "refused": self.refused,
            "remaining_positions": self.remaining_positions,
            "remaining_orders": self.remaining_orders,
            "unresolved": self.unresolved,
            "unexplained": self.unexplained,
            "short": self.short,
            "errors": self.errors[-50:],
        }


class ClientIds:
    """``ks`` client ids, unique across processes and runs (time, pid, sequence),
    at most 36 characters (Binance's limit)."""

    def __init__(self, now_ms: int) -> None:
        self._prefix = f"ks{now_ms:x}p{os.getpid() % 0xFFFFFF:x}n"
        self._seq = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._seq)}"


@dataclass(slots=True)
class _Pending:
    """A close whose outcome is unknown: looked up before anything else is sent."""

    symbol: str
    client_id: str
    side: str


def flatten(
    venues: VenueSet,
    *,
    deadline_s: float,
    floors: Mapping[str, Decimal] | None = None,
    own: OwnShare | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wall_ms: Callable[[], int] = read_wall_clock,
    poll_s: float = 0.05,
    record: Callable[[Sequence[OrderRequest]], None] | None = None,
) -> FlattenResult:
    """Cancel and close everything in ``venues``' symbols until flat or the deadline.

    ``floors`` (asset -> baseline) is what is not the bot's: a close takes a
    holding down to its baseline, never below it, and "flat" means every
    holding is at its baseline (a kill in bot scope closes only the bot's share).
    ``own`` caps each close further by what the bot's records say it owns: a
    holding above the baseline that nobody's records explain (a deposit the bot
    has not reconciled yet) is left, and reported as ``unexplained``.
    ``record`` is given each round's closes before they are sent (bot scope: the
    bot adopts them as its own, ``bastion.state.killorders``); a failure to
    record is reported and does not stop the kill."""
    floors = floors or {}
    result = FlattenResult()
    ids = ClientIds(wall_ms())
    end = clock() + deadline_s
    pending: dict[str, _Pending] = {}
    refused: dict[str, str] = {}  # symbol -> why the exchange refused its close: final
    backoff = 0.0
    while True:
        result.rounds += 1
        unsure = False  # a close's last word was "working": what it filled may be stale
        if backoff:
            sleep(min(backoff, max(0.0, end - clock())))
            backoff = 0.0
        result.errors.extend(venues.connect())
        _resolve(venues, pending, result)
        acct, unread = venues.read()
        result.errors.extend(f"{s}: {why}" for s, why in unread.items() if why != "not connected")
        if acct is None and venues.keys_refused:
            break  # refused keys: waiting cures nothing, and the operator must know now
        if acct is not None:
            instruments = venues.instruments()
            orders = [o for o in acct.open_orders if o.symbol in instruments]
            held = {
                s: closable(acct.position(s), floors.get(instruments[s].base, ZERO))
                for s in instruments
                if s not in unread
            }
            if own is not None and not orders and any(q > 0 for q in held.values()):
                # The cap subtracts what each close filled, so learn how each one
                # ended first (found: a reply said 0.04998 of 0.05, the rest filled
                # after, and 0.00002 of a deposit was offered as the bot's).
                unsure = _still_working(venues, result)
                if not unsure:
                    held = _cap(held, own, result)
            result.remaining_orders = [f"{o.symbol} {o.client_id}" for o in orders]
            result.remaining_positions = {s: str(q) for s, q in held.items() if q}
            to_close: dict[str, Decimal] = {}
            result.refused = {
                s: f"{q}: {refused[s]}" for s, q in held.items() if q and s in refused
            }
            for sym, qty in held.items():
                why = None if sym in refused else _dust(instruments[sym], qty)
                if why is not None:
                    result.dust[sym] = f"{qty}: {why}"
                elif qty and sym not in refused:
                    result.dust.pop(sym, None)
                    to_close[sym] = qty
            quiet = not orders and not to_close and not pending and not unread and not unsure
            # a close of ours still working though unlisted is cancelled, then read again
            if quiet and not _still_working(venues, result):
                short = _short(held, own, instruments, result) if own is not None else {}
                result.flat = not result.refused and not short
                break  # flat, or nothing more a kill may do (a refusal is not retried)
        if clock() >= end:
            break
        if venues.retry_after_s or acct is None:  # told to wait, or blind: send nothing
            backoff = max(venues.retry_after_s, poll_s * 4)
            continue
        if orders:
            backoff = _cancel(venues, orders, result)
            continue  # re-read: size closes only from a read with nothing resting
        waiting = {p.symbol for p in pending.values()}
        to_close = {} if unsure else {s: q for s, q in to_close.items() if s not in waiting}
        if to_close:
            done = len(result.closes)
            backoff = _close(venues, to_close, ids, pending, refused, result, record)
            if backoff or all(c.get("status") == "filled" for c in result.closes[done:]):
                continue  # every close filled (the next read confirms), or told to wait
        # Polls slow down as a kill drags on (a thin book, a slow exchange): each
        # read costs request weight, and a kill that gets the key banned stops.
        sleep(min(2.0, poll_s * 1.5 ** min(20, max(0, result.rounds - 4))))
    result.unresolved = [f"{p.symbol} {p.client_id}" for p in pending.values()]
    return result


def _cap(held: dict[str, Decimal], own: OwnShare, result: FlattenResult) -> dict[str, Decimal]:
    """Each long closed at most down to what the bot's records say it owns; sized
    only from a read with nothing resting, so no fill of ours is still coming."""
    caps: dict[str, Decimal] | None
    try:
        caps = own.caps(result.closes)
    except BaselineUnreadable as exc:
        result.errors.append(f"the bot's records are unreadable, positions left: {exc}")
        caps = {}
    if caps is None:
        return held
    out: dict[str, Decimal] = {}
    result.unexplained = {}
    for sym, qty in held.items():
        if qty <= 0:
            out[sym] = qty
            continue
        allowed = min(qty, max(caps.get(sym, ZERO), ZERO))
        if allowed < qty:
            result.unexplained[sym] = str(qty - allowed)
        out[sym] = allowed
    return out


def _short(
    held: Mapping[str, Decimal],
    own: OwnShare,
    instruments: Mapping[str, Instrument],
    result: FlattenResult,
) -> dict[str, str]:
    """Per symbol, what the bot's records say it still owns beyond what the account
    holds above the baseline, when that is more than dust. The baseline is only as
    new as the bot's last reconciliation: a withdrawal read while an order of
    unknown outcome could have explained part of it leaves the baseline high until
    that order is resolved, and the bot's share then sits below the floor the kill
    was given. Found by the campaign (seed 234): such a kill reported FLAT with 2 of
    the bot's left. The kill does not sell below the baseline on a guess; it says
    it is not flat, and why."""
    result.short = {}
    try:
        caps = own.caps(result.closes)
        if caps and any(caps.get(s, ZERO) > max(q, ZERO) for s, q in held.items()):
            caps = own.caps(result.closes, deep=True)  # ended orders may hold fills too
    except BaselineUnreadable:
        return {}  # already reported when the closes were sized; nothing to compare
    for sym, qty in held.items():
        excess = (caps or {}).get(sym, ZERO) - max(qty, ZERO)
        if excess > 0 and excess.is_finite() and _dust(instruments[sym], excess) is None:
            result.short[sym] = str(excess)
            result.errors.append(
                f"{sym}: the bot's records own {excess} more than the account holds above"
                " its baseline (a withdrawal not yet reconciled, or a lost fill): not flat"
            )
    return result.short


def _dust(inst: Instrument, qty: Decimal) -> str | None:
    """Why ``qty`` cannot be closed with one order (None when it can, or is zero)."""
    if not qty:
        return None
    rounded = inst.round_qty(abs(qty))
    return inst.below_minimum(rounded, ZERO)


def _still_working(venues: VenueSet, result: FlattenResult) -> bool:
    """Look up every close last seen working; cancel the ones that still are.

    True when one still works, or could not be looked up: then no read may be
    taken for flat. An entry found finished is updated in place."""
    working = [c for c in result.closes if c.get("status") in _WORKING]
    if not working:
        return False
    outs = venues.map(lambda c: venues.fetch_order(c["symbol"], c["client_id"]), working)
    busy = False
    for close, out in zip(working, outs, strict=True):
        report = out.value
        if out.error is not None:
            result.errors.append(f"{close['symbol']}: lookup {close['client_id']}: {out.error}")
            busy = True
        elif report is None:
            close["status"] = "not placed"
        elif report.status.working:
            busy = True
            _cancel(venues, [report], result)
        else:
            close |= {"status": report.status.value, "filled": str(report.filled_qty)}
    return busy


_WORKING = frozenset(s.value for s in OrderStatus if not s.terminal)


def _resolve(venues: VenueSet, pending: dict[str, _Pending], result: FlattenResult) -> None:
    """Look up every close of unknown outcome by client id; keep the still-unknown."""
    items = list(pending.values())
    outs = venues.map(lambda p: venues.fetch_order(p.symbol, p.client_id), items)
    for p, out in zip(items, outs, strict=True):
        if out.error is not None:
            result.errors.append(f"{p.symbol}: lookup {p.client_id}: {out.error}")
            continue
        del pending[p.client_id]
        report = out.value
        status = "not placed" if report is None else report.status.value
        filled = ZERO if report is None else report.filled_qty
        result.closes.append(
            {
                "symbol": p.symbol,
                "client_id": p.client_id,
                "side": p.side,
                "looked_up": "yes",
                "status": status,
                "filled": str(filled),
            }
        )


def _cancel(venues: VenueSet, orders: list[OrderReport], result: FlattenResult) -> float:
    """Cancel in parallel; returns how long to wait before the next round."""
    backoff = 0.0
    for order, out in zip(orders, venues.map(venues.cancel, orders), strict=True):
        if out.error is None or isinstance(out.error, OrderNotFound):
            result.cancelled.append(f"{order.symbol} {order.client_id}")
        else:
            result.errors.append(f"{order.symbol}: cancel {order.client_id}: {out.error}")
            backoff = max(backoff, _wait(out.error))
    return backoff


def _close(
    venues: VenueSet,
    to_close: dict[str, Decimal],
    ids: ClientIds,
    pending: dict[str, _Pending],
    refused: dict[str, str],
    result: FlattenResult,
    record: Callable[[Sequence[OrderRequest]], None] | None = None,
) -> float:
    """One market order per symbol, in parallel. An order whose fate the answer
    does not tell is remembered and looked up before anything else is sent."""
    instruments = venues.instruments()
    requests = [
        OrderRequest(
            client_id=ids.next(),
            strategy=KILLSWITCH,
            symbol=sym,
            side=Side.SELL if qty > 0 else Side.BUY,
            qty=instruments[sym].round_qty(abs(qty)),
            type=OrderType.MARKET,
            reduces_exposure=True,
        )
        for sym, qty in to_close.items()
    ]
    if record is not None:
        try:
            record(requests)
        except OSError as exc:  # the kill goes on: closing matters more than the note
            result.errors.append(f"could not record the closes for the bot: {exc}")
    backoff = 0.0
    for req, out in zip(requests, venues.map(venues.submit, requests), strict=True):
        entry = {"symbol": req.symbol, "client_id": req.client_id, "side": req.side.value}
        if out.value is not None:
            entry |= {"status": out.value.status.value, "filled": str(out.value.filled_qty)}
            result.closes.append(entry)
            continue
        err = out.error
        if isinstance(err, InsufficientFunds):  # the balance moved: re-read and resize
            result.errors.append(f"{req.symbol}: close {req.client_id}: {err}")
        elif isinstance(err, InvalidOrder):  # the exchange said no: dust, not retried
            refused[req.symbol] = f"refused by the exchange: {err}"
            result.closes.append(entry | {"status": "refused", "filled": "0"})
        elif isinstance(err, RateLimited):  # a 429 is an answer: nothing was placed
            result.errors.append(f"{req.symbol}: close {req.client_id}: {err}")
            backoff = max(backoff, _wait(err))
        else:  # timeout, 5xx, duplicate id, bad answer: it may have landed
            if isinstance(err, DuplicateClientId):
                result.errors.append(f"{req.symbol}: close {req.client_id}: duplicate id")
            else:
                result.errors.append(f"{req.symbol}: close {req.client_id}: {err}")
            pending[req.client_id] = _Pending(req.symbol, req.client_id, req.side.value)
    return backoff


def record_to(data_dir: Path) -> Callable[[Sequence[OrderRequest]], None]:
    """``flatten``'s ``record`` in bot scope: each close appended to the data
    folder's kill-orders file, durably, before it is sent, for the bot to adopt."""

    def record(requests: Sequence[OrderRequest]) -> None:
        now = read_wall_clock()
        record_kill_orders(
            data_dir,
            (
                KillOrder(
                    client_id=r.client_id,
                    symbol=r.symbol,
                    side=r.side.value,
                    qty=str(r.qty),
                    ts=now,
                )
                for r in requests
            ),
        )

    return record


def _wait(err: BaseException) -> float:
    if isinstance(err, RateLimited):
        return min(err.retry_after_s or 1.0, 5.0)
    return 0.1
