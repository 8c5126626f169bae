"""The curve tape reads back exactly what was appended, whole or a chunk at a time."""

from __future__ import annotations

import numpy as np

from bastion.engine.tape import CurveTape


def test_a_column_and_its_chunks_read_back_the_float64s_appended() -> None:
    # Arrange: three appends of uneven lengths, values with every bit pattern in play
    rng = np.random.default_rng(7)
    parts = [
        (np.arange(a, b, dtype=np.int64) * 60_000, rng.standard_normal(b - a) * 1e5)
        for a, b in ((0, 5), (5, 1_000), (1_000, 1_003))
    ]
    tape = CurveTape()
    for ts, eq in parts:
        tape.append(ts, eq, eq * 0.5)

    # Act
    whole_ts, whole_eq = tape.column("ts"), tape.column("equity")
    chunks = list(tape.chunks(rows=7))

    # Assert
    want_ts = np.concatenate([p[0] for p in parts])
    want_eq = np.concatenate([p[1] for p in parts])
    assert whole_ts.dtype == np.int64 and whole_eq.dtype == np.float64
    assert np.array_equal(whole_ts, want_ts)
    assert whole_eq.tobytes() == want_eq.tobytes()  # bit for bit
    assert np.concatenate([c[1] for c in chunks]).tobytes() == want_eq.tobytes()
    assert np.concatenate([c[2] for c in chunks]).tobytes() == (want_eq * 0.5).tobytes()
    assert tape.last() == (int(want_ts[-1]), float(want_eq[-1]), float(want_eq[-1] * 0.5))
    whole_eq[0] = 1.0  # a column read back is the caller's own, writable copy
    assert tape.column("equity")[0] == want_eq[0]
    tape.close()
