"""Check an archive against its manifest: every file there, every byte as written.

Problems are named by the file: a missing file, a file whose sha256 or size
differs, a file the manifest does not list, and the manifest itself (its own
sha256 is kept beside it in ``manifest.sha256``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.retention.archive import FORMAT, MANIFEST, MANIFEST_SUM, sha256_of


@dataclass(frozen=True, slots=True, kw_only=True)
class Verified:
    path: Path
    files: int
    problems: tuple[str, ...]
    manifest: dict[str, Any]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_archive(path: Path) -> Verified:
    """What is wrong with the archive at ``path`` (nothing, when ``ok``)."""
    manifest_path = path / MANIFEST
    if not path.is_dir():
        return Verified(path=path, files=0, problems=(f"{path}: no such archive",), manifest={})
    if not manifest_path.is_file():
        return Verified(path=path, files=0, problems=(f"{MANIFEST}: missing",), manifest={})
    body = manifest_path.read_bytes()
    problems: list[str] = []
    problems += _manifest_sum(path, body)
    try:
        manifest = json.loads(body)
        files: dict[str, Any] = manifest["files"]
        if manifest.get("format") != FORMAT:
            problems.append(f"{MANIFEST}: format {manifest.get('format')!r}, expected {FORMAT}")
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"{MANIFEST}: unreadable ({type(exc).__name__}: {exc})")
        return Verified(path=path, files=0, problems=tuple(problems), manifest={})
    for rel, want in sorted(files.items()):
        problems += _check_file(path, rel, want)
    listed = set(files) | {MANIFEST, MANIFEST_SUM}
    for extra in sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()):
        if extra not in listed:
            problems.append(f"{extra}: not in the manifest")
    return Verified(path=path, files=len(files), problems=tuple(problems), manifest=manifest)


def _manifest_sum(path: Path, body: bytes) -> list[str]:
    sum_path = path / MANIFEST_SUM
    if not sum_path.is_file():
        return [f"{MANIFEST_SUM}: missing"]
    raw = sum_path.read_bytes()
    found = hashlib.sha256(body).hexdigest()
    if raw == f"{found}  {MANIFEST}\n".encode():
        return []
    recorded = raw.decode("utf-8", errors="replace").split()
    if recorded and recorded[0] == found:  # the hash holds, a byte around it flipped
        return [f"{MANIFEST_SUM}: changed (not the line the archive wrote)"]
    return [f"{MANIFEST}: sha256 {found[:16]}… differs from {MANIFEST_SUM}"]


def _check_file(root: Path, rel: str, want: dict[str, Any]) -> list[str]:
    path = root / rel
    if not path.is_file():
        return [f"{rel}: missing"]
    size = path.stat().st_size
    if size != want.get("bytes"):
        return [f"{rel}: {size} bytes, the manifest says {want.get('bytes')}"]
    found = sha256_of(path)
    if found != want.get("sha256"):
        return [f"{rel}: sha256 {found[:16]}… differs from the manifest's {want['sha256'][:16]}…"]
    return []
