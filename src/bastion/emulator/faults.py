"""Fault injection: the ways a real exchange misbehaves, on demand.

A fault is a frozen spec (what goes wrong, where, how often) loaded from a
scenario file (TOML or JSON) or posted to the admin endpoint. The live
``FaultPlan`` hands each hook in the server the fault that applies to the
request or message at hand: dormant for ``start_after_s``, then counting down
``count`` and expiring after ``duration_s``; a hook that gets None carries on
normally. Scope a fault with ``path``/``method`` (REST) or ``stream`` (WS);
an unscoped fault applies wherever its kind can act.

Kinds and where they act:
- REST, before the handler: ``latency`` (fixed/uniform/normal/exponential ms),
  ``timeout_before_accept`` (hang or drop, nothing placed), ``http_error``
  (5xx bursts), ``api_error`` (a Binance error reply, ``status`` with
  ``code`` and ``msg``: an order the exchange refuses for a reason the client
  cannot foresee, such as a market closed for trading), ``rate_limit`` (429
  storm), ``ban`` (418, and every request after it for ``retry_after_s``);
- REST, after the handler: ``timeout_after_accept`` (the order *is* placed,
  the reply never comes), ``schema_drift`` (fields dropped or changed);
- WebSocket: ``ws_disconnect``, ``ws_stall`` (socket open, silence),
  ``duplicate_messages``, ``late_messages`` (held back ``ms`` then sent),
  ``schema_drift`` (scoped by ``stream``);
- clock: ``clock_skew`` (the exchange's clock runs ``ms`` ahead or behind).
"""

from __future__ import annotations

import fnmatch
import json
import random
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class FaultKind(StrEnum):
    LATENCY = "latency"
    TIMEOUT_BEFORE_ACCEPT = "timeout_before_accept"
    TIMEOUT_AFTER_ACCEPT = "timeout_after_accept"
    HTTP_ERROR = "http_error"
    API_ERROR = "api_error"
    RATE_LIMIT = "rate_limit"
    BAN = "ban"
    SCHEMA_DRIFT = "schema_drift"
    WS_DISCONNECT = "ws_disconnect"
    WS_STALL = "ws_stall"
    DUPLICATE_MESSAGES = "duplicate_messages"
    LATE_MESSAGES = "late_messages"
    CLOCK_SKEW = "clock_skew"


class FaultSpec(BaseModel):
    """One fault. Unknown keys are refused, so a typo cannot silently disable a test."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FaultKind
    path: str | None = Field(None, description="fnmatch pattern on the URL path")
    method: str | None = None
    stream: str | None = Field(None, description="fnmatch pattern on a stream name")
    count: int | None = Field(None, ge=1, description="fire this many times, then retire")
    start_after_s: float = Field(0.0, ge=0, description="dormant this long once set")
    duration_s: float | None = Field(None, gt=0, description="then active this long")
    probability: float = Field(1.0, ge=0, le=1)
    # latency / late messages / clock skew
    ms: float = 0.0
    jitter_ms: float = Field(0.0, ge=0)
    dist: str = Field("fixed", pattern="^(fixed|uniform|normal|exponential)$")
    # errors
    status: int = Field(503, ge=400, le=599)
    retry_after_s: int = Field(1, ge=0)
    code: int = -1013  # api_error: Binance's error code and message
    msg: str = "Market is closed."
    # timeouts: "hang" keeps the socket silent for hang_s then drops it; "drop" closes now
    mode: str = Field("hang", pattern="^(hang|drop)$")
    hang_s: float = Field(30.0, ge=0)
    # schema drift
    drop_fields: tuple[str, ...] = ()
    set_fields: dict[str, Any] = Field(default_factory=dict)


class FaultError(ValueError):
    """A scenario or admin request that does not describe valid faults."""


def parse_faults(raw: Any, where: str = "faults") -> list[FaultSpec]:
    """Specs from ``{"faults": [...]}`` or a bare list; errors name the entry and key."""
    items = raw.get("faults", []) if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise FaultError(f"{where}: expected a list of faults, got {type(items).__name__}")
    out = []
    for n, item in enumerate(items):
        try:
            out.append(FaultSpec.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            key = ".".join(str(p) for p in first["loc"]) or "(entry)"
            raise FaultError(
                f"{where}[{n}].{key}: {first['msg']} (got {first.get('input')!r})"
            ) from None
    return out


def load_scenario(path: str | Path) -> dict[str, Any]:
    """A scenario file (``.toml`` or ``.json``) as a dict with ``faults`` parsed."""
    path = Path(path)
    text = path.read_text()
    try:
        raw = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise FaultError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    if not isinstance(raw, dict):
        raw = {"faults": raw}
    unknown = set(raw) - {"faults", "balances"}
    if unknown:
        raise FaultError(f"{path}: unknown keys {sorted(unknown)} (expected faults, balances)")
    raw["faults"] = parse_faults(raw, str(path))
    return raw


@dataclass(slots=True)
class ActiveFault:
    id: int
    spec: FaultSpec
    starts_at: float
    expires_at: float | None
    remaining: int | None
    fired: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            **self.spec.model_dump(mode="json", exclude_defaults=True),
            "kind": self.spec.kind.value,
            "remaining": self.remaining,
            "fired": self.fired,
        }


class FaultPlan:
    """The faults in force; ``clock`` is monotonic seconds (the event loop's)."""

    def __init__(self, clock: Callable[[], float], seed: int = 0) -> None:
        self._clock = clock
        self._rng = random.Random(seed)
        self._faults: list[ActiveFault] = []
        self._next_id = 1

    def add(self, specs: Iterable[FaultSpec]) -> list[int]:
        ids = []
        now = self._clock()
        for spec in specs:
            start = now + spec.start_after_s
            expires = start + spec.duration_s if spec.duration_s is not None else None
            self._faults.append(ActiveFault(self._next_id, spec, start, expires, spec.count))
            ids.append(self._next_id)
            self._next_id += 1
        return ids

    def clear(self, fault_id: int | None = None) -> None:
        self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]

    def active(self) -> list[dict[str, Any]]:
        self._expire()
        return [f.describe() for f in self._faults]

    def take(
        self,
        kind: FaultKind,
        *,
        path: str | None = None,
        method: str | None = None,
        stream: str | None = None,
    ) -> FaultSpec | None:
        """The first fault of ``kind`` that matches and fires (consuming one of its count)."""
        self._expire()
        now = self._clock()
        for f in self._faults:
            if f.spec.kind is not kind or not _matches(f.spec, path, method, stream):
                continue
            if f.starts_at > now:
                continue
            if f.spec.probability < 1 and self._rng.random() >= f.spec.probability:
                continue
            f.fired += 1
            if f.remaining is not None:
                f.remaining -= 1
                if f.remaining <= 0:
                    self._faults.remove(f)
            return f.spec
        return None

    def skew_ms(self) -> int:
        """The exchange clock's offset now (clock skew is a state: it is never used up)."""
        self._expire()
        now = self._clock()
        return int(
            sum(
                f.spec.ms
                for f in self._faults
                if f.spec.kind is FaultKind.CLOCK_SKEW and f.starts_at <= now
            )
        )

    def delay_s(self, spec: FaultSpec) -> float:
        """One draw from a latency fault's distribution, in seconds (never negative)."""
        ms, jitter = spec.ms, spec.jitter_ms
        if spec.dist == "uniform":
            ms = self._rng.uniform(ms - jitter, ms + jitter)
        elif spec.dist == "normal":
            ms = self._rng.gauss(ms, jitter)
        elif spec.dist == "exponential":
            ms = self._rng.expovariate(1 / ms) if ms > 0 else 0.0
        return max(ms, 0.0) / 1000

    def _expire(self) -> None:
        now = self._clock()
        self._faults = [f for f in self._faults if f.expires_at is None or f.expires_at > now]


def _matches(spec: FaultSpec, path: str | None, method: str | None, stream: str | None) -> bool:
    if spec.path is not None and (path is None or not fnmatch.fnmatchcase(path, spec.path)):
        return False
    if spec.method is not None and (method is None or method.upper() != spec.method.upper()):
        return False
    return spec.stream is None or (stream is not None and fnmatch.fnmatchcase(stream, spec.stream))


def drift(payload: Any, spec: FaultSpec) -> Any:
    """A reply with fields dropped or overwritten (in a list: in every element)."""
    if isinstance(payload, list):
        return [drift(item, spec) for item in payload]
    if not isinstance(payload, dict):
        return payload
    out = {k: v for k, v in payload.items() if k not in spec.drop_fields}
    out.update(spec.set_fields)
    return out
