"""Where model evaluations run: a local process pool today, any ``submit``-style executor tomorrow.

An *executor* is anything with ``submit(fn, *args) -> future`` whose futures have ``result()``
and ``cancel()``: :class:`concurrent.futures.ProcessPoolExecutor`, a thread pool, or a Dask
``distributed.Client`` (the scale-out issue's ``--cluster``). :func:`ordered_map` consumes
results strictly in submission order, so what a caller does with them (accept the first N
particles, write a cache) never depends on which worker finished first.
"""
from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator


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


@contextmanager
def local_executor(jobs: int) -> Iterator[Any]:
    """``jobs`` spawned worker processes with one Numba thread each (serial when ``jobs`` <= 1)."""
    if jobs <= 1:
        yield SerialExecutor()
        return
    from greatleap.analysis.ensemble import WorkerPool  # one Numba thread each; they die with this process

    with WorkerPool(jobs) as pool:
        yield pool


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
