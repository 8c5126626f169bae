"""Research at scale: walk-forward validation, market regimes, slippage
calibrated from the tape, and parameter sweeps on a Dask cluster.

Cores (``folds``, ``grid``, ``select``, ``regimes``, ``calibrate``, ``table``)
take values and return values: no files, no clock, no cluster. Shells
(``runner``, ``cluster``, ``search``, ``sweep``, ``walkforward``, ``tape``,
``pages``, ``output``) do the I/O and
run the one whole-bot backtest of ``bastion.engine.backtest``; there is no
second backtester here. The rules are written out in docs/research.md.
"""
