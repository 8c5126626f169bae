"""Which points a walk-forward backtests on each training window: every point
of the grid, or, for a grid too large to run whole, Optuna's TPE sampler over
the same space for ``trials`` points per fold.

With Optuna, each fold has its own study (seeded ``seed + fold``), asked for
``BATCH`` points at a time whatever the cluster's size, so a run repeats
exactly on one worker or fifty; all folds' points of a round go to the
executor together. A point the sampler
proposes again is not run again: its first result is told once more. A point
whose metric is undefined, or that failed, is told as a failed trial. The
choice is then made as for the grid (``select.choose``) over the points
evaluated, in the order they were first evaluated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bastion.research.cluster import Executor, Row
from bastion.research.folds import Fold
from bastion.research.grid import Point, expand
from bastion.research.runner import Task
from bastion.research.select import defined

BATCH = 8  # trials asked per study per round: enough to keep a cluster busy across folds
MakeTask = Callable[[Fold, int, Point], Task]
Evaluated = list[tuple[Point, Row]]  # per fold, in the order first evaluated


def grid_search(
    grid: Mapping[str, Sequence[Any]],
    folds: Sequence[Fold],
    executor: Executor,
    make_task: MakeTask,
) -> list[Evaluated]:
    """Every grid point on every fold's training window, in one go."""
    points = expand(grid)
    tasks = [
        make_task(f, f.index * len(points) + j, p) for f in folds for j, p in enumerate(points)
    ]
    rows = executor.run(tasks)
    return [
        list(zip(points, rows[f.index * len(points) : (f.index + 1) * len(points)], strict=True))
        for f in folds
    ]


def _suggest(trial: Any, key: str, values: Sequence[Any]) -> Any:
    """An evenly spaced list of integers as an integer range (TPE then knows
    that 20 lies between 10 and 30); anything else as a categorical choice."""
    try:
        ints = [int(str(v)) for v in values]
    except ValueError:
        ints = []
    steps = {b - a for a, b in itertools.pairwise(ints)}
    if len(ints) > 2 and len(steps) == 1 and min(steps) > 0:
        chosen = trial.suggest_int(key, ints[0], ints[-1], step=steps.pop())
        return values[ints.index(chosen)]
    return trial.suggest_categorical(key, list(values))


def optuna_search(
    grid: Mapping[str, Sequence[Any]],
    folds: Sequence[Fold],
    executor: Executor,
    make_task: MakeTask,
    *,
    metric: str,
    trials: int,
    seed: int,
) -> list[Evaluated]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    studies = [
        optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed + f.index)
        )
        for f in folds
    ]
    seen: list[dict[tuple[Any, ...], Row]] = [{} for _ in folds]
    order: list[Evaluated] = [[] for _ in folds]
    batch = BATCH
    asked, index = 0, 0
    while asked < trials:
        k = min(batch, trials - asked)
        round_: list[tuple[int, Any, tuple[Any, ...], Point]] = []
        tasks: list[Task] = []
        wanted: dict[int, tuple[int, tuple[Any, ...], Point]] = {}
        for i, (fold, study) in enumerate(zip(folds, studies, strict=True)):
            fresh: set[tuple[Any, ...]] = set()
            for _ in range(k):
                trial = study.ask()
                point = {key: _suggest(trial, key, values) for key, values in grid.items()}
                key = tuple(str(v) for v in point.values())
                round_.append((i, trial, key, point))
                if key not in seen[i] and key not in fresh:
                    fresh.add(key)
                    wanted[index] = (i, key, point)
                    tasks.append(make_task(fold, index, point))
                    index += 1
        for task, row in zip(tasks, executor.run(tasks), strict=True):
            i, key, point = wanted[task.index]
            seen[i][key] = row
            order[i].append((point, row))
        for i, trial, key, _point in round_:
            value: Any = (seen[i][key].get("summary") or {}).get(metric)
            if defined(value):
                studies[i].tell(trial, float(value))
            else:
                studies[i].tell(trial, state=optuna.trial.TrialState.FAIL)
        asked += k
    return order
