"""The dead man's switch: page when the bot stops cycling; optionally kill.

The bot writes its ``heartbeat`` (epoch ms of its last cycle) to the ``kv``
table of ``state.sqlite`` each cycle. The watchdog reads it read-only, with a
short timeout, and never through the bot's code. A read that fails (the file
locked or damaged) keeps the last value seen: a locked database is no sign of
life. No heartbeat at all counts from the watchdog's own start, so a bot that
never came up is noticed too.

One loss is one episode: it pages once (and, with ``on_heartbeat_loss =
"flatten"``, kills once) until the heartbeat is fresh again.

The page goes out from this process, never through the bot's: a heartbeat is
lost when the bot is dead or hung, and the bot's own observers die or hang
with it. With ``[observe.alerts]`` on, it also goes through apprise to the
alerts' critical route, as every other critical alert does, each receiver on
its own thread and retried alone; the audit line says so (``paged_by``), so an
observer that reads the audit log (``bastion dashboard --alerts``) does not
send it a second time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bastion.clock import wall_ms as read_wall_clock
from bastion.killswitch.audit import AuditLog


def read_heartbeat(data_dir: Path) -> int | None:
    """The bot's last cycle time (epoch ms); None when absent or unreadable."""
    path = data_dir / "state.sqlite"
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
        try:
            row = db.execute("SELECT value FROM kv WHERE key = 'heartbeat'").fetchone()
        finally:
            db.close()
        return int(row[0]) if row is not None else None
    except (sqlite3.Error, ValueError):
        return None


def deliver_apprise(url: str, title: str, body: str) -> bool:
    import apprise  # only a sentinel with alert routes loads it

    ap = apprise.Apprise()
    return bool(ap.add(url) and ap.notify(title=title, body=body))


class Pager:
    """Where alerts go: an HTTP POST of the alert as JSON, and/or a shell command
    with the alert in ``$BASTION_ALERT``, and/or apprise URLs (the alerts'
    critical route). Failures are audited, never raised."""

    def __init__(
        self,
        webhook: str | None,
        command: str | None,
        audit: AuditLog,
        *,
        apprise_urls: Sequence[str] = (),
        bot: str = "bastion",
        retries: int = 3,
        retry_base_s: float = 1.0,
        send: Callable[[str, str, str], bool] = deliver_apprise,
    ) -> None:
        self.webhook = webhook
        self.command = command
        self.audit = audit
        self.apprise_urls = list(dict.fromkeys(apprise_urls))
        self.bot = bot
        self.retries = retries
        self.retry_base_s = retry_base_s
        self._send = send

    def page(self, alert: dict[str, Any], title: str = "heartbeat lost") -> None:
        # as the bot's own alerts read: "<bot>: [CRITICAL] heartbeat lost", then the facts
        head = f"{self.bot}: [CRITICAL] {title}"
        facts = ", ".join(f"{k}={v}" for k, v in alert.items() if k != "alert" and v is not None)
        lanes = [
            threading.Thread(target=self._apprise, args=(url, head, facts), daemon=True)
            for url in self.apprise_urls
        ]  # one per receiver: a hung one holds up no other
        for t in lanes:
            t.start()
        body = json.dumps(alert, default=str)
        if self.webhook:
            try:
                req = urllib.request.Request(
                    self.webhook,
                    data=body.encode(),
                    headers={"Content-Type": "application/json"},
                    method="POST",
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    self.audit.append("page", via="webhook", status=resp.status)
            except Exception as exc:  # the pager failing must not stop the watchdog
                self.audit.append("page_failed", via="webhook", error=type(exc).__name__)
        if self.command:
            try:
                done = subprocess.run(
                    self.command,
                    shell=True,  # the operator's own command line, from their config
                    env={**os.environ, "BASTION_ALERT": body},
                    timeout=15,
                    capture_output=True,
                    check=False,
                )
                self.audit.append("page", via="command", exit=done.returncode)
            except (OSError, subprocess.SubprocessError) as exc:
                self.audit.append("page_failed", via="command", error=type(exc).__name__)
        for t in lanes:
            t.join()

    def _apprise(self, url: str, title: str, body: str) -> None:
        head, sep, _ = url.partition("://")  # the URL may carry a key: only its scheme
        via = head.lower() if sep and head.isalnum() else "?"
        for attempt in range(self.retries + 1):
            try:
                if self._send(url, title, body):
                    self.audit.append("page", via=via, attempts=attempt + 1)
                    return
                error = "refused"
            except Exception as exc:  # a notifier plug-in failed: retried, then on record
                error = type(exc).__name__
            if attempt < self.retries:
                time.sleep(self.retry_base_s * 2**attempt)
        self.audit.append("page_failed", via=via, attempts=self.retries + 1, error=error)


class Watchdog:
    """Checks the heartbeat; ``check`` is one tick, ``run`` loops until stopped."""

    def __init__(
        self,
        data_dir: Path,
        *,
        timeout_s: float,
        flatten: bool,
        pager: Pager,
        audit: AuditLog,
        kill: Callable[[str], Any],
        wall_ms: Callable[[], int] = read_wall_clock,
    ) -> None:
        self.data_dir = data_dir
        self.timeout_ms = int(timeout_s * 1000)
        self.flatten = flatten
        self.pager = pager
        self.audit = audit
        self.kill = kill
        self.wall_ms = wall_ms
        self.started_ms = wall_ms()
        self.last_ms: int | None = None
        self.lost = False
        self.alerts = 0

    def age_ms(self, now: int) -> int:
        return now - (self.last_ms if self.last_ms is not None else self.started_ms)

    def check(self) -> str | None:
        """Read, compare, act; returns what it did ("alert", "recovered") or None."""
        now = self.wall_ms()
        beat = read_heartbeat(self.data_dir)
        if beat is not None and (self.last_ms is None or beat > self.last_ms):
            self.last_ms = beat
        age = self.age_ms(now)
        if age <= self.timeout_ms:
            if self.lost:
                self.lost = False
                self.audit.append("heartbeat_recovered", age_ms=age)
                return "recovered"
            return None
        if self.lost:
            return None
        self.lost = True
        self.alerts += 1
        alert = {
            "alert": "bastion heartbeat lost",
            "data_dir": str(self.data_dir),
            "last_cycle_ms": self.last_ms,
            "age_s": round(age / 1000, 1),
            "action": "flatten" if self.flatten else "alert",
        }
        paged_by = {"paged_by": "sentinel"} if self.pager.apprise_urls else {}
        self.audit.append("heartbeat_lost", **alert, **paged_by)
        threading.Thread(target=self.pager.page, args=(alert,), daemon=True).start()
        if self.flatten:
            self.kill(f"heartbeat lost: no cycle for {age / 1000:.1f}s")
        return "alert"

    def run(self, stop: threading.Event) -> None:
        every = min(1.0, self.timeout_ms / 4000)
        while not stop.wait(every):
            try:
                self.check()
            except Exception as exc:  # keep watching whatever happened
                self.audit.append("watchdog_error", error=f"{type(exc).__name__}: {exc}")

    def status(self) -> dict[str, Any]:
        now = self.wall_ms()
        return {
            "last_cycle_ms": self.last_ms,
            "age_s": round(self.age_ms(now) / 1000, 1),
            "timeout_s": self.timeout_ms / 1000,
            "lost": self.lost,
            "alerts": self.alerts,
        }
