"""The ccxt venue: live trading through any ccxt exchange."""

from bastion.venues.ccxt.venue import CcxtVenue, Credentials, rewrite_urls

__all__ = ["CcxtVenue", "Credentials", "rewrite_urls"]
