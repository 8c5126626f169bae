"""The bot's configuration: one TOML file, validated on load.

Every table refuses unknown keys (a typo must not silently fall back to a
default), and a bad value is reported with its key, the value and what was
expected. Secrets never live here: they come from the environment.
"""

from __future__ import annotations

import math
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bastion.config_feeds import FeedsConfig
from bastion.config_observe import ObserveConfig
from bastion.config_ops import PromotionConfig, RetentionConfig
from bastion.config_protect import ProtectConfig
from bastion.config_research import ResearchConfig
from bastion.config_shadow import FlagsConfig, ShadowConfig


class ConfigError(ValueError):
    """A configuration file that cannot be used, with every problem named."""


class _Strict(BaseModel):
    # ``inf`` and ``nan`` are valid TOML floats: a watchdog of ``inf`` seconds never
    # fires and a ``nan`` limit compares false with everything, so neither is a value.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, v: Any, info: ValidationInfo) -> Any:
        """TOML has real booleans: ``seed = true`` is a mistake, not 1 (pydantic's
        lax mode would take it as one)."""
        if isinstance(v, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            types = get_args(annotation) or (annotation,)
            if bool not in types and any(t in (int, float, Decimal) for t in types):
                raise ValueError("expected a number, got a boolean")
        return v


class StrategyConfig(_Strict):
    """``[[strategies]]``: one entry per strategy the bot runs. ``name`` is a
    built-in (``sma_cross``, ``bollinger``, ``quoter``), ``path/to/file.py:Class``
    (relative to this file) or ``package.module:Class``; ``id`` tells two
    instances apart in the journal (default: the strategy's name); ``params``
    are the strategy's own parameters; ``protect`` keeps an exchange-side stop
    under its long positions (``[strategies.protect]``)."""

    name: str
    id: str | None = None
    symbols: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["live", "shadow"] = "live"  # shadow: decided, never sent (config_shadow)
    protect: ProtectConfig | None = None  # an exchange-side stop under its longs (config_protect)

    @field_validator("symbols")
    @classmethod
    def _symbols_have_slash(cls, v: list[str]) -> list[str]:
        for s in v:
            if "/" not in s:
                raise ValueError(f"symbol {s!r} is not of the form BASE/QUOTE")
        return v

    @field_validator("params")
    @classmethod
    def _finite_params(cls, v: dict[str, Any]) -> dict[str, Any]:
        """A ``nan`` period or size would reach the strategy as a number that
        compares false with everything: refused here, by name."""
        for key, value in v.items():
            if not _finite(value):
                raise ValueError(f"params.{key} = {value!r}: expected a finite number")
        return v


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return True  # not a number at all: the strategy names what it expected
        return number.is_finite()
    if isinstance(value, list | tuple):
        return all(_finite(x) for x in value)
    return True


class RateRiskConfig(_Strict):
    """``[risk.rate]``: orders per rolling minute; breaking the limit
    ``runaway_breaches`` times within ``runaway_window_s`` halts the bot."""

    enabled: bool = True
    orders_per_minute: int = Field(30, ge=1)
    orders_per_minute_symbol: int = Field(10, ge=1)
    runaway_breaches: int = Field(5, ge=1)
    runaway_window_s: float = Field(600.0, gt=0)


class LossRiskConfig(_Strict):
    """``[risk.loss]``: equity down more than ``daily_loss`` since the daily window
    opened (``reset_time`` in ``timezone``), or more than ``max_drawdown`` from its
    peak: flatten and halt. A daily-loss halt lifts at the next window when
    ``resume_next_window``; a drawdown halt waits for an operator."""

    enabled: bool = True
    daily_loss: Decimal = Field(Decimal("0.05"), gt=0, lt=1)
    max_drawdown: Decimal = Field(Decimal("0.20"), gt=0, lt=1)
    timezone: str = "UTC"
    reset_time: str = "00:00"
    resume_next_window: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown IANA time zone {v!r} (e.g. 'UTC', 'America/New_York')"
            ) from None
        return v

    @field_validator("reset_time")
    @classmethod
    def _hh_mm(cls, v: str) -> str:
        hh, sep, mm = v.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"expected a local time 'HH:MM' (00:00 to 23:59), got {v!r}")
        return v


class CorrelationRiskConfig(_Strict):
    """``[risk.correlation]``: prices are sampled every ``interval_s``; over the last
    ``window`` returns, symbols whose correlation reaches ``threshold`` form a
    cluster whose gross exposure is at most ``max_cluster_exposure`` of equity."""

    enabled: bool = True
    threshold: float = Field(0.7, gt=0, le=1)
    window: int = Field(240, ge=10)
    min_samples: int = Field(60, ge=10)
    interval_s: float = Field(60.0, gt=0)
    recompute_every: int = Field(15, ge=1)
    max_cluster_exposure: Decimal = Field(Decimal("0.5"), gt=0, le=20)


class SanityRiskConfig(_Strict):
    """``[risk.sanity]``: a limit price at most ``max_price_deviation`` from the market
    (or ``price_band_atr`` × ATR(14) when set); a market order needs a price no older
    than ``max_quote_age_s`` (default: the data gate's staleness limit)."""

    enabled: bool = True
    max_price_deviation: Decimal = Field(Decimal("0.05"), gt=0, le=1)
    price_band_atr: float | None = Field(None, gt=0)
    max_quote_age_s: float | None = Field(None, gt=0)


class VolumeRiskConfig(_Strict):
    """``[risk.volume]``: one order at most ``max_share`` of the symbol's mean bar
    volume over the last ``window`` bars, and at most ``max_book_share`` of the
    visible depth on the side it takes, when a book is available."""

    enabled: bool = True
    max_share: Decimal = Field(Decimal("0.1"), gt=0, le=10)
    window: int = Field(30, ge=1)
    max_book_share: Decimal = Field(Decimal("0.5"), gt=0, le=10)


class SymbolRiskConfig(_Strict):
    """``[risk.symbols."BASE/QUOTE"]``: per-symbol overrides of the limits above."""

    max_position: Decimal | None = Field(None, gt=0, le=10)
    max_order: Decimal | None = Field(None, gt=0, le=10)
    max_volume_share: Decimal | None = Field(None, gt=0, le=10)
    max_price_deviation: Decimal | None = Field(None, gt=0, le=1)
    orders_per_minute: int | None = Field(None, ge=1)


class RiskConfig(_Strict):
    """``[risk]``: limits as fractions of account equity (0.25 is 25%).

    Every rule is on by default with conservative values; each nested table
    has ``enabled`` to switch its rule off.
    """

    max_position: Decimal = Field(Decimal("0.25"), gt=0, le=10)
    max_gross_exposure: Decimal = Field(Decimal("1.0"), gt=0, le=20)
    max_net_exposure: Decimal = Field(Decimal("1.0"), gt=0, le=20)
    max_order: Decimal = Field(Decimal("0.2"), gt=0, le=10)
    allow_short: bool = False
    rate: RateRiskConfig = Field(default_factory=RateRiskConfig)
    loss: LossRiskConfig = Field(default_factory=LossRiskConfig)
    correlation: CorrelationRiskConfig = Field(default_factory=CorrelationRiskConfig)
    sanity: SanityRiskConfig = Field(default_factory=SanityRiskConfig)
    volume: VolumeRiskConfig = Field(default_factory=VolumeRiskConfig)
    symbols: dict[str, SymbolRiskConfig] = Field(default_factory=dict)

    @field_validator("symbols")
    @classmethod
    def _symbol_keys(cls, v: dict[str, SymbolRiskConfig]) -> dict[str, SymbolRiskConfig]:
        for s in v:
            if "/" not in s:
                raise ValueError(f"symbol {s!r} is not of the form BASE/QUOTE")
        return v


class DataConfig(_Strict):
    """``max_age_s``: newest data older than this blocks new exposure
    (default: two bar intervals). ``record``: paper and live bots write the
    trades, bars and book tops they consumed to ``DATA_DIR/recorded``."""

    max_age_s: float | None = Field(None, gt=0)
    record: bool = True


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


class ExchangeConfig(_Strict):
    """``[exchange]``: where a paper or live bot trades.

    ``mode = "paper"`` matches orders locally (the simulated venue) against the
    exchange's live trades; ``"live"`` sends them to the exchange (once the data
    folder is promoted: ``bastion promote``). ``size_scale`` multiplies every
    intent's size; at the live-small stage it is at most ``[promotion]
    live_small_scale``.
    Keys are read from ``{key_env}_API_KEY`` / ``{key_env}_API_SECRET``.
    ``base_url``/``ws_url`` point the client elsewhere (the emulator).
    """

    id: str = "binance"
    mode: Literal["paper", "live"] = "paper"
    base_url: str | None = None
    ws_url: str | None = None
    sandbox: bool = False
    key_env: str = "BASTION"
    size_scale: Decimal = Field(Decimal(1), gt=0, le=1)
    bar_interval: str = "1m"
    feed_stale_s: float = Field(30.0, gt=0)
    refresh_s: float = Field(30.0, gt=0)
    call_timeout_s: float = Field(10.0, gt=0)
    rate_limit: bool = True
    paper_balances: dict[str, Decimal] = Field(default_factory=lambda: {"USDT": Decimal(10_000)})

    @field_validator("paper_balances")
    @classmethod
    def _no_negative_balance(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, qty in v.items():
            if qty < 0:
                raise ValueError(f"paper_balances.{asset} = {qty}: a balance cannot be negative")
        return v

    @field_validator("bar_interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        from bastion.model.timeframe import parse_interval

        try:
            parse_interval(v)
        except ValueError as exc:
            raise ValueError(f"bar_interval {v!r}: {exc}") from None
        return v

    @field_validator("base_url", "ws_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and "://" not in v:
            raise ValueError(f"{v!r} is not a URL (expected scheme://host:port)")
        return v


class KillSwitchConfig(_Strict):
    """``[killswitch]``: the sentinel process and ``bastion kill``.

    The sentinel listens on ``host:port`` (loopback unless you mean otherwise:
    anyone who reaches it can try the token). ``scope = "symbols"`` kills the
    strategies' symbols plus ``symbols``; ``"account"`` every asset the account
    holds against the quote asset. A kill gives up polling for flat after
    ``deadline_s``. The watchdog pages (``webhook``: an HTTP POST of JSON;
    ``command``: a shell command, the alert in ``$BASTION_ALERT``; with
    ``[observe.alerts]`` on, also through apprise to its critical route) when
    the bot records no cycle for ``heartbeat_timeout_s``; with
    ``on_heartbeat_loss = "flatten"`` it also kills. ``audit_log`` defaults to
    ``killswitch-audit.jsonl`` in the data folder. The token is read from the
    environment variable named by ``token_env``, never from this file.
    ``rate_limit`` keeps ccxt's client-side throttle for the kill's calls (off:
    a kill is a short burst, and a 50 ms throttle per call costs seconds)."""

    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    scope: Literal["symbols", "account"] = "symbols"
    symbols: list[str] = Field(default_factory=list)
    deadline_s: float = Field(30.0, gt=0)
    heartbeat_timeout_s: float = Field(120.0, gt=0)
    on_heartbeat_loss: Literal["alert", "flatten"] = "alert"
    webhook: str | None = None
    command: str | None = None
    audit_log: str | None = None
    token_env: str = "BASTION_KILL_TOKEN"
    rate_limit: bool = False

    @field_validator("symbols")
    @classmethod
    def _symbols_have_slash(cls, v: list[str]) -> list[str]:
        for s in v:
            if "/" not in s:
                raise ValueError(f"symbol {s!r} is not of the form BASE/QUOTE")
        return v

    @field_validator("webhook")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} is not an http(s) URL")
        return v


class ServiceConfig(_Strict):
    """``[service]``: ``bastion run`` as a long-running process.

    At start-up, an exchange that answers 429, 5xx or not at all is retried
    with exponential backoff (``retry_base_s`` doubling up to ``retry_max_s``)
    until ``startup_deadline_s``; refused keys fail at once. On SIGTERM or
    Ctrl-C the bot finishes its cycle and stops within ``shutdown_timeout_s``,
    doing ``on_exit`` with its working orders: ``"cancel"`` them (protective
    orders of ``[strategies.protect]`` stay resting), ``"leave"`` them resting,
    or ``"flatten"`` (cancel all, then close what the bot's own fills hold). A
    cycle starting more than ``stale_cycle_s`` after the last one completed (a
    laptop sleep, a hung call) re-reads the whole account first (default:
    three bar intervals plus a minute)."""

    startup_deadline_s: float = Field(120.0, gt=0)
    retry_base_s: float = Field(1.0, gt=0)
    retry_max_s: float = Field(30.0, gt=0)
    shutdown_timeout_s: float = Field(30.0, gt=0)
    on_exit: Literal["cancel", "leave", "flatten"] = "cancel"
    stale_cycle_s: float | None = Field(None, gt=0)


class AccountConfig(_Strict):
    """``[account]``: what of the exchange account is the bot's.

    At the first start on a data folder the account's holdings are recorded as
    the *baseline*, not the bot's: the bot trades only what it buys above it,
    and nothing it does (a target, a risk flatten, a kill in bot scope) sells
    below it. ``adopt`` lists the assets whose holdings at that first start are
    the bot's instead (e.g. ``["BTC"]``). ``on_unexplained`` says what a change
    nothing the bot did explains (a deposit, a hand trade, a withdrawal) does,
    besides being journaled and alerted: ``"alert"`` leaves the bot's share as
    it was (the baseline absorbs it), ``"adopt"`` makes it the bot's, ``"halt"``
    halts the bot. Change a baseline later with ``bastion account baseline``."""

    adopt: list[str] = Field(default_factory=list)
    on_unexplained: Literal["alert", "adopt", "halt"] = "alert"

    @field_validator("adopt")
    @classmethod
    def _assets(cls, v: list[str]) -> list[str]:
        for a in v:
            if not a or not a.isalnum():
                raise ValueError(f"asset {a!r} is not an asset code such as 'BTC'")
        return [a.upper() for a in v]


class BotConfig(_Strict):
    name: str = "bastion"
    strategies: list[StrategyConfig] = Field(default_factory=list)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    venue: VenueConfig = Field(default_factory=VenueConfig)
    backtest: BacktestConfig = Field(default_factory=BacktestConfig)
    exchange: ExchangeConfig = Field(default_factory=ExchangeConfig)
    killswitch: KillSwitchConfig = Field(default_factory=KillSwitchConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    feeds: FeedsConfig = Field(default_factory=FeedsConfig)
    account: AccountConfig = Field(default_factory=AccountConfig)
    observe: ObserveConfig = Field(default_factory=ObserveConfig)
    research: ResearchConfig = Field(default_factory=ResearchConfig)
    shadow: ShadowConfig = Field(default_factory=ShadowConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)
    data_dir: str = "runs/bot"


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    value = err.get("input")
    shown = repr(value) if not isinstance(value, dict) else "a table"
    return f"{loc} = {shown}: {err['msg']}"


def parse_config(data: dict[str, Any], source: str = "<config>") -> BotConfig:
    try:
        return BotConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())  # one line, every problem
        raise ConfigError(f"{source}: invalid configuration: {problems}") from None


def load_config(path: str | Path) -> BotConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{p}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        ) from None
    if not text.strip():
        raise ConfigError(f"{p}: the file is empty (a bot needs at least one [[strategies]])")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return parse_config(_strategy_paths_from(data, p.parent), str(p))


def _strategy_paths_from(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``[[strategies]] name = "strategies/mine.py:Mine"`` is relative to the
    config file's folder, wherever the command is run from."""
    entries = data.get("strategies")
    if not isinstance(entries, list):
        return data
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if isinstance(name, str) and ":" in name:
            target, _, cls = name.rpartition(":")
            if target.endswith(".py") and not Path(target).expanduser().is_absolute():
                entry["name"] = f"{(folder / target).resolve()}:{cls}"
    return data
