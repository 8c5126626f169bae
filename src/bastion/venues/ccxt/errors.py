"""ccxt's exceptions, translated once, at the boundary.

The table is ordered: the first class an exception is an instance of wins, so
subclasses come before their bases (``DuplicateOrderId`` is an
``InvalidOrder``; ``RateLimitExceeded`` is a ``NetworkError``). Anything not in
the table, and any exception that is not ccxt's, becomes
``UnclassifiedVenueError`` or ``VenueTimeout``: unknown outcomes, never guesses.
"""

from __future__ import annotations

import asyncio
import re

import ccxt

from bastion.venues import errors as e

TABLE: tuple[tuple[type[BaseException], type[e.VenueError]], ...] = (
    (ccxt.DuplicateOrderId, e.DuplicateClientId),
    (ccxt.OrderNotFound, e.OrderNotFound),
    (ccxt.InsufficientFunds, e.InsufficientFunds),
    (ccxt.BadSymbol, e.BadSymbol),
    (ccxt.InvalidOrder, e.InvalidOrder),
    (ccxt.AuthenticationError, e.AuthenticationError),
    (ccxt.RateLimitExceeded, e.RateLimited),
    (ccxt.DDoSProtection, e.RateLimited),
    (ccxt.InvalidNonce, e.TimestampRejected),
    (ccxt.RequestTimeout, e.VenueTimeout),
    (ccxt.ExchangeNotAvailable, e.VenueUnavailable),
    (ccxt.NetworkError, e.VenueUnavailable),
    (ccxt.BadResponse, e.BadResponse),
    (ccxt.BadRequest, e.InvalidOrder),
)


# Replies that ccxt files under a broader class than what they mean. Binance's
# "Duplicate order sent." (-2010) arrives as a plain InvalidOrder: read as a
# refusal, it would mark an order that *did* land as rejected.
#
# Binance's -2015 ("Invalid API-key, IP, or permissions for action."): after
# one successful private call ccxt raises it as DDoSProtection (it guesses a
# temporary ban). Read as a rate limit, a revoked key or a lost IP whitelist
# would be retried with backoff until the cap; it is a refusal that waiting
# does not cure.
MESSAGES: tuple[tuple[type[BaseException], str, type[e.VenueError]], ...] = (
    (ccxt.InvalidOrder, "Duplicate order sent", e.DuplicateClientId),
    (ccxt.ExchangeError, "Duplicate order sent", e.DuplicateClientId),
    (ccxt.DDoSProtection, '"code":-2015', e.AuthenticationError),
)


# ccxt's messages quote the request: ``binance GET https://host/api/v3/account?
# timestamp=...&signature=...``. A signed query string replayed within its
# receive window is a valid request, so no query string leaves this module;
# nor does anything that looks like a credential (a key header, a
# ``signature``/``apiKey``/``listenKey`` parameter wherever it appears).
_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#\"']*)\?[^\s\"'#]*", re.IGNORECASE)
_SECRET = re.compile(
    r"(signature|api[_-]?key|apikey|secret|listenkey|x-mbx-apikey|token)"
    r"(\W{1,3})[A-Za-z0-9+/=_.:-]{6,}",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` without query strings or credential-looking values."""
    return _SECRET.sub(r"\1\2<redacted>", _QUERY.sub(r"\1?<redacted>", text))


def _text(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")


def translate(exc: BaseException, retry_after_s: float | None = None) -> e.VenueError:
    """The bastion error for a foreign exception (raise it ``from exc``).

    The message is redacted (``redact``): it ends up in the journal, the logs
    and the operator's terminal."""
    if isinstance(exc, e.VenueError):
        return exc
    for foreign, text, ours_by_text in MESSAGES:
        if isinstance(exc, foreign) and text in str(exc):
            return ours_by_text(_text(exc))
    if isinstance(exc, asyncio.CancelledError | TimeoutError):
        return e.VenueTimeout(f"our own wait ended before the venue answered: {type(exc).__name__}")
    for foreign, ours in TABLE:
        if isinstance(exc, foreign):
            message = _text(exc)
            if ours is e.RateLimited:
                return e.RateLimited(message, retry_after_s)
            return ours(message)
    return e.UnclassifiedVenueError(_text(exc))
