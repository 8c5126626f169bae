"""What the risk gate can say about one order: approve, resize (with a reason)
or reject (with a reason code and the details an operator needs to judge it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from bastion.model import OrderRequest


class RiskReason(StrEnum):
    HALTED = "HALTED"
    REDUCING_ONLY = "REDUCING_ONLY"
    STALE_DATA = "STALE_DATA"
    SYMBOL_BLOCKED = "SYMBOL_BLOCKED"
    INVENTORY = "INVENTORY"
    ORDER_SIZE = "ORDER_SIZE"
    POSITION_LIMIT = "POSITION_LIMIT"
    EXPOSURE_LIMIT = "EXPOSURE_LIMIT"
    BELOW_MINIMUM = "BELOW_MINIMUM"
    NO_PRICE = "NO_PRICE"
    DAILY_LOSS = "DAILY_LOSS"
    MAX_DRAWDOWN = "MAX_DRAWDOWN"


@dataclass(frozen=True, slots=True, kw_only=True)
class Flatten:
    """The account-level answer: close everything, cancel everything, then halt.

    Returned by ``RiskGate.watch``; the engine carries it out in the same cycle
    through the order manager and sets the latch to ``halt_state``.
    """

    reason: "RiskReason"
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    halt_state: str = "HALTED"


class Verdict(StrEnum):
    APPROVE = "approve"
    RESIZE = "resize"
    REJECT = "reject"


def _no_details() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The gate's answer for one request. ``request`` is what may be sent
    (the resized one on RESIZE); ``original`` is what was asked."""

    verdict: Verdict
    original: OrderRequest
    request: OrderRequest | None
    reason: RiskReason | None = None
    rule: str = ""
    details: Mapping[str, Any] = field(default_factory=_no_details)

    @property
    def approved(self) -> bool:
        return self.request is not None


def approve(req: OrderRequest) -> Decision:
    return Decision(verdict=Verdict.APPROVE, original=req, request=req)


def reject(req: OrderRequest, reason: RiskReason, rule: str, **details: Any) -> Decision:
    return Decision(
        verdict=Verdict.REJECT,
        original=req,
        request=None,
        reason=reason,
        rule=rule,
        details=MappingProxyType(details),
    )


def resize(
    req: OrderRequest, new: OrderRequest, reason: RiskReason, rule: str, **details: Any
) -> Decision:
    return Decision(
        verdict=Verdict.RESIZE,
        original=req,
        request=new,
        reason=reason,
        rule=rule,
        details=MappingProxyType(details),
    )
