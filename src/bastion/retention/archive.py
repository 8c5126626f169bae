"""Export a bot's data folder into a dated archive that can be checked byte for byte.

Seven years outlive the code and the SQLite files a bot writes, so an archive
holds what needs neither to read:

    OUT/<bot>-<YYYYMMDD-HHMMSS>Z/
      manifest.json      what is here, the sha256 and size of every file, each
                         table's schema (CREATE statement, schema version), the
                         span the journal covers, the strategy versions
      manifest.sha256    the manifest's own sha256 (a flipped byte there is named too)
      tables/<db>/<table>.parquet    every table of every SQLite file (zstd)
      recorded/<day>/*.parquet       the recorded market data, copied as written
      configs/<name>                 the bot's TOML configs
      strategies/<sha256>.py         strategy sources, named by their content
      files/<path>                   any other file of the folder (KILLED, audit logs)

SQLite files are read from a consistent copy (SQLite's online backup), so a
running bot may be archived. Values keep their stored form: money stays the
exact decimal text the stores hold. Nothing in the data folder is changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bastion.retention.errors import RetentionError

FORMAT = "bastion-archive/1"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
RECORDED = "recorded"
SKIP = {"bot.lock"}  # a lock, not a record
SKIP_SUFFIXES = ("-wal", "-shm", "-journal", ".tmp")  # read through the database itself
BATCH_ROWS = 50_000
_ARROW = {"INTEGER": pa.int64(), "REAL": pa.float64(), "TEXT": pa.string(), "BLOB": pa.binary()}


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategySource:
    """A strategy the bot runs: its id and version hash, and the file of its code."""

    id: str
    version: str
    params: str
    path: Path


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_name(bot: str, now_ms: int) -> str:
    stamp = datetime.fromtimestamp(now_ms / 1000, tz=UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in bot) or "bot"
    return f"{safe}-{stamp}Z"


def write_archive(
    folder: Path,
    out: Path,
    *,
    now_ms: int,
    bot: str,
    configs: Sequence[Path] = (),
    strategies: Sequence[StrategySource] = (),
) -> Path:
    """Archive ``folder`` into a new dated folder under ``out``; its path.

    Written under a temporary name and renamed when complete: an archive that
    exists is whole."""
    target = out / archive_name(bot, now_ms)
    if target.exists():
        raise RetentionError(f"{target}: an archive of that name exists already")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=out))
    try:
        manifest = _fill(folder, work, now_ms=now_ms, configs=configs, strategies=strategies)
        manifest["files"] = {
            rel: {"sha256": sha256_of(work / rel), "bytes": (work / rel).stat().st_size}
            for rel in sorted(_relative_files(work))
        }
        body = json.dumps(manifest, indent=1, sort_keys=True).encode()
        (work / MANIFEST).write_bytes(body)
        (work / MANIFEST_SUM).write_text(f"{hashlib.sha256(body).hexdigest()}  {MANIFEST}\n")
        work.rename(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def _fill(
    folder: Path,
    work: Path,
    *,
    now_ms: int,
    configs: Sequence[Path],
    strategies: Sequence[StrategySource],
) -> dict[str, Any]:
    databases: dict[str, Any] = {}
    others: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if path.name in SKIP or path.name.endswith(SKIP_SUFFIXES):
            continue
        if path.suffix == ".sqlite" and path.parent == folder:
            databases[path.name] = _export_database(path, work / "tables" / path.stem)
        elif rel.startswith(f"{RECORDED}/"):
            _copy(path, work / rel)
        else:
            _copy(path, work / "files" / rel)
            others.append(rel)
    config_names: list[str] = []
    for cfg in configs:
        _copy(cfg, work / "configs" / cfg.name)
        config_names.append(cfg.name)
    journal = databases.get("journal.sqlite", {})
    return {
        "format": FORMAT,
        "created_ts": now_ms,
        "created": datetime.fromtimestamp(now_ms / 1000, tz=UTC).isoformat(),
        "source": str(folder.resolve()),
        "databases": databases,
        "journal": journal.get("span", {}),
        "recorded_days": sorted({p.parent.name for p in (folder / RECORDED).glob("*/*.parquet")}),
        "configs": config_names,
        "strategies": [_strategy(s, work, journal.get("versions", [])) for s in strategies],
        "versions_seen": journal.get("versions", []),
        "other_files": others,
    }


def _strategy(source: StrategySource, work: Path, seen: Sequence[str]) -> dict[str, Any]:
    digest = sha256_of(source.path)
    rel = f"strategies/{digest}{source.path.suffix or '.py'}"
    if not (work / rel).exists():
        _copy(source.path, work / rel)
    return {
        "id": source.id,
        "version": source.version,
        "params": source.params,
        "source": rel,
        "source_name": source.path.name,
        "in_journal": f"{source.id}@{source.version}" in seen,
    }


def _export_database(path: Path, into: Path) -> dict[str, Any]:
    """Every table of the SQLite file at ``path`` as Parquet under ``into``."""
    with tempfile.TemporaryDirectory() as tmp:
        snapshot = Path(tmp) / path.name
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        dst = sqlite3.connect(snapshot)
        try:
            src.backup(dst)  # a consistent copy, even while the bot writes
        finally:
            src.close()
        try:
            return _export_snapshot(dst, into)
        finally:
            dst.close()


def _export_snapshot(db: sqlite3.Connection, into: Path) -> dict[str, Any]:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    tables: dict[str, Any] = {}
    objects = db.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name"
    ).fetchall()
    for kind, name, sql in objects:
        if kind != "table" or name.startswith("sqlite_"):
            continue
        rows = _write_table(db, name, into / f"{name}.parquet")
        tables[name] = {"rows": rows, "sql": sql, "parquet": f"{into.name}/{name}.parquet"}
    out: dict[str, Any] = {
        "user_version": version,
        "tables": tables,
        "other_sql": [sql for kind, _, sql in objects if kind != "table"],
    }
    if "events" in tables:  # the journal: what it covers, and the versions it names
        first, last, lo, hi = db.execute(
            "SELECT MIN(ts), MAX(ts), MIN(seq), MAX(seq) FROM events"
        ).fetchone()
        out["span"] = {"first_ts": first, "last_ts": last, "first_seq": lo, "last_seq": hi}
        out["versions"] = sorted(
            v
            for (v,) in db.execute("SELECT DISTINCT strategy FROM events")
            if isinstance(v, str) and "@" in v
        )
    return out


def _write_table(db: sqlite3.Connection, name: str, path: Path) -> int:
    columns = db.execute(f'PRAGMA table_info("{name}")').fetchall()
    schema = pa.schema([(c[1], _arrow_type(c[2])) for c in columns])
    path.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for batch in _batches(db, name):
            arrays = [_column(batch, i, f, name) for i, f in enumerate(schema)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            total += len(batch)
    return total


def _arrow_type(declared: str) -> pa.DataType:
    return _ARROW.get(declared.upper().split("(")[0].strip(), pa.string())


def _column(rows: list[tuple[Any, ...]], i: int, field: pa.Field, table: str) -> pa.Array:
    values = [r[i] for r in rows]
    try:
        return pa.array(values, type=field.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
        raise RetentionError(
            f"table {table}, column {field.name}: a value does not fit its declared type "
            f"{field.type} ({exc})"
        ) from None


def _batches(db: sqlite3.Connection, name: str) -> Iterator[list[tuple[Any, ...]]]:
    cur = db.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
    while True:
        rows = cur.fetchmany(BATCH_ROWS)
        if not rows:
            return
        yield rows


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _relative_files(root: Path) -> Iterator[str]:
    for path in root.rglob("*"):
        if path.is_file():
            yield path.relative_to(root).as_posix()
