"""Execution: intents become orders, orders become venue calls, never twice."""

from bastion.execution.ids import client_order_id
from bastion.execution.lifecycle import IllegalTransition, OrderEvent, transition
from bastion.execution.manager import OrderManager
from bastion.execution.outcomes import Outcome, classify
from bastion.execution.planner import Plan, plan
from bastion.execution.tracked import CapReached, ManagedOrder

__all__ = [
    "CapReached",
    "IllegalTransition",
    "ManagedOrder",
    "OrderEvent",
    "OrderManager",
    "Outcome",
    "Plan",
    "classify",
    "client_order_id",
    "plan",
    "transition",
]
