"""``[strategies.protect]``: an exchange-side stop under a strategy's long position.

Inside a ``[[strategies]]`` entry::

    [[strategies]]
    name = "sma_cross"
    symbols = ["BTC/USDT"]
    [strategies.protect]
    stop_pct = 0.02          # the stop triggers 2% below the price it was placed at
    limit_pct = 0.03         # and sells no lower than 3% below it
    take_profit_pct = 0.05   # optional: an OCO whose other leg takes profit 5% above

The bot then keeps a protective sell resting on the exchange sized to the
strategy's position (``bastion.engine.protective``), so the position stays
protected while the bot is down. Spot, long positions only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ProtectConfig(BaseModel):
    """``[strategies.protect]``: a stop-limit (or, with ``take_profit_pct``, an OCO)
    resting on the exchange under the strategy's long position. ``stop_pct``:
    how far below the price at placement the stop triggers; ``limit_pct``: how
    far below it its limit sits (at least ``stop_pct``: a stop whose limit is
    above its trigger would not fill in a fall); ``take_profit_pct``: how far
    above the take-profit leg sells. Fractions: 0.02 is 2%."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    stop_pct: Decimal = Field(gt=0, lt=1)
    limit_pct: Decimal = Field(gt=0, lt=1)
    take_profit_pct: Decimal | None = Field(None, gt=0, le=10)

    @model_validator(mode="after")
    def _limit_beyond_stop(self) -> Self:
        if self.limit_pct < self.stop_pct:
            raise ValueError(
                f"limit_pct {self.limit_pct} is below stop_pct {self.stop_pct}: the limit "
                "must sit at or beyond the stop (expected limit_pct >= stop_pct)"
            )
        return self
