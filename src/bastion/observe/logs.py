"""Logs: a JSON file in the data folder (rotated) and a readable console.

structlog renders; the standard library's rotating handler writes. Every
record passes the redactor first, so a secret that reached a message, an
exception or a field (an API key, a request signature, a token) is masked in
the file and on the console alike. The level comes from ``--log-level``,
``BASTION_LOG_LEVEL`` or ``[observe.logs] level``, in that order.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog

from bastion.observe.redact import Redactor

LOGGER = "bastion"
LEVELS = ("debug", "info", "warning", "error")
_override: str | None = None
_configured = False


class DailyRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Rolls over at ``maxBytes`` and at every UTC midnight: a day's lines start
    a file of their own, and the folder holds at most ``backupCount + 1``
    files of at most ``maxBytes`` each, however long the bot runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._day = int(time.time() // 86_400)

    def shouldRollover(self, record: logging.LogRecord) -> int:  # noqa: N802 (logging API)
        day = int(record.created // 86_400)
        if day != self._day:
            self._day = day
            return 1 if self.stream is not None and self.stream.tell() > 0 else 0
        return super().shouldRollover(record)


def set_level_override(level: str | None) -> None:
    """``bastion --log-level``: wins over the environment and the config."""
    global _override
    _override = level


def effective_level(configured: str = "info") -> str:
    level = (_override or os.environ.get("BASTION_LOG_LEVEL") or configured).lower()
    if level not in LEVELS:
        raise ValueError(f"log level {level!r}: expected one of {', '.join(LEVELS)}")
    return level


def _redacting(redactor: Redactor) -> Any:
    def processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return {k: redactor.value(v, k if k != "event" else "") for k, v in event.items()}

    return processor


def configure(
    folder: Path | None,
    *,
    level: str = "info",
    file: str = "bastion.log.jsonl",
    max_bytes: int = 10_000_000,
    backups: int = 5,
    console: bool = True,
) -> structlog.stdlib.BoundLogger:
    """Set up the ``bastion`` logger; safe to call again (handlers are replaced)."""
    redactor = Redactor()
    pre: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redacting(redactor),
    ]
    log = logging.getLogger(LOGGER)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    log.setLevel(effective_level(level).upper())
    log.propagate = False
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        fh = DailyRotatingFileHandler(
            folder / file, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        fh.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
                foreign_pre_chain=pre,
            )
        )
        log.addHandler(fh)
    if console:
        ch = logging.StreamHandler(sys.stderr)
        # The console is for a person: warnings and worse, unless --log-level asks for more.
        wanted = logging.getLevelName(effective_level(level).upper())
        ch.setLevel(wanted if _override else max(logging.WARNING, wanted))
        ch.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.dev.ConsoleRenderer(colors=False),
                ],
                foreign_pre_chain=pre,
            )
        )
        log.addHandler(ch)
    global _configured
    _configured = True
    structlog.configure(
        processors=[*pre, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger(LOGGER)  # type: ignore[no-any-return]


def get_logger() -> structlog.stdlib.BoundLogger:
    """The ``bastion`` logger; before ``configure`` it goes to the standard
    library's logger (warnings to stderr), never to structlog's default printer."""
    if _configured:
        return structlog.get_logger(LOGGER)  # type: ignore[no-any-return]
    return structlog.wrap_logger(  # type: ignore[no-any-return]
        logging.getLogger(LOGGER),
        processors=[_redacting(Redactor()), structlog.processors.KeyValueRenderer()],
        wrapper_class=structlog.stdlib.BoundLogger,
    )
