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
    """Why the gate refused, shrank or stopped something. One member per limit."""

    HALTED = "HALTED"  # the latch is HALTED: only closing orders pass
    REDUCING_ONLY = "REDUCING_ONLY"  # the latch is REDUCING: only exposure-cutting orders
    STALE_DATA = "STALE_DATA"  # newest market data too old for new exposure
    STALE_QUOTE = "STALE_QUOTE"  # a market order without a fresh enough price
    SYMBOL_BLOCKED = "SYMBOL_BLOCKED"  # an order on the symbol has an unknown outcome
    INVENTORY = "INVENTORY"  # selling what is not held (spot)
    BELOW_BASELINE = "BELOW_BASELINE"  # a sell would take the holding under the baseline
    ORDER_SIZE = "ORDER_SIZE"  # one order too large a share of equity
    POSITION_LIMIT = "POSITION_LIMIT"  # one symbol too large a share of equity
    EXPOSURE_LIMIT = "EXPOSURE_LIMIT"  # gross exposure across symbols
    NET_EXPOSURE_LIMIT = "NET_EXPOSURE_LIMIT"  # net (long minus short) exposure
    CORRELATION_LIMIT = "CORRELATION_LIMIT"  # a cluster of co-moving symbols
    ORDER_RATE = "ORDER_RATE"  # too many orders in the rolling minute
    RUNAWAY = "RUNAWAY"  # the rate limit broken again and again: halted
    PRICE_BAND = "PRICE_BAND"  # limit price too far from the market
    RESIZED_VOLUME = "RESIZED_VOLUME"  # shrunk to a share of traded volume / book depth
    VOLUME_LIMIT = "VOLUME_LIMIT"  # volume share below the exchange minimum: refused
    PRECISION = "PRECISION"  # quantized to the exchange's increments
    BELOW_MINIMUM = "BELOW_MINIMUM"  # below the exchange's minimum size or notional
    NO_PRICE = "NO_PRICE"  # nothing to value the order with
    DAILY_LOSS = "DAILY_LOSS"  # equity down too far since the daily window opened
    RETRY_CAP = "RETRY_CAP"  # execution ran out of retries (rate-limit storm): flatten, halt
    MAX_DRAWDOWN = "MAX_DRAWDOWN"  # equity down too far from its peak


@dataclass(frozen=True, slots=True, kw_only=True)
class Flatten:
    """The account-level answer: close everything, cancel everything, then halt.

    Returned by ``RiskGate.watch``; the engine carries it out in the same cycle
    through the order manager and sets the latch to ``halt_state``.
    """

    reason: RiskReason
    details: Mapping[str, Any] = field(default_factory=lambda: _NO_DETAILS)
    halt_state: str = "HALTED"


class Verdict(StrEnum):
    APPROVE = "approve"
    RESIZE = "resize"
    REJECT = "reject"


_NO_DETAILS: Mapping[str, Any] = MappingProxyType({})


def _no_details() -> Mapping[str, Any]:
    return _NO_DETAILS


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


_new = object.__new__
_set = object.__setattr__


def approve(req: OrderRequest) -> Decision:
    """``Decision(verdict=APPROVE, original=req, request=req)``, built without the
    frozen dataclass's keyword ``__init__`` (half the cost: once per approved order)."""
    d: Decision = _new(Decision)
    _set(d, "verdict", Verdict.APPROVE)
    _set(d, "original", req)
    _set(d, "request", req)
    _set(d, "reason", None)
    _set(d, "rule", "")
    _set(d, "details", _NO_DETAILS)
    return d


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
