"""Where model evaluations run: local worker processes, or a Dask cluster (:mod:`.cluster`).

A *pool* has ``submit(fn, *args) -> concurrent.futures.Future``, ``slots`` (how many calls run at
once) and ``close()``: :class:`WorkerPool` (spawned local processes) and
:class:`~greatleap.analysis.cluster.ClusterPool` (``--cluster``). Every analysis takes ``jobs``,
either a number of local processes or an open pool; :func:`open_pool` turns it into a pool (None
for serial work in this process) and :func:`slots` says how many workers it stands for.
:func:`ordered_map` consumes results strictly in submission order, so what a caller does with
them (accept the first N particles, write a cache) never depends on which worker finished first.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from greatleap import interrupt


class _Done:
    """A finished 'future' (serial evaluation, or a result found in a store)."""

    def __init__(self, value: Any = None, error: BaseException | None = None):
        self._value, self._error = value, error

    def result(self) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def cancel(self) -> bool:
        return False


class SerialExecutor:
    """Runs each submitted call at once in this process (``--jobs 1``; tests)."""

    workers = 1

    def submit(self, fn: Callable, *args) -> _Done:
        try:
            return _Done(fn(*args))
        except Exception as exc:  # noqa: BLE001 - re-raised by result(), like a real future
            return _Done(error=exc)


class WorkerPool:
    """Spawned worker processes (one Numba thread each) that ignore Ctrl-C, die with the parent,
    and are killed if the parent leaves the ``with`` block early (an interrupt or an error).

    If a worker dies, the futures in flight fail (``BrokenProcessPool``); the next ``submit``
    starts fresh processes, so the caller can resubmit what was lost."""

    def __init__(self, jobs: int):
        self.slots = int(jobs)
        self.executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.slots, mp_context=mp.get_context("spawn"),
                                   initializer=interrupt.worker_init, initargs=(os.getpid(),))

    def __enter__(self) -> "WorkerPool":
        return self

    def submit(self, fn, *args) -> Future:
        if getattr(self.executor, "_broken", False):  # a worker died: its pool takes no more work
            self.kill()
            self.executor = self._start()
        return self.executor.submit(fn, *args)

    def kill(self) -> None:
        procs = list((getattr(self.executor, "_processes", None) or {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(timeout=10)

    def close(self) -> None:
        """Wait for the work submitted, then stop the processes."""
        self.executor.shutdown(wait=True)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.kill()


def slots(jobs) -> int:
    """How many calls ``jobs`` (a number of local processes or an open pool) runs at once."""
    return max(1, int(getattr(jobs, "slots", jobs)))


@contextmanager
def open_pool(jobs, needed: int | None = None) -> Iterator[Any]:
    """A pool for ``jobs``: the open pool itself (left open), ``jobs`` local processes (killed on an
    error or interrupt), or None for serial work here (``jobs`` <= 1, or at most one call ``needed``)."""
    if hasattr(jobs, "submit"):
        yield jobs
        return
    n = min(int(jobs), needed) if needed is not None else int(jobs)
    if n <= 1:
        yield None
        return
    with WorkerPool(n) as pool:
        yield pool


@contextmanager
def local_executor(jobs) -> Iterator[Any]:
    """An executor for ``jobs``: an open pool, ``jobs`` worker processes, or serial (``jobs`` <= 1)."""
    with open_pool(jobs) as pool:
        yield pool if pool is not None else SerialExecutor()


def as_finished(futures: Iterable[Future], poll: float = 0.2) -> Iterator[Future]:
    """Futures as they finish, checking for an interrupt between short waits."""
    pending = set(futures)
    while pending:
        interrupt.check()
        done, pending = wait(pending, timeout=poll, return_when=FIRST_COMPLETED)
        interrupt.check()
        yield from done


def ordered_map(fn: Callable, args: Iterable[tuple], executor, window: int,
                stored: Callable[[int], Any] | None = None) -> Iterator[tuple[int, Any]]:
    """Yield ``(k, fn(*args_k))`` in order of ``k``, keeping up to ``window`` calls in flight.

    ``stored(k)`` may return a result known already (it is then not submitted; None = unknown).
    ``args`` may be endless: it is read only as far as needed. Closing the generator early
    cancels the calls not yet started. An exception (of a call, or of the executor) is raised.
    """
    window = max(1, int(window))
    source = enumerate(args)
    pending: deque[tuple[int, Any]] = deque()
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    k, a = next(source)
                except StopIteration:
                    exhausted = True
                    break
                known = stored(k) if stored is not None else None
                pending.append((k, _Done(known) if known is not None else executor.submit(fn, *a)))
            if not pending:
                return
            k, fut = pending.popleft()
            yield k, fut.result()
    finally:
        for _, fut in pending:
            fut.cancel()
