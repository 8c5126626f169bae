"""Breakdown figures: risk verdicts, monthly returns, buy and hold."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.model import BarSeries
from bastion.observe.breakdown import buy_and_hold, monthly_returns, verdicts

DAY = 86_400_000


def test_not_approved_counts_only_rejections_and_resizes_are_apart() -> None:
    decisions = {"APPROVED": 10, "MAX_ORDER": 4, "HALTED": 2, "VOLUME_SHARE": 3}
    resized = {"MAX_ORDER": 4, "VOLUME_SHARE": 1}

    v = verdicts(decisions, resized)

    assert v["not_approved"] == 4  # HALTED 2 + VOLUME_SHARE 2 rejected
    assert v["rejected"] == {"HALTED": 2, "VOLUME_SHARE": 2}
    assert v["resized"] == {"MAX_ORDER": 4, "VOLUME_SHARE": 1}
    assert v["resized_total"] == 5
    assert v["approved"] == 10


def test_monthly_returns_chain_from_month_end_to_month_end() -> None:
    ts = np.array([0, 30 * DAY, 31 * DAY, 58 * DAY], dtype=np.int64)  # Jan 1, Jan 31, Feb 1, Feb 28
    eq = np.array([100.0, 110.0, 120.0, 99.0])

    r = monthly_returns(ts, eq, 100.0, DAY)

    assert list(r) == ["1970-01", "1970-02"]
    assert r["1970-01"] == pytest.approx(0.10)
    assert r["1970-02"] == pytest.approx(99.0 / 110.0 - 1)


def test_a_mark_belongs_to_the_month_of_its_bars_last_millisecond() -> None:
    minute = 60_000
    feb = 31 * DAY  # 1970-02-01 00:00 UTC
    # The bar opened at 23:59 on Jan 31 ends at midnight: it is January's last mark.
    ts = np.array([feb - 2 * minute, feb - minute, feb], dtype=np.int64)
    eq = np.array([101.0, 102.0, 104.0])

    r = monthly_returns(ts, eq, 100.0, minute)

    assert r == {"1970-01": 102.0 / 100.0 - 1.0, "1970-02": 104.0 / 102.0 - 1.0}
    assert monthly_returns(ts[:0], eq[:0], 100.0, minute) == {}


def test_buy_and_hold_splits_cash_equally_at_the_first_open() -> None:
    def series(sym: str, opens: list[float], closes: list[float]) -> BarSeries:
        n = len(opens)
        a = np.array(opens)
        ts = np.arange(n, dtype=np.int64) * DAY
        return BarSeries(
            symbol=sym, interval_ms=DAY, ts=ts, open=a, high=a, low=a,
            close=np.array(closes), volume=np.ones(n),
        )  # fmt: skip

    curve = buy_and_hold(
        [series("A/USDT", [10, 11], [11, 12]), series("B/USDT", [100, 90], [90, 80])],
        np.array([0, DAY], dtype=np.int64),
        1_000.0,
    )

    assert curve.tolist() == pytest.approx([50 * 11 + 5 * 90, 50 * 12 + 5 * 80])
