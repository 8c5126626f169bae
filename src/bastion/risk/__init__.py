"""Risk: say no before the money moves."""

from bastion.risk.context import Exposure, RiskContext
from bastion.risk.decisions import Decision, Flatten, RiskReason, Verdict
from bastion.risk.gate import RiskGate, default_rules
from bastion.risk.latch import HaltLatch, HaltState
from bastion.risk.limits import (
    CorrelationLimits,
    LossLimits,
    RateLimits,
    RiskLimits,
    SanityLimits,
    SymbolLimits,
    VolumeLimits,
)
from bastion.risk.window import DailyWindow

__all__ = [
    "CorrelationLimits",
    "DailyWindow",
    "Decision",
    "Exposure",
    "Flatten",
    "HaltLatch",
    "HaltState",
    "LossLimits",
    "RateLimits",
    "RiskContext",
    "RiskGate",
    "RiskLimits",
    "RiskReason",
    "SanityLimits",
    "SymbolLimits",
    "Verdict",
    "VolumeLimits",
    "default_rules",
]
