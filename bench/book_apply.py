"""Book: diffs applied per second on one core (target: at least 200,000).

Reads the recorded Binance depth streams in ``../shared/data/ticks``
(``BASTION_DATA_DIR`` elsewhere; without them a seeded synthetic stream of
the same shape: about 46 levels per diff, a third of them removals) and
times what the live ``BookFeed`` does with each message after ``orjson``
has parsed it: ``OrderBook.apply`` on the message's ``b``/``a`` lists as the
parser hands them (``--input raw``, the feed's path), or on floats made by a
``LevelParser`` with that parsing timed too (``--input parsed``, the feed's
path before the book read texts). The messages are parsed ``--chunk`` (8)
at a time, off the clock, just before they are applied, so the book meets
them warm in the cache as it does live, where each message is applied as
soon as it is parsed (8 parsed messages are ~75 kB and stay in L2; 64 spill
to L3 and cost ~20% more; a replay parsed up front would have the book
chase 600,000 cold strings through memory instead).

Three runs: the apply alone; the crossed check (best bid/ask) once per 10
diffs, as a reader once a second would; and after every diff, as the live
feed does. ``--read-every N`` runs that one alone; ``--side c|python`` picks
the book's side (default: the C one when built). Each figure is wall time,
with the process's CPU time beside it (the machine is shared). Before
timing, the book the run builds is checked against a plain dict rebuilt
from the same diffs, and for the crossed check.

    .venv/bin/python bench/book_apply.py [--seconds 3] [--read-every N] [--side c]
        [--input raw|parsed] [--chunk 8] [--bound]
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from typing import Any

import orjson

from bastion.data import book as book_module
from bastion.data.book import LevelParser, OrderBook
from bastion.data.paths import shared_data_dir

CHUNK = 8  # messages parsed together, then applied: warm, like a live socket's


def recorded() -> tuple[str, list[bytes]] | None:
    data = shared_data_dir()
    if data is None:
        return None
    files = sorted((data / "ticks").glob("binance_spot_btcusdt_*.jsonl.gz"))
    if not files:
        return None
    out: list[bytes] = []
    for path in files:
        with gzip.open(path, "rb") as fh:
            for line in fh:
                body = line.partition(b" ")[2]
                d = orjson.loads(body).get("data")
                if isinstance(d, dict) and d.get("e") == "depthUpdate":
                    out.append(orjson.dumps(d))
    return f"recorded {', '.join(p.name for p in files)}", out


def synthetic(n: int = 20_000, seed: int = 42) -> tuple[str, list[bytes]]:
    rng = random.Random(seed)
    mid = 60_000.0
    uid = 1
    out: list[bytes] = []
    for k in range(n):
        mid *= 1 + rng.gauss(0, 0.0001)

        def side(sign: int, mid: float = mid) -> list[list[str]]:
            return [  # prices on a 0.01 grid near the mid, as a real book's are
                [
                    f"{mid + sign * abs(rng.gauss(0, 30.0)) + sign * 0.01:.2f}",
                    "0.00000000" if rng.random() < 0.35 else f"{rng.uniform(0.0001, 3):.5f}",
                ]
                for _ in range(23)
            ]

        d = {"e": "depthUpdate", "E": k * 100, "U": uid, "u": uid + 45}
        out.append(orjson.dumps({**d, "b": side(-1), "a": side(1)}))
        uid += 46
    return f"synthetic seeded ({n} diffs)", out


def new_book(side: str | None) -> OrderBook:
    book = OrderBook("BTCUSDT") if side is None else OrderBook("BTCUSDT", side=side)
    book.start_from_stream()
    return book


def run(
    lines: list[bytes],
    seconds: float,
    read_every: int,
    side: str | None,
    parsed: bool,
    chunk: int = CHUNK,
) -> tuple[int, float, float]:
    """Diffs applied, wall and CPU seconds spent applying them (parsing off the clock)."""
    applied, wall, cpu = 0, 0.0, 0.0
    loads, clock, cpu_clock = orjson.loads, time.perf_counter, time.process_time
    while wall < seconds:
        book = new_book(side)
        apply, crossed = book.apply, book.crossed
        parse = LevelParser()  # the old feed's one per stream
        for at in range(0, len(lines), chunk):
            msgs = [loads(line) for line in lines[at : at + chunk]]
            t0, c0 = clock(), cpu_clock()
            if parsed:  # the old feed's path: floats made per diff, on the clock
                for i, d in enumerate(msgs, at):
                    apply(d["U"], d["u"], parse(d["b"]), parse(d["a"]), d["E"])
                    if read_every and i % read_every == 0:
                        crossed()
            elif not read_every:
                for d in msgs:
                    apply(d["U"], d["u"], d["b"], d["a"], d["E"])
            elif read_every == 1:
                for d in msgs:
                    apply(d["U"], d["u"], d["b"], d["a"], d["E"])
                    crossed()
            else:
                for i, d in enumerate(msgs, at):
                    apply(d["U"], d["u"], d["b"], d["a"], d["E"])
                    if i % read_every == 0:
                        crossed()
            wall += clock() - t0
            cpu += cpu_clock() - c0
        applied += book.applied
    return applied, wall, cpu


def bound(lines: list[bytes], seconds: float, chunk: int = CHUNK) -> tuple[int, float, float]:
    """The ceiling of a pure Python book keyed by the price texts: each diff's
    lists into two dicts with one ``dict.update`` each, no book logic at all."""
    applied, wall, cpu = 0, 0.0, 0.0
    loads, clock, cpu_clock = orjson.loads, time.perf_counter, time.process_time
    while wall < seconds:
        bids: dict[str, str] = {}
        asks: dict[str, str] = {}
        for at in range(0, len(lines), chunk):
            msgs = [loads(line) for line in lines[at : at + chunk]]
            t0, c0 = clock(), cpu_clock()
            for d in msgs:
                bids.update(d["b"])
                asks.update(d["a"])
            wall += clock() - t0
            cpu += cpu_clock() - c0
        applied += len(lines)
    return applied, wall, cpu


def check(lines: list[bytes], side: str | None, parsed: bool) -> None:
    """The timed path builds the right book: a plain dict of the same diffs agrees."""
    book = new_book(side)
    parse = LevelParser()
    model: dict[str, dict[float, float]] = {"b": {}, "a": {}}
    for line in lines:
        d: dict[str, Any] = orjson.loads(line)
        b, a = (parse(d["b"]), parse(d["a"])) if parsed else (d["b"], d["a"])
        book.apply(d["U"], d["u"], b, a, d["E"])
        for k in "ba":
            for p, q in d[k]:
                if float(q):
                    model[k][float(p)] = float(q)
                else:
                    model[k].pop(float(p), None)
        assert not book.crossed(), f"crossed after {d['U']}..{d['u']}"
        assert book.best_bid == max(model["b"], default=None)
        assert book.best_ask == min(model["a"], default=None)
    assert book.levels("bids", 10**6) == sorted(model["b"].items(), reverse=True)
    assert book.levels("asks", 10**6) == sorted(model["a"].items())


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
    ap.add_argument("--input", choices=("raw", "parsed"), default="raw")
    ap.add_argument("--side", choices=("c", "python"), default=None)
    ap.add_argument("--chunk", type=int, default=CHUNK, help="messages parsed at a time")
    ap.add_argument(
        "--bound", action="store_true", help="only the bare dict.update of the texts (no book)"
    )
    args = ap.parse_args()
    sides = getattr(book_module, "SIDES", None)
    if sides is None and (args.input == "raw" or args.side):
        raise SystemExit("this book takes parsed levels only: --input parsed, no --side")
    if args.side and args.side not in sides:
        raise SystemExit(f"no {args.side!r} side in this install (built: {sorted(sides)})")
    source = None if args.synthetic else recorded()
    label, lines = source if source is not None else synthetic()
    parsed = args.input == "parsed"
    n_levels = sum(len(d["b"]) + len(d["a"]) for d in map(orjson.loads, lines))
    levels = n_levels / max(len(lines), 1)
    if args.bound:
        applied, wall, cpu = bound(lines, args.seconds, args.chunk)
        print(
            f"bare dict.update of the texts, no book: {applied / wall:9,.0f} diffs/s"
            f" over {wall:.1f} s, {applied / cpu:9,.0f}/s of CPU"
        )
        return
    check(lines, args.side, parsed)
    side = args.side or getattr(book_module, "DEFAULT_SIDE", "python (before the C side)")
    print(f"source: {label}; {len(lines)} diffs, {levels:.1f} levels per diff")
    print(
        f"side: {side}; input: {args.input}; parsed {args.chunk} at a time;"
        " checked against a dict rebuild: ok"
    )
    for every in (0, 10, 1) if args.read_every is None else (args.read_every,):
        applied, wall, cpu = run(lines, args.seconds, every, args.side, parsed, args.chunk)
        rate = applied / wall
        reads = {0: "apply alone", 1: "crossed check after every diff"}.get(
            every, f"crossed check every {every} diffs"
        )
        print(
            f"book apply, {reads + ':':32} {rate:9,.0f} diffs/s ({rate * levels:11,.0f} levels/s)"
            f" over {wall:.1f} s, {applied / cpu:9,.0f}/s of CPU;"
            f" target 200,000: {'met' if rate >= 200_000 else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
