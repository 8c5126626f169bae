"""Binance's error replies, as one exception the REST layer turns into JSON.

Each constructor below is one reply the real exchange sends, with its HTTP
status, numeric code and exact message: ccxt maps some replies by code and
some by message text, so the text matters as much as the number.
"""

from __future__ import annotations


class ApiError(Exception):
    """A Binance error reply: ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status = status
        self.code = code
        self.msg = msg

    def body(self) -> dict[str, object]:
        return {"code": self.code, "msg": self.msg}


def timestamp_outside() -> ApiError:
    return ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")


def timestamp_ahead(ahead_ms: int) -> ApiError:
    """A timestamp beyond the server's clock by more than Binance allows."""
    return ApiError(
        400, -1021, f"Timestamp for this request was {ahead_ms}ms ahead of the server's time."
    )


def bad_signature() -> ApiError:
    return ApiError(400, -1022, "Signature for this request is not valid.")


def bad_key_format() -> ApiError:
    return ApiError(401, -2014, "API-key format invalid.")


def bad_key() -> ApiError:
    return ApiError(401, -2015, "Invalid API-key, IP, or permissions for action.")


def missing_param(name: str) -> ApiError:
    return ApiError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def bad_param(name: str) -> ApiError:
    return ApiError(400, -1100, f"Illegal characters found in parameter '{name}'.")


def bad_symbol() -> ApiError:
    return ApiError(400, -1121, "Invalid symbol.")


def filter_failure(name: str) -> ApiError:
    return ApiError(400, -1013, f"Filter failure: {name}")


def insufficient_balance() -> ApiError:
    return ApiError(400, -2010, "Account has insufficient balance for requested action.")


def duplicate_order() -> ApiError:
    return ApiError(400, -2010, "Duplicate order sent.")


def would_take() -> ApiError:
    return ApiError(400, -2010, "Order would immediately match and take.")


def order_does_not_exist() -> ApiError:
    """GET /api/v3/order for an order the exchange never saw."""
    return ApiError(400, -2013, "Order does not exist.")


def unknown_order() -> ApiError:
    """DELETE /api/v3/order for an order that is unknown or no longer open."""
    return ApiError(400, -2011, "Unknown order sent.")


def bad_tif() -> ApiError:
    return ApiError(400, -1115, "Invalid timeInForce.")


def bad_order_type() -> ApiError:
    return ApiError(400, -1116, "Invalid orderType.")


def bad_side() -> ApiError:
    return ApiError(400, -1117, "Invalid side.")


def bad_interval() -> ApiError:
    return ApiError(400, -1120, "Invalid interval.")


def unknown_listen_key() -> ApiError:
    return ApiError(400, -1125, "This listenKey does not exist.")


def too_much_weight(limit: int) -> ApiError:
    return ApiError(
        429,
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    )


def banned(until_ms: int) -> ApiError:
    return ApiError(
        418,
        -1003,
        f"Way too much request weight used; IP banned until {until_ms}. "
        "Please use WebSocket Streams for live updates to avoid bans.",
    )
