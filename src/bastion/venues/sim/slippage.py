"""Slippage models: what a taker fill costs beyond the reference price, and how
much of a bar's volume one order may take.

A model answers two questions: ``price`` (the fill price for a taker fill of
``qty`` against reference price ``ref``) and ``max_qty`` (how much may fill in
one bar; None means unlimited). Resting limit orders fill at their own price
and are not slipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from bastion.model import Side
from bastion.model.money import to_decimal

_BPS = Decimal(10_000)


class SlippageModel(Protocol):
    def price(self, side: Side, ref: Decimal, qty: Decimal, bar_volume: float) -> Decimal: ...

    def max_qty(self, bar_volume: float) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Fill at the reference price, any size (the peers' default)."""

    def price(self, side: Side, ref: Decimal, qty: Decimal, bar_volume: float) -> Decimal:
        return ref

    def max_qty(self, bar_volume: float) -> Decimal | None:
        return None

    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True, slots=True)
class FixedBps:
    """Pay ``bps`` basis points on every taker fill, buys up and sells down."""

    bps: Decimal

    def price(self, side: Side, ref: Decimal, qty: Decimal, bar_volume: float) -> Decimal:
        adj = ref * self.bps / _BPS
        return ref + adj if side is Side.BUY else ref - adj

    def max_qty(self, bar_volume: float) -> Decimal | None:
        return None

    def __str__(self) -> str:
        return f"fixed:{self.bps}bps"


@dataclass(frozen=True, slots=True)
class VolumeParticipation:
    """Take at most ``share`` of each bar's volume; the rest fills on later bars.

    ``impact_bps`` is the extra cost at full participation, scaled linearly by
    how much of the allowed share a fill uses (a square-root law would be more
    realistic for large orders; linear keeps the model easy to reason about).
    """

    share: Decimal = Decimal("0.1")
    impact_bps: Decimal = Decimal(0)

    def price(self, side: Side, ref: Decimal, qty: Decimal, bar_volume: float) -> Decimal:
        if self.impact_bps == 0 or bar_volume <= 0:
            return ref
        used = qty / (self.share * to_decimal(bar_volume))
        adj = ref * self.impact_bps * min(used, Decimal(1)) / _BPS
        return ref + adj if side is Side.BUY else ref - adj

    def max_qty(self, bar_volume: float) -> Decimal | None:
        return self.share * to_decimal(bar_volume)

    def __str__(self) -> str:
        return f"volume:{self.share}"


def parse_slippage(spec: str) -> SlippageModel:
    """``none``, ``fixed:5`` (bps), ``volume:0.1`` or ``volume:0.1:20`` (share, impact bps)."""
    kind, _, rest = spec.partition(":")
    try:
        if kind == "none":
            return NoSlippage()
        if kind == "fixed":
            return FixedBps(Decimal(rest or "0"))
        if kind == "volume":
            share, _, impact = rest.partition(":")
            return VolumeParticipation(Decimal(share or "0.1"), Decimal(impact or "0"))
    except ArithmeticError as exc:
        raise ValueError(f"slippage {spec!r}: numbers expected after the colon") from exc
    raise ValueError(f"slippage {spec!r}: expected none, fixed:BPS or volume:SHARE[:IMPACT_BPS]")
