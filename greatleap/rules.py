"""Person-level rules: plain scalar Python functions, compiled by each backend.

A rule computes one person's quantity from scalars (and read-only lookup tables): a need, a
ration weight, a hazard, a probability. It is written once, in the module of its mechanism,
with the ``@rule`` decorator, and stays an ordinary Python function: tests call it directly.
When a compiled kernel calls it, Numba compiles it for that kernel's target (``njit`` on the
CPU; the CUDA target for a GPU backend), so the biology and policy exist in one place only.

Rules may call other rules and the counter-based draws of :mod:`greatleap.streams`; they may
not allocate, raise, or touch Python objects.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, TypeVar

import numba
from numba.extending import register_jitable

from greatleap.provenance import source_hash

F = TypeVar("F", bound=Callable)


def _configure_kernel_cache() -> Path:
    """Keep Numba's compiled kernels in a folder named by the hash of the package's source.

    Numba checks only the kernel's own file before reusing a cached kernel, not the rules it
    calls in other modules; a folder per source hash makes any change to any rule recompile.
    ``NUMBA_CACHE_DIR`` (if set) is the parent folder; otherwise the user's cache folder.
    """
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given and Path(given).name == source_hash():  # set by a parent process of this same source
        return Path(given)
    parent = Path(given or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "greatleap" / "numba")
    folder = parent / source_hash()
    # in the environment too: Numba re-reads its settings from it whenever a NUMBA_ variable changes
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    numba.config.reload_config()
    numba.config.CACHE_DIR = str(folder)
    return folder


KERNEL_CACHE = _configure_kernel_cache()

RULES: dict[str, Callable] = {}


def rule(fn: F | None = None, *, inline: bool = False):
    """Mark ``fn`` as a person-level rule: callable from Python, compilable by every backend.

    ``@rule(inline=True)`` inlines it into its callers at compile time (for the tiny, hot
    functions such as the random draws; inlining everything would make compilation slow).
    """
    def mark(f: F) -> F:
        RULES[f"{f.__module__}.{f.__qualname__}"] = f
        return register_jitable(inline="always")(f) if inline else register_jitable(f)
    return mark(fn) if fn is not None else mark


def person_step(fn: F) -> F:
    """Mark ``fn`` as a composition of rules over one person (it takes the frames' named tuples).

    Compiled inline into the backend's loop (Numba IR inlining): a call per person that passed
    the named tuples of columns would cost more than the person's month itself.
    """
    RULES[f"{fn.__module__}.{fn.__qualname__}"] = fn
    return register_jitable(inline="always")(fn)
