"""Observability: round trips, run statistics and the HTML report.

Importing this package is cheap: plotly is loaded only when a report is
written.
"""

from bastion.observe.report import write_report
from bastion.observe.stats import drawdown_series, summarize
from bastion.observe.trades import OpenTrip, RoundTrip, TripBook, round_trips, write_trades_csv

__all__ = [
    "OpenTrip",
    "RoundTrip",
    "TripBook",
    "drawdown_series",
    "round_trips",
    "summarize",
    "write_report",
    "write_trades_csv",
]
