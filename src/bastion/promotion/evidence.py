"""What the journal proves about a stage: the evidence a promotion needs.

Sans-I/O: ``assess(events, target, rules)`` reads journal events (dicts, in
order) and returns what was found and what is missing; the shell reads the
journal and records the stage. Only the time the bot spent *at its current
stage, in that stage's mode* counts: paper evidence is cycles of a paper run
while the stage was paper; live-small evidence is cycles of a live run while
it was live-small. The stage and the mode come from the journal itself
(``stage_changed``, and ``run_stage`` journaled at every start), so the
evidence cannot be claimed for a run that was something else. A journal of
before the ladder has neither: its paper starts (``paper_book``) count as
paper, and the first start that records the stage ``paper`` keeps them.

Running time is measured from the live loop's ``cycle_stats`` samples (one per
cycle, with marks and equity): each gap between two consecutive samples up to
``max_gap_ms`` counts; a longer gap is downtime and counts nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bastion.state.stage import STAGE_KIND, Stage

RUN_STAGE_KIND = "run_stage"  # journaled at every start: stage, mode, size_scale
DAY_MS = 86_400_000
# The only kinds ``assess`` reads (a years-long journal is mostly others).
KINDS = (
    STAGE_KIND, "session_start", RUN_STAGE_KIND, "cycle_stats", "order_unresolved",
    "recovered", "reconcile_delta", "latch", "flatten",
)  # fmt: skip
# The stage a promotion to ``target`` starts from, and the mode its runs had.
FROM: dict[Stage, tuple[Stage, str]] = {
    Stage.LIVE_SMALL: (Stage.PAPER, "paper"),
    Stage.LIVE: (Stage.LIVE_SMALL, "live"),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """What a promotion asks (``[promotion]``), in the units the journal uses."""

    days: float
    max_gap_ms: int
    adverse_move: Decimal | None = None  # None: no adverse day asked for
    adverse_loss: Decimal | None = None


@dataclass(slots=True)
class _Day:
    first_marks: dict[str, Decimal] = field(default_factory=dict)
    low: dict[str, Decimal] = field(default_factory=dict)
    high: dict[str, Decimal] = field(default_factory=dict)
    first_equity: Decimal | None = None
    low_equity: Decimal | None = None
    breaches: list[str] = field(default_factory=list)

    def mark(self, marks: Mapping[str, Any], equity: Any) -> None:
        for sym, raw in marks.items():
            price = _dec(raw)
            if price is None or price <= 0:
                continue
            self.first_marks.setdefault(sym, price)
            self.low[sym] = min(self.low.get(sym, price), price)
            self.high[sym] = max(self.high.get(sym, price), price)
        eq = _dec(equity)
        if eq is not None and eq > 0:
            if self.first_equity is None:
                self.first_equity = eq
            self.low_equity = eq if self.low_equity is None else min(self.low_equity, eq)

    def move(self) -> Decimal:
        return max(
            ((self.high[s] - self.low[s]) / p for s, p in self.first_marks.items()),
            default=Decimal(0),
        )

    def loss(self) -> Decimal:
        if self.first_equity is None or self.low_equity is None:
            return Decimal(0)
        return (self.first_equity - self.low_equity) / self.first_equity


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """The journal's evidence for a promotion to ``target``."""

    target: Stage
    stage: Stage | None
    running_days: float
    cycles: int
    unresolved: tuple[str, ...]
    unexplained: tuple[str, ...]
    adverse_days: tuple[str, ...]  # survived without a limit breach
    breached_days: tuple[str, ...]  # adverse, with a breach
    missing: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing

    def summary(self) -> dict[str, Any]:
        """Compact, for the journal's ``stage_changed`` and the command's output."""
        return {
            "target": self.target.value,
            "from": None if self.stage is None else self.stage.value,
            "running_days": round(self.running_days, 3),
            "cycles": self.cycles,
            "unresolved": list(self.unresolved),
            "unexplained": list(self.unexplained),
            "adverse_days": list(self.adverse_days),
            "breached_days": list(self.breached_days),
            "missing": list(self.missing),
        }


def assess(
    events: Iterable[Mapping[str, Any]], target: Stage, rules: Rules, stage: Stage | None
) -> Evidence:
    """The evidence in ``events`` for moving from ``stage`` (the folder's) to ``target``."""
    need_stage, need_mode = FROM[target]
    at_stage: Stage | None = None
    mode: str | None = None
    running_ms = 0
    cycles = 0
    prev_ts: int | None = None
    unresolved: dict[str, None] = {}
    unexplained: list[str] = []
    days: dict[str, _Day] = {}
    for e in events:
        kind, ts = e["kind"], int(e["ts"])
        if kind == STAGE_KIND:
            new = Stage(e["stage"])
            if new is not _effective(at_stage, mode):  # only the current stage counts
                running_ms, cycles, prev_ts = 0, 0, None
                unresolved, unexplained, days = {}, [], {}
            at_stage = new
            continue
        if kind == "session_start":
            mode, prev_ts = None, None
            continue
        if kind == RUN_STAGE_KIND:
            mode = e.get("mode")
            continue
        if kind == "paper_book" and mode is None:
            mode = "paper"  # a paper start journaled before run_stage existed
            continue
        if _effective(at_stage, mode) is not need_stage or mode != need_mode:
            continue
        if kind == "cycle_stats":
            cycles += 1
            if prev_ts is not None and 0 < ts - prev_ts <= rules.max_gap_ms:
                running_ms += ts - prev_ts
            prev_ts = ts
            days.setdefault(_day(ts), _Day()).mark(e.get("marks") or {}, e.get("equity"))
        elif kind == "order_unresolved":
            unresolved[str(e.get("client_id"))] = None
        elif kind == "recovered":
            unresolved.update(dict.fromkeys(str(c) for c in e.get("still_unknown") or ()))
        elif kind == "reconcile_delta" and not e.get("explained", False):
            unexplained.append(f"{e.get('asset')} {e.get('delta')} at {_when(ts)}")
        elif _is_breach(e):
            days.setdefault(_day(ts), _Day()).breaches.append(_breach_text(e))
    adverse, breached = _adverse(days, rules)
    running_days = running_ms / DAY_MS
    missing = _missing(
        target, stage, need_stage, running_days, rules, unresolved, unexplained, adverse, breached
    )
    return Evidence(
        target=target,
        stage=stage,
        running_days=running_days,
        cycles=cycles,
        unresolved=tuple(unresolved),
        unexplained=tuple(unexplained),
        adverse_days=tuple(adverse),
        breached_days=tuple(breached),
        missing=tuple(missing),
    )


def _effective(stage: Stage | None, mode: str | None) -> Stage | None:
    """The stage a run counts at: before any stage was recorded (a folder of
    before the ladder), a paper run is paper."""
    if stage is None and mode == "paper":
        return Stage.PAPER
    return stage


def _missing(
    target: Stage,
    stage: Stage | None,
    need_stage: Stage,
    running_days: float,
    rules: Rules,
    unresolved: Mapping[str, None],
    unexplained: list[str],
    adverse: list[str],
    breached: list[str],
) -> list[str]:
    out: list[str] = []
    label = need_stage.value
    if stage is not need_stage:
        now = "not recorded (no paper run yet)" if stage is None else stage.value
        out.append(f"the stage is {now}: {target.value} is reached from {label} only")
    if running_days < rules.days:
        out.append(
            f"{label} running time: {running_days:.1f} days of the {rules.days:g} required "
            f"({rules.days - running_days:.1f} more; cycles more than "
            f"{rules.max_gap_ms / 60_000:g} min apart count as downtime)"
        )
    if unresolved:
        shown = ", ".join(list(unresolved)[:5]) + (" ..." if len(unresolved) > 5 else "")
        out.append(f"{len(unresolved)} order(s) went unresolved during {label}: {shown}")
    if unexplained:
        out.append(
            f"{len(unexplained)} unexplained reconciliation delta(s) during {label} "
            f"(first: {unexplained[0]})"
        )
    if rules.adverse_move is not None and not adverse:
        why = f"; adverse days with a limit breach: {', '.join(breached)}" if breached else ""
        out.append(
            f"no adverse day survived without a limit breach during {label} (a UTC day whose "
            f"price range reached {rules.adverse_move:%} or equity fell "
            f"{rules.adverse_loss or 0:%}){why}"
        )
    return out


def _adverse(days: Mapping[str, _Day], rules: Rules) -> tuple[list[str], list[str]]:
    survived: list[str] = []
    breached: list[str] = []
    if rules.adverse_move is None:
        return survived, breached
    loss_limit = rules.adverse_loss
    for day, d in sorted(days.items()):
        hit = d.move() >= rules.adverse_move or (loss_limit is not None and d.loss() >= loss_limit)
        if hit:
            (breached if d.breaches else survived).append(day)
    return survived, breached


def _is_breach(e: Mapping[str, Any]) -> bool:
    """A limit breach: risk halted or flattened the bot."""
    if e["kind"] == "flatten":
        return True
    return e["kind"] == "latch" and e.get("by") == "risk" and e.get("state") != "ACTIVE"


def _breach_text(e: Mapping[str, Any]) -> str:
    return f"{e['kind']} {e.get('reason')}"


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _dec(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
