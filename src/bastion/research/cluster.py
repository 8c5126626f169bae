"""Where research tasks run: in this process, or on a Dask distributed cluster.

Dask is the engine for going past one machine; this module only opens a
client (a ``LocalCluster`` of one single-threaded worker process per core by
default, bound to loopback, or the scheduler at ``tcp://HOST:PORT``) and maps
``run_task`` over the tasks. Workers of a remote cluster need bastion
installed and the data files at the same paths (or the same store folder).

A task that fails inside the backtest comes back as a failed row from
``run_task``; one that fails in Dask itself (a worker died, the task could not
be unpickled) is turned into a failed row here, with its grid point, and the
other tasks finish either way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from bastion.research.grid import label
from bastion.research.runner import Task, run_batch, run_task

CONNECT_TIMEOUT = "10s"  # how long --scheduler may take to answer before the command gives up
Row = dict[str, Any]
Done = Callable[[Row], None]


def _line(exc: BaseException | None) -> str:
    return " ".join(str(exc).split())  # Dask's messages run over several lines


class Executor(Protocol):
    workers: int

    def run(self, tasks: Sequence[Task], done: Done | None = None) -> list[Row]:
        """One row per task, in the tasks' order."""
        ...


class InProcess:
    """Tasks one after the other in this process (``--workers 0``, and the
    reference a sweep's results are compared with)."""

    workers = 1

    def run(self, tasks: Sequence[Task], done: Done | None = None) -> list[Row]:
        rows = []
        for task in tasks:
            row = run_task(task)
            if done is not None:
                done(row)
            rows.append(row)
        return rows


class DaskExecutor:
    """Tasks on the cluster behind ``client``, as they complete.

    Tasks travel in batches (``chunk`` tasks per Dask task; by default enough
    batches for eight per worker, at most 16 tasks each), so the scheduler's
    round trip is paid once per batch, not once per backtest. Each batch is its
    own graph: the scheduler unpacks a graph whole, and one task it cannot load
    would fail every task submitted with it. A batch that fails in Dask is
    resubmitted task by task, so only the task that cannot run is reported."""

    def __init__(self, client: Any, chunk: int | None = None) -> None:
        self.client = client
        self.chunk = chunk
        self.workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))

    def _size(self, n: int) -> int:
        if self.chunk is not None:
            return max(1, self.chunk)
        return max(1, min(16, n // (self.workers * 8)))

    def run(self, tasks: Sequence[Task], done: Done | None = None) -> list[Row]:
        import distributed

        dist: Any = distributed  # untyped: called through Any
        if not tasks:
            return []
        size = self._size(len(tasks))
        pending: dict[Any, list[Task]] = {}

        def submit(batch: list[Task]) -> Any:
            future = self.client.submit(run_batch, batch, pure=False)
            pending[future] = batch
            return future

        queue = dist.as_completed([submit(list(tasks[i : i + size])) for i in
                                   range(0, len(tasks), size)])  # fmt: skip
        rows: dict[int, Row] = {}
        for future in queue:
            batch = pending.pop(future)
            if future.status == "finished":
                got = future.result()
            elif len(batch) > 1:
                for task in batch:
                    queue.add(submit([task]))
                got = []
            else:
                got = [_failed(batch[0], future.exception())]
            future.release()
            for row in got:
                rows[row["index"]] = row
                if done is not None:
                    done(row)
        return [rows[t.index] for t in tasks]


def _failed(task: Task, exc: BaseException | None) -> Row:
    return {
        "index": task.index,
        "point": dict(task.point),
        "status": "failed",
        "error": f"{label(task.point)}: {type(exc).__name__}: {_line(exc)}",
        "task_s": None,
    }


@contextmanager
def open_executor(scheduler: str | None = None, workers: int | None = None) -> Iterator[Executor]:
    """``workers == 0``: in this process. Otherwise a Dask client: to
    ``scheduler`` when given, else a LocalCluster of ``workers`` processes
    (default: one per core) on 127.0.0.1, without a dashboard."""
    if workers == 0 and scheduler is None:
        yield InProcess()
        return
    import distributed

    dist: Any = distributed
    if scheduler is not None:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ucx://")):
            raise ValueError(f"--scheduler {scheduler!r}: expected tcp://HOST:PORT")
        try:
            client = dist.Client(scheduler, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise ValueError(f"--scheduler {scheduler}: cannot reach it ({exc})") from None
        try:
            yield DaskExecutor(client)
        finally:
            client.close()
        return
    n = workers or os.cpu_count() or 1
    cluster = dist.LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # its small HTTP server: loopback, any port
        scheduler_kwargs={"dashboard": False},
        silence_logs=logging.ERROR,
    )
    client = dist.Client(cluster)
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        cluster.close()
