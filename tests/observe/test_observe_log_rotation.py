"""The JSON log rolls over at every UTC midnight as well as at its size cap,
so a bot that runs for months keeps a bounded number of bounded files."""

from __future__ import annotations

import logging

from bastion.observe.logs import DailyRotatingFileHandler

DAY = 86_400


def _record(created: float, msg: str) -> logging.LogRecord:
    r = logging.LogRecord("bastion", logging.INFO, __file__, 1, msg, None, None)
    r.created = created
    return r


def test_a_new_utc_day_starts_a_new_file_and_old_ones_are_capped(tmp_path):
    path = tmp_path / "bastion.log.jsonl"
    h = DailyRotatingFileHandler(path, maxBytes=10_000_000, backupCount=2, encoding="utf-8")
    t0 = (h._day + 1) * DAY + 60  # one minute into tomorrow, UTC

    for day in range(4):
        h.emit(_record(t0 + day * DAY, f"day {day} a"))
        h.emit(_record(t0 + day * DAY + 1, f"day {day} b"))
    h.close()

    assert path.read_text().splitlines() == ["day 3 a", "day 3 b"]
    assert (tmp_path / "bastion.log.jsonl.1").read_text().splitlines() == ["day 2 a", "day 2 b"]
    assert (tmp_path / "bastion.log.jsonl.2").exists()
    assert not (tmp_path / "bastion.log.jsonl.3").exists()  # capped at backupCount


def test_the_size_cap_still_applies_within_a_day(tmp_path):
    path = tmp_path / "bastion.log.jsonl"
    h = DailyRotatingFileHandler(path, maxBytes=50, backupCount=1, encoding="utf-8")
    now = h._day * DAY + 10

    for i in range(10):
        h.emit(_record(now + i, f"line {i} " + "x" * 20))
    h.close()

    assert path.stat().st_size <= 50
    assert (tmp_path / "bastion.log.jsonl.1").exists()
