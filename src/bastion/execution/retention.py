"""What the order manager keeps in memory, and what it leaves to the store.

A bot that runs for months places millions of orders. Once an order is
terminal and on disk, memory holds it only while it is recent (a late report
or fill usually comes within seconds); after that the order store is the
record, and the manager reads an order back from it when a late event names it
(``OrderManager.recall``). The same goes for fills (the store dedupes them by
trade id) and for the trade ids and foreign order ids the manager has seen:
a bounded window in memory, the store behind it. Without a store (a backtest)
nothing is forgotten: the run's result is built from memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING

from bastion.execution.tracked import ManagedOrder

if TYPE_CHECKING:
    from bastion.execution.manager import OrderManager


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How much of the past the manager keeps in memory when it has a store."""

    orders: int = 512  # terminal orders, the newest
    fills: int = 1_024  # (strategy id, fill), the newest
    trades: int = 16_384  # trade ids seen (the store dedupes beyond)
    foreign: int = 1_024  # foreign client ids already journaled


class RecentSet:
    """A set that forgets its oldest members beyond ``limit`` (``None``: never)."""

    __slots__ = ("_items", "limit")

    def __init__(self, limit: int | None = None, items: Iterable[str] = ()) -> None:
        self.limit = limit
        self._items: dict[str, None] = {}
        self.update(items)

    def add(self, item: str) -> None:
        self._items.pop(item, None)
        self._items[item] = None
        if self.limit is not None and len(self._items) > self.limit:
            del self._items[next(iter(self._items))]

    def update(self, items: Iterable[str]) -> None:
        for item in items:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


def recall(m: OrderManager, client_id: str) -> ManagedOrder | None:
    """``m``'s order under ``client_id``: in memory, else read back from its store."""
    mo = m.orders.get(client_id)
    if mo is not None or m._store is None:
        return mo
    stored = m._store.get(client_id)
    if stored is None:
        return None
    mo = ManagedOrder.from_stored(stored)
    m.orders[client_id] = mo
    if stored.status.terminal:
        m._ended[client_id] = None
        trim(m)
    else:  # not terminal on disk, yet not in memory: cannot happen, but never lose one
        m.working[client_id] = mo
    return mo


def trim(m: OrderManager) -> None:
    """Forget the oldest terminal orders beyond the retention; an order still
    settling (its fills not all in) stays until they are."""
    keep = m._keep
    if keep is None:
        return
    excess = len(m._ended) - keep.orders
    for cid in list(islice(m._ended, max(0, excess))):
        if cid in m.settling:
            continue  # still in flight: looked at again at the next trim
        del m._ended[cid]
        if cid not in m.working:
            m.orders.pop(cid, None)
    trim_fills(m)


def trim_fills(m: OrderManager) -> None:
    """Keep the newest fills (amortised: cut back to the retention at twice it)."""
    if m._keep is not None and len(m.fills) > 2 * m._keep.fills:
        del m.fills[: -m._keep.fills]
