"""``[observe]``: the dashboard, the metrics, the alerts and the daily digest.

Each part reads the journal; this table turns it on inside the bot's process
(each in its own thread, so a slow page or a dead notifier never delays a
cycle). The same parts run as their own process with ``bastion dashboard``.
Secrets (the dashboard token, apprise URLs that carry keys, SMTP passwords)
come from environment variables named here, never from the file.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["info", "warning", "critical"]


class _Section(BaseModel):
    # As config.py's tables: unknown keys refused, and no inf/nan (valid TOML floats
    # that would make a poll or a dedupe window never end).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DashboardConfig(_Section):
    """``[observe.dashboard]``: served on ``host:port`` with ``/metrics`` beside it.
    Everything but ``/metrics`` needs the token from ``token_env``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8788, ge=0, le=65535)
    token_env: str = "BASTION_DASHBOARD_TOKEN"
    killswitch_url: str | None = None
    weight_limit: int = Field(6000, ge=1)  # Binance spot: request weight per minute


class AlertsConfig(_Section):
    """``[observe.alerts]``: apprise URLs per severity (``routes``), more from the
    environment variable ``urls_env`` (space separated, all severities).
    Identical alerts inside ``dedupe_s`` are folded into one message with a count;
    at most ``max_per_minute`` messages go out a minute."""

    enabled: bool = False
    routes: dict[Severity, list[str]] = Field(default_factory=dict)
    urls_env: str = "BASTION_ALERT_URLS"
    dedupe_s: float = Field(60.0, ge=0)
    max_per_minute: int = Field(10, ge=1)
    retries: int = Field(3, ge=0, le=10)
    retry_base_s: float = Field(1.0, gt=0)
    loss_warn: list[float] = Field(default_factory=lambda: [0.5, 0.8])


class DigestConfig(_Section):
    """``[observe.digest]``: one e-mail a day at ``send_at`` in ``timezone``,
    covering the local day before. SMTP user and password from the environment;
    ``security = "none"`` is for a relay on loopback only."""

    enabled: bool = False
    timezone: str = "UTC"
    send_at: str = "07:00"
    to: list[str] = Field(default_factory=list)
    sender: str = "bastion@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    ca_file: str | None = None  # a private CA (or a self-signed server) to trust
    user_env: str = "BASTION_SMTP_USER"
    password_env: str = "BASTION_SMTP_PASSWORD"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (KeyError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. 'Europe/Berlin')") from None
        except Exception:
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. 'Europe/Berlin')") from None
        return v

    @field_validator("send_at")
    @classmethod
    def _hh_mm(cls, v: str) -> str:
        hh, sep, mm = v.partition(":")
        if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"expected a local time 'HH:MM', got {v!r}")
        return v


class LogsConfig(_Section):
    """``[observe.logs]``: a JSON log file in the data folder, rotated at every UTC
    midnight and at ``max_bytes``, ``backups`` old files kept."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    file: str = "bastion.log.jsonl"
    max_bytes: int = Field(10_000_000, ge=10_000)
    backups: int = Field(5, ge=0)


class ObserveConfig(_Section):
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    poll_s: float = Field(0.25, gt=0, le=10)

    @property
    def any_enabled(self) -> bool:
        return self.dashboard.enabled or self.alerts.enabled or self.digest.enabled
