"""Decimal helpers: how a float observation becomes money.

Prices arrive from data files and feeds as floats or strings. ``to_decimal``
uses the shortest round-tripping repr of a float, so ``0.1`` becomes
``Decimal("0.1")`` and not the binary expansion; strings and ints are exact.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    """Exact Decimal for str/int/Decimal; shortest-repr Decimal for a float."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        # float.__repr__, not repr(): a NumPy float64 is a float whose own repr
        # is "np.float64(...)".
        return Decimal(float.__repr__(value))
    return Decimal(value)


def quantize_down(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` toward zero to a multiple of ``step`` (sizes: never round up)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_DOWN) * step


def quantize_nearest(value: Decimal, step: Decimal) -> Decimal:
    """Round ``value`` to the nearest multiple of ``step`` (prices: banker's rounding)."""
    if step <= 0:
        return value
    return (value / step).to_integral_value(rounding=ROUND_HALF_EVEN) * step
