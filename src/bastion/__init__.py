"""bastion: run an automated trading bot that survives live markets.

The same decision cycle (gate → reconcile → decide → plan → review → execute →
journal) runs in backtest, paper and live; only the clock, the feeds and the
venue are swapped. See ``docs/`` and the design notes for the layering.
"""

__version__ = "0.1.0"
