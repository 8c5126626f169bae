"""``[research]``: walk-forward and sweep defaults, and the regime rules.

The command line overrides each of these (``--grid``, ``--train``, ``--test``,
``--anchored``, ``--metric``); the file is where a research set-up is kept
so that the same walk-forward can be run again next month. The regime rules
are written out in docs/research.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bastion.model.timeframe import parse_interval

Metric = Literal["sharpe", "total_return", "sortino", "cagr", "profit_factor", "win_rate"]
GridValue = int | float | str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _duration(v: str) -> str:
    try:
        parse_interval(v)
    except ValueError as exc:
        raise ValueError(f"{v!r}: {exc}") from None
    return v


class RegimeConfig(_Section):
    """``[research.regimes]``: how bars are labelled. Trend: the market's return
    over the last ``trend_window`` above ``trend_threshold`` is *up*, below its
    negative *down*, else *range*. Volatility: realised volatility (the standard
    deviation of log returns over the last ``vol_window``) above its
    ``vol_quantile`` over the run is *high*, else *low*."""

    trend_window: str = "14d"
    trend_threshold: float = Field(0.05, gt=0, lt=10)
    vol_window: str = "3d"
    vol_quantile: float = Field(0.75, gt=0, lt=1)

    @field_validator("trend_window", "vol_window")
    @classmethod
    def _windows(cls, v: str) -> str:
        return _duration(v)


class ResearchConfig(_Section):
    """``[research]``: ``grid`` is the parameter grid of ``bastion walkforward``
    and ``bastion sweep`` (``grid = { fast = [10, 20], slow = [50, 100] }``; with
    several strategies, keys are ``ID.PARAM``); ``metric`` is what a training
    window maximises; ``train`` and ``test`` are the fold lengths, ``anchored``
    keeps every training window starting at the first bar. ``search = "optuna"``
    samples ``trials`` points of the grid per training window with Optuna's
    TPE sampler (seeded by ``[backtest] seed``) instead of running them all."""

    grid: dict[str, list[GridValue]] = Field(default_factory=dict)
    metric: Metric = "sharpe"
    train: str = "60d"
    test: str = "15d"
    anchored: bool = False
    search: Literal["grid", "optuna"] = "grid"
    trials: int = Field(100, ge=1, le=100_000)
    regimes: RegimeConfig = Field(default_factory=RegimeConfig)

    @field_validator("train", "test")
    @classmethod
    def _folds(cls, v: str) -> str:
        return _duration(v)

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, v: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"grid.{key}: expected at least one value")
        return v
