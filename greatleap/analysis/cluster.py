"""A Dask cluster as a pool of workers (``--cluster tcp://HOST:PORT`` or ``--cluster local[:N]``).

:class:`ClusterPool` has the interface of the local :class:`~greatleap.analysis.executor.WorkerPool`
(``submit``, ``slots``, ``close``); its futures are standard :class:`concurrent.futures.Future`
objects, so every analysis runs on it unchanged. Only model runs travel: the command's own process
keeps the Optuna study, the ABC history and the run cache on its local disk (SQLite never sits on
a network file system). Before any work the pool checks that the scheduler answers, that workers
have joined and that every worker runs the same greatleap code (version and source hash); each
worker process runs one simulation at a time with one Numba thread. A worker that dies mid-run
loses nothing: the scheduler (or :func:`~greatleap.analysis.ensemble.run_many`) runs its task
again elsewhere. Needs the ``cluster`` extra (``distributed``).
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import re
import threading
from typing import Any, Callable

CONNECT_TIMEOUT_S = 5.0   # the scheduler must answer within this
WORKERS_TIMEOUT_S = 10.0  # and have at least one worker within this
ALLOWED = "allowed: tcp://HOST:PORT (a running dask scheduler) or local[:N] (N local worker processes, 1..1024)"
_ADDRESS = re.compile(r"^tcp://(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


class ClusterError(Exception):
    """The cluster cannot be used (bad address, no scheduler, no workers, other code): one line."""


def parse_address(text: str) -> tuple[str, Any]:
    """``("tcp", "tcp://host:port")`` or ``("local", n_workers or None)``; ClusterError otherwise."""
    text = str(text).strip()
    if text == "local" or text.startswith("local:"):
        n = text[6:]
        if not n:
            return "local", None
        if n.isdigit() and 1 <= int(n) <= 1024:
            return "local", int(n)
        raise ClusterError(f"--cluster = {text!r}: {n!r} is not a number of workers; {ALLOWED}")
    m = _ADDRESS.match(text)
    if not m or not 1 <= int(m["port"]) <= 65535:
        raise ClusterError(f"--cluster = {text!r}: not an address; {ALLOWED}")
    return "tcp", text


def require_distributed():
    try:
        import distributed
    except ImportError:
        raise ClusterError("--cluster needs the 'cluster' extra: pip install -e \".[cluster]\" (Dask distributed)") from None
    return distributed


def worker_fingerprint() -> tuple[str, str]:
    """(version, source hash) of the greatleap a worker imports."""
    from greatleap import __version__
    from greatleap.provenance import source_hash
    return __version__, source_hash()


_ONE_AT_A_TIME = threading.Lock()


def on_worker(fn: Callable, *args) -> Any:
    """Run ``fn(*args)`` on a worker: one simulation at a time per process, one Numba thread."""
    with _ONE_AT_A_TIME:
        try:
            import numba
            numba.set_num_threads(1)
        except ImportError:  # pragma: no cover
            pass
        return fn(*args)


class _Bridged(cf.Future):
    """A concurrent.futures Future that follows a Dask future; cancelling it cancels the task."""

    def __init__(self, task):
        super().__init__()
        self.task = task

    def cancel(self) -> bool:
        self.task.cancel()
        return super().cancel()

    def follow(self, task) -> None:
        if self.cancelled():
            return
        try:
            if task.status == "finished":
                self.set_result(task.result())
            elif task.status == "cancelled":
                self.set_exception(cf.CancelledError("the cluster cancelled the task"))
            else:
                self.set_exception(task.exception())
        except cf.InvalidStateError:  # cancelled meanwhile
            pass
        except BaseException as exc:  # noqa: BLE001 - e.g. the client lost the scheduler
            try:
                self.set_exception(exc)
            except cf.InvalidStateError:
                pass


class ClusterPool:
    """Workers of a Dask cluster: ``ClusterPool("tcp://10.0.0.1:8786")`` or ``ClusterPool("local:2")``."""

    def __init__(self, address: str, connect_timeout: float = CONNECT_TIMEOUT_S,
                 workers_timeout: float = WORKERS_TIMEOUT_S):
        kind, where = parse_address(address)
        distributed = require_distributed()
        self.address, self.cluster, self.client = address, None, None
        self._tasks: set[_Bridged] = set()
        logging.getLogger("distributed").setLevel(logging.CRITICAL)  # our errors are one line
        try:
            if kind == "local":
                self.cluster = distributed.LocalCluster(n_workers=where, threads_per_worker=1, processes=True,
                                                        dashboard_address=None, silence_logs=logging.CRITICAL)
                self.client = distributed.Client(self.cluster, timeout=connect_timeout)
            else:
                try:
                    self.client = distributed.Client(where, timeout=connect_timeout)
                except (OSError, TimeoutError) as exc:
                    raise ClusterError(f"--cluster = {address!r}: no scheduler answered within "
                                       f"{connect_timeout:g} s ({_first_line(exc)}); allowed: the address of a "
                                       f"running 'dask scheduler'") from None
            try:
                self.client.wait_for_workers(1, timeout=workers_timeout)
            except (TimeoutError, OSError):
                raise ClusterError(f"--cluster = {address!r}: no workers joined within {workers_timeout:g} s; "
                                   f"allowed: a scheduler with workers ('dask worker {where}' on each machine)") from None
            self._check_code()
        except BaseException:
            self.close()
            raise

    def _check_code(self) -> None:
        """Every worker must import the greatleap this process runs (same version and source hash)."""
        mine = worker_fingerprint()
        try:
            theirs = self.client.run(worker_fingerprint)
        except Exception as exc:  # noqa: BLE001 - typically: greatleap not importable there
            raise ClusterError(f"--cluster = {self.address!r}: the workers cannot run greatleap "
                               f"({_first_line(exc)}); allowed: workers with greatleap {mine[0]} installed") from None
        other = {addr: fp for addr, fp in theirs.items() if tuple(fp) != mine}
        if other:
            addr, (version, digest) = next(iter(sorted(other.items())))
            raise ClusterError(f"--cluster = {self.address!r}: {len(other)} of {len(theirs)} workers run other "
                               f"greatleap code (e.g. {addr}: version {version}, source {digest}; here {mine[0]}, "
                               f"source {mine[1]}); allowed: the same greatleap on every worker")

    @property
    def slots(self) -> int:
        """Worker processes (each runs one simulation at a time)."""
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def describe(self) -> str:
        return f"{self.client.scheduler.address} ({self.slots} worker processes)"

    def submit(self, fn: Callable, *args) -> cf.Future:
        """Run ``fn(*args)`` on a worker; a standard Future (``result()``, ``cancel()``, ``wait``)."""
        task = self.client.submit(on_worker, fn, *args, pure=False)
        fut = _Bridged(task)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)
        task.add_done_callback(fut.follow)
        return fut

    def __enter__(self) -> "ClusterPool":
        return self

    def close(self) -> None:
        """Cancel the tasks still queued or running, and disconnect (a LocalCluster is shut down)."""
        for fut in list(self._tasks):
            fut.cancel()
        if self.client is not None:
            try:
                self.client.close(timeout=10)
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass

    def kill(self) -> None:
        self.close()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
