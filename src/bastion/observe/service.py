"""The observers as one service: follow the journal, keep the book, alert,
send the digest on time, serve the dashboard and ``/metrics``.

Runs on its own threads, in the bot's process (``[observe]`` enabled) or in
its own (``bastion dashboard``); either way it reads the journal and the
sentinel's audit log and never touches the bot. It writes only its own facts
(``alert_sent``, ``alert_failed``, ``digest_sent``) to the journal, through its
own connection. Events already in the journal when it starts fill the book
but do not page anyone again.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bastion.config import BotConfig
from bastion.config_observe import ObserveConfig
from bastion.observe.alerting import AlertGate, AlertRules, Message
from bastion.observe.book import LiveBook
from bastion.observe.digest import day_window
from bastion.observe.journal import Journal
from bastion.observe.logs import get_logger
from bastion.observe.notify import Notifier, routes_from
from bastion.observe.tailer import JournalTailer

AUDIT_FILE = "killswitch-audit.jsonl"
STATS_EVERY_MS = 30_000
STATS_SPAN_MS = 7 * 86_400_000


def newest_seq(journal: Path) -> int:
    if not journal.exists():
        return 0
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT MAX(seq) FROM events").fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()
    return int(row[0] or 0)


class AuditTail:
    """New lines of the sentinel's audit log (heartbeat loss, kills)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def poll(self) -> list[dict[str, Any]]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1
        self.offset += end
        out = []
        for line in data[:end].splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            out.append({**row, "kind": row.get("event", "audit")})
        return out


class ObserveService:
    def __init__(
        self,
        config: BotConfig,
        folder: Path,
        *,
        clock: Callable[[], int],
        dashboard: bool | None = None,
        alerts: bool | None = None,
        digest: bool | None = None,
        latch_writer: Callable[[str, str, str], str] | None = None,
    ) -> None:
        self.config = config
        self.obs: ObserveConfig = config.observe
        self.folder = folder
        self.clock = clock
        self.journal_path = folder / "journal.sqlite"
        self.want_dashboard = self.obs.dashboard.enabled if dashboard is None else dashboard
        self.want_alerts = self.obs.alerts.enabled if alerts is None else alerts
        self.want_digest = self.obs.digest.enabled if digest is None else digest
        self.book = LiveBook()
        # (state, reason, by) -> previous state: writes the latch as `bastion halt` does.
        self.latch_writer = latch_writer
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._writer: Journal | None = None
        self._writer_lock = threading.Lock()
        self.log = get_logger()
        loss = config.risk.loss
        self.rules = AlertRules(
            daily_loss=loss.daily_loss if loss.enabled else None,
            loss_levels=tuple(self.obs.alerts.loss_warn),
            timezone=loss.timezone,
            reset_time=loss.reset_time,
        )
        a = self.obs.alerts
        self.gate = AlertGate(dedupe_ms=int(a.dedupe_s * 1000), max_per_minute=a.max_per_minute)
        self.notifier = Notifier(
            routes_from(a.routes, a.urls_env),
            sink=self.write,
            clock=clock,
            retries=a.retries,
            retry_base_s=a.retry_base_s,
            bot=config.name,
        )
        audit = config.killswitch.audit_log
        self.audit = AuditTail(Path(audit) if audit else folder / AUDIT_FILE)
        self.quiet_until_seq = newest_seq(self.journal_path)
        self.tailer = JournalTailer(self.journal_path)
        self.server: Any = None
        self.digest_scheduler: Any = None
        self.stats: dict[str, Any] = {}
        self._stats_at: tuple[int, int] = (-STATS_EVERY_MS, -1)  # (when, fills then)
        self._stats_every = STATS_EVERY_MS

    # ------------------------------------------------------------ lifecycle
    def start(self) -> ObserveService:
        if self.want_alerts:
            self.notifier.start()
        if self.want_digest:
            from bastion.observe.schedule import DigestScheduler

            self.digest_scheduler = DigestScheduler(self)
        self._spawn(self._follow, "bastion-observe")
        if self.want_dashboard:
            from bastion.observe.server import serve_in_thread

            self.server = serve_in_thread(self)
        return self

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.should_exit = True
        for t in self._threads:
            t.join(timeout)
        try:
            self.step()  # the last events (the bot's stop) still page
        except Exception as exc:
            self.log.error("observe final step failed", error=f"{type(exc).__name__}: {exc}")
        self.notifier.stop(timeout)
        self.tailer.close()
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    # ------------------------------------------------------------ the loop
    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # an observer must never take the bot down
                self.log.error("observe step failed", error=f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.obs.poll_s)

    def step(self) -> int:
        """One poll: fold new events, raise alerts, flush due ones. Returns events read."""
        events = self.tailer.drain()
        now = self.clock()
        if events:
            with self.changed:
                self.book.apply_all(events)
                self.changed.notify_all()
            for e in events:
                self._log_event(e)
        if self.want_alerts:
            for e in events:
                if int(e["seq"]) > self.quiet_until_seq:
                    self._alert(e, now)
            for row in self.audit.poll():
                if row.get("paged_by") != "sentinel":  # else it went out already, once
                    self._alert(row, now)
            for m in self.gate.due(now):
                self.notify(m)
        if self.digest_scheduler is not None:
            self.digest_scheduler.tick(now)
        if self.want_dashboard:
            self._refresh_stats(now)
        return len(events)

    def _refresh_stats(self, now: int) -> None:
        """Per-strategy statistics over the last 7 days, when fills came in (at most
        every 30 s: it reads the span again, on this thread, never the bot's).

        Trips need every fill; the equity curve only the span's samples. A
        refresh that took long waits 50 times as long before the next, so the
        statistics of a journal months deep never take more than 2% of a core
        in the bot's process."""
        from bastion.model.timeframe import parse_interval
        from bastion.observe.journal import read_events
        from bastion.observe.live_stats import strategy_stats

        fills = self.book.fills_total
        when, seen = self._stats_at
        if fills == seen or now - when < self._stats_every or not self.journal_path.exists():
            return
        self._stats_at = (now, fills)
        since = now - STATS_SPAN_MS
        started = time.perf_counter()
        stats = strategy_stats(
            heapq.merge(
                read_events(self.journal_path, kinds=["fill"]),
                read_events(self.journal_path, kinds=["cycle_stats"], since_ts=since),
                key=lambda e: int(e["seq"]),
            ),
            interval_ms=parse_interval(self.config.exchange.bar_interval),
            since_ts=since,
        )
        took_ms = (time.perf_counter() - started) * 1000
        self._stats_every = max(STATS_EVERY_MS, int(took_ms * 50))
        keys = ("round_trips", "win_rate", "sharpe", "max_drawdown", "exposure", "turnover")
        with self.lock:
            self.stats = {sid: {k: s.get(k) for k in keys} for sid, s in stats.items()}

    def _alert(self, e: dict[str, Any], now: int) -> None:
        for a in self.rules.alerts(e):
            for m in self.gate.offer(a, now):
                self.notify(m)

    def notify(self, m: Message) -> None:
        self.log.warning("alert", severity=m.alert.severity, title=m.title, count=m.count)
        self.notifier.send(m)

    def _log_event(self, e: dict[str, Any]) -> None:
        if e["kind"] == "cycle_stats":
            self.log.debug("journal", **_fields(e))
        elif e.get("alert"):
            self.log.warning("journal", **_fields(e))
        else:
            self.log.info("journal", **_fields(e))

    # ------------------------------------------------------------ writes
    def write(self, kind: str, ts: int, payload: dict[str, Any]) -> None:
        """Journal one of the observers' own facts (its own connection)."""
        with self._writer_lock:
            if self._writer is None:
                self._writer = Journal(self.journal_path)
            self._writer.append(kind, ts, payload)
            self._writer.flush()

    def read(self, fn: Callable[[LiveBook], Any]) -> Any:
        with self.lock:
            return fn(self.book)

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        tz = self.obs.digest.timezone  # the operator's day, as the digest counts it
        today = datetime.fromtimestamp(now / 1000, ZoneInfo(tz)).date()
        with self.lock:
            snap = self.book.snapshot(now, day_window(today, tz)[0])
        snap["venue"]["weight_limit"] = snap["venue"]["weight_limit"] or (
            self.obs.dashboard.weight_limit
        )
        snap["stats"] = self.stats
        snap["bot"] = self.config.name
        snap["mode"] = self.config.exchange.mode
        snap["killswitch_url"] = self.obs.dashboard.killswitch_url or (
            f"http://{self.config.killswitch.host}:{self.config.killswitch.port}/"
        )
        return snap


def _fields(e: dict[str, Any]) -> dict[str, Any]:
    return {("kind_" if k == "event" else k): v for k, v in e.items() if k not in ("intents",)}
