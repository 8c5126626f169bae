"""Client order ids: pure functions of (run, cycle, intent, leg).

A retry or a replay of the same decision names the same order, so the venue's
own duplicate check (and our reconciler) recognise it. Ids are at most 36
characters of ``[A-Za-z0-9_-]``, which every major exchange accepts.
"""

from __future__ import annotations

import re

_LEGAL = re.compile(r"[A-Za-z0-9_-]{1,36}\Z")  # \Z, not $: "$" also matches before a final newline
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(n: int) -> str:
    if n < 0:
        raise ValueError(f"negative id component {n}")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if n == 0:
            return out


def client_order_id(run: str, cycle: int, intent: int, leg: int = 0, prefix: str = "bn") -> str:
    """``bn<run>-<cycle>-<intent>-<leg>`` with numbers in base 36."""
    cid = f"{prefix}{run}-{_b36(cycle)}-{_b36(intent)}-{_b36(leg)}"
    if not _LEGAL.match(cid):
        raise ValueError(f"client order id {cid!r} is not 1-36 chars of [A-Za-z0-9_-]")
    return cid


def is_legal(cid: str) -> bool:
    return bool(_LEGAL.match(cid))
