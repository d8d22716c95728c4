"""Atomic output: folders and files are written under a hidden temporary name that is renamed into
place only when complete, so a failure (an exception, Ctrl-C, a full disk) leaves nothing partial.

Temporary names carry the writer's process id (``.NAME.tmp-PID-XXXX``): one left by a process
that was killed outright (SIGKILL) is removed by the next writer in the same folder.

A destination checked before the work (:func:`check_destination`, as the command line does) that
another process has taken by the time the result is ready is not overwritten: the complete result
is kept beside it (``NAME-2``) and :class:`DestinationTaken` says where.
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


class DestinationError(OutputError):
    """A result's destination cannot take it. ``problem`` ends with what is allowed; ``kept`` is where
    the complete result was kept instead (``None``: nothing was written)."""

    def __init__(self, path: str | Path, problem: str, kept: Path | None = None):
        self.path, self.problem, self.kept = Path(path), problem, kept
        super().__init__(self.describe())

    def describe(self, key: str = "output folder") -> str:
        """One line: ``KEY = 'PATH': what; where the result went; allowed: ...``."""
        what, _, allowed = self.problem.partition("; allowed: ")
        fate = f"this run's complete results were kept in {str(self.kept)!r}" if self.kept else "nothing was written"
        return f"{key} = {str(self.path)!r}: {what}; {fate}" + (f"; allowed: {allowed}" if allowed else "")


class DestinationTaken(DestinationError, FileExistsError):
    """Something that is not ours to replace is at the destination (a file, a link, a folder with contents)."""


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
        if out.is_symlink():
            return "is a symbolic link (it would be replaced, not followed); allowed: a new or empty folder"
        if not out.is_dir():
            return "exists and is not a folder; allowed: a new or empty folder"
        try:
            names = {p.name for p in out.iterdir()}
            if names and not (replace and names <= replace):
                return "exists and is not an empty folder; allowed: a new or empty folder"
        except OSError as exc:
            return f"cannot be read ({exc.strerror}); allowed: a new or empty folder you can write"
        here = Path.cwd()
        if Path(os.path.abspath(out)) in (here, *here.parents):
            return ("is the current folder or holds it (it cannot be replaced); allowed: a new folder, or a folder "
                    "inside it")
        if os.path.ismount(out):
            return "is a mount point (it cannot be replaced); allowed: a new folder, or a folder inside it"
    return _parent_problem(out)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a file kept between runs (an SQLite study, history or store: new, or an
    existing one to reuse), found before any work; ``None`` if it can."""
    path = Path(path)
    if path.exists() and not path.is_file():
        return "is not a file; allowed: a file (new, or one written by an earlier run)"
    if path.is_file() and not os.access(path, os.R_OK | os.W_OK):
        return "cannot be read and written; allowed: a file you can write (new, or one written by an earlier run)"
    return _parent_problem(path)


def folder_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a folder kept between runs (a cache: new, or an existing one to add to),
    found before any work; ``None`` if it can."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return "exists and is not a folder; allowed: a folder (created if missing)"
    return _parent_problem(path / "x" if path.is_dir() else path)


def _parent_problem(path: Path) -> str | None:
    """Why nothing can be made at ``path``: its nearest existing ancestor is a file or cannot be written."""
    base = path.parent
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


_CHECKED: set[str] = set()  # destinations found free before the work (absolute paths)


def check_destination(out: str | Path, replace: frozenset[str] = frozenset()) -> str | None:
    """:func:`destination_problem`; a destination found free is remembered, so that if another process
    takes it before the result is ready, :func:`atomic_folder` keeps the result beside it."""
    problem = destination_problem(out, replace)
    if problem is None:
        _CHECKED.add(os.path.abspath(out))
    return problem


def _occupied(out: Path, replace: frozenset[str]) -> bool:
    """Something is at ``out`` that a result may not replace (a file, a link, a folder with other contents)."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        return True
    try:
        names = {p.name for p in out.iterdir()}
    except OSError:
        return False
    return bool(names) and not (replace and names <= replace)


def _make_parents(out: Path) -> list[Path]:
    """Create ``out``'s missing parent folders; return those made (deepest first) to remove on failure."""
    made, p = [], out.parent
    while not (p.exists() or p.is_symlink()) and p != p.parent:
        made.append(p)
        p = p.parent
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_empty(made)
        raise DestinationError(out, f"cannot make {out.parent} ({exc.strerror}); allowed: a path under a folder "
                                    "you can write") from None
    return made


def _remove_empty(folders: list[Path]) -> None:
    for d in folders:
        try:
            d.rmdir()
        except OSError:
            return


def _keep_beside(tmp: Path, out: Path) -> Path | None:
    """Rename the complete result ``tmp`` to the first free ``OUT-2``, ``OUT-3`` ...; ``None`` if none could be."""
    for k in range(2, 1000):
        candidate = out.with_name(f"{out.name}-{k}")
        if candidate.exists() or candidate.is_symlink():
            continue
        try:
            os.rename(tmp, candidate)
            return candidate
        except OSError:
            continue
    return None


_TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR, errno.EBUSY)


def _move_into_place(tmp: Path, out: Path, replace: frozenset[str]) -> None:
    """Rename ``tmp`` to ``out`` (new or empty) in one step, or swap out an earlier output (names in ``replace``).

    Raises OSError with an errno in ``_TAKEN`` when something else is at ``out``: rename never replaces a
    file or a folder with contents."""
    if replace and out.is_dir() and not out.is_symlink() and not _occupied(out, replace) and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
        os.rename(out, old / "previous")
        try:
            os.rename(tmp, out)
        except OSError:
            try:
                os.rename(old / "previous", out)  # put the earlier output back
            except OSError:
                _keep_beside(old / "previous", out)  # something took its place: keep it beside, not lose it
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    os.rename(tmp, out)


@contextmanager
def atomic_folder(out_dir: str | Path, replace: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out_dir`` (which must be new or empty,
    or hold only files named in ``replace``: that earlier output is then swapped out).

    A destination that cannot be used raises :class:`DestinationError` (:class:`DestinationTaken`,
    a FileExistsError, when something is there), with nothing written; but if it was found free
    by :func:`check_destination` and another process took it since, the complete result is kept
    beside it and the error names where. On a full disk the error is a :class:`DiskFullError`
    naming the device and the file; the temporary folder is removed on any failure. The folder
    gets the usual permissions (umask).
    """
    out = Path(out_dir)
    checked = os.path.abspath(out) in _CHECKED
    problem = destination_problem(out, replace)
    if problem is not None and not (checked and _occupied(out, replace)):
        raise (DestinationTaken if _occupied(out, replace) else DestinationError)(out, problem)
    made = _make_parents(out)
    clean_stale(out.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    except OSError as exc:
        _remove_empty(made)
        raise DestinationError(out, f"cannot write in {out.parent} ({exc.strerror}); allowed: a folder you can "
                                    "write") from None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700: respect the user's umask instead
        yield tmp
    except BaseException as exc:
        where = _newest_file(tmp) if tmp.exists() else "(nothing yet)"
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        if is_disk_full(exc):
            raise DiskFullError(errno.ENOSPC, f"no space left on {mount_point(out.parent)} while writing "
                                f"{where} (output folder {out}); nothing was written") from exc
        raise
    try:
        _move_into_place(tmp, out, replace)
    except OSError as exc:
        taken = exc.errno in _TAKEN
        kept = _keep_beside(tmp, out) if taken and checked else None
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        if not taken:
            raise DestinationError(out, f"cannot be written ({exc.strerror}); allowed: a folder you can "
                                        "write") from None
        what, _, allowed = (destination_problem(out, replace) or "is taken").partition("; allowed: ")
        if checked:
            what = f"was free when this command started but another process has written there since ({what})"
        raise DestinationTaken(out, f"{what}; allowed: {allowed or 'a new or empty folder'}", kept) from None


def lock_exclusively(path: str | Path) -> int:
    """Open ``path`` (made if missing; an empty file is a new SQLite database) and take an exclusive
    advisory lock on it for as long as the returned descriptor stays open: one writer at a time for a
    file kept between runs. Raises BlockingIOError when another process holds it. Close the
    descriptor only after the file's own connections (closing it drops this process's POSIX locks)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - no flock (Windows): unguarded
        pass
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise BlockingIOError(exc.errno, f"{path} is in use by another process") from None
        if exc.errno != errno.ENOLCK:  # a file system without locks: unguarded, as before
            raise
        fd = os.open(path, os.O_RDWR)
    return fd


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
