"""Risk limits as the rules read them: frozen values, resolved once from the
``[risk]`` table of the bot's TOML (``bastion.config.RiskConfig``), with
per-symbol overrides already merged.

Fractions are of account equity (0.25 is 25%). The account-level loss limits
are floats: ``watch`` compares them every bar and they are ratios, not money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from types import MappingProxyType

from bastion.config import RiskConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolLimits:
    """The limits that may differ per symbol, resolved (no None left)."""

    max_position: Decimal
    max_order: Decimal
    max_volume_share: Decimal
    max_price_deviation: Decimal
    orders_per_minute: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimits:
    enabled: bool = True
    orders_per_minute: int = 30
    orders_per_minute_symbol: int = 10
    runaway_breaches: int = 5
    runaway_window_ms: int = 600_000


@dataclass(frozen=True, slots=True, kw_only=True)
class LossLimits:
    enabled: bool = True
    daily_loss: float = 0.05
    max_drawdown: float = 0.20
    timezone: str = "UTC"
    reset_minute: int = 0  # minutes after local midnight when the daily window opens
    resume_next_window: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class CorrelationLimits:
    enabled: bool = True
    threshold: float = 0.7
    window: int = 240
    min_samples: int = 60
    interval_ms: int = 60_000
    recompute_every: int = 15
    max_cluster_exposure: Decimal = Decimal("0.5")


@dataclass(frozen=True, slots=True, kw_only=True)
class SanityLimits:
    enabled: bool = True
    max_price_deviation: Decimal = Decimal("0.05")
    price_band_atr: float | None = None
    max_quote_age_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeLimits:
    enabled: bool = True
    max_share: Decimal = Decimal("0.1")
    window: int = 30
    max_book_share: Decimal = Decimal("0.5")


def _no_overrides() -> Mapping[str, SymbolLimits]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskLimits:
    """Everything the default rules and the account watch are configured with.

    ``symbols`` holds the resolved limits of symbols with overrides; every other
    symbol gets ``base``, built from the top-level values.
    """

    max_position: Decimal = Decimal("0.25")
    max_gross_exposure: Decimal = Decimal("1.0")
    max_net_exposure: Decimal = Decimal("1.0")
    max_order: Decimal = Decimal("0.2")
    allow_short: bool = False
    rate: RateLimits = field(default_factory=RateLimits)
    loss: LossLimits = field(default_factory=LossLimits)
    correlation: CorrelationLimits = field(default_factory=CorrelationLimits)
    sanity: SanityLimits = field(default_factory=SanityLimits)
    volume: VolumeLimits = field(default_factory=VolumeLimits)
    symbols: Mapping[str, SymbolLimits] = field(default_factory=_no_overrides)
    base: SymbolLimits = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        base = SymbolLimits(
            max_position=self.max_position,
            max_order=self.max_order,
            max_volume_share=self.volume.max_share,
            max_price_deviation=self.sanity.max_price_deviation,
            orders_per_minute=self.rate.orders_per_minute_symbol,
        )
        object.__setattr__(self, "base", base)

    def for_symbol(self, symbol: str) -> SymbolLimits:
        return self.symbols.get(symbol, self.base)

    @classmethod
    def from_config(cls, cfg: RiskConfig, *, allow_short: bool | None = None) -> RiskLimits:
        """Resolve ``[risk]``; ``allow_short`` overrides the table (a margin venue)."""
        hh, _, mm = cfg.loss.reset_time.partition(":")
        s = cfg.sanity
        limits = cls(
            max_position=cfg.max_position,
            max_gross_exposure=cfg.max_gross_exposure,
            max_net_exposure=cfg.max_net_exposure,
            max_order=cfg.max_order,
            allow_short=cfg.allow_short if allow_short is None else allow_short,
            rate=RateLimits(
                enabled=cfg.rate.enabled,
                orders_per_minute=cfg.rate.orders_per_minute,
                orders_per_minute_symbol=cfg.rate.orders_per_minute_symbol,
                runaway_breaches=cfg.rate.runaway_breaches,
                runaway_window_ms=int(cfg.rate.runaway_window_s * 1000),
            ),
            loss=LossLimits(
                enabled=cfg.loss.enabled,
                daily_loss=float(cfg.loss.daily_loss),
                max_drawdown=float(cfg.loss.max_drawdown),
                timezone=cfg.loss.timezone,
                reset_minute=int(hh) * 60 + int(mm),
                resume_next_window=cfg.loss.resume_next_window,
            ),
            correlation=CorrelationLimits(
                enabled=cfg.correlation.enabled,
                threshold=cfg.correlation.threshold,
                window=cfg.correlation.window,
                min_samples=cfg.correlation.min_samples,
                interval_ms=int(cfg.correlation.interval_s * 1000),
                recompute_every=cfg.correlation.recompute_every,
                max_cluster_exposure=cfg.correlation.max_cluster_exposure,
            ),
            sanity=SanityLimits(
                enabled=s.enabled,
                max_price_deviation=s.max_price_deviation,
                price_band_atr=s.price_band_atr,
                max_quote_age_ms=int(s.max_quote_age_s * 1000) if s.max_quote_age_s else None,
            ),
            volume=VolumeLimits(
                enabled=cfg.volume.enabled,
                max_share=cfg.volume.max_share,
                window=cfg.volume.window,
                max_book_share=cfg.volume.max_book_share,
            ),
        )
        b = limits.base
        overrides = {
            sym: SymbolLimits(
                max_position=o.max_position or b.max_position,
                max_order=o.max_order or b.max_order,
                max_volume_share=o.max_volume_share or b.max_volume_share,
                max_price_deviation=o.max_price_deviation or b.max_price_deviation,
                orders_per_minute=o.orders_per_minute or b.orders_per_minute,
            )
            for sym, o in cfg.symbols.items()
        }
        return replace(limits, symbols=MappingProxyType(overrides))
