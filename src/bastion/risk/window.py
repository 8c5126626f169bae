"""The daily window of the loss cap: it opens at a local time in an IANA zone.

Time zones live only here, at the edge: everything else is UTC epoch ms. A day
in ``America/New_York`` is 23 or 25 hours long across a DST change, and the
window follows the local clock, so the boundaries are computed by
``zoneinfo`` from the local date, never by adding 24 hours.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_DAY = timedelta(days=1)


class DailyWindow:
    """Windows ``[start, end)`` in UTC ms, each opening at ``reset_minute``
    minutes after local midnight in ``timezone``."""

    __slots__ = ("_minute", "_tz", "timezone")

    def __init__(self, timezone: str = "UTC", reset_minute: int = 0) -> None:
        if not 0 <= reset_minute < 24 * 60:
            raise ValueError(f"reset_minute must be within a day, got {reset_minute}")
        self.timezone = timezone
        self._tz = ZoneInfo(timezone)
        self._minute = reset_minute

    def _opens(self, day: date) -> int:
        """UTC ms at which the window of local date ``day`` opens. A reset time
        that the clocks skip is read with the offset before the change."""
        h, m = divmod(self._minute, 60)
        local = datetime(day.year, day.month, day.day, h, m, tzinfo=self._tz)
        return int(local.timestamp()) * 1000

    def bounds(self, now: int) -> tuple[int, int]:
        """``(start, end)`` of the window containing ``now`` (UTC ms)."""
        day = datetime.fromtimestamp(now // 1000, tz=self._tz).date()
        start = self._opens(day)
        if start > now:
            day -= _DAY
            start = self._opens(day)
        end = self._opens(day + _DAY)
        if end <= now:  # only when a reset time falls in a skipped hour
            start, end = end, self._opens(day + 2 * _DAY)
        return start, end
