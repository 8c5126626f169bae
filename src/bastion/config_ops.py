"""``[promotion]`` and ``[retention]``: the stage ladder's evidence and how
long the bot's records are kept.

A bot climbs backtest → paper → live-small → live; ``bastion promote`` moves
it one rung when the journal holds the evidence asked for here. ``size_scale``
follows the stage: live-small trades ``live_small_scale`` of every intent.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    # As config.py's tables: unknown keys refused, no inf/nan.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PromotionConfig(_Section):
    """``[promotion]``: to live-small, at least ``paper_days`` of paper running
    with no unresolved order and no unexplained reconciliation delta; to live,
    at least ``live_small_days`` of live-small with the same, including an
    *adverse day* (a UTC day whose price range reached ``adverse_move`` of its
    first mark on a traded symbol, or whose equity fell ``adverse_loss`` from
    the day's first reading) that passed without a limit breach (a risk halt or
    flatten). Running time counts the gaps between consecutive cycles up to
    ``max_gap_s`` (default: the stale-cycle threshold, three bar intervals plus
    a minute); a longer gap is downtime."""

    paper_days: float = Field(14.0, gt=0)
    live_small_days: float = Field(30.0, gt=0)
    live_small_scale: Decimal = Field(Decimal("0.01"), gt=0, le=1)
    adverse_move: Decimal = Field(Decimal("0.05"), gt=0, lt=1)
    adverse_loss: Decimal = Field(Decimal("0.02"), gt=0, lt=1)
    max_gap_s: float | None = Field(None, gt=0)


class RetentionConfig(_Section):
    """``[retention]``: ``bastion prune`` deletes nothing younger than ``years``
    unless a verified archive holds it byte for byte."""

    years: int = Field(7, ge=1, le=100)
