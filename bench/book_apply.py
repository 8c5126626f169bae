"""Book: diffs applied per second on one core (target: at least 200,000).

Reads the recorded Binance depth streams in ``../shared/data/ticks``
(``BASTION_DATA_DIR`` elsewhere), parses them once (with ``LevelParser``, as
the feed does), then times only
``OrderBook.apply`` over the whole sequence, repeated until ``--seconds`` have
passed. Without the recordings it generates a seeded synthetic stream of the
same shape (about 46 levels per diff, a third of them removals). Three runs:
the apply alone; the crossed check (best bid/ask) once per 10 diffs, as a
reader once a second would; and after every diff, as the live ``BookFeed``
does. ``--read-every N`` runs that one alone.

    .venv/bin/python bench/book_apply.py [--seconds 3] [--read-every N]
"""

from __future__ import annotations

import argparse
import gzip
import random
import time

import orjson

from bastion.data.book import LevelParser, OrderBook, parse_levels
from bastion.data.paths import shared_data_dir

Diff = tuple[int, int, dict[float, float], dict[float, float], int]


def recorded(interned: bool = True) -> tuple[str, list[Diff]] | None:
    data = shared_data_dir()
    if data is None:
        return None
    files = sorted((data / "ticks").glob("binance_spot_btcusdt_*.jsonl.gz"))
    if not files:
        return None
    out: list[Diff] = []
    parse = LevelParser() if interned else parse_levels  # the feed interns, as LevelParser
    for path in files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                body = line.partition(b" ")[2]
                d = orjson.loads(body).get("data")
                if isinstance(d, dict) and d.get("e") == "depthUpdate":
                    b, a = parse(d["b"]), parse(d["a"])
                    out.append((d["U"], d["u"], b, a, d["E"]))
    return f"recorded {', '.join(p.name for p in files)}", out


def synthetic(n: int = 20_000, seed: int = 42) -> tuple[str, list[Diff]]:
    rng = random.Random(seed)
    mid = 60_000.0
    uid = 1
    out: list[Diff] = []
    parse = LevelParser()  # as texts through the feed's parser, like the recordings
    for k in range(n):
        mid *= 1 + rng.gauss(0, 0.0001)

        def side(sign: int, mid: float = mid) -> dict[float, float]:
            return parse(  # prices on a 0.01 grid near the mid, as a real book's are
                (
                    f"{mid + sign * abs(rng.gauss(0, 30.0)) + sign * 0.01:.2f}",
                    "0.00000000" if rng.random() < 0.35 else f"{rng.uniform(0.0001, 3):.5f}",
                )
                for _ in range(23)
            )

        out.append((uid, uid + 45, side(-1), side(1), k * 100))
        uid += 46
    return f"synthetic seeded ({n} diffs)", out


def run(diffs: list[Diff], seconds: float, read_every: int) -> tuple[int, float]:
    applied = 0
    start = time.perf_counter()
    while True:
        book = OrderBook("BTCUSDT")
        book.start_from_stream()
        apply = book.apply
        for i, (first, last, b, a, ts) in enumerate(diffs):
            apply(first, last, b, a, ts)
            if read_every and i % read_every == 0:
                book.crossed()
        applied += book.applied
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return applied, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--synthetic", action="store_true", help="ignore the recordings")
    ap.add_argument(
        "--read-every",
        type=int,
        default=None,
        help="only this run: read the top every N diffs (0: never)",
    )
    args = ap.parse_args()
    source = None if args.synthetic else recorded()
    label, diffs = source if source is not None else synthetic()
    levels = sum(len(b) + len(a) for _, _, b, a, _ in diffs) / max(len(diffs), 1)
    print(f"source: {label}; {len(diffs)} diffs, {levels:.1f} levels per diff")
    for every in (0, 10, 1) if args.read_every is None else (args.read_every,):
        applied, elapsed = run(diffs, args.seconds, every)
        rate = applied / elapsed
        reads = {0: "apply alone", 1: "crossed check after every diff"}.get(
            every, f"crossed check every {every} diffs"
        )
        print(
            f"book apply, {reads + ':':32} {rate:9,.0f} diffs/s ({rate * levels:11,.0f} levels/s)"
            f" over {elapsed:.1f} s; target 200,000: {'met' if rate >= 200_000 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
