"""The bot's configuration: one TOML file, validated on load.

Every table refuses unknown keys (a typo must not silently fall back to a
default), and a bad value is reported with its key, the value and what was
expected. Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(ValueError):
    """A configuration file that cannot be used, with every problem named."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrategyConfig(_Strict):
    name: str
    id: str | None = None
    symbols: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("symbols")
    @classmethod
    def _symbols_have_slash(cls, v: list[str]) -> list[str]:
        for s in v:
            if "/" not in s:
                raise ValueError(f"symbol {s!r} is not of the form BASE/QUOTE")
        return v


class RiskConfig(_Strict):
    """Limits as fractions of account equity (0.5 is 50%)."""

    max_position: Decimal = Field(Decimal("0.5"), gt=0, le=10)
    max_gross_exposure: Decimal = Field(Decimal("1.0"), gt=0, le=20)
    max_order: Decimal = Field(Decimal("0.25"), gt=0, le=10)
    allow_short: bool = False


class DataConfig(_Strict):
    """``max_age_s``: newest data older than this blocks new exposure
    (default: two bar intervals)."""

    max_age_s: float | None = Field(None, gt=0)


class VenueConfig(_Strict):
    fee_bps: Decimal = Field(Decimal(10), ge=0, le=1000)
    maker_fee_bps: Decimal | None = Field(None, ge=-100, le=1000)
    slippage: str = "none"
    latency_ms: int = Field(0, ge=0)
    margin: bool = False
    limit_fill: Literal["touch", "through"] = "touch"
    tick_size: Decimal = Field(Decimal("0.00000001"), gt=0)
    lot_size: Decimal = Field(Decimal("0.00000001"), gt=0)
    min_qty: Decimal = Field(Decimal(0), ge=0)
    min_notional: Decimal = Field(Decimal(0), ge=0)


class BacktestConfig(_Strict):
    cash: Decimal = Field(Decimal(100_000), gt=0)
    seed: int = 0


class BotConfig(_Strict):
    name: str = "bastion"
    strategies: list[StrategyConfig] = Field(default_factory=list)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    venue: VenueConfig = Field(default_factory=VenueConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a table"
    return f"{loc} = {shown}: {err['msg']}"


def parse_config(data: dict[str, Any], source: str = "<config>") -> BotConfig:
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: invalid configuration:\n  {problems}") from None


def load_config(path: str | Path) -> BotConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(data, str(p))
