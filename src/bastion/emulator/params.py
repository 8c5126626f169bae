"""Reading Binance request parameters, with Binance's refusals for bad ones."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from bastion.emulator import errors


def required(p: Mapping[str, str], name: str) -> str:
    value = p.get(name)
    if not value:
        raise errors.missing_param(name)
    return value


def positive_decimal(p: Mapping[str, str], name: str) -> Decimal:
    try:
        value = Decimal(required(p, name))
    except InvalidOperation:
        raise errors.bad_param(name) from None
    if not value.is_finite() or value <= 0:
        raise errors.bad_param(name)
    return value


def optional_int(p: Mapping[str, str], name: str) -> int | None:
    raw = p.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.bad_param(name) from None
