"""ccxt's exceptions, translated once, at the boundary.

The table is ordered: the first class an exception is an instance of wins, so
subclasses come before their bases (``DuplicateOrderId`` is an
``InvalidOrder``; ``RateLimitExceeded`` is a ``NetworkError``). Anything not in
the table, and any exception that is not ccxt's, becomes
``UnclassifiedVenueError`` or ``VenueTimeout``: unknown outcomes, never guesses.
"""

from __future__ import annotations

import asyncio

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


def translate(exc: BaseException, retry_after_s: float | None = None) -> e.VenueError:
    """The bastion error for a foreign exception (raise it ``from exc``)."""
    if isinstance(exc, e.VenueError):
        return exc
    for foreign, text, ours_by_text in MESSAGES:
        if isinstance(exc, foreign) and text in str(exc):
            return ours_by_text(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, asyncio.CancelledError | TimeoutError):
        return e.VenueTimeout(f"our own wait ended before the venue answered: {type(exc).__name__}")
    for foreign, ours in TABLE:
        if isinstance(exc, foreign):
            message = f"{type(exc).__name__}: {exc}"
            if ours is e.RateLimited:
                return e.RateLimited(message, retry_after_s)
            return ours(message)
    return e.UnclassifiedVenueError(f"{type(exc).__name__}: {exc}")
