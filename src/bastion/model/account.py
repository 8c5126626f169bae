"""Account snapshots: the exchange's view of balances, positions and orders.

The strategy and the risk gate only ever see an ``AccountSnapshot`` built from
the venue by the reconciler, never the bot's own beliefs.

A real account holds more than the bot trades. The reconciler marks each
symbol with the *baseline* of its base asset (holdings that are not the
bot's): ``positions`` is then the bot's share (the exchange's holding minus
the baseline), which is what strategies, the planner and a flatten act on;
``holdings`` keeps the whole account, which is what exposure limits and
equity count. A snapshot straight from a venue has no baseline: both agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from bastion.model.money import ZERO
from bastion.model.orders import OrderReport

_EMPTY: Mapping[str, object] = MappingProxyType({})
_NO_FLOORS: Mapping[str, Decimal] = MappingProxyType({})


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
    # Set by the reconciler (``with_baseline``): the whole account's positions,
    # and per symbol the quantity of its base asset that is not the bot's.
    holdings: Mapping[str, Position] | None = None
    floors: Mapping[str, Decimal] = field(default_factory=lambda: _NO_FLOORS)

    def position(self, symbol: str) -> Decimal:
        """The bot's position: the exchange's holding minus the baseline."""
        pos = self.positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    @property
    def account_positions(self) -> Mapping[str, Position]:
        """Every position of the whole account, baseline included."""
        return self.positions if self.holdings is None else self.holdings

    def holding(self, symbol: str) -> Decimal:
        """What the whole account holds of ``symbol``'s base asset."""
        pos = self.account_positions.get(symbol)
        return pos.qty if pos is not None else ZERO

    def floor(self, symbol: str) -> Decimal:
        """The baseline under ``symbol``: no order of the bot sells the holding below it."""
        return self.floors.get(symbol, ZERO)

    def with_baseline(
        self,
        floors: Mapping[str, Decimal],
        sell_floors: Mapping[str, Decimal] | None = None,
    ) -> AccountSnapshot:
        """This snapshot with ``floors`` (symbol -> baseline of its base asset) taken
        out of the positions; the whole account stays in ``holdings``.

        ``sell_floors`` (default: ``floors``) is what no sell may go below; it can
        be higher than the baseline, for a rise that is not yet known to be the
        bot's: counted in the position (so the bot does not buy it again) but not
        sold until it is."""
        whole = self.account_positions
        sell_floors = floors if sell_floors is None else sell_floors
        if not any(floors.values()) and not any(sell_floors.values()) and self.holdings is None:
            return self  # nothing set aside (every backtest): the same object
        own: dict[str, Position] = {}
        for sym in set(whole) | set(floors):
            pos = whole.get(sym)
            qty = (pos.qty if pos is not None else ZERO) - floors.get(sym, ZERO)
            if qty:
                avg = pos.avg_price if pos is not None else ZERO
                own[sym] = Position(symbol=sym, qty=qty, avg_price=avg)
        return replace(
            self,
            positions=MappingProxyType(own),
            holdings=MappingProxyType(dict(whole)),
            floors=MappingProxyType({s: q for s, q in sell_floors.items() if q}),
        )

    def cash(self, asset: str | None = None) -> Decimal:
        bal = self.balances.get(asset or self.quote_asset)
        return bal.total if bal is not None else ZERO

    def orders_for(self, symbol: str) -> tuple[OrderReport, ...]:
        return tuple(o for o in self.open_orders if o.symbol == symbol)

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus every holding of the account marked at ``marks`` (missing
        marks use entry price)."""
        total = self.cash()
        for sym, pos in self.account_positions.items():
            mark = marks.get(sym, pos.avg_price)
            total += pos.qty * mark
        return total

    def marked_equity(self, marks: Mapping[str, Decimal]) -> Decimal | None:
        """Cash plus every holding at its mark, or None when a holding has no
        mark: an unmarked asset counted at zero (or at an unknown entry price)
        makes the equity look like profit or loss that never happened."""
        total = self.cash()
        for sym, pos in self.account_positions.items():
            if not pos.qty:
                continue
            mark = marks.get(sym)
            if mark is None:
                return None
            total += pos.qty * mark
        return total


def closable(holding: Decimal, floor: Decimal) -> Decimal:
    """The signed quantity a close may take off a holding without crossing the
    baseline ``floor``: above it, what is above (sold); short (below zero), the
    short (bought back); between zero and the floor, nothing: the account is
    already under its baseline and nothing the bot does buys it back."""
    if holding > floor:
        return holding - floor
    if holding < 0:
        return holding
    return ZERO
