"""Send the daily digest at the configured local time, once per day.

The next send time is computed in the operator's zone (``next_send``), so it
moves with the clocks; a digest already sent for a day (``digest_sent`` in the
journal) is not sent again after a restart. Building and sending run on a
thread of their own: a slow SMTP server holds up nothing.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import TYPE_CHECKING

from bastion.model.timeframe import parse_interval
from bastion.observe.digest import build_digest, next_send, render_html, render_text, subject
from bastion.observe.journal import read_events
from bastion.observe.mailer import MailError, build_message, send_mail

if TYPE_CHECKING:
    from bastion.observe.service import ObserveService


def send_digest(service: ObserveService, day: date) -> bool:
    cfg = service.obs.digest
    events = read_events(service.journal_path) if service.journal_path.exists() else iter(())
    interval = parse_interval(service.config.exchange.bar_interval)
    d = build_digest(events, day, cfg.timezone, interval)
    bot = service.config.name
    msg = build_message(cfg, subject(d, bot), render_text(d, bot), render_html(d, bot))
    now = service.clock()
    try:
        send_mail(cfg, msg)
    except MailError as exc:
        service.write("digest_failed", now, {"day": day.isoformat(), "error": str(exc)[:300]})
        return False
    service.write("digest_sent", now, {"day": day.isoformat(), "to": len(cfg.to)})
    return True


class DigestScheduler:
    def __init__(self, service: ObserveService) -> None:
        self.service = service
        cfg = service.obs.digest
        self.due_ms, self.day = next_send(service.clock(), cfg.timezone, cfg.send_at)
        self.sent: set[str] = set()
        if service.journal_path.exists():
            for e in read_events(service.journal_path, kinds=["digest_sent"]):
                self.sent.add(str(e.get("day")))

    def tick(self, now: int) -> None:
        if now < self.due_ms:
            return
        day = self.day
        cfg = self.service.obs.digest
        self.due_ms, self.day = next_send(now, cfg.timezone, cfg.send_at)
        if day.isoformat() in self.sent:
            return
        self.sent.add(day.isoformat())
        threading.Thread(
            target=send_digest, args=(self.service, day), name="bastion-digest", daemon=True
        ).start()
