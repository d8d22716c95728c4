"""Compute backends. ``get_backend("cpu")`` returns the module of compiled CPU loops.

A backend exposes ``census``, ``live``, ``finish_month``, ``give_births`` and ``count_alive``: loops over people,
reductions and slot allocation around the person-level rules of :mod:`greatleap.lifecycle`,
which every backend compiles from the same source. It holds no model rule of its own.
``"cuda"`` (:mod:`greatleap.kernels.cuda`, optional extra ``gpu``) runs them on an NVIDIA GPU;
``cuda_problem()`` says why it cannot, or None.
"""
from __future__ import annotations

import importlib.util
import os
from types import ModuleType

BACKENDS = ("cpu", "cuda")


class BackendUnavailable(ValueError):
    """The backend asked for cannot run here (unknown, or its package or device is missing)."""


def cuda_problem() -> str | None:
    """Why the CUDA backend cannot run here (numba-cuda or a GPU missing), or None if it can.

    With ``NUMBA_ENABLE_CUDASIM=1`` Numba's CUDA simulator stands in for the GPU (slow; for tests).
    """
    if importlib.util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install -e \".[gpu]\")"
    from numba import cuda
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return None
    try:
        if not cuda.is_available():
            return "no CUDA GPU or driver found (numba.cuda.is_available() is False)"
    except Exception as exc:  # the driver or runtime fails to load: the reason is the message
        return f"CUDA cannot start: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


def get_backend(name: str = "cpu") -> ModuleType:
    if name == "cpu":
        from greatleap.kernels import cpu
        return cpu
    if name == "cuda":
        problem = cuda_problem()
        if problem is not None:
            raise BackendUnavailable(f"backend 'cuda' cannot run here: {problem}")
        from greatleap.kernels import cuda
        return cuda
    raise BackendUnavailable(f"backend {name!r} is not available; allowed: {', '.join(BACKENDS)}")
