"""Point a real ccxt Binance client at an emulator.

Every URL in ``exchange.urls['api']`` (REST and, for ccxt.pro, the nested
WebSocket ones) keeps its path and gets the emulator's scheme and host, which
is all the real class needs (see NOTES.md). The options are the ones tests and
paper runs need: spot markets only, no currency or margin calls, and no
automatic resend of a failed request (a resent order is a second order).
"""

from __future__ import annotations

import re
from typing import Any

_ORIGIN = re.compile(r"^[a-z]+://[^/]+")

CCXT_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "maxRetriesOnFailure": 0,
}


def rewrite_urls(urls: Any, http_base: str, ws_base: str) -> Any:
    """``urls`` with every origin replaced: ``http(s)`` → ``http_base``, ``ws(s)`` → ``ws_base``."""
    if isinstance(urls, dict):
        return {k: rewrite_urls(v, http_base, ws_base) for k, v in urls.items()}
    if isinstance(urls, str):
        base = ws_base if urls.startswith("ws") else http_base
        return _ORIGIN.sub(base, urls)
    return urls


def point_ccxt(exchange: Any, http_base: str, ws_base: str | None = None) -> Any:
    """Rewrite a ccxt (or ccxt.pro) binance instance's API URLs in place; returns it."""
    ws = ws_base or http_base.replace("http", "ws", 1)
    exchange.urls["api"] = rewrite_urls(exchange.urls["api"], http_base, ws)
    return exchange
