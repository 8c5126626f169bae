"""What a walk-forward leaves behind: walkforward.json (every figure),
oos_equity.csv (the stitched out-of-sample curve, fold by fold) and
walkforward.html (the report a person reads)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from bastion.research.walkforward import WalkResult


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write_walkforward(
    result: WalkResult, out: Path, title: str = "Walk-forward"
) -> dict[str, Path]:
    from bastion.research.pages import walkforward_page

    out.mkdir(parents=True, exist_ok=True)
    report = _json_safe(result.report)
    summary = out / "walkforward.json"
    summary.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    curve = out / "oos_equity.csv"
    with curve.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "fold", "equity"])
        for t, f, e in zip(
            result.oos_ts.tolist(), result.oos_fold.tolist(), result.oos_equity.tolist(),
            strict=True,
        ):  # fmt: skip
            w.writerow([t, f, f"{e:.6f}"])
    page = out / "walkforward.html"
    page.write_text(
        walkforward_page(
            title=title, report=report, oos_ts=result.oos_ts, oos_equity=result.oos_equity
        ),
        encoding="utf-8",
    )
    return {"summary": summary, "equity": curve, "report": page}
