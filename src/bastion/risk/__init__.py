"""Risk: say no before the money moves."""

from bastion.risk.context import Exposure, RiskContext
from bastion.risk.decisions import Decision, Flatten, RiskReason, Verdict
from bastion.risk.gate import RiskGate, RiskLimits, default_rules
from bastion.risk.latch import HaltLatch, HaltState

__all__ = [
    "Decision",
    "Exposure",
    "Flatten",
    "HaltLatch",
    "HaltState",
    "RiskContext",
    "RiskGate",
    "RiskLimits",
    "RiskReason",
    "Verdict",
    "default_rules",
]
