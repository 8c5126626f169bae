"""Secrets never leave the process: one scrubber for logs, alerts, pages and mail.

Two nets. By name: a mapping key that looks like a secret (``secret``,
``password``, ``token``, ``signature``, ``apiKey``...) has its value replaced.
By value: the values of environment variables whose names look like secrets
(``*_SECRET``, ``*_KEY``, ``*_TOKEN``, ``*_PASSWORD``, apprise URL variables)
are replaced wherever they appear in text, and so is a ``signature=`` query
parameter of a signed request. The second net is what catches a secret that
reached an exception message or a URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
_SECRET_NAME = re.compile(
    r"(secret|passw|token|signature|api[_-]?key|apikey|private|credential|auth)", re.I
)
_SECRET_ENV = re.compile(r"(SECRET|_KEY|TOKEN|PASSWORD|PASSWD|_URLS)$")
_SIGNED = re.compile(r"(signature=)[0-9a-fA-F]{16,}", re.I)
_MIN_LEN = 6  # shorter values would mask ordinary words


def env_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if _SECRET_ENV.search(k.upper()) and len(v) >= _MIN_LEN}
    return sorted(values, key=len, reverse=True)


class Redactor:
    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = env_secrets() if secrets is None else secrets

    def text(self, s: str) -> str:
        for v in self.secrets:
            if v in s:
                s = s.replace(v, MASK)
        return _SIGNED.sub(r"\1" + MASK, s)

    def value(self, v: Any, key: str = "") -> Any:
        if key and _SECRET_NAME.search(key) and v not in (None, "", False, True):
            return MASK
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, Mapping):
            return {k: self.value(x, str(k)) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [self.value(x) for x in v]
        return v
