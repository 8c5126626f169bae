"""The venue error taxonomy, one class per thing the exchange can say.

Adapters translate foreign exceptions (ccxt's) into these in one table at the
boundary; execution then classifies each as *definitely failed* or *unknown*
in its own table. Keeping the two apart means a new exchange needs only a new
translation, never new safety logic.
"""

from __future__ import annotations


class VenueError(Exception):
    """Base of everything a venue call can raise."""


# --- the exchange answered, and the answer was no ---------------------------
class InvalidOrder(VenueError):
    """The exchange refused the order (bad price, size, post-only would cross...)."""


class InsufficientFunds(InvalidOrder):
    """Not enough balance for the order."""


class BadSymbol(InvalidOrder):
    """The symbol is unknown or not trading."""


class AuthenticationError(VenueError):
    """Keys missing, wrong or without permission."""


class DuplicateClientId(VenueError):
    """An order with this client id already exists: an earlier attempt landed."""


class OrderNotFound(VenueError):
    """The venue has no order with that id."""


class RateLimited(VenueError):
    """Too many requests; ``retry_after_s`` when the venue said how long to wait."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TimestampRejected(VenueError):
    """The venue refused the request's timestamp or nonce (clock skew, recvWindow):
    nothing was placed; retry once our clock is back in line."""


class SchemaDrift(VenueError):
    """An answer lacks a field we rely on, or changed its type: the venue changed
    under us. New exposure stops on that venue until an operator looks."""


# --- we do not know what happened --------------------------------------------
class VenueTimeout(VenueError):
    """No answer in time: the request may or may not have been acted on."""


class VenueUnavailable(VenueError):
    """5xx, maintenance, dropped connection."""


class BadResponse(VenueError):
    """An answer we could not parse or that lacks a field we rely on."""


class UnclassifiedVenueError(VenueError):
    """The venue said something our translation table does not know. Treated as
    *unknown*: we cannot tell whether the order was placed."""
