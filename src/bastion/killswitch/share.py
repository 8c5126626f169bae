"""What a kill may close: the bot's own holding, by the bot's own records.

The baseline (what the account held before the bot, and every change the bot
absorbed since) is not the bot's, so a kill takes a holding down to it and no
further. But the baseline is only as new as the bot's last reconciliation: a
deposit that lands after it, or before the bot's first cycle on a fresh
folder (no baseline recorded yet), would look like the bot's position to a
kill that subtracts the baseline alone, and be sold. Found by the campaign: a
kill right after a deposit sold the deposit.

So a kill also caps each close by what the bot's records say it owns: the
adopted quantity plus the net of its fills in the order store, plus the fills
of its orders that the exchange has made but the bot has not yet recorded
(each order the store does not show finished and fully recorded is looked up
by client id), minus what this kill has already closed. The smaller of the
two bounds is closed; a holding above both is left and reported as
*unexplained*: nobody's records say it is the bot's.

Read-only on the bot's files (``mode=ro``): the kill never writes the bot's
store, and a store it cannot read leaves every position as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bastion.killswitch.venueset import VenueSet
from bastion.model import OrderStatus, Side
from bastion.model.money import ZERO
from bastion.state.baseline import BaselineUnreadable
from bastion.state.store import state_path

ORDERS_FILE = "state.sqlite"
LOOKUPS_MAX = 50  # the newest candidates only: a kill has seconds, and each lookup costs weight
_TERMINAL = tuple(s.value for s in OrderStatus if s.terminal)
_ENDED = (OrderStatus.CANCELLED.value, OrderStatus.EXPIRED.value)  # may have filled in part

Lookup = Callable[[list[tuple[str, str]]], list[Decimal | None]]


@dataclass(frozen=True, slots=True)
class _Order:
    client_id: str
    symbol: str
    sign: int
    qty: Decimal
    status: str
    filled: Decimal  # what the store has recorded of its fills


def _read(
    data_dir: Path,
) -> tuple[dict[str, Decimal], list[_Order], dict[str, tuple[str, Decimal]]]:
    """(adopted per asset, the bot's orders, per client id its symbol and the net
    of its recorded fills)."""
    adopted: dict[str, Decimal] = {}
    latch = state_path(data_dir)
    orders_path = data_dir / ORDERS_FILE
    try:
        if latch.exists():
            db = sqlite3.connect(f"file:{latch}?mode=ro", uri=True, timeout=2.0)
            try:
                if _has(db, "baseline"):
                    adopted = {
                        a: Decimal(q) for a, q in db.execute("SELECT asset, adopted FROM baseline")
                    }
            finally:
                db.close()
        db = sqlite3.connect(f"file:{orders_path}?mode=ro", uri=True, timeout=2.0)
        try:
            orders = [
                _Order(cid, sym, 1 if side == Side.BUY.value else -1, Decimal(q), st, Decimal(f))
                for cid, sym, side, q, st, f in (
                    db.execute(
                        "SELECT client_id, symbol, side, qty, status, filled FROM orders"
                    ).fetchall()
                    if _has(db, "orders")
                    else []
                )
            ]
            fills: dict[str, tuple[str, Decimal]] = {}
            if _has(db, "fills"):
                for cid, sym, side, q in db.execute(
                    "SELECT client_id, symbol, side, qty FROM fills"
                ):
                    signed = Decimal(q) if side == Side.BUY.value else -Decimal(q)
                    fills[cid] = (sym, fills.get(cid, (sym, ZERO))[1] + signed)
        finally:
            db.close()
    except (sqlite3.Error, ArithmeticError) as exc:
        raise BaselineUnreadable(f"{data_dir}: the bot's order store: {exc}") from exc
    return adopted, orders, fills


def _has(db: sqlite3.Connection, table: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return row is not None


def own_holdings(
    data_dir: str | Path,
    bases: Mapping[str, str],
    lookup: Lookup,
    *,
    exclude: Collection[str] = (),
    adopt: Collection[str] = (),
    deep: bool = False,
) -> dict[str, Decimal] | None:
    """Per symbol in ``bases`` (symbol -> base asset), what the bot's records say
    it holds of the base asset. ``lookup`` fetches each (symbol, client id)'s
    filled quantity at the exchange (None: not found or not readable: then the
    store's figure stands). Fills of ``exclude`` (this kill's own closes) are
    left out: the caller subtracts them itself, whether the bot recorded them
    yet or not. None when the folder has no order store: no bot ran here. An
    asset of ``adopt`` (the config's) that no baseline was recorded for yet is
    the bot's by the config's word: not capped. ``deep`` also looks up orders
    that ended cancelled or expired: one may have filled in part, its reply
    said so, and the bot stopped before recording the fills (a market order
    whose remainder expired); too many to look up every round, so only when
    the records and the account disagree.
    """
    if not (Path(data_dir) / ORDERS_FILE).exists():
        return None  # no bot has run here: no records to cap by (the baseline alone bounds)
    adopted, orders, fills = _read(Path(data_dir))
    skip = set(exclude)
    per_symbol: dict[str, Decimal] = {}
    for cid, (sym, net) in fills.items():  # the kill's earlier closes the bot recorded too
        if cid not in skip:
            per_symbol[sym] = per_symbol.get(sym, ZERO) + net
    unrecorded = [
        o
        for o in orders
        if o.symbol in bases
        and o.client_id not in skip
        and (
            o.status not in _TERMINAL
            or (o.status == OrderStatus.FILLED.value and o.filled < o.qty)
            or (deep and o.status in _ENDED and o.filled < o.qty)
        )
    ][-LOOKUPS_MAX:]
    seen = lookup([(o.symbol, o.client_id) for o in unrecorded]) if unrecorded else []
    for order, at_venue in zip(unrecorded, seen, strict=True):
        known = order.qty if order.status == OrderStatus.FILLED.value else order.filled
        if at_venue is not None:
            known = max(known, at_venue)
        gap = known - abs(fills.get(order.client_id, (order.symbol, ZERO))[1])
        if gap > 0:
            per_symbol[order.symbol] = per_symbol.get(order.symbol, ZERO) + order.sign * gap
    out: dict[str, Decimal] = {}
    adopting = {a.upper() for a in adopt}
    for sym, asset in bases.items():
        if asset not in adopted and asset.upper() in adopting:
            out[sym] = Decimal("Infinity")
            continue
        out[sym] = adopted.get(asset, ZERO) + per_symbol.get(sym, ZERO)
    return out


class OwnShare:
    """The cap of one kill, across its passes: what the bot's records say it
    owns, less what this kill's closes have taken (whether or not the bot has
    recorded them yet)."""

    def __init__(
        self,
        data_dir: str | Path,
        bases: Callable[[], Mapping[str, str]],
        lookup: Lookup,
        adopt: Collection[str] = (),
    ) -> None:
        self._dir = Path(data_dir)
        self._adopt = tuple(adopt)
        self._bases = bases
        self._lookup = lookup
        self._closes: dict[str, Mapping[str, str]] = {}

    def caps(
        self, closes: Iterable[Mapping[str, str]], *, deep: bool = False
    ) -> dict[str, Decimal] | None:
        """Per symbol, the most a close may still sell; None when no bot has run
        in the folder (``BaselineUnreadable`` when its files cannot be read)."""
        for close in closes:
            self._closes[close["client_id"]] = close
        own = own_holdings(
            self._dir,
            self._bases(),
            self._lookup,
            exclude=self._closes,
            adopt=self._adopt,
            deep=deep,
        )
        if own is None:
            return None
        for close in self._closes.values():
            sym = close["symbol"]
            if sym in own:
                filled = Decimal(close.get("filled") or "0")
                own[sym] += filled if close.get("side") == Side.BUY.value else -filled
        return own


def venue_share(data_dir: str | Path, venues: VenueSet, adopt: Collection[str] = ()) -> OwnShare:
    """An ``OwnShare`` that looks orders up through the kill's own connections."""

    def lookup(pairs: list[tuple[str, str]]) -> list[Decimal | None]:
        outs = venues.map(lambda p: venues.fetch_order(p[0], p[1]), pairs)
        return [
            o.value.filled_qty if o.error is None and o.value is not None else None for o in outs
        ]

    bases = lambda: {s: i.base for s, i in venues.instruments().items()}  # noqa: E731
    return OwnShare(data_dir, bases, lookup, adopt)
