"""Choosing parameters on a training window, and judging the choice on the
test windows.

- **Choice**: the grid point with the largest value of the metric. A point
  whose metric is undefined (None: a flat run has no Sharpe) or that failed
  ranks below every defined one; a tie goes to the earlier point in grid
  order. No defined value at all: no choice (the fold is skipped, and said).
- **Degradation ratio**: the mean out-of-sample metric over the mean
  in-sample one, over the folds that have both, when the in-sample mean is
  positive (None otherwise: there was no promise to keep). 1 means the test
  windows did as well as training promised; near 0 or negative, they did not.
- **Warnings** (each a sentence in the report and the JSON):
  ``DEGRADED`` when the ratio is below ``DEGRADED_BELOW`` with a positive
  in-sample mean; ``NO_EDGE_IN_SAMPLE`` when the in-sample mean is not
  positive; ``SIGN_FLIP`` when more than half the folds were positive in
  sample and negative out of it; ``UNSTABLE`` when a parameter's chosen value
  changed between more than half of the consecutive folds; ``SKIPPED`` when
  a fold had no choice.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEGRADED_BELOW = 0.5


def defined(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def choose(values: Sequence[float | None]) -> int | None:
    """Index of the best value (first on a tie); None when none is defined."""
    best: int | None = None
    for i, v in enumerate(values):
        if defined(v) and (best is None or float(v) > float(values[best])):  # type: ignore[arg-type]
            best = i
    return best


def stability(chosen: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per parameter: the value chosen in each fold, how many distinct values,
    the most common and its share, and how often it changed between folds."""
    keys = list(dict.fromkeys(k for point in chosen for k in point))
    out: dict[str, dict[str, Any]] = {}
    for key in keys:
        values = [str(point.get(key)) for point in chosen]
        common, count = Counter(values).most_common(1)[0] if values else (None, 0)
        changes = sum(a != b for a, b in itertools.pairwise(values))
        out[key] = {
            "values": values,
            "distinct": len(set(values)),
            "most_common": common,
            "most_common_share": count / len(values) if values else None,
            "changes": changes,
        }
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    degradation_ratio: float | None
    in_sample_mean: float | None
    out_of_sample_mean: float | None
    warnings: list[dict[str, str]]


def judge(
    metric: str,
    in_sample: Sequence[float | None],
    out_of_sample: Sequence[float | None],
    chosen: Sequence[Mapping[str, Any] | None],
) -> Verdict:
    """The degradation ratio and the warnings of a walk-forward (see the module)."""
    pairs = [
        (float(i), float(o))  # type: ignore[arg-type]
        for i, o in zip(in_sample, out_of_sample, strict=True)
        if defined(i) and defined(o)
    ]
    warnings: list[dict[str, str]] = []
    is_mean = sum(i for i, _ in pairs) / len(pairs) if pairs else None
    oos_mean = sum(o for _, o in pairs) / len(pairs) if pairs else None
    # Only against a positive in-sample mean: -3 over -2 is 1.5, and worse, not better.
    ratio = (
        oos_mean / is_mean if is_mean is not None and oos_mean is not None and is_mean > 0 else None
    )
    if is_mean is not None and is_mean <= 0:
        warnings.append(
            {
                "code": "NO_EDGE_IN_SAMPLE",
                "text": f"the best in-sample {metric} averages {is_mean:.3g}: even the chosen "
                "parameters lost in training, so there is no edge to validate",
            }
        )
    elif ratio is not None and ratio < DEGRADED_BELOW:
        warnings.append(
            {
                "code": "DEGRADED",
                "text": f"out-of-sample {metric} averages {oos_mean:.3g} against {is_mean:.3g} "
                f"in sample (ratio {ratio:.2f} < {DEGRADED_BELOW}): the training results "
                "overstate what the strategy does on unseen data",
            }
        )
    flips = sum(i > 0 > o for i, o in pairs)
    if pairs and flips * 2 > len(pairs):
        warnings.append(
            {
                "code": "SIGN_FLIP",
                "text": f"{flips} of {len(pairs)} folds were positive in sample and negative "
                "out of sample",
            }
        )
    picked = [c for c in chosen if c is not None]
    for key, s in stability(picked).items():
        if len(picked) > 2 and s["changes"] * 2 > len(picked) - 1:
            warnings.append(
                {
                    "code": "UNSTABLE",
                    "text": f"parameter {key} changed between {s['changes']} of "
                    f"{len(picked) - 1} consecutive folds ({', '.join(s['values'])}): "
                    "the optimum moves with the data",
                }
            )
    skipped = sum(c is None for c in chosen)
    if skipped:
        warnings.append(
            {
                "code": "SKIPPED",
                "text": f"{skipped} fold(s) had no parameter set with a defined {metric} in "
                "training and were not tested",
            }
        )
    return Verdict(ratio, is_mean, oos_mean, warnings)
