"""Account snapshots: the exchange's view of balances, positions and orders.

The strategy and the risk gate only ever see an ``AccountSnapshot`` built from
the venue by the reconciler, never the bot's own beliefs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType

from bastion.model.money import ZERO
from bastion.model.orders import OrderReport

_EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """Net holding in ``symbol``; ``avg_price`` is the average entry of the open part."""

    symbol: str
    qty: Decimal
    avg_price: Decimal = ZERO


def _empty_balances() -> Mapping[str, Balance]:
    return MappingProxyType({})


def _empty_positions() -> Mapping[str, Position]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSnapshot:
    """Balances, positions and working orders as the venue reported them at ``ts``.

    Immutable: the mappings are read-only proxies and orders a tuple, so a
    strategy that tries to edit its account fails loudly.
    """

    ts: int
    quote_asset: str
    balances: Mapping[str, Balance] = field(default_factory=_empty_balances)
    positions: Mapping[str, Position] = field(default_factory=_empty_positions)
    open_orders: tuple[OrderReport, ...] = ()

    def position(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def cash(self, asset: str | None = None) -> Decimal:
        bal = self.balances.get(asset or self.quote_asset)
        return bal.total if bal is not None else ZERO

    def orders_for(self, symbol: str) -> tuple[OrderReport, ...]:
        return tuple(o for o in self.open_orders if o.symbol == symbol)

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus every position marked at ``marks`` (missing marks use entry price)."""
        total = self.cash()
        for sym, pos in self.positions.items():
            mark = marks.get(sym, pos.avg_price)
            total += pos.qty * mark
        return total
