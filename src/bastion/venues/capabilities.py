"""What each exchange can do for bastion's safety rules, in one table.

The order path's promises (our client id on every order, an order of unknown
outcome looked up by that id and never re-sent) rest on things exchanges do
differently: the parameter that carries the id and its rules, whether an
order can be fetched by it, whether there is a private stream or the venue
must poll, how far back history reaches, which order types rest on the
exchange. The ccxt venue reads this table instead of assuming Binance.

Sources: Binance spot API docs (rest-api.md: ``newClientOrderId``, at most 36
of ``[.A-Z:/a-z0-9_-]``, ``origClientOrderId`` on query and cancel; user data
stream; STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT, OCO) and BTC Markets API v3
(``clientOrderId`` on POST /v3/orders, GET /v3/orders?clientOrderId=...;
no private stream in ccxt.pro; order types Limit, Market, Stop Limit, Take
Profit; trade history only through paging, not a time window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STOP_LIMIT, OCO, POST_ONLY = "stop_limit", "oco", "post_only"


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """One exchange's answers; ``lookup`` is how an order is found by client id:
    ``param`` (a fetch_order parameter), ``scan`` (list open and recent
    orders and match the id: the documented fallback, safe only within
    ``history_days``), or ``none`` (no way to learn an unknown outcome)."""

    exchange_id: str
    client_id_param: str
    client_id_pattern: str
    lookup: str  # param | scan | none
    lookup_param: str = ""
    private_stream: bool
    history_days: int | None  # None: no limit the venue needs to respect
    order_types: frozenset[str]
    trades_since: bool = True  # our trades can be asked for from a time (else: page, filter)

    def client_id_ok(self, client_id: str) -> bool:
        return re.fullmatch(self.client_id_pattern, client_id) is not None

    @property
    def live_refusal(self) -> str | None:
        """Why live trading must not start here, or None: with no way to look an
        order up by our id, an unknown outcome could never be resolved without
        risking a second order."""
        if self.lookup == "none":
            return f"{self.exchange_id} cannot look an order up by client id"
        return None


BINANCE = Capabilities(
    exchange_id="binance",
    client_id_param="newClientOrderId",
    client_id_pattern=r"[.A-Z:/a-z0-9_-]{1,36}",
    lookup="param",
    lookup_param="origClientOrderId",
    private_stream=True,
    history_days=None,
    order_types=frozenset({"market", "limit", POST_ONLY, STOP_LIMIT, OCO}),
)
BTCMARKETS = Capabilities(
    exchange_id="btcmarkets",
    client_id_param="clientOrderId",
    client_id_pattern=r"[A-Za-z0-9_-]{1,36}",
    lookup="scan",
    private_stream=False,
    history_days=90,
    order_types=frozenset({"market", "limit", POST_ONLY}),
    trades_since=False,  # its "after" is a trade-id cursor, not a time
)
# An exchange not in the table is assumed to do nothing beyond the basics:
# no private stream (poll), no lookup by client id (so: no live trading).
_TABLE = {c.exchange_id: c for c in (BINANCE, BTCMARKETS)}


def capabilities(exchange_id: str) -> Capabilities:
    known = _TABLE.get(exchange_id)
    if known is not None:
        return known
    return Capabilities(
        exchange_id=exchange_id,
        client_id_param="clientOrderId",
        client_id_pattern=r"[A-Za-z0-9_-]{1,32}",
        lookup="none",
        private_stream=False,
        history_days=None,
        order_types=frozenset({"market", "limit"}),
    )
