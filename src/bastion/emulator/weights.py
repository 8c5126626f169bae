"""Request-weight accounting, the way Binance meters one IP.

Each endpoint costs a weight (some depend on parameters); weights add up in
the current calendar minute and are reported back in ``X-MBX-USED-WEIGHT-1M``.
Past the limit the exchange answers 429 with ``Retry-After``; a client that
keeps sending while told to wait is banned (418) for ``ban_s``, and a repeat
offender for longer. Bots must back off on the first 429: the ban is what
happens to those that do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bastion.emulator import errors

MINUTE_MS = 60_000

_FIXED: dict[tuple[str, str], int] = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("GET", "/api/v3/klines"): 2,
    ("GET", "/api/v3/trades"): 25,
    ("GET", "/api/v3/aggTrades"): 4,
    ("GET", "/api/v3/ticker/price"): 2,
    ("GET", "/api/v3/avgPrice"): 2,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("POST", "/api/v3/orderList/oco"): 1,
    ("DELETE", "/api/v3/orderList"): 1,
    ("GET", "/api/v3/orderList"): 4,
    ("GET", "/api/v3/openOrderList"): 6,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/account"): 20,
    ("POST", "/api/v3/userDataStream"): 2,
    ("PUT", "/api/v3/userDataStream"): 2,
    ("DELETE", "/api/v3/userDataStream"): 2,
}


def weight_of(method: str, path: str, params: Mapping[str, str]) -> int:
    """Binance's published weight for one request (1 for anything not listed)."""
    has_symbol = "symbol" in params or "symbols" in params
    if path == "/api/v3/depth":
        raw = params.get("limit") or "100"
        limit = int(raw) if raw.isdigit() else 100  # a bad limit is refused later, as -1100
        return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250
    if path == "/api/v3/ticker/bookTicker":
        return 2 if has_symbol else 4
    if path == "/api/v3/ticker/24hr":
        return 2 if has_symbol else 80
    if path == "/api/v3/openOrders":
        return 6 if has_symbol else 80
    return _FIXED.get((method, path), 1)


@dataclass(slots=True)
class WeightMeter:
    """Per-IP weight in the current minute, 429 past ``limit``, 418 for the persistent."""

    limit: int = 6_000
    ban_s: float = 120.0
    # requests tolerated after a 429 (while Retry-After runs) before the ban
    strikes_before_ban: int = 5
    _minute: int = -1
    _used: int = 0
    _strikes: int = 0
    _bans: int = 0
    banned_until_ms: int = 0

    def used(self, now_ms: int) -> int:
        return self._used if now_ms // MINUTE_MS == self._minute else 0

    def charge(self, weight: int, now_ms: int) -> int:
        """Count a request; returns the minute's weight so far or raises 429/418."""
        if now_ms < self.banned_until_ms:
            raise errors.banned(self.banned_until_ms)
        minute = now_ms // MINUTE_MS
        if minute != self._minute:
            self._minute, self._used, self._strikes = minute, 0, 0
        if self._used + weight > self.limit:
            self._strikes += 1
            if self._strikes > self.strikes_before_ban:
                self.ban(now_ms)
                raise errors.banned(self.banned_until_ms)
            raise errors.too_much_weight(self.limit)
        self._used += weight
        return self._used

    def ban(self, now_ms: int, seconds: float | None = None) -> None:
        """Ban this IP; each further ban lasts twice as long, as Binance escalates."""
        self._bans += 1
        span = seconds if seconds is not None else self.ban_s * 2 ** (self._bans - 1)
        self.banned_until_ms = now_ms + int(span * 1000)

    def retry_after_s(self, now_ms: int) -> int:
        """Seconds until a 429 (end of the minute) or a ban lifts, rounded up."""
        until = max(self.banned_until_ms, (now_ms // MINUTE_MS + 1) * MINUTE_MS)
        return max(1, -(-(until - now_ms) // 1000))

    def reset(self) -> None:
        self._minute, self._used, self._strikes, self.banned_until_ms = -1, 0, 0, 0
