"""SMA crossover: long ``qty`` while the fast average is above the slow one.

The reference workload of the peer comparison: buy when fast crosses above
slow, sell the whole position when it crosses below. A cross is a change in
the sign of (fast - slow), ignoring bars where the two are exactly equal
(the last non-zero sign is kept, as backtrader's CrossOver does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bastion.model import AccountSnapshot, Intent, TargetPosition
from bastion.model.indicators import SMA, IndicatorSpec
from bastion.model.view import MarketView
from bastion.strategy.base import Strategy

Memory = Mapping[str, int]  # symbol -> last non-zero sign of (fast - slow)


@dataclass(frozen=True, slots=True, kw_only=True)
class SmaCrossParams:
    fast: int = 20
    slow: int = 50
    qty: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if not 0 < self.fast < self.slow:
            raise ValueError(f"need 0 < fast < slow, got fast={self.fast} slow={self.slow}")
        if self.qty <= 0:
            raise ValueError(f"qty must be positive, got {self.qty}")


class SmaCross(Strategy[SmaCrossParams, Memory]):
    name = "sma_cross"
    Params = SmaCrossParams

    def __init__(
        self, params: SmaCrossParams, symbols: Sequence[str], instance_id: str | None = None
    ) -> None:
        super().__init__(params, symbols, instance_id)
        self._fast = SMA(params.fast)
        self._slow = SMA(params.slow)

    def indicators(self, symbol: str) -> Iterable[IndicatorSpec]:
        return (self._fast, self._slow)

    def initial_memory(self) -> Memory:
        return {}

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: Memory
    ) -> tuple[Sequence[Intent], Memory]:
        intents: list[Intent] = []
        new_memory: dict[str, int] | None = None
        for sym in self.symbols:
            sv = view[sym]
            fast = sv.value(self._fast)
            slow = sv.value(self._slow)
            if fast is None or slow is None or fast == slow:
                continue
            sign = 1 if fast > slow else -1
            before = memory.get(sym, 0)
            if sign == before:
                continue
            if new_memory is None:
                new_memory = dict(memory)
            new_memory[sym] = sign
            if before == 0:
                continue  # first defined bar: no cross yet
            target = self.params.qty if sign > 0 else Decimal(0)
            intents.append(TargetPosition(symbol=sym, qty=target))
        return intents, (memory if new_memory is None else new_memory)
