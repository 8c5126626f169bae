"""Point a real ccxt Binance client at an emulator.

Every URL in ``exchange.urls['api']`` (REST and, for ccxt.pro, the nested
WebSocket ones) keeps its path and gets the emulator's scheme and host, which
is all the real class needs (see NOTES.md). The options are the ones tests and
paper runs need: spot markets only, no currency or margin calls, and no
automatic resend of a failed request (a resent order is a second order).
"""

from __future__ import annotations

from typing import Any

from bastion.venues.ccxt.client import rewrite_urls

CCXT_OPTIONS: dict[str, Any] = {
    "fetchMarkets": {"types": ["spot"]},
    "fetchCurrencies": False,
    "fetchMargins": False,
    "maxRetriesOnFailure": 0,
}


def point_ccxt(exchange: Any, http_base: str, ws_base: str | None = None) -> Any:
    """Rewrite a ccxt (or ccxt.pro) binance instance's API URLs in place; returns it."""
    exchange.urls["api"] = rewrite_urls(exchange.urls["api"], http_base, ws_base)
    return exchange
