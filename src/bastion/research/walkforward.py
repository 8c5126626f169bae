"""``bastion walkforward``: choose parameters on each training window, run the
choice on the unseen test window after it, and judge the lot.

Per fold: every grid point (or, with ``search = "optuna"``, the points
Optuna's sampler proposes; see ``search``) is backtested on the training
window (all folds' training runs go to the executor at once), the best by the
metric is chosen (``select.choose``), and that point is backtested on the
test window. Each
run's indicators are warmed from the bars just before its window, exactly as
a live bot warms up, and each window starts flat with the config's cash: a
fold is judged on what the parameters do, not on a position inherited from
the fold before. The bars a run saw (warm-up included) are recorded, so the
report and the test can show no test bar reached a training run.

Regimes in a walk-forward are labelled once over the whole data (the trend
rule is trailing, and the volatility threshold is the whole file's quantile),
so that every fold is labelled alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.config import BotConfig
from bastion.engine.inputs import window
from bastion.observe.breakdown import buy_and_hold
from bastion.observe.stats import summarize
from bastion.research.cluster import Executor, Row
from bastion.research.folds import Fold, make_folds, stitch
from bastion.research.grid import Point, expand
from bastion.research.regimes import Labels, RegimeRules, label_regimes, regime_breakdown
from bastion.research.runner import DataSpec, Task, load_data
from bastion.research.search import Evaluated, grid_search, optuna_search
from bastion.research.select import choose, judge, stability

SHOWN = ("final_equity", "total_return", "sharpe", "max_drawdown", "win_rate", "round_trips")
Status = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class WalkSpec:
    config: BotConfig
    data: DataSpec
    grid: dict[str, list[Any]]
    train_ms: int
    test_ms: int
    anchored: bool = False
    metric: str = "sharpe"
    search: str = "grid"  # or "optuna": ``trials`` sampled points per fold
    trials: int = 100
    seed: int = 0
    strategy: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    base_dir: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(slots=True)
class WalkResult:
    report: dict[str, Any]  # JSON-ready: folds, stitched, stability, verdict
    oos_ts: npt.NDArray[np.int64]
    oos_equity: npt.NDArray[np.float64]
    oos_fold: npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class _Market:
    """The whole data's timeline, its equal-weight buy-and-hold line, and the
    regime labels of every bar on it (labelled once, so folds agree)."""

    timeline: npt.NDArray[np.int64]
    line: npt.NDArray[np.float64]
    interval: int
    rules: RegimeRules
    labels: Labels

    @classmethod
    def of(cls, spec: WalkSpec) -> _Market:
        series = [window(s, spec.start_ms, spec.end_ms) for s in load_data(spec.data).values()]
        if not series:
            raise ValueError("--data: no bars")
        timeline = np.unique(np.concatenate([s.ts for s in series]))
        interval = min(s.interval_ms for s in series)
        line = buy_and_hold(series, timeline, 1.0)
        rules = RegimeRules.from_config(spec.config.research.regimes)
        return cls(timeline, line, interval, rules, label_regimes(timeline, line, interval, rules))

    def breakdown(
        self,
        ts: npt.NDArray[np.int64],
        equity: npt.NDArray[np.float64],
        initial: float,
        trips: Sequence[tuple[int, float]],
    ) -> dict[str, Any]:
        """A curve on (part of) the timeline, broken down by the whole data's labels."""
        idx = np.clip(np.searchsorted(self.timeline, ts), 0, self.timeline.size - 1)
        idx = idx.astype(np.int64)
        lab = self.labels
        return regime_breakdown(
            equity_ts=ts,
            equity=equity,
            initial_equity=initial,
            market=self.line[idx],
            labels=Labels(lab.trend[idx], lab.vol[idx], lab.trend_return[idx],
                          lab.realised_vol[idx], lab.vol_threshold),
            interval_ms=self.interval,
            rules=self.rules,
            trips=trips,
        )  # fmt: skip


def _task(spec: WalkSpec, index: int, point: Point, start: int, end: int, keep: bool) -> Task:
    return Task(
        index=index,
        point=point,
        config=spec.config.model_dump(mode="json"),
        data=spec.data,
        strategy=spec.strategy,
        params=spec.params,
        base_dir=spec.base_dir,
        start_ms=start,
        end_ms=end,
        keep_equity=keep,
    )


def _figures(row: Row | None) -> dict[str, Any] | None:
    if row is None or row["status"] != "ok":
        return None
    s = row["summary"]
    return {k: s.get(k) for k in SHOWN}


def run_walkforward(spec: WalkSpec, executor: Executor, status: Status | None = None) -> WalkResult:
    say = status or (lambda _text: None)
    market = _Market.of(spec)
    folds = make_folds(
        int(market.timeline[0]),
        int(market.timeline[-1]) + market.interval,
        train_ms=spec.train_ms,
        test_ms=spec.test_ms,
        anchored=spec.anchored,
    )
    evaluated = _train(spec, folds, executor, say)
    chosen: list[Point | None] = []
    best_rows: list[Row | None] = []
    for pairs in evaluated:
        best = choose([(r.get("summary") or {}).get(spec.metric) for _p, r in pairs])
        chosen.append(None if best is None else pairs[best][0])
        best_rows.append(None if best is None else pairs[best][1])
    test_tasks = [
        _task(spec, f.index, c, f.test_start, f.test_end, True)
        for f, c in zip(folds, chosen, strict=True)
        if c is not None
    ]
    say(f"{len(test_tasks)} out-of-sample runs with the chosen parameters")
    test_rows = {r["index"]: r for r in executor.run(test_tasks)}
    cash = float(spec.config.backtest.cash)
    fold_reports = []
    curves = []
    fold_of: list[npt.NDArray[np.int64]] = []
    all_trips: list[tuple[int, float]] = []
    for f, c, best_row, pairs in zip(folds, chosen, best_rows, evaluated, strict=True):
        test = test_rows.get(f.index)
        rows = [r for _p, r in pairs]
        fold_reports.append(_fold_report(spec, f, c, rows, best_row, test, market))
        if test is not None and test["status"] == "ok":
            curves.append((test["equity_ts"], test["equity"], cash))
            fold_of.append(np.full(len(test["equity"]), f.index, dtype=np.int64))
            all_trips.extend(test.get("trips", []))
    oos_ts, oos_eq = stitch(curves, cash)
    stitched = _stitched(oos_ts, oos_eq, cash, all_trips, market)
    verdict = judge(
        spec.metric,
        [(fr["in_sample"] or {}).get(spec.metric) for fr in fold_reports],
        [(fr["out_of_sample"] or {}).get(spec.metric) for fr in fold_reports],
        chosen,
    )
    report = {
        "metric": spec.metric,
        "search": spec.search,
        "trials": spec.trials if spec.search == "optuna" else None,
        "train_ms": spec.train_ms,
        "test_ms": spec.test_ms,
        "anchored": spec.anchored,
        "grid": spec.grid,
        "folds": fold_reports,
        "stitched": stitched,
        "stability": stability([c for c in chosen if c is not None]),
        "degradation_ratio": verdict.degradation_ratio,
        "in_sample_mean": verdict.in_sample_mean,
        "out_of_sample_mean": verdict.out_of_sample_mean,
        "warnings": verdict.warnings,
        "regime_rules": asdict(market.rules),
    }
    fold_ids = np.concatenate(fold_of) if fold_of else np.empty(0, dtype=np.int64)
    return WalkResult(report, oos_ts, oos_eq, fold_ids)


def _train(spec: WalkSpec, folds: list[Fold], executor: Executor, say: Status) -> list[Evaluated]:
    """The training runs of every fold: the whole grid, or Optuna's trials."""

    def make(fold: Fold, index: int, point: Point) -> Task:
        return _task(spec, index, point, fold.train_start, fold.train_end, False)

    size = len(expand(spec.grid))
    if spec.search == "optuna":
        say(f"{len(folds)} folds × {spec.trials} Optuna trials over {size:,} grid points")
        return optuna_search(
            spec.grid, folds, executor, make, metric=spec.metric, trials=spec.trials,
            seed=spec.seed,
        )  # fmt: skip
    say(f"{len(folds)} folds × {size:,} grid points: {len(folds) * size:,} training runs")
    return grid_search(spec.grid, folds, executor, make)


def _fold_report(
    spec: WalkSpec,
    fold: Fold,
    chosen: Point | None,
    rows: Sequence[Row],
    best: Row | None,
    test: Row | None,
    market: _Market,
) -> dict[str, Any]:
    ins, oos = _figures(best), _figures(test)
    a = (ins or {}).get(spec.metric)
    b = (oos or {}).get(spec.metric)
    ratio = b / a if isinstance(a, float) and isinstance(b, float) and a > 0 else None
    seen_train = [r for r in rows if r["status"] == "ok"]
    out: dict[str, Any] = {
        "index": fold.index,
        "train": [fold.train_start, fold.train_end],
        "test": [fold.test_start, fold.test_end],
        "chosen": chosen,
        "in_sample": ins,
        "out_of_sample": oos,
        "ratio": ratio,
        "train_seen": [
            min((r["seen_start_ts"] for r in seen_train), default=None),
            max((r["seen_end_ts"] for r in seen_train), default=None),
        ],
        "test_seen": None if test is None or test["status"] != "ok" else
        [test["seen_start_ts"], test["seen_end_ts"]],
        "grid": [
            {"point": r["point"], spec.metric: (r.get("summary") or {}).get(spec.metric),
             "status": r["status"], "error": r.get("error")}
            for r in rows
        ],
        "failed": sum(r["status"] != "ok" for r in rows),
        "test_error": None if test is None else test.get("error"),
        "regimes": None,
    }  # fmt: skip
    if test is not None and test["status"] == "ok":
        out["regimes"] = market.breakdown(
            test["equity_ts"], test["equity"], float(spec.config.backtest.cash),
            test.get("trips", []),
        )  # fmt: skip
    return out


def _stitched(
    ts: npt.NDArray[np.int64],
    eq: npt.NDArray[np.float64],
    cash: float,
    trips: Sequence[tuple[int, float]],
    market: _Market,
) -> dict[str, Any] | None:
    if eq.size == 0:
        return None
    s = summarize(
        equity_ts=ts,
        equity=eq,
        interval_ms=market.interval,
        trips=[],
        exposure_bars=0,
        bars=int(eq.size),
        initial_equity=cash,
        fees=0.0,
    )
    pnl = [p for _t, p in trips]
    return {
        "final_equity": s["final_equity"],
        "total_return": s["total_return"],
        "sharpe": s["sharpe"],
        "max_drawdown": s["max_drawdown"],
        "round_trips": len(pnl),
        "win_rate": sum(p > 0 for p in pnl) / len(pnl) if pnl else None,
        "start_ts": s["start_ts"],
        "end_ts": s["end_ts"],
        "regimes": market.breakdown(ts, eq, cash, trips),
    }
