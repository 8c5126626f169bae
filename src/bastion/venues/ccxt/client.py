"""Building a ccxt client the one safe way, for the venue and the feeds alike.

Non-negotiable settings live here so no caller can forget one: spot markets
only (a single ``exchangeInfo`` call on Binance), no currency or margin
look-ups, and ``maxRetriesOnFailure = 0`` whatever the options say — ccxt's
own retry would re-send ``createOrder`` after a network error, a second order.
Keys come from the environment and never show in a repr.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ccxt
import ccxt.pro as ccxtpro

SAFE_OPTIONS: Mapping[str, Any] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "maxRetriesOnFailure": 0,
}


@dataclass(frozen=True, slots=True)
class Credentials:
    """API keys, read from the environment. ``repr`` never shows them."""

    api_key: str
    secret: str

    def __repr__(self) -> str:
        return "Credentials(api_key=***, secret=***)"

    @classmethod
    def from_env(cls, prefix: str = "BASTION") -> Credentials | None:
        key = os.environ.get(f"{prefix}_API_KEY")
        secret = os.environ.get(f"{prefix}_API_SECRET")
        if not key or not secret:
            return None
        return cls(key, secret)


_ORIGIN = re.compile(r"^[a-z]+://[^/]+")


def rewrite_urls(urls: Any, http_base: str, ws_base: str | None = None) -> Any:
    """Point every URL in a ccxt ``urls['api']`` tree elsewhere, paths kept:
    ``http(s)`` origins become ``http_base``, ``ws(s)`` ones ``ws_base`` (by
    default ``http_base`` with its scheme swapped). This is how the real client
    is aimed at the emulator."""
    ws = ws_base or http_base.replace("http", "ws", 1)
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, http_base, ws) for k, v in urls.items()}
    if isinstance(urls, str):
        return _ORIGIN.sub(ws if urls.startswith("ws") else http_base, urls)
    return urls


def make_exchange(
    exchange_id: str,
    *,
    credentials: Credentials | None = None,
    base_url: str | None = None,
    ws_url: str | None = None,
    sandbox: bool = False,
    rate_limit: bool = True,
    timeout_ms: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Any:
    """A ccxt.pro client (REST and WebSocket) for ``exchange_id``, made safe."""
    cls = getattr(ccxtpro, exchange_id, None) or getattr(ccxt.async_support, exchange_id, None)
    if cls is None:
        raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
    config: dict[str, Any] = {
        "enableRateLimit": rate_limit,
        "options": {**SAFE_OPTIONS, **(options or {})},
    }
    if timeout_ms is not None:
        config["timeout"] = timeout_ms
    if credentials is not None:
        config["apiKey"] = credentials.api_key
        config["secret"] = credentials.secret
    ex = cls(config)
    ex.options["maxRetriesOnFailure"] = 0  # whatever the options said: never re-send
    if sandbox:
        ex.set_sandbox_mode(True)
    if base_url:
        ex.urls["api"] = rewrite_urls(ex.urls["api"], base_url, ws_url)
    return ex
