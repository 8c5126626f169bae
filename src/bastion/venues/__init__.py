"""Venues: where orders go. One small port, implemented by the simulated venue
(backtests, paper) and by the ccxt adapter (live)."""

from bastion.venues.errors import (
    BadResponse,
    BadSymbol,
    DuplicateClientId,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    RateLimited,
    SchemaDrift,
    TimestampRejected,
    UnclassifiedVenueError,
    VenueError,
    VenueTimeout,
    VenueUnavailable,
)
from bastion.venues.port import FillReceived, OrderUpdated, Venue, VenueEvent

__all__ = [
    "BadResponse",
    "BadSymbol",
    "DuplicateClientId",
    "FillReceived",
    "InsufficientFunds",
    "InvalidOrder",
    "OrderNotFound",
    "OrderUpdated",
    "RateLimited",
    "SchemaDrift",
    "TimestampRejected",
    "UnclassifiedVenueError",
    "Venue",
    "VenueError",
    "VenueEvent",
    "VenueTimeout",
    "VenueUnavailable",
]
