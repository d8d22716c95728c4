"""Interrupts and worker processes: Ctrl-C and SIGTERM end a command cleanly, workers die with it.

A signal only sets a flag; long loops call :func:`check` between months (the progress callback
of ``Sim.run``) or between waits, so an interrupt never lands inside a Numba kernel. Worker
processes ignore SIGINT (the parent decides) and are killed by the kernel when their parent
dies (Linux ``PR_SET_PDEATHSIG``; elsewhere a watchdog thread notices the orphaning).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(KeyboardInterrupt):
    """The user pressed Ctrl-C (or the process got SIGTERM); ``exit_code`` is 130 (or 143)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__("interrupted" if signum == signal.SIGINT else "terminated")
        self.signum = signum
        self.exit_code = EXIT_CODES.get(signum, 130)


_received: list[int] = []


def requested() -> bool:
    """True once SIGINT or SIGTERM has arrived inside :func:`handle_signals`."""
    return bool(_received)


def check() -> None:
    """Raise :class:`Interrupted` if a signal arrived; call it where stopping is safe."""
    if _received:
        raise Interrupted(_received[0])


def progress_check(done: int = 0, total: int = 0) -> None:
    """A ``Sim.run`` progress callback that only checks for an interrupt."""
    check()


@contextmanager
def handle_signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into a flag for the duration (main thread only; elsewhere a no-op).

    A second Ctrl-C restores the default behaviour (an immediate ``KeyboardInterrupt``).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in EXIT_CODES}

    def handler(signum, frame):
        if _received and signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        _received.append(signum)

    _received.clear()
    for s in EXIT_CODES:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        _received.clear()


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this process when its parent dies; a watchdog thread elsewhere."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)

    def watchdog() -> None:
        while True:
            threading.Event().wait(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watchdog, daemon=True, name="greatleap-parent-watchdog").start()


def worker_init(parent: int) -> None:
    """Initializer of every worker process: ignore Ctrl-C, die with the parent, one Numba thread."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    try:
        import numba
        numba.set_num_threads(1)  # one process per core; no oversubscription
    except ImportError:  # pragma: no cover
        pass


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the platform has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)
