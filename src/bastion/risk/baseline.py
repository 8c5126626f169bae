"""The baseline rule: no order of the bot sells the account below its baseline.

A real account holds more than the bot trades; what it held before the bot
(unless adopted) is the *baseline*, and it is not the bot's to sell. The
planner already sizes from the bot's share; this rule is the last word for
every sell, whoever made it (a strategy's target, an explicit order, a
misremembered position): a sell that would take the account's holding, with
every working sell filled, under the baseline is shrunk to what lies above it,
or refused. Exposure rules still count the whole account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bastion.model import OrderRequest, OrderType, Side
from bastion.model.money import ZERO
from bastion.risk.context import RiskContext
from bastion.risk.decisions import Decision, RiskReason, reject
from bastion.risk.rules import shrink


@dataclass(frozen=True, slots=True)
class BaselineRule:
    name: str = "baseline"

    def applies(self, side: Side, type: OrderType) -> bool:
        return side is Side.SELL

    def check(self, req: OrderRequest, ctx: RiskContext) -> Decision | None:
        if req.side is Side.BUY:
            return None
        floor = ctx.account.floor(req.symbol)
        if floor <= 0:
            return None
        e = ctx.exposure_of(req.symbol)
        room = e.held - e.sells - floor
        if req.qty <= room:
            return None
        details: dict[str, Any] = {
            "holding": str(e.held),
            "working_sells": str(e.sells),
            "baseline": str(floor),
            "qty": str(req.qty),
        }
        if room <= ZERO:
            return reject(req, RiskReason.BELOW_BASELINE, self.name, **details)
        return shrink(req, ctx, room, RiskReason.BELOW_BASELINE, self.name, **details)
