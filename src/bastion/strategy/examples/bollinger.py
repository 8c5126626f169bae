"""Bollinger mean reversion: buy when the close falls below the lower band,
exit when it returns to the mean. Long only (spot)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bastion.model import AccountSnapshot, Intent, TargetPosition
from bastion.model.indicators import SMA, IndicatorSpec, RollingStd
from bastion.model.view import MarketView
from bastion.strategy.base import Strategy


@dataclass(frozen=True, slots=True, kw_only=True)
class BollingerParams:
    period: int = 20
    k: float = 2.0
    qty: Decimal = Decimal("0.1")

    def __post_init__(self) -> None:
        if self.period < 2:
            raise ValueError(f"period must be at least 2, got {self.period}")
        if self.k <= 0:
            raise ValueError(f"k must be positive, got {self.k}")
        if self.qty <= 0:
            raise ValueError(f"qty must be positive, got {self.qty}")


class BollingerReversion(Strategy[BollingerParams, None]):
    name = "bollinger"
    Params = BollingerParams

    def __init__(
        self, params: BollingerParams, symbols: Sequence[str], instance_id: str | None = None
    ) -> None:
        super().__init__(params, symbols, instance_id)
        self._mean = SMA(params.period)
        self._std = RollingStd(params.period)

    def indicators(self, symbol: str) -> Iterable[IndicatorSpec]:
        return (self._mean, self._std)

    def initial_memory(self) -> None:
        return None

    def decide(
        self, view: MarketView, account: AccountSnapshot, memory: None
    ) -> tuple[Sequence[Intent], None]:
        intents: list[Intent] = []
        for sym in self.symbols:
            sv = view[sym]
            mean = sv.value(self._mean)
            std = sv.value(self._std)
            if mean is None or std is None:
                continue
            held = account.position(sym)
            if held <= 0 and sv.close < mean - self.params.k * std:
                intents.append(TargetPosition(symbol=sym, qty=self.params.qty))
            elif held > 0 and sv.close >= mean:
                intents.append(TargetPosition(symbol=sym, qty=Decimal(0)))
        return intents, None
