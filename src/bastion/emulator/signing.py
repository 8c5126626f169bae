"""Binance's request signing, checked the way the exchange checks it.

A signed request carries ``timestamp`` (ms), optionally ``recvWindow`` (ms,
at most 60000, with up to three decimals: Binance takes microseconds there)
and ``signature``: HMAC-SHA256, keyed by the secret, over the
*total params*: the query string followed by the form body, exactly as sent
and without the ``signature`` pair itself. The key goes in ``X-MBX-APIKEY``.
The order of checks is the exchange's: key, then time, then signature, so a
test of one failure is never masked by another.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from bastion.emulator import errors

_KEY_FORMAT = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_SIGNATURE = re.compile(r"(?:^|&)signature=([^&]*)")
MAX_RECV_WINDOW_MS = 60_000
DEFAULT_RECV_WINDOW_MS = 5_000
# Binance refuses a timestamp a second or more ahead of its own clock.
MAX_AHEAD_MS = 1_000


def sign(secret: str, payload: str) -> str:
    """Hex HMAC-SHA256 of ``payload``: what a client computes."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def check_key(headers: Mapping[str, str], keys: Mapping[str, str]) -> str:
    """The secret for the request's API key; -2014 malformed, -2015 unknown."""
    key = headers.get("X-MBX-APIKEY")
    if key is None or not _KEY_FORMAT.match(key):
        raise errors.bad_key_format()
    secret = keys.get(key)
    if secret is None:
        raise errors.bad_key()
    return secret


def verify(
    *,
    query: str,
    body: str,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    keys: Mapping[str, str],
    server_ms: int,
) -> str:
    """Check a SIGNED request; returns the API key, raises ``ApiError`` otherwise."""
    secret = check_key(headers, keys)
    raw_ts = params.get("timestamp")
    if raw_ts is None:
        raise errors.missing_param("timestamp")
    try:
        ts = int(raw_ts)
    except ValueError:
        raise errors.bad_param("timestamp") from None
    window = _recv_window(params.get("recvWindow"))
    if ts >= server_ms + MAX_AHEAD_MS:  # the docs: valid while timestamp < serverTime + 1s
        raise errors.timestamp_ahead(MAX_AHEAD_MS)
    if server_ms - ts > window:
        raise errors.timestamp_outside()
    given = params.get("signature")
    if not given:
        raise errors.missing_param("signature")
    payload = _without_signature(query) + _without_signature(body)
    if not hmac.compare_digest(sign(secret, payload), given.lower()):
        raise errors.bad_signature()
    return headers["X-MBX-APIKEY"]


def _recv_window(raw: str | None) -> Decimal:
    """``recvWindow`` in ms; fractions down to a microsecond are Binance's own."""
    if raw is None:
        return Decimal(DEFAULT_RECV_WINDOW_MS)
    try:
        window = Decimal(raw)
    except InvalidOperation:
        raise errors.bad_param("recvWindow") from None
    if not window.is_finite() or window.as_tuple().exponent < -3:  # type: ignore[operator]
        raise errors.bad_param("recvWindow")
    if window > MAX_RECV_WINDOW_MS or window <= 0:
        raise errors.ApiError(400, -1131, "recvWindow must be less than 60000")
    return window


def _without_signature(raw: str) -> str:
    return _SIGNATURE.sub("", raw)
