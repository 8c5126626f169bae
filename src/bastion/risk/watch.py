"""Account-level limits checked every cycle: the daily loss cap and the trailing
drawdown cap. A breach answers ``Flatten``: the engine cancels everything,
closes every position and halts in the same cycle.

It runs on every bar, so it is kept to a few float operations: the account
snapshot is unpacked (cash, held quantities) only when it is a new object,
which happens only when the venue state changed; prices are the view's floats.
Equity here is an estimate for a limit check, not money in the ledger.

- Daily loss: equity below ``(1 - daily_loss)`` × the equity at the first check
  of the current daily window. Fires once per window. When the window rolls,
  a halt this rule set (reason DAILY_LOSS, by "risk") is lifted if
  ``resume_next_window``.
- Drawdown: equity below ``(1 - max_drawdown)`` × the highest equity seen. Fires
  once; only an operator's resume lifts the halt.
- An operator's resume (the latch going back to ACTIVE) re-bases both: the day
  start and the peak become the current equity, accepting the loss taken.
"""

from __future__ import annotations

import math
from types import MappingProxyType

from bastion.model import AccountSnapshot
from bastion.model.view import MarketView, SymbolView
from bastion.risk.decisions import Flatten, RiskReason
from bastion.risk.latch import HaltLatch, HaltState
from bastion.risk.limits import LossLimits
from bastion.risk.window import DailyWindow

RISK_ACTOR = "risk"


class AccountWatch:
    def __init__(self, limits: LossLimits) -> None:
        self.limits = limits
        self.window = DailyWindow(limits.timezone, limits.reset_minute)
        self._keep_daily = 1.0 - limits.daily_loss
        self._keep_peak = 1.0 - limits.max_drawdown
        self._account: AccountSnapshot | None = None
        self._cash = 0.0
        self._held: list[tuple[SymbolView | None, float, float]] = []  # (view, qty, entry)
        self.window_start = 0
        self.window_end = -1  # nothing seen yet: the first check opens a window
        self.day_start_equity = 0.0
        self.peak_equity = 0.0
        self.equity = 0.0
        self._daily_fired = False
        self._drawdown_fired = False
        self._last_state = HaltState.ACTIVE
        self._floor = -math.inf

    def _unpack(self, account: AccountSnapshot, view: MarketView) -> None:
        self._account = account
        self._cash = float(account.cash())
        self._held = [
            (view.get(sym), float(pos.qty), float(pos.avg_price))
            for sym, pos in account.account_positions.items()
            if pos.qty
        ]

    def check(
        self, account: AccountSnapshot, view: MarketView, latch: HaltLatch, now: int
    ) -> Flatten | None:
        if account is not self._account:
            self._unpack(account, view)
        equity = self._cash
        for sv, qty, entry in self._held:
            equity += qty * (sv.price if sv is not None and sv.bars else entry)
        self.equity = equity
        if now >= self.window_end or latch.state is not self._last_state:
            self._transition(equity, latch, now)
        if equity > self.peak_equity:
            self.peak_equity = equity
            self._refloor()
        elif equity < self._floor:
            return self._breach(equity, now)
        return None

    def _transition(self, equity: float, latch: HaltLatch, now: int) -> None:
        """A new daily window, or the latch moved (an operator's resume re-bases)."""
        if now >= self.window_end:
            self._roll(equity, latch, now)
        state = latch.state
        if state is not self._last_state:
            if state is HaltState.ACTIVE:
                self.day_start_equity = self.peak_equity = equity
                self._daily_fired = self._drawdown_fired = False
            self._last_state = state
        self._refloor()

    def _refloor(self) -> None:
        """The equity below which a limit is breached: one comparison per check."""
        daily = -math.inf if self._daily_fired else self.day_start_equity * self._keep_daily
        peak = -math.inf if self._drawdown_fired else self.peak_equity * self._keep_peak
        self._floor = max(daily, peak)

    def _breach(self, equity: float, now: int) -> Flatten:
        if not self._daily_fired and equity < self.day_start_equity * self._keep_daily:
            self._daily_fired = True
            self._refloor()
            return self._flatten(RiskReason.DAILY_LOSS, equity, self.day_start_equity, now)
        self._drawdown_fired = True
        self._refloor()
        return self._flatten(RiskReason.MAX_DRAWDOWN, equity, self.peak_equity, now)

    def _roll(self, equity: float, latch: HaltLatch, now: int) -> None:
        first = self.window_end < 0
        self.window_start, self.window_end = self.window.bounds(now)
        self.day_start_equity = equity
        self._daily_fired = False
        if first:
            self.peak_equity = equity
        # A daily-loss halt set in an earlier window (also one restored after a
        # restart) lifts now; one set in this window stays.
        if (
            self.limits.resume_next_window
            and latch.state is HaltState.HALTED
            and latch.reason == RiskReason.DAILY_LOSS.value
            and latch.by == RISK_ACTOR
            and latch.since_ts < self.window_start
        ):
            latch.set(HaltState.ACTIVE, reason="daily window rolled", now=now, by=RISK_ACTOR)

    def _flatten(self, reason: RiskReason, equity: float, ref: float, now: int) -> Flatten:
        daily = reason is RiskReason.DAILY_LOSS
        limit = self.limits.daily_loss if daily else self.limits.max_drawdown
        return Flatten(
            reason=reason,
            details=MappingProxyType(
                {
                    "rule": "daily_loss" if daily else "max_drawdown",
                    "limit": limit,
                    "observed": round(1.0 - equity / ref, 6) if ref > 0 else None,
                    "equity": round(equity, 2),
                    "reference_equity": round(ref, 2),
                    "window_start": self.window_start,
                    "timezone": self.window.timezone,
                    "now": now,
                }
            ),
        )
