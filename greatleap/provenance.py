"""Provenance: what produced a result (the package's source and data, library versions, git commit).

``source_hash()`` fingerprints every file the model is made of (Python sources, scenarios, data,
targets), so caches keyed on it are invalidated by any change to the model, not only by a new
``__version__``.
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


@lru_cache(maxsize=None)
def source_hash() -> str:
    """SHA-256 (first 16 hex digits) of the package's source and data files, in path order."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*")):
        if path.suffix not in _MODEL_SUFFIXES or "__pycache__" in path.parts or not path.is_file():
            continue
        if ".posterior." in path.name:  # a fitted posterior is a result about the model, not part of it
            continue
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
    """Versions of Python and of the libraries that shape the numbers."""
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
    return {"version": __version__, "source_hash": source_hash(), "git_commit": git_commit(),
            "libraries": library_versions()}
