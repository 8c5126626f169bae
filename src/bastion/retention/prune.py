"""Prune recorded market data without losing what retention must keep.

``plan_prune`` decides, file by file, for the recorded days before a date:
a file older than the retention period (``[retention] years``, 7 by default)
may go; a younger one only when an archive that verifies holds it byte for
byte (same path, same sha256). One file that may not go refuses the whole
prune: nothing is deleted, and every refused file is named.

The journal and the state stores are never pruned: they are the seven-year
record itself (append-only; archive them, keep them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from bastion.retention.archive import RECORDED, sha256_of
from bastion.retention.verify import verify_archive


@dataclass(slots=True, kw_only=True)
class PrunePlan:
    cutoff: date  # days before this are past retention
    delete: list[Path] = field(default_factory=list)
    why: dict[Path, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    archive_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused


def retention_cutoff(today: date, years: int) -> date:
    """The first day still inside ``years`` of retention (29 February → 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def plan_prune(
    folder: Path, before: date, *, now_ms: int, years: int, archives: Sequence[Path] = ()
) -> PrunePlan:
    """What pruning the recorded days before ``before`` would delete, or refuse."""
    today = datetime.fromtimestamp(now_ms / 1000, tz=UTC).date()
    plan = PrunePlan(cutoff=retention_cutoff(today, years))
    if before > today:
        plan.refused.append(f"--before {before}: after today ({today}, UTC)")
        return plan
    held: dict[str, tuple[str, str]] = {}  # path in an archive -> (sha256, archive)
    for archive in archives:
        checked = verify_archive(archive)
        if not checked.ok:
            plan.archive_problems.append(
                f"{archive}: does not verify ({checked.problems[0]}); not used"
            )
            continue
        for rel, meta in checked.manifest["files"].items():
            if rel.startswith(f"{RECORDED}/"):
                held.setdefault(rel, (meta["sha256"], archive.name))
    for path in sorted((folder / RECORDED).glob("*/*")):
        if not path.is_file():
            continue
        try:
            day = date.fromisoformat(path.parent.name)
        except ValueError:
            continue  # not a day the recorder wrote
        if day >= before:
            continue
        rel = path.relative_to(folder).as_posix()
        if day < plan.cutoff:
            plan.delete.append(path)
            plan.why[path] = f"past the {years}-year retention"
            continue
        copy = held.get(rel)
        if copy is not None and copy[0] == sha256_of(path):
            plan.delete.append(path)
            plan.why[path] = f"in the verified archive {copy[1]}"
            continue
        where = "an archive holds a different copy" if copy else "in no verified archive"
        plan.refused.append(
            f"{rel}: from {day}, inside the {years}-year retention (days from {plan.cutoff} "
            f"on are kept) and {where}"
        )
    return plan


def apply_prune(plan: PrunePlan) -> int:
    """Delete what ``plan`` allows (nothing when it refused anything); how many files."""
    if not plan.ok:
        return 0
    for path in plan.delete:
        path.unlink()
    for day in {p.parent for p in plan.delete}:
        with contextlib.suppress(OSError):
            day.rmdir()  # only when empty
    return len(plan.delete)
