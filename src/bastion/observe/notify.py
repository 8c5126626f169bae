"""Alerts out through apprise, on a thread of their own.

``Notifier.send(message)`` only enqueues: the cycle, and the tailer that
feeds the notifier, never wait for a network. A worker thread delivers each
message to the apprise URLs routed to its severity (config routes plus the
URLs in the environment), retries a failed delivery with exponential backoff,
and journals the outcome (``alert_sent`` / ``alert_failed``), so a page that
never arrived is on the record. Text is scrubbed of secrets before it leaves.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bastion.observe.alerting import Message, Severity
from bastion.observe.redact import Redactor

Sink = Callable[[str, int, dict[str, Any]], None]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")


def routes_from(
    routes: Mapping[Any, Sequence[str]], urls_env: str, environ: Mapping[str, str] | None = None
) -> dict[Severity, list[str]]:
    """URLs per severity: the config's routes, plus every URL in ``$urls_env``."""
    env = os.environ if environ is None else environ
    extra = env.get(urls_env, "").split()
    return {s: [*routes.get(s, ()), *extra] for s in SEVERITIES}


def deliver(urls: Sequence[str], title: str, body: str) -> bool:
    """One apprise delivery; True when every URL accepted it."""
    import apprise  # loaded on the notifier's thread, not at bot start

    ap = apprise.Apprise()
    for url in urls:
        if not ap.add(url):
            return False
    return bool(ap.notify(title=title, body=body))


class Notifier:
    def __init__(
        self,
        routes: Mapping[Severity, Sequence[str]],
        *,
        sink: Sink | None = None,
        clock: Callable[[], int],
        retries: int = 3,
        retry_base_s: float = 1.0,
        send: Callable[[Sequence[str], str, str], bool] = deliver,
        bot: str = "bastion",
    ) -> None:
        self.bot = bot  # in every title: an operator may run several bots
        self.routes = {k: list(v) for k, v in routes.items()}
        self._sink = sink
        self._clock = clock
        self.retries = retries
        self.retry_base_s = retry_base_s
        self._send = send
        self._redact = Redactor()
        self._q: queue.SimpleQueue[Message | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bastion-alerts", daemon=True)
        self._thread.start()

    def send(self, message: Message) -> None:
        self._q.put(message)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            m = self._q.get()
            if m is None:
                return
            self.deliver_now(m)

    def deliver_now(self, m: Message) -> bool:
        urls = self.routes.get(m.alert.severity, [])
        if not urls:
            return False
        title = self._redact.text(f"{self.bot}: {m.title}")
        body = self._redact.text(m.body)
        error = ""
        for attempt in range(self.retries + 1):
            try:
                if self._send(urls, title, body):
                    self.sent += 1
                    self._journal("alert_sent", m, attempt + 1, "")
                    return True
                error = "a notifier refused the message"
            except Exception as exc:  # a notifier plug-in failed: retried, then on record
                error = self._redact.text(f"{type(exc).__name__}: {exc}")[:300]
            if attempt < self.retries:
                time.sleep(self.retry_base_s * 2**attempt)
        self.failed += 1
        self._journal("alert_failed", m, self.retries + 1, error)
        return False

    def _journal(self, kind: str, m: Message, attempts: int, error: str) -> None:
        if self._sink is None:
            return
        payload: dict[str, Any] = {
            "key": m.alert.key,
            "severity": m.alert.severity,
            "title": self._redact.text(m.alert.title),
            "count": m.count,
            "attempts": attempts,
        }
        if error:
            payload["error"] = error
        try:
            self._sink(kind, self._clock(), payload)
        except Exception:  # the journal is closing: the delivery itself is what matters
            return
