"""Provenance: what produced a result (the package's source and data, library versions, git commit).

``source_hash()`` fingerprints every file the model is made of (Python sources, scenarios, data,
targets), so caches keyed on it are invalidated by any change to the model, not only by a new
``__version__``. ``model_hash()`` fingerprints only what shapes a run's numbers and a fit's
targets (it leaves out the command line, the web page and the analyses other than the fit), so a
fitted posterior or a resumable history is not declared stale by an interface change.
"""
from __future__ import annotations

import hashlib
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
_MODEL_SUFFIXES = (".py", ".toml", ".csv", ".json", ".md")
_LIBRARIES = ("numpy", "numba", "pandas", "pyarrow", "pydantic")


_INTERFACES = ("cli", "web", "analysis", "provenance.py", "io.py")  # left out of model_hash() ...
_FIT = ("analysis/targets.py", "analysis/posterior.py")  # ... except what defines a fit's targets and distance
# (the sampler in analysis/abc.py versions itself: its ALGORITHM is part of a history's fingerprint)


def _interface(relative: Path) -> bool:
    return relative.parts[0] in _INTERFACES and relative.as_posix() not in _FIT


@lru_cache(maxsize=None)
def source_hash() -> str:
    """SHA-256 (first 16 hex digits) of the package's source and data files, in path order."""
    return _hash(lambda relative: True)


@lru_cache(maxsize=None)
def model_hash() -> str:
    """Like :func:`source_hash`, without the interfaces: the model, its scenarios and data, and the fit."""
    return _hash(lambda relative: not _interface(relative))


def _hash(keep) -> str:
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*")):
        if path.suffix not in _MODEL_SUFFIXES or "__pycache__" in path.parts or not path.is_file():
            continue
        if ".posterior." in path.name or not keep(path.relative_to(PACKAGE_ROOT)):
            continue  # a fitted posterior is a result about the model, not part of it
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def git_commit() -> str | None:
    """The commit of the checkout the package runs from (None outside a git checkout)."""
    try:
        out = subprocess.run(["git", "-C", str(PACKAGE_ROOT), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries that shape the numbers (a copy: read once a process)."""
    return dict(_library_versions())


@lru_cache(maxsize=None)
def _library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def provenance() -> dict:
    """Everything a run record should say about what produced it."""
    from greatleap import __version__
    return {"version": __version__, "source_hash": source_hash(), "model_hash": model_hash(), "git_commit": git_commit(),
            "libraries": library_versions()}
