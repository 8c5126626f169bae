"""Which journal events page a person, how loud, and how often.

Sans-I/O: ``AlertRules.alerts(event)`` turns a journal event (or a sentinel
audit line) into alerts, and ``AlertGate`` decides what goes out, given the
time: the first alert of a kind goes at once; identical ones inside the
dedupe window are counted and go out as one message with the count when the
window ends; above ``max_per_minute`` messages a minute the rest are held for
the next minute, folded per key. A storm of 100 identical triggers becomes
two messages: the first, and "x99 more".
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

Severity = Literal["info", "warning", "critical"]
MINUTE_MS = 60_000

# kind -> (severity, title). Every trigger the operator asked to be told about.
TRIGGERS: dict[str, tuple[Severity, str]] = {
    "flatten": ("critical", "flattened"),
    "kill_flag": ("critical", "killed: the kill flag halted the bot"),
    "kill_done": ("critical", "kill switch ran"),
    "retry_cap": ("critical", "retry cap reached"),
    "order_unresolved": ("critical", "order outcome unresolved"),
    "reconcile_delta": ("critical", "unexplained reconciliation delta"),
    "feed_stale": ("warning", "feed silent, stream rebuilt"),
    "feed_stalled": ("warning", "feed stalled"),
    "feed_switched": ("warning", "feed failover"),
    "feeds_down": ("critical", "every feed is down"),
    "schema_drift": ("critical", "exchange reply schema drift"),
    "feed_schema_drift": ("critical", "feed message schema drift"),
    "heartbeat_lost": ("critical", "heartbeat lost"),
    "session_start": ("info", "bot started"),
    "run_end": ("info", "bot stopped"),
}


@dataclass(frozen=True, slots=True)
class Alert:
    key: str  # what dedupe compares: the kind and its subject
    severity: Severity
    title: str
    body: str
    ts: int


@dataclass(frozen=True, slots=True)
class Message:
    alert: Alert
    count: int  # alerts folded into this message (1: just this one)

    @property
    def title(self) -> str:
        a = self.alert
        more = f" (x{self.count})" if self.count > 1 else ""
        return f"[{a.severity.upper()}] {a.title}{more}"

    @property
    def body(self) -> str:
        if self.count > 1:
            return f"{self.alert.body}\n{self.count} alerts like this one in the window."
        return self.alert.body


def _describe(event: dict[str, Any]) -> str:
    skip = {"seq", "kind", "ts", "alert", "intents", "payload"}
    parts = [f"{k}={v}" for k, v in event.items() if k not in skip and v not in (None, "")]
    return ", ".join(parts)[:800]


class AlertRules:
    """Journal events to alerts; daily-loss warnings from the cycle's equity."""

    def __init__(
        self,
        *,
        daily_loss: Decimal | None = None,
        loss_levels: tuple[float, ...] = (0.5, 0.8),
        timezone: str = "UTC",
        reset_time: str = "00:00",
    ) -> None:
        self.daily_loss = daily_loss
        self.loss_levels = tuple(sorted(loss_levels))
        self._tz = ZoneInfo(timezone)
        hh, _, mm = reset_time.partition(":")
        self._reset = (int(hh), int(mm))
        self._window: int | None = None
        self._window_equity: Decimal | None = None
        self._warned: set[float] = set()

    def alerts(self, e: dict[str, Any]) -> list[Alert]:
        kind = str(e.get("kind"))
        ts = int(e.get("ts") or 0)
        sym = e.get("symbol") or e.get("feed") or ""
        if kind == "latch":
            state = e.get("state")
            severity: Severity = "info" if state == "ACTIVE" else "critical"
            title = "resumed" if state == "ACTIVE" else f"halted ({state})"
            return [Alert(f"latch:{state}", severity, title, _describe(e), ts)]
        if kind == "cycle_stats" and e.get("equity") is not None:
            return self._loss(Decimal(e["equity"]), ts)
        if kind in TRIGGERS:
            severity, title = TRIGGERS[kind]
            return [Alert(f"{kind}:{sym}", severity, title, _describe(e), ts)]
        if "failover" in kind:
            return [Alert(f"{kind}:{sym}", "warning", "feed failover", _describe(e), ts)]
        if e.get("alert"):
            title = kind.replace("_", " ")
            return [Alert(f"{kind}:{sym}", "warning", title, _describe(e), ts)]
        return []

    def window_start(self, ts: int) -> int:
        """Start (UTC ms) of the daily-loss window holding ``ts``, in local time."""
        local = datetime.fromtimestamp(ts / 1000, self._tz)
        start = local.replace(hour=self._reset[0], minute=self._reset[1], second=0, microsecond=0)
        if start > local:
            start = (start - timedelta(days=1)).replace(tzinfo=self._tz)
        return int(start.timestamp() * 1000)

    def _loss(self, equity: Decimal, ts: int) -> list[Alert]:
        if self.daily_loss is None:
            return []
        window = self.window_start(ts)
        if window != self._window:
            self._window, self._window_equity, self._warned = window, equity, set()
            return []
        start = self._window_equity
        if start is None or start <= 0:
            return []
        used = float((start - equity) / start / self.daily_loss)
        out: list[Alert] = []
        for level in self.loss_levels:
            if used >= level and level not in self._warned:
                self._warned.add(level)
                severity: Severity = "critical" if level >= max(self.loss_levels) else "warning"
                out.append(
                    Alert(
                        f"daily_loss:{level}",
                        severity,
                        f"daily loss at {level:.0%} of the cap",
                        f"equity {equity} from {start} at the window's start; "
                        f"cap {self.daily_loss:%} of equity",
                        ts,
                    )
                )
        return out


@dataclass(slots=True)
class _Held:
    first: Alert
    last_sent: int
    pending: int = 0
    latest: Alert | None = None


@dataclass(slots=True)
class AlertGate:
    """Dedupe and rate limit; the caller sends what ``offer`` and ``due`` return."""

    dedupe_ms: int = 60_000
    max_per_minute: int = 10
    _held: dict[str, _Held] = field(default_factory=dict)
    _sent: deque[int] = field(default_factory=deque)
    _queued: dict[str, Message] = field(default_factory=dict)

    def offer(self, alert: Alert, now: int) -> list[Message]:
        held = self._held.get(alert.key)
        if held is not None and now - held.last_sent < self.dedupe_ms:
            held.pending += 1
            held.latest = alert
            return []
        folded = held.pending if held is not None else 0  # counted, not yet told
        self._held[alert.key] = _Held(first=alert, last_sent=now)
        return self._limit([Message(alert, 1 + folded)], now)

    def due(self, now: int) -> list[Message]:
        """Counts whose dedupe window closed, and messages the rate limit held."""
        out: list[Message] = []
        for held in self._held.values():
            if held.pending and now - held.last_sent >= self.dedupe_ms:
                out.append(Message(held.latest or held.first, held.pending))
                held.pending, held.latest, held.last_sent = 0, None, now
        return self._limit(out, now, include_queued=True)

    def _limit(self, msgs: list[Message], now: int, include_queued: bool = False) -> list[Message]:
        while self._sent and now - self._sent[0] >= MINUTE_MS:
            self._sent.popleft()
        candidates = list(self._queued.values()) if include_queued else []
        if include_queued:
            self._queued.clear()
        candidates += msgs
        out: list[Message] = []
        for m in candidates:
            if len(self._sent) < self.max_per_minute:
                self._sent.append(now)
                out.append(m)
            else:
                prev = self._queued.get(m.alert.key)
                count = m.count + (prev.count if prev is not None else 0)
                self._queued[m.alert.key] = replace(m, count=count)
        return out
