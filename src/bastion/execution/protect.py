"""Protective orders that rest on the exchange: a stop-limit, or an OCO of a
take-profit and a stop-limit, sized to a position.

The bot can die; an order on the exchange cannot. A stop placed with the
position keeps protecting it while the process is down, restarting or
hung. These orders go through the order manager like any other (client id
on disk before the send, an unknown outcome looked up and never re-sent,
fills attributed to the strategy), so the reconciler and the kill switch
treat them like any open order: the kill switch cancels them with the rest.

``Protecting`` is what a strategy's or the risk layer's rule builds: prices
are fractions of a reference price, rounded to the instrument's tick away
from the market (a sell's stop rounds down, its take-profit up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from bastion.execution.manager import OrderManager
from bastion.execution.tracked import ManagedOrder
from bastion.model import (
    Instrument,
    OrderReport,
    OrderRequest,
    OrderType,
    Side,
    StopKind,
    StrategyRef,
    TimeInForce,
)


class ListVenue(Protocol):
    """A venue that takes an OCO in one call (``CcxtVenue`` on Binance)."""

    def submit_oco(
        self, take_profit: OrderRequest, stop: OrderRequest
    ) -> Sequence[OrderReport]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Protection:
    """How far from the reference the stop triggers, where its limit sits
    (further still, so a fast market still fills it), and an optional target."""

    stop_pct: Decimal  # 0.02: trigger 2% against the position
    limit_pct: Decimal  # 0.025: the stop's limit 2.5% against it
    take_profit_pct: Decimal | None = None  # 0.04: take profit 4% for it (OCO)


def _tick(inst: Instrument, price: Decimal, rounding: str) -> Decimal:
    return (price / inst.tick_size).to_integral_value(rounding=rounding) * inst.tick_size


@dataclass(frozen=True, slots=True, kw_only=True)
class Protecting:
    """A position to protect: ``qty`` of ``inst`` closed by a ``side`` order (a
    long's sell by default), prices measured from ``reference``."""

    inst: Instrument
    strategy: StrategyRef
    qty: Decimal
    reference: Decimal
    rule: Protection
    side: Side = Side.SELL

    def _price(self, fraction: Decimal, *, favour: bool) -> Decimal:
        sign = (1 if favour else -1) * (1 if self.side is Side.SELL else -1)
        up = sign > 0  # round away from the market: never a worse trigger than asked
        rounding = ROUND_CEILING if up else ROUND_FLOOR
        return _tick(self.inst, self.reference * (1 + sign * fraction), rounding)

    def stop(self, client_id: str) -> OrderRequest:
        """A stop-limit that closes if the market moves ``stop_pct`` against."""
        return OrderRequest(
            client_id=client_id, strategy=self.strategy, symbol=self.inst.symbol,
            side=self.side, qty=self.inst.round_qty(self.qty), type=OrderType.LIMIT,
            price=self._price(self.rule.limit_pct, favour=False),
            stop_price=self._price(self.rule.stop_pct, favour=False),
            stop_kind=StopKind.STOP_LOSS, reduces_exposure=True,
        )  # fmt: skip

    def take_profit(self, client_id: str) -> OrderRequest:
        """The OCO's other leg: a post-only limit ``take_profit_pct`` in favour."""
        if self.rule.take_profit_pct is None:
            raise ValueError("this protection has no take-profit")
        return OrderRequest(
            client_id=client_id, strategy=self.strategy, symbol=self.inst.symbol,
            side=self.side, qty=self.inst.round_qty(self.qty), type=OrderType.LIMIT,
            tif=TimeInForce.POST_ONLY,
            price=self._price(self.rule.take_profit_pct, favour=True), reduces_exposure=True,
        )  # fmt: skip


def place_oco(
    manager: OrderManager,
    venue: ListVenue,
    take_profit: OrderRequest,
    stop: OrderRequest,
    now: int,
) -> list[ManagedOrder]:
    """Both legs through the manager in one venue call."""
    return manager.submit_linked(
        [take_profit, stop], lambda: venue.submit_oco(take_profit, stop), now
    )
