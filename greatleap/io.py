"""Atomic output: folders and files are written under a hidden temporary name that is renamed into
place only when complete, so a failure (an exception, Ctrl-C, a full disk) leaves nothing partial.

Temporary names carry the writer's process id (``.NAME.tmp-PID-XXXX``): one left by a process
that was killed outright (SIGKILL) is removed by the next writer in the same folder.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_TMP = re.compile(r"^\..+\.tmp-(\d+)-[A-Za-z0-9_]+$")


class OutputError(OSError):
    """An output cannot be written; the message says where and why (one line)."""


class DiskFullError(OutputError):
    """The disk filled while writing; the message names the device and the file."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove temporary files and folders of ours left in ``folder`` by processes that no longer run."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TMP.match(entry.name)
        if not m or int(m.group(1)) == os.getpid() or _pid_alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system holding ``path`` (or its nearest existing ancestor)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    dev = p.stat().st_dev
    while p != p.parent and p.parent.stat().st_dev == dev:
        p = p.parent
    return p


def is_disk_full(exc: BaseException) -> bool:
    """An OSError (or a pyarrow error wrapping one) caused by a full disk or quota."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return "No space left on device" in text or "[errno 28]" in text.lower() or "Disk quota exceeded" in text


def _newest_file(folder: Path) -> str:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return max(files, key=lambda p: p.stat().st_mtime_ns).name if files else "(nothing yet)"


def destination_problem(out: str | Path, replace: frozenset[str] = frozenset()) -> str | None:
    """Why ``out`` cannot become a new results folder (``None`` if it can), found before any work.

    A folder holding only files named in ``replace`` (an earlier output of the same command) may
    be replaced."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            return "exists and is not a folder; allowed: a new or empty folder"
        try:
            names = {p.name for p in out.iterdir()}
            if names and not (replace and names <= replace):
                return "exists and is not an empty folder; allowed: a new or empty folder"
        except OSError as exc:
            return f"cannot be read ({exc.strerror}); allowed: a new or empty folder you can write"
        if os.path.ismount(out):
            return "is a mount point (it cannot be replaced); allowed: a new folder, or a folder inside it"
    base = out.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        return f"{base} is a file, not a folder; allowed: a path under a folder"
    probe = base / f".greatleap-probe.tmp-{os.getpid()}-w"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"cannot write in {base} ({exc.strerror}); allowed: a folder you can write"
    return None


@contextmanager
def atomic_folder(out_dir: str | Path, replace: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out_dir`` (which must be new or empty,
    or hold only files named in ``replace``: that earlier output is then swapped out).

    On a full disk the error is a :class:`DiskFullError` naming the device and the file; the
    temporary folder is removed on any failure. The folder gets the usual permissions (umask).
    """
    out = Path(out_dir)
    problem = destination_problem(out, replace)
    if problem is not None:
        cls = FileExistsError if "exists" in problem else OutputError
        raise cls(f"output folder {out} {problem}")
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: respect the user's umask instead
        yield tmp
        if out.exists() and any(out.iterdir()):  # an earlier output: move it aside, then swap
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
            os.replace(out, old / "previous")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
            return
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException as exc:
        where = _newest_file(tmp) if tmp.exists() else "(nothing yet)"
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(exc):
            raise DiskFullError(errno.ENOSPC, f"no space left on {mount_point(out.parent)} while writing "
                                f"{where} (output folder {out}); nothing was written") from exc
        raise


def write_file_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary sibling renamed into place (no partial file)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if is_disk_full(exc):
            raise DiskFullError(errno.ENOSPC, f"no space left on {mount_point(path.parent)} while writing "
                                f"{path}") from exc
        raise


def safe_folder_name(name: str, limit: int = 64) -> str:
    """A scenario name as one harmless path component: letters, digits, ``-_.``; no leading dot; capped."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._")
    return cleaned[:limit].rstrip("._") or "scenario"


def markdown_table(frame) -> str:
    """A pandas DataFrame as a Markdown table (floats to 2 decimals, or 4 significant digits if small)."""
    import numpy as np

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.4g}"
        return str(v)

    cols = list(frame.columns)
    rows = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    rows += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join(rows)
