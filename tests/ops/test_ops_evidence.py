"""The evidence core on hand-made journal events: what blocks a promotion."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bastion.promotion.evidence import DAY_MS, Rules, assess
from bastion.state.stage import Stage

HOUR = 3_600_000
T0 = 1_767_225_600_000
PAPER_RULES = Rules(days=2, max_gap_ms=3 * HOUR)
LIVE_RULES = Rules(
    days=2, max_gap_ms=3 * HOUR, adverse_move=Decimal("0.05"), adverse_loss=Decimal("0.02")
)


def _run(stage: str, mode: str, hours: int, *, start: int = T0, marks=None, equity=None):
    """Events of one start at ``stage`` in ``mode`` and ``hours`` hourly cycles."""
    out = [
        {"kind": "stage_changed", "ts": start, "stage": stage},
        {"kind": "session_start", "ts": start},
        {"kind": "run_stage", "ts": start, "stage": stage, "mode": mode},
    ]
    for h in range(hours):
        mark = marks(h) if marks else 100
        eq = equity(h) if equity else 10_000
        out.append(
            {"kind": "cycle_stats", "ts": start + h * HOUR, "marks": {"X/Y": str(mark)},
             "equity": str(eq)}
        )  # fmt: skip
    return out


def test_enough_quiet_paper_is_evidence() -> None:
    ev = assess(_run("paper", "paper", 49), Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER)
    assert ev.ok and ev.running_days == 2


def test_an_unresolved_order_and_an_unexplained_delta_block_it() -> None:
    events = _run("paper", "paper", 60)
    events.insert(10, {"kind": "order_unresolved", "ts": T0 + 5 * HOUR, "client_id": "c1"})
    events.insert(
        20,
        {"kind": "reconcile_delta", "ts": T0 + 9 * HOUR, "asset": "BTC", "delta": "0.5",
         "explained": False},
    )  # fmt: skip

    ev = assess(events, Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER)

    assert not ev.ok
    assert any("1 order(s) went unresolved during paper: c1" in m for m in ev.missing)
    assert any("unexplained reconciliation delta" in m and "BTC 0.5" in m for m in ev.missing)


def test_paper_evidence_of_an_earlier_stage_period_does_not_count() -> None:
    back = T0 + 3 * DAY_MS
    demoted = [{"kind": "stage_changed", "ts": back - 1, "stage": "live-small"}]
    events = _run("paper", "paper", 60) + demoted + _run("paper", "paper", 5, start=back)
    ev = assess(events, Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER)
    assert not ev.ok and ev.running_days < 1  # the stage was re-entered: only the last period


def test_live_needs_an_adverse_day_survived_without_a_breach() -> None:
    calm = assess(_run("live-small", "live", 72), Stage.LIVE, LIVE_RULES, Stage.LIVE_SMALL)
    assert not calm.ok and "no adverse day" in calm.missing[-1]

    def crash(h: int) -> float:
        return 100 - min(h, 6) * 2  # -12% in the first day

    survived = assess(
        _run("live-small", "live", 72, marks=crash), Stage.LIVE, LIVE_RULES, Stage.LIVE_SMALL
    )
    assert survived.ok and survived.adverse_days == ("2026-01-01",)

    breached_events = _run("live-small", "live", 72, marks=crash)
    breached_events.insert(8, {"kind": "latch", "ts": T0 + 5 * HOUR, "state": "HALTED",
                               "by": "risk", "reason": "DAILY_LOSS"})  # fmt: skip
    breached = assess(breached_events, Stage.LIVE, LIVE_RULES, Stage.LIVE_SMALL)
    assert not breached.ok and breached.breached_days == ("2026-01-01",)
    assert "adverse days with a limit breach: 2026-01-01" in breached.missing[-1]


def test_an_equity_loss_past_the_threshold_is_an_adverse_day() -> None:
    def loss(h: int) -> int:
        return 10_000 - 50 * min(h, 6)  # -3%

    ev = assess(
        _run("live-small", "live", 50, equity=loss), Stage.LIVE, LIVE_RULES, Stage.LIVE_SMALL
    )
    assert ev.adverse_days == ("2026-01-01",)


def test_a_folder_at_the_wrong_stage_is_refused_whatever_the_journal() -> None:
    ev = assess(_run("paper", "paper", 72), Stage.LIVE, LIVE_RULES, Stage.PAPER)
    assert "the stage is paper: live is reached from live-small only" in ev.missing


@given(st.lists(st.integers(min_value=1, max_value=6 * HOUR), min_size=1, max_size=60))
def test_running_time_counts_only_the_gaps_up_to_the_limit(gaps: list[int]) -> None:
    events = _run("paper", "paper", 0)
    ts = T0
    for gap in [0, *gaps]:
        ts += gap
        events.append({"kind": "cycle_stats", "ts": ts, "marks": {}})

    ev = assess(events, Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER)

    expected = sum(g for g in gaps if g <= PAPER_RULES.max_gap_ms)
    assert abs(ev.running_days * DAY_MS - expected) < 1e-6
    assert ev.running_days * DAY_MS <= ts - T0 + 1e-6


def test_paper_running_from_before_the_ladder_counts_as_paper() -> None:
    legacy = [
        {"kind": "session_start", "ts": T0},
        {"kind": "paper_book", "ts": T0, "continued": False},
    ] + [{"kind": "cycle_stats", "ts": T0 + h * HOUR, "marks": {}} for h in range(49)]
    upgraded = _run("paper", "paper", 2, start=T0 + 49 * HOUR)  # first start after the upgrade

    ev = assess(legacy + upgraded, Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER)

    assert ev.ok and ev.running_days == 49 / 24  # 48 hours before, 1 after the upgrade
    live_then = [{"kind": "session_start", "ts": T0}, *legacy[2:]]  # no paper_book: not paper
    assert not assess(live_then, Stage.LIVE_SMALL, PAPER_RULES, Stage.PAPER).ok
