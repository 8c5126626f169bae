"""Alerts out through apprise, one delivery lane per receiver.

``Notifier.send(message)`` only enqueues: the cycle, and the tailer that
feeds the notifier, never wait for a network. Each URL routed to a severity
(config routes plus the URLs in the environment) has a lane of its own: a
queue and a thread that delivers, retries a failure with exponential backoff,
and journals the outcome (``alert_sent`` / ``alert_failed``, naming the
receiver's scheme, never its URL, which may carry a key), so a page that never
arrived is on the record. One lane per receiver because receivers fail
apart: a chat server that hangs must not hold the pager's page behind its
timeouts, and a dead mail relay's retries must not page the operator again
through the receiver that already took the message. Text is scrubbed of
secrets before it leaves.
"""

from __future__ import annotations

import contextlib
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
BACKLOG = 1_000  # messages a lane holds for a receiver that is down, then refuses


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


def scheme(url: str) -> str:
    """What kind of receiver, for the record: ``mailto``, ``json``, ``tgram``."""
    head, sep, _ = url.partition("://")
    return head.lower() if sep and head.isalnum() else "?"


class _Lane:
    """One receiver's queue and the thread that drains it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.q: queue.Queue[Message | None] = queue.Queue(BACKLOG)
        self.thread: threading.Thread | None = None


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
        self.routes = {k: list(dict.fromkeys(v)) for k, v in routes.items()}  # a URL once
        self._sink = sink
        self._clock = clock
        self.retries = retries
        self.retry_base_s = retry_base_s
        self._send = send
        self._redact = Redactor()
        self._lanes: dict[str, _Lane] = {}
        self._lock = threading.Lock()
        self._started = False
        self._stopping = threading.Event()
        self.sent = 0  # deliveries (one message to one receiver)
        self.failed = 0

    def start(self) -> None:
        with self._lock:
            self._started = True
            for lane in self._lanes.values():
                self._run(lane)

    def _run(self, lane: _Lane) -> None:
        if lane.thread is None:
            lane.thread = threading.Thread(
                target=self._drain, args=(lane,), name=f"bastion-alerts-{scheme(lane.url)}",
                daemon=True,
            )  # fmt: skip
            lane.thread.start()

    def _lane(self, url: str) -> _Lane:
        with self._lock:
            lane = self._lanes.get(url)
            if lane is None:
                lane = self._lanes[url] = _Lane(url)
                if self._started:
                    self._run(lane)
            return lane

    def send(self, message: Message) -> None:
        """Hand ``message`` to each receiver routed to its severity; never blocks."""
        for url in self.routes.get(message.alert.severity, []):
            try:
                self._lane(url).q.put_nowait(message)
            except queue.Full:  # down for long: the backlog is on record, not in memory
                self.failed += 1
                self._journal("alert_failed", message, url, 0, "the receiver's backlog is full")

    def stop(self, timeout: float = 5.0) -> None:
        """Let the lanes finish what they hold (the bot's stop is the last page) for
        up to ``timeout`` seconds in all; a lane still retrying after that gives
        up at its next backoff, and journals the failure if the journal is open."""
        deadline = time.monotonic() + timeout
        with self._lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            if lane.thread is not None:
                with contextlib.suppress(queue.Full):  # a full backlog: the deadline still holds
                    lane.q.put(None, timeout=max(0.0, deadline - time.monotonic()))
        for lane in lanes:
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
        self._stopping.set()

    def _drain(self, lane: _Lane) -> None:
        while True:
            m = lane.q.get()
            if m is None:
                return
            self._deliver(lane.url, m)

    def deliver_now(self, m: Message) -> bool:
        """Deliver at once, on this thread, to every routed URL (``bastion alert test``)."""
        urls = self.routes.get(m.alert.severity, [])
        return bool(urls) and all([self._deliver(url, m) for url in urls])

    def _deliver(self, url: str, m: Message) -> bool:
        title = self._redact.text(f"{self.bot}: {m.title}")
        body = self._redact.text(m.body)
        error, tried = "", 0
        for attempt in range(self.retries + 1):
            tried = attempt + 1
            try:
                if self._send([url], title, body):
                    self.sent += 1
                    self._journal("alert_sent", m, url, tried, "")
                    return True
                error = "the receiver refused the message"
            except Exception as exc:  # a notifier plug-in failed: retried, then on record
                error = self._redact.text(f"{type(exc).__name__}: {exc}")[:300]
            if attempt < self.retries and self._stopping.wait(self.retry_base_s * 2**attempt):
                break  # shutting down: the failure below is the record
        self.failed += 1
        self._journal("alert_failed", m, url, tried, error)
        return False

    def _journal(self, kind: str, m: Message, url: str, attempts: int, error: str) -> None:
        if self._sink is None:
            return
        payload: dict[str, Any] = {
            "key": m.alert.key,
            "severity": m.alert.severity,
            "title": self._redact.text(m.alert.title),
            "count": m.count,
            "via": scheme(url),
            "attempts": attempts,
        }
        if error:
            payload["error"] = error.replace(url, scheme(url) + "://…")
        try:
            self._sink(kind, self._clock(), payload)
        except Exception:  # the journal is closing: the delivery itself is what matters
            return
