"""The ``KILLED`` flag file: a halt that needs no database.

The kill switch writes it into the bot's data folder before anything else; the
bot reads it at start and every cycle and halts when it is there. A plain file
survives what a halt row in SQLite may not: a database that another process
holds locked, or one that is damaged. It is written atomically (temporary file,
fsync, rename), so a reader sees the old content or the new, never half.

Imports nothing from bastion: the bot and the kill switch both read it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

FLAG_FILE = "KILLED"


@dataclass(frozen=True, slots=True, kw_only=True)
class KillFlag:
    """What the flag says: why, when (epoch ms) and by whom."""

    reason: str
    ts: int
    by: str


def flag_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / FLAG_FILE


def write_flag(data_dir: str | Path, *, reason: str, ts: int, by: str) -> Path:
    """Create or replace the flag, durably, and return its path."""
    path = flag_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{FLAG_FILE}.{os.getpid()}.tmp")
    body = json.dumps({"reason": reason, "ts": ts, "by": by}).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, body + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself durable, where the OS allows
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def read_flag(data_dir: str | Path) -> KillFlag | None:
    """The flag, or None when there is none.

    A flag that cannot be parsed still halts: its raw text becomes the reason
    (an operator may write one by hand with ``echo reason > KILLED``)."""
    path = flag_path(data_dir)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:  # there, but unreadable: still a kill
        return KillFlag(reason=f"KILLED flag unreadable: {exc.strerror}", ts=0, by="killswitch")
    try:
        raw = json.loads(text)
        return KillFlag(reason=str(raw["reason"]), ts=int(raw["ts"]), by=str(raw["by"]))
    except (ValueError, KeyError, TypeError):
        return KillFlag(reason=text.strip()[:500] or "KILLED", ts=0, by="operator")


def clear_flag(data_dir: str | Path) -> bool:
    """Remove the flag (an operator's resume); True when there was one."""
    try:
        flag_path(data_dir).unlink()
    except FileNotFoundError:
        return False
    return True
