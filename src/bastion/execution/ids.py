"""Client order ids: pure functions of (run, cycle, intent, leg).

A retry or a replay of the same decision names the same order, so the venue's
own duplicate check (and our reconciler) recognise it. Ids are at most 36
characters of ``[A-Za-z0-9_-]``, which every major exchange accepts (Binance's
limit is 36).

The *run* is the data folder's random identity (8 base-36 characters, drawn
when the folder is created) followed by the process's boot number: two folders
never share ids, even for bots of the same name on one account, so a lookup
by client id can never adopt another folder's order. The two-letter prefix
names the origin (``bn`` strategy, ``bx`` risk flatten, ``ks`` kill switch).
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


def run_identity(identity: str, boot: int) -> str:
    """The run part of every client id: the folder's identity, then the boot."""
    if not (identity.isascii() and identity.isalnum()):
        raise ValueError(f"run identity {identity!r} must be letters and digits")
    return f"{identity}{_b36(boot)}"


def client_order_id(run: str, cycle: int, intent: int, leg: int = 0, prefix: str = "bn") -> str:
    """``bn<run>-<cycle>-<intent>-<leg>`` with numbers in base 36."""
    cid = f"{prefix}{run}-{_b36(cycle)}-{_b36(intent)}-{_b36(leg)}"
    if not _LEGAL.match(cid):
        raise ValueError(f"client order id {cid!r} is not 1-36 chars of [A-Za-z0-9_-]")
    return cid


def is_legal(cid: str) -> bool:
    return bool(_LEGAL.match(cid))
