"""What a failed venue call means, in one table.

*Definitely failed*: the exchange answered no; nothing was placed, and a
transient refusal (rate limit) may be retried with backoff. *Unknown*: the
order may or may not exist; it is never re-sent, only looked up by client id.
*Landed*: a duplicate-id refusal proves an earlier attempt was accepted.
"""

from __future__ import annotations

from enum import StrEnum

from bastion.venues import errors as e


class Outcome(StrEnum):
    FAILED = "definitely_failed"
    FAILED_TRANSIENT = "definitely_failed_transient"
    UNKNOWN = "unknown"
    LANDED = "landed"


# Order matters: the first matching class wins (subclasses before bases).
TABLE: tuple[tuple[type[BaseException], Outcome], ...] = (
    (e.DuplicateClientId, Outcome.LANDED),
    # Not a submit answer; cancels and lookups handle it where it means "gone".
    # Should a venue ever say it of a submit, we do not know what happened.
    (e.OrderNotFound, Outcome.UNKNOWN),
    (e.InsufficientFunds, Outcome.FAILED),
    (e.BadSymbol, Outcome.FAILED),
    (e.InvalidOrder, Outcome.FAILED),
    (e.AuthenticationError, Outcome.FAILED),
    (e.RateLimited, Outcome.FAILED_TRANSIENT),
    (e.TimestampRejected, Outcome.FAILED_TRANSIENT),
    (e.SchemaDrift, Outcome.UNKNOWN),
    (e.UnclassifiedVenueError, Outcome.UNKNOWN),
    (e.VenueTimeout, Outcome.UNKNOWN),
    (e.VenueUnavailable, Outcome.UNKNOWN),
    (e.BadResponse, Outcome.UNKNOWN),
)


def classify(exc: BaseException) -> Outcome:
    """Classify an exception from a submit. Anything unexpected is UNKNOWN."""
    for cls, outcome in TABLE:
        if isinstance(exc, cls):
            return outcome
    return Outcome.UNKNOWN
