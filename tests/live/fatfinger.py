"""A strategy for the fat-finger scenario: it holds ``qty`` of each symbol.

Version 1 holds 0.001 BTC; the "new version" holds 5 (a sizing bug of a
factor 5,000). Same source, other parameters: another version hash."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bastion.model import TargetPosition
from bastion.strategy import Strategy


@dataclass(frozen=True, slots=True, kw_only=True)
class HoldParams:
    qty: Decimal = Decimal("0.001")
    after: int = 1  # cycles to wait before asking for the position


class Hold(Strategy[HoldParams, int]):
    name = "hold"
    Params = HoldParams

    def initial_memory(self) -> int:
        return 0

    def decide(self, view, account, memory):
        if memory < self.params.after:
            return [], memory + 1
        return [TargetPosition(symbol=s, qty=self.params.qty) for s in self.symbols], memory + 1
