"""The store's catalog: one small JSON file saying what each series holds.

``ROOT/catalog.json`` maps ``exchange:symbol:timeframe`` to its rows, span,
gaps (runs of missing bars between stored rows: reported, never filled) and
the span last asked of the exchange. It is rebuilt from the month files after
every write (so it cannot drift from them) and replaced atomically; when it
is missing or damaged, ``bastion data list`` rebuilds it from the files.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bastion.data.gaps import find_gaps
from bastion.data.store import NoBarsStored, SeriesKey, read_series, stored_keys

CATALOG = "catalog.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    key: str
    rows: int
    first_ts: int
    last_ts: int
    gaps: list[dict[str, int]] = field(default_factory=list)  # after_ts, next_ts, missing_bars
    requested: list[int] | None = None  # [start, end) last downloaded

    @property
    def missing_bars(self) -> int:
        return sum(g["missing_bars"] for g in self.gaps)


def _path(root: Path) -> Path:
    return root / CATALOG


def load(root: Path) -> dict[str, Entry]:
    """The catalog; rebuilt from the files when absent or unreadable."""
    try:
        raw = json.loads(_path(root).read_text(encoding="utf-8"))
        return {k: Entry(**v) for k, v in raw["series"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return rebuild(root)


def _save(root: Path, entries: dict[str, Entry]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    body: dict[str, Any] = {
        "version": 1,
        "series": {k: asdict(e) for k, e in sorted(entries.items())},
    }
    tmp = _path(root).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(tmp, _path(root))


def describe(root: Path, key: SeriesKey, requested: list[int] | None = None) -> Entry | None:
    """The entry for ``key`` computed from its files (None when nothing is stored)."""
    try:
        series = read_series(root, key)
    except NoBarsStored:
        return None
    gaps = [
        {"after_ts": g.after_ts, "next_ts": g.next_ts, "missing_bars": g.missing_bars}
        for g in find_gaps(series)
    ]
    return Entry(
        key=str(key),
        rows=len(series),
        first_ts=int(series.ts[0]),
        last_ts=int(series.ts[-1]),
        gaps=gaps,
        requested=requested,
    )


def update(root: Path, key: SeriesKey, requested: list[int] | None = None) -> Entry | None:
    """Recompute ``key``'s entry from its files and save the catalog."""
    entries = load(root)
    old = entries.get(str(key))
    entry = describe(root, key, requested or (old.requested if old else None))
    if entry is None:
        entries.pop(str(key), None)
    else:
        entries[str(key)] = entry
    _save(root, entries)
    return entry


def rebuild(root: Path) -> dict[str, Entry]:
    """Every series' entry from the files; saved when the store exists."""
    entries = {str(k): e for k in stored_keys(root) if (e := describe(root, k)) is not None}
    if root.is_dir():
        _save(root, entries)
    return entries
