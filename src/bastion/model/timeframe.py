"""Bar intervals as people write them ("1m", "4h") and as bastion keeps them (ms)."""

from __future__ import annotations

import re
from typing import Final

_UNIT_MS: Final = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_interval(text: str) -> int:
    """``"1m"`` → 60000. Units s, m, h, d, w; months are not a fixed length."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"bar interval {text!r}: expected a positive count and a unit s, m, h, d or w "
            "(e.g. '1m', '4h'; 'M' months are not a fixed length)"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def format_interval(interval_ms: int) -> str:
    """60000 → ``"1m"``: the largest unit that divides the interval exactly."""
    if interval_ms <= 0:
        raise ValueError(f"interval_ms must be positive, got {interval_ms}")
    for unit, ms in sorted(_UNIT_MS.items(), key=lambda item: -item[1]):
        if interval_ms % ms == 0:
            return f"{interval_ms // ms}{unit}"
    return f"{interval_ms}ms"
