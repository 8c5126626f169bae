"""State: the exchange is the source of truth."""

from bastion.state.reconciler import Reconciler

__all__ = ["Reconciler"]
