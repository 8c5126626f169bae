"""The account watch: daily loss cap and trailing drawdown, checked every cycle;
the daily window opens at a local time in an IANA zone and follows DST."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from risk_factories import account, view

from bastion.risk import DailyWindow, HaltLatch, HaltState, LossLimits, RiskReason
from bastion.risk.watch import AccountWatch

BTC = "BTC/USDT"
HOUR = 3_600_000


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


class Harness:
    """One BTC position marked by the view; cash fixed, so equity moves with price."""

    def __init__(
        self, limits: LossLimits | None = None, *, btc: str = "1", cash: str = "0"
    ) -> None:
        self.watch = AccountWatch(limits or LossLimits())
        self.latch = HaltLatch()
        self.market = view({BTC: 100_000.0})
        self.account = account(cash, {BTC: btc})

    def at(self, now: int, price: float):  # type: ignore[no-untyped-def]
        self.market[BTC].close = price
        return self.watch.check(self.account, self.market, self.latch, now)

    def halt_like_the_engine(self, reason: RiskReason, now: int) -> None:
        self.latch.set(HaltState.HALTED, reason=reason.value, now=now, by="risk")


T0 = ms(2026, 6, 1, 0, 0)


def test_no_flatten_within_the_daily_limit() -> None:
    h = Harness()

    assert h.at(T0, 100_000.0) is None
    assert h.at(T0 + HOUR, 95_500.0) is None  # -4.5%


def test_daily_loss_breach_answers_flatten_with_the_details_once() -> None:
    h = Harness()
    h.at(T0, 100_000.0)

    action = h.at(T0 + HOUR, 94_000.0)
    again = h.at(T0 + 2 * HOUR, 93_000.0)

    assert action is not None and action.reason is RiskReason.DAILY_LOSS
    assert action.details["observed"] == pytest.approx(0.06)
    assert action.details["limit"] == 0.05
    assert action.details["window_start"] == T0
    assert again is None  # fired once for this window


def test_equity_follows_the_view_with_the_same_account_object() -> None:
    h = Harness()
    h.at(T0, 100_000.0)
    h.at(T0 + 1, 97_000.0)

    assert h.watch.equity == pytest.approx(97_000.0)


def test_drawdown_from_the_peak_answers_flatten_across_days() -> None:
    h = Harness(LossLimits(daily_loss=0.05, max_drawdown=0.10))
    h.at(T0, 100_000.0)
    h.at(T0 + 10 * HOUR, 110_000.0)  # peak
    h.at(T0 + 30 * HOUR, 104_000.0)  # next day opens at 104,000 (-5.5% from peak)

    action = h.at(T0 + 40 * HOUR, 98_900.0)  # -4.9% today, -10.1% from peak

    assert action is not None and action.reason is RiskReason.MAX_DRAWDOWN
    assert action.details["reference_equity"] == 110_000.0


def test_a_daily_loss_halt_lifts_when_the_next_window_opens() -> None:
    h = Harness()
    h.at(T0, 100_000.0)
    assert h.at(T0 + HOUR, 90_000.0) is not None
    h.halt_like_the_engine(RiskReason.DAILY_LOSS, T0 + HOUR)
    h.at(T0 + 2 * HOUR, 90_000.0)

    h.at(T0 + 24 * HOUR - 1, 90_000.0)
    assert h.latch.state is HaltState.HALTED
    h.at(T0 + 24 * HOUR, 90_000.0)

    assert h.latch.state is HaltState.ACTIVE
    assert h.latch.by == "risk"
    assert h.watch.day_start_equity == 90_000.0


def test_a_drawdown_halt_waits_for_an_operator() -> None:
    h = Harness(LossLimits(daily_loss=0.5, max_drawdown=0.1))
    h.at(T0, 100_000.0)
    assert h.at(T0 + HOUR, 85_000.0) is not None
    h.halt_like_the_engine(RiskReason.MAX_DRAWDOWN, T0 + HOUR)

    h.at(T0 + 25 * HOUR, 85_000.0)

    assert h.latch.state is HaltState.HALTED


def test_an_operator_resume_rebases_and_does_not_flatten_again_at_once() -> None:
    h = Harness()
    h.at(T0, 100_000.0)
    h.at(T0 + HOUR, 90_000.0)
    h.halt_like_the_engine(RiskReason.DAILY_LOSS, T0 + HOUR)
    h.at(T0 + 2 * HOUR, 90_000.0)

    h.latch.set(HaltState.ACTIVE, reason="checked", now=T0 + 3 * HOUR, by="alice")
    quiet = h.at(T0 + 3 * HOUR, 89_000.0)
    breach = h.at(T0 + 4 * HOUR, 84_000.0)  # -5.6% from 89,000, the equity at resume

    assert quiet is None
    assert h.watch.day_start_equity == 89_000.0
    assert breach is not None and breach.reason is RiskReason.DAILY_LOSS


def test_a_flat_account_never_breaches() -> None:
    h = Harness(btc="0", cash="100000")
    h.at(T0, 100_000.0)

    assert h.at(T0 + HOUR, 1.0) is None


# -------------------------------------------------------------------- DST
DST_CASES = [
    # zone, a day whose window is 23 or 25 hours long, its opening and its close in UTC
    ("America/New_York", (2026, 3, 8, 12), ms(2026, 3, 8, 5), ms(2026, 3, 9, 4)),  # spring
    ("America/New_York", (2026, 11, 1, 12), ms(2026, 11, 1, 4), ms(2026, 11, 2, 5)),  # fall
    ("Australia/Sydney", (2026, 4, 5, 1), ms(2026, 4, 4, 13), ms(2026, 4, 5, 14)),  # DST ends
    ("Australia/Sydney", (2026, 10, 4, 1), ms(2026, 10, 3, 14), ms(2026, 10, 4, 13)),  # starts
]


@pytest.mark.parametrize(("zone", "inside", "opens", "closes"), DST_CASES)
def test_daily_window_follows_local_midnight_across_dst(
    zone: str, inside: tuple[int, int, int, int], opens: int, closes: int
) -> None:
    window = DailyWindow(zone)

    bounds = window.bounds(ms(*inside))

    assert bounds == (opens, closes)
    assert window.bounds(closes - 1) == (opens, closes)
    assert window.bounds(closes)[0] == closes
    assert window.bounds(opens - 1)[1] == opens


@pytest.mark.parametrize(("zone", "inside", "opens", "closes"), DST_CASES)
def test_daily_loss_resets_at_the_local_window_instant_across_dst(
    zone: str, inside: tuple[int, int, int, int], opens: int, closes: int
) -> None:
    h = Harness(LossLimits(timezone=zone))
    h.at(opens, 100_000.0)
    assert h.at(closes - 1, 97_000.0) is None  # -3%, same window
    h.at(closes, 97_000.0)  # the next window opens here, at 97,000

    later = h.at(closes + HOUR, 93_000.0)  # -4.1% today (-7% from yesterday's open)

    assert h.watch.window_start == closes
    assert later is None


def test_the_window_has_not_reset_one_millisecond_early() -> None:
    zone, _inside, opens, closes = DST_CASES[0]
    h = Harness(LossLimits(timezone=zone))
    h.at(opens, 100_000.0)

    action = h.at(closes - 1, 94_000.0)

    assert action is not None and action.details["window_start"] == opens


def test_a_custom_reset_time_in_local_time() -> None:
    window = DailyWindow("America/New_York", reset_minute=17 * 60)

    start, end = window.bounds(ms(2026, 7, 1, 12))  # 08:00 EDT

    assert (start, end) == (ms(2026, 6, 30, 21), ms(2026, 7, 1, 21))


def test_a_daily_loss_halt_restored_after_a_restart_lifts_only_in_a_later_window() -> None:
    same_day, next_day = Harness(), Harness()
    for h in (same_day, next_day):
        h.halt_like_the_engine(RiskReason.DAILY_LOSS, T0 + HOUR)  # as restored from the store

    same_day.at(T0 + 2 * HOUR, 100_000.0)  # restarted the same day
    next_day.at(T0 + 26 * HOUR, 100_000.0)  # restarted the next day

    assert same_day.latch.state is HaltState.HALTED
    assert next_day.latch.state is HaltState.ACTIVE
