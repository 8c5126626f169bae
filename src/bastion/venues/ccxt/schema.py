"""Schema-drift detection: the fields bastion relies on, checked on every answer.

ccxt normalises each exchange's replies into unified dicts; when an exchange
renames or drops a field, the unified value quietly becomes ``None``. These
checks turn that silence into ``SchemaDrift`` naming the object, the field and
what arrived, so the venue stops new exposure instead of trading on garbage.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any

from bastion.venues.errors import SchemaDrift

_STR = (str,)
_NUM = (Real,)

ORDER: Mapping[str, tuple[type, ...]] = {
    "id": _STR,
    "clientOrderId": _STR,
    "symbol": _STR,
    "side": _STR,
    "type": _STR,
    "amount": _NUM,
    "filled": _NUM,
    "status": _STR,
    "timestamp": _NUM,
}
TRADE: Mapping[str, tuple[type, ...]] = {
    "id": _STR,
    "order": _STR,
    "symbol": _STR,
    "side": _STR,
    "amount": _NUM,
    "price": _NUM,
    "timestamp": _NUM,
}
MARKET: Mapping[str, tuple[type, ...]] = {
    "symbol": _STR,
    "base": _STR,
    "quote": _STR,
    "precision": (dict,),
    "limits": (dict,),
}


def check(kind: str, obj: Any, fields: Mapping[str, tuple[type, ...]]) -> None:
    """Raise ``SchemaDrift`` if ``obj`` lacks a field or has the wrong type for one."""
    if not isinstance(obj, dict):
        raise SchemaDrift(f"{kind}: expected an object, got {type(obj).__name__}")
    for name, types in fields.items():
        value = obj.get(name)
        if value is None:
            raise SchemaDrift(f"{kind} {obj.get('id', '?')}: field {name!r} is missing")
        if not isinstance(value, types) or isinstance(value, bool):
            raise SchemaDrift(
                f"{kind} {obj.get('id', '?')}: field {name!r} is {type(value).__name__} "
                f"({value!r}), expected {'/'.join(t.__name__ for t in types)}"
            )


def check_market(market: Any) -> None:
    check("market", market, MARKET)
    precision = market["precision"]
    for name in ("price", "amount"):
        if not isinstance(precision.get(name), Real):
            raise SchemaDrift(
                f"market {market['symbol']}: precision.{name} is {precision.get(name)!r}"
            )


def check_balance(balance: Any) -> None:
    if not isinstance(balance, dict):
        raise SchemaDrift(f"balance: expected an object, got {type(balance).__name__}")
    for name in ("free", "used", "total"):
        if not isinstance(balance.get(name), dict):
            raise SchemaDrift(
                f"balance: field {name!r} is {balance.get(name)!r}, expected an object"
            )


# Fields of an exchange's *raw* balance reply that ccxt's parser treats as
# optional. Binance's ``GET /api/v3/account`` without ``balances`` parses as an
# account holding nothing: equity 0, which the loss rules read as a total loss
# (flatten, halt) and a kill reads as flat. Checked on the raw reply
# (``info``), before ccxt fills in its defaults.
RAW_BALANCE: Mapping[str, Mapping[str, tuple[type, ...]]] = {
    "binance": {"balances": (list,)},
}


def check_raw_balance(exchange_id: str, balance: Any) -> None:
    """Raise ``SchemaDrift`` if the raw balance reply lacks what its parser needs."""
    fields = RAW_BALANCE.get(exchange_id)
    if not fields:
        return
    info = balance.get("info") if isinstance(balance, dict) else None
    if not isinstance(info, dict):
        raise SchemaDrift(f"balance reply: expected an object, got {type(info).__name__}")
    for name, types in fields.items():
        value = info.get(name)
        if value is None:
            raise SchemaDrift(
                f"balance reply: field {name!r} is missing (the account is unknown, not empty)"
            )
        if not isinstance(value, types):
            raise SchemaDrift(
                f"balance reply: field {name!r} is {type(value).__name__}, "
                f"expected {'/'.join(t.__name__ for t in types)}"
            )
