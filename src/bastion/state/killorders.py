"""The kill switch's closes, written ahead of sending, for the bot to own.

A kill in bot scope sells the bot's share, so its fills are the bot's: they
must reach the bot's ledger, or the bot reads the fall in its holding as money
taken out of the account by somebody else, lowers the baseline by it, and
later sells what is not its own. Found by the campaign: a stream that dropped
the kill's fill left the bot believing 2 of a deposit were its own.

The kill switch never writes the bot's databases (one of them may be what
broke), so it appends each close to a file of its own in the data folder,
fsynced *before* the order is sent, one JSON line per order. The bot reads
the lines it has not seen every cycle and adopts each order as one of unknown
outcome that is never re-sent: looked up by client id at the exchange, its
fills applied like any of its own, or found "not placed" and dropped.

Imports nothing from bastion: the bot and the kill switch both use it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

KILL_ORDERS_FILE = "kill-orders.jsonl"


@dataclass(frozen=True, slots=True, kw_only=True)
class KillOrder:
    """One close the kill switch was about to send."""

    client_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: str  # a decimal string
    ts: int  # epoch ms, when it was written


def kill_orders_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / KILL_ORDERS_FILE


def record_kill_orders(data_dir: str | Path, orders: Iterable[KillOrder]) -> None:
    """Append ``orders`` durably (one write, one fsync) before they are sent."""
    lines = [json.dumps(asdict(o), separators=(",", ":")) for o in orders]
    if not lines:
        return
    path = kill_orders_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, ("\n".join(lines) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class KillOrderReader:
    """The lines a bot has not read yet; one ``stat`` a cycle when there are none.

    A line cut short by a crash mid-write is left until it is whole (the
    next append completes nothing, so such a line is skipped once it is
    followed by a newline and does not parse)."""

    def __init__(self, data_dir: str | Path) -> None:
        self._path = kill_orders_path(data_dir)
        self._offset = 0

    def read_new(self) -> list[KillOrder]:
        try:
            size = self._path.stat().st_size
        except FileNotFoundError:
            return []
        if size <= self._offset:
            return []
        with self._path.open("rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read(size - self._offset)
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self._offset += end + 1
        out: list[KillOrder] = []
        for line in chunk[: end + 1].splitlines():
            try:
                raw = json.loads(line)
                out.append(
                    KillOrder(
                        client_id=str(raw["client_id"]),
                        symbol=str(raw["symbol"]),
                        side=str(raw["side"]),
                        qty=str(raw["qty"]),
                        ts=int(raw["ts"]),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # a torn or hand-edited line: nothing to adopt from it
        return out
