"""Market data from files and generators into ``BarSeries``: load, check, find
gaps, resample, and synthesise seeded markets.

Bad data is refused with a ``DataError`` that names the file, row, line,
column and value; a gap is reported as missing data and never filled.
"""

from bastion.data.errors import DataError
from bastion.data.gaps import Gap, GapSummary, find_gaps, gap_summary, modal_step
from bastion.data.loaders import load_bars
from bastion.data.paths import (
    format_interval,
    interval_from_filename,
    parse_interval,
    shared_data_dir,
    symbol_from_filename,
)
from bastion.data.resample import resample
from bastion.data.synthetic import (
    DEFAULT_REGIMES,
    SYNTHETIC_START_TS,
    Regime,
    RegimeSpan,
    random_walk_bars,
    regime_bars,
    regime_schedule,
)
from bastion.data.validate import validate_bars

__all__ = [
    "DEFAULT_REGIMES",
    "SYNTHETIC_START_TS",
    "DataError",
    "Gap",
    "GapSummary",
    "Regime",
    "RegimeSpan",
    "find_gaps",
    "format_interval",
    "gap_summary",
    "interval_from_filename",
    "load_bars",
    "modal_step",
    "parse_interval",
    "random_walk_bars",
    "regime_bars",
    "regime_schedule",
    "resample",
    "shared_data_dir",
    "symbol_from_filename",
    "validate_bars",
]
