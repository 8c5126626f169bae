"""The bot's data folder: whose it is, and who is running in it.

Two bots in one folder would share a state store, a journal and client ids:
each would read the other's orders as its own. ``FolderLock`` is an
exclusive ``flock`` on ``bot.lock`` held for the life of ``bastion run``; the
file holds the holder's pid, so a second ``run`` can say who is in the way.
The kernel releases the lock when the process dies (even by SIGKILL), so a
stale file never locks anyone out.

``require_bot_folder`` is what operator commands (``halt``, ``resume``,
``kill``) check before acting: a latch written into a folder no bot reads
halts nothing, and printing success then is a lie.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "bot.lock"
# Written only by a bot session (``open_session``): its presence makes a bot folder.
# (``latch.sqlite`` is not proof: an old ``bastion halt`` wrote one wherever it was run.)
BOT_FILES = ("state.sqlite",)


class FolderInUse(RuntimeError):
    """Another process holds the data folder."""


class NotABotFolder(ValueError):
    """The folder is not a bot's data folder (no bot has run there)."""


def is_bot_folder(folder: Path) -> bool:
    """A session has run here, or a ``run`` is starting here (it locks first)."""
    if not folder.is_dir():
        return False
    return all((folder / n).is_file() for n in BOT_FILES) or (folder / LOCK_FILE).is_file()


def require_bot_folder(folder: Path, where: str = "") -> Path:
    """``folder`` if a bot has run there; otherwise ``NotABotFolder`` saying why."""
    origin = f" ({where})" if where else ""
    if not folder.exists():
        raise NotABotFolder(f"{folder}{origin}: no such folder: no bot has run there")
    if not is_bot_folder(folder):
        raise NotABotFolder(
            f"{folder}{origin}: not a bot's data folder (no {' / '.join(BOT_FILES)}): "
            "pass --config of the bot, or --state/--data-dir of its data folder"
        )
    return folder


class FolderLock:
    """An exclusive lock on a data folder, held until ``release`` (or death)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f"pid {holder}" if holder else "another process"
            raise FolderInUse(
                f"{self.path.parent}: the data folder is in use by {who} (a bot is running "
                "there); stop it first, or give this bot its own data_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *_: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(raw) if raw.isdigit() else None
