"""Bounded run workers: at most N runs at once, a time limit per run, a short queue, a clear "busy".

Each worker is a long-lived process (spawned, Numba set to one thread, kernels warmed once) that
takes one job at a time over a pipe (:mod:`greatleap.web.jobs`). A job that passes its time limit
gets its worker killed and replaced, so the limit is real. A request that finds every worker
running and the queue full is refused at once with :class:`Busy`.
"""
from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from typing import Any, Callable

READY_TIMEOUT_S = 600.0  # a cold start compiles the kernels (~30 s on 2 busy cores)


class Busy(RuntimeError):
    """Every worker is running and the queue is full."""


class RunTimeout(RuntimeError):
    """A job ran past its time limit; its worker was replaced."""


class RunFailed(RuntimeError):
    """A job raised inside its worker (the message names the error)."""


def _worker_main(conn) -> None:  # pragma: no cover - runs in a child process
    from greatleap.web import jobs  # warm() sets one Numba thread (an env change after import would clash)
    try:
        jobs.warm()
    except Exception as exc:  # noqa: BLE001 - reported to the server
        conn.send(("error", f"worker start failed: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        kind, kwargs = msg
        try:
            result = jobs.HANDLERS[kind](**kwargs, progress=lambda done, total: conn.send(("progress", (done, total))))
            conn.send(("ok", result))
        except Exception as exc:  # noqa: BLE001 - reported to the server
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, ctx) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child,), daemon=True, name="greatleap-run-worker")
        self.proc.start()
        child.close()

    def exchange(self, kind: str, kwargs: dict, timeout: float, progress: Callable[[int, int], None] | None) -> Any:
        """Send a job and wait for its answer (in a thread); progress messages go to ``progress``."""
        self.conn.send((kind, kwargs))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.conn.poll(left):
                raise RunTimeout(f"the run passed its time limit of {timeout:g} s and was stopped")
            tag, value = self.conn.recv()
            if tag == "progress":
                if progress:
                    progress(*value)
            elif tag == "ok":
                return value
            else:
                raise RunFailed(value)

    def wait_ready(self) -> str | None:
        """None when the worker is ready, else why not."""
        try:
            if not self.conn.poll(READY_TIMEOUT_S):
                return "worker did not start in time"
            tag, value = self.conn.recv()
        except (EOFError, OSError) as exc:
            return f"worker died while starting: {exc}"
        return None if tag == "ready" else str(value)

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(2)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()


class RunPool:
    """``workers`` processes; ``queue`` requests may wait for one; each job has a time limit."""

    def __init__(self, workers: int, queue: int, timeout: float):
        self.size, self.max_waiting, self.timeout = workers, queue, timeout
        self.waiting = self.running = 0
        self.ready = 0
        self.closing = False
        self.start_error: str | None = None
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: set[_Worker] = set()
        self._ctx = mp.get_context("spawn")

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        for _ in range(self.size):
            self._spawn()

    def _spawn(self) -> None:
        worker = _Worker(self._ctx)
        self._workers.add(worker)
        asyncio.get_running_loop().create_task(self._until_ready(worker))

    async def _until_ready(self, worker: _Worker) -> None:
        problem = await asyncio.to_thread(worker.wait_ready)
        if problem is None:
            self.ready += 1
            self._idle.put_nowait(worker)
        else:
            self.start_error = problem
            self._workers.discard(worker)
            await asyncio.to_thread(worker.stop)

    def status(self) -> dict[str, Any]:
        return {"workers": self.size, "ready": self.ready, "running": self.running, "waiting": self.waiting,
                "queue": self.max_waiting, "time_limit_s": self.timeout, "start_error": self.start_error}

    async def call(self, kind: str, kwargs: dict, *, timeout: float | None = None,
                   progress: Callable[[int, int], None] | None = None, bounded: bool = True) -> Any:
        """Run a job on a free worker; :class:`Busy` at once if ``bounded`` and the queue is full."""
        if bounded and self._idle.empty() and self.waiting >= self.max_waiting:
            raise Busy(f"busy: {self.running} runs running and {self.waiting} waiting (at most {self.size} at "
                       f"once, {self.max_waiting} in the queue); try again in a few seconds")
        self.waiting += 1
        try:
            worker = await self._idle.get()
        finally:
            self.waiting -= 1
        task = asyncio.get_running_loop().create_task(self._run_on(worker, kind, kwargs, timeout or self.timeout,
                                                                   progress))
        return await asyncio.shield(task)  # a client going away does not leave a worker half-used

    async def _run_on(self, worker: _Worker, kind: str, kwargs: dict, timeout: float, progress) -> Any:
        self.running += 1
        healthy = True
        try:
            return await asyncio.to_thread(worker.exchange, kind, kwargs, timeout, progress)
        except RunTimeout:
            healthy = False
            raise
        except (EOFError, OSError) as exc:
            healthy = False
            raise RunFailed(f"the run worker died ({exc}); it has been replaced, try again") from None
        finally:
            self.running -= 1
            if healthy:
                self._idle.put_nowait(worker)
            else:
                self.ready -= 1
                self._workers.discard(worker)
                worker.proc.kill()
                await asyncio.to_thread(worker.stop)
                if not self.closing:
                    self._spawn()

    async def stop(self) -> None:
        self.closing = True
        for worker in list(self._workers):
            await asyncio.to_thread(worker.stop)
        self._workers.clear()
