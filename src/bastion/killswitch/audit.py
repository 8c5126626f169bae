"""The kill switch's own audit log: one JSON line per kill attempt and alert.

Its own file, not the bot's journal, so that it is written when the bot's
database is the thing that broke. Lines are appended and fsynced; a token is
never written, only whether one was offered and whether it matched.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from bastion.clock import wall_ms

AUDIT_FILE = "killswitch-audit.jsonl"


class AuditLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, event: str, **fields: Any) -> None:
        """Append one line; never raises (an audit failure must not stop a kill)."""
        line = {"ts": wall_ms(), "event": event, **fields}
        data = (json.dumps(line, default=str, separators=(",", ":")) + "\n").encode()
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError:
                pass

    def read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.strip()]
