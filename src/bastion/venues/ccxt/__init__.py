"""The ccxt venue: live trading through any ccxt exchange."""

from bastion.venues.ccxt.client import Credentials, make_exchange, rewrite_urls
from bastion.venues.ccxt.venue import CcxtVenue

__all__ = ["CcxtVenue", "Credentials", "make_exchange", "rewrite_urls"]
