"""The chaos campaign at scale: 10,000 simulated days by default.

    python bench/campaign.py [--days 10000] [--days-per-episode 10] [--workers N]
                             [--out runs/campaign.jsonl] [--seed 0]

Each episode is a fresh bot on a fresh simulated exchange, driven for
``--days-per-episode`` simulated days (48 half-hour bars a day) through kills,
halts, simulated SIGKILLs at every point of the order path, venue and stream
faults, and deposits, withdrawals and hand trades that are not the bot's
(``tests/campaign/world.py`` holds the schedule and the invariants). Episodes
are seeded (episode ``i`` uses seed ``--seed + i``), run in parallel across
cores, and each finished episode is appended to ``--out`` as one JSON line, so
an interrupted campaign resumes where it stopped. It prints the invariant
violations found, by kind (the goal is 0), and exits non-zero if there are any.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]


def scratch() -> Path:
    """Episodes write three SQLite files each: on tmpfs when there is one."""
    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return Path(tempfile.mkdtemp(prefix="bastion-campaign-", dir=base))


def episode(seed: int, days: int) -> dict[str, object]:
    from tests.campaign.world import run_episode

    root = scratch()
    try:
        t0 = time.perf_counter()
        violations, counts = run_episode(seed, days, root)
        return {
            "seed": seed,
            "days": days,
            "seconds": round(time.perf_counter() - t0, 3),
            "counts": dict(counts),
            "violations": [
                {"step": v.step, "kind": v.kind, "detail": v.detail} for v in violations
            ],
        }
    finally:
        os.rmdir(root) if root.exists() and not any(root.iterdir()) else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, default=10_000)
    ap.add_argument("--days-per-episode", type=int, default=10)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "campaign.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.days < 1 or args.days_per_episode < 1 or args.workers < 1:
        print("campaign: --days, --days-per-episode and --workers must be positive")
        return 2
    episodes = -(-args.days // args.days_per_episode)
    seeds = [args.seed + i for i in range(episodes)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done: dict[int, dict[str, object]] = {}
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            with_seed = json.loads(line)
            if with_seed.get("days") == args.days_per_episode:
                done[int(with_seed["seed"])] = with_seed
    todo = [s for s in seeds if s not in done]
    print(
        f"campaign: {episodes} episodes x {args.days_per_episode} days "
        f"({len(done)} already in {args.out}, {len(todo)} to run) on {args.workers} workers"
    )
    t0 = time.perf_counter()
    with args.out.open("a") as out, ProcessPoolExecutor(args.workers) as pool:
        futures = {pool.submit(episode, s, args.days_per_episode): s for s in todo}
        for n, fut in enumerate(as_completed(futures), 1):
            row = fut.result()
            done[int(row["seed"])] = row  # type: ignore[arg-type]
            out.write(json.dumps(row) + "\n")
            out.flush()
            if n % 50 == 0 or n == len(todo):
                print(f"  {n}/{len(todo)} episodes, {time.perf_counter() - t0:.0f} s")
    rows = [done[s] for s in seeds]
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for row in rows:
        counts.update(row["counts"])  # type: ignore[arg-type]
        for v in row["violations"]:  # type: ignore[attr-defined]
            kinds[v["kind"]] += 1
            examples.setdefault(v["kind"], f"seed {row['seed']} step {v['step']}: {v['detail']}")
    days = sum(int(r["days"]) for r in rows)  # type: ignore[call-overload]
    events = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"simulated days: {days}; events: {events}")
    print(f"invariant violations: {sum(kinds.values())}")
    for kind, n in kinds.most_common():
        print(f"  {kind}: {n} (e.g. {examples[kind]})")
    return 1 if kinds else 0


if __name__ == "__main__":
    raise SystemExit(main())
