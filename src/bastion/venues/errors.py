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


# --- we do not know what happened --------------------------------------------
class VenueTimeout(VenueError):
    """No answer in time: the request may or may not have been acted on."""


class VenueUnavailable(VenueError):
    """5xx, maintenance, dropped connection."""


class BadResponse(VenueError):
    """An answer we could not parse or that lacks a field we rely on."""
