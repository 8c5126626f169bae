"""The simulated venue: one matching engine for backtests, paper trading and
the exchange emulator."""

from bastion.venues.sim.slippage import FixedBps, NoSlippage, SlippageModel, VolumeParticipation
from bastion.venues.sim.venue import SimVenue

__all__ = ["FixedBps", "NoSlippage", "SimVenue", "SlippageModel", "VolumeParticipation"]
