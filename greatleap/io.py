"""Atomic output: folders and files are written under a hidden temporary name that is renamed into
place only when complete, so a failure (an exception, Ctrl-C, a full disk) leaves nothing partial.

Temporary names carry the writer's process id and a token for its machine (host name and process-id
namespace: ``.NAME.tmp-PID-hTOKEN-XXXX``): one left by a process that was killed outright (SIGKILL) is
removed by the next writer *on the same machine* in the same folder; on a shared file system another
machine's temporary folders are left alone, since whether their writer still runs cannot be seen.
A result folder's files are flushed to disk (fsync) before the rename that publishes it, and the
rename itself after, so that a crash leaves the old state or the complete result.

A destination checked before the work (:func:`check_destination`, as the command line does) that
another process has taken by the time the result is ready is not overwritten: the complete result
is kept beside it (``NAME-2``) and :class:`DestinationTaken` says where.
"""
from __future__ import annotations

import errno
import functools
import hashlib
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# .NAME.KIND-PID-hTOKEN-XXXX (no token: an earlier version's); KIND aside: an earlier output moved aside
_TMP = re.compile(r"^\.(.+)\.(tmp|aside)-(\d+)-(?:h([0-9a-f]{8})-)?[A-Za-z0-9_]+$")
_RANDOM = 8  # characters tempfile adds to a prefix


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


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read without changing it where the system shows it (Linux: /proc);
    elsewhere set and put back, one thread at a time."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def _host_token() -> str:
    """8 hex digits naming this machine and process-id namespace (a container has its own pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except (OSError, AttributeError):
        namespace = ""
    return hashlib.sha256(f"{socket.gethostname()}\0{namespace}".encode()).hexdigest()[:8]


def _tmp_prefix(name: str, kind: str = "tmp") -> str:
    """The start of a temporary name for ``name`` written by this process (tempfile adds the rest)."""
    return f".{name}.{kind}-{os.getpid()}-h{_host_token()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        pass
    return True


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove temporary files and folders of ours left in ``folder`` by processes of this machine that no
    longer run. A process id reused since by another process keeps its folder (left, not lost). An earlier
    output its writer moved aside to swap in a new one, and was killed before it could, is put back."""
    removed, here = [], _host_token()
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        m = _TMP.match(entry.name)
        if not m or m.group(4) not in (None, here) or int(m.group(3)) == os.getpid() or _pid_alive(int(m.group(3))):
            continue
        try:
            if m.group(2) == "aside" and (entry / "previous").is_dir() and not os.path.lexists(entry.parent / m[1]):
                os.rename(entry / "previous", entry.parent / m[1])
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def mount_point(path: str | Path) -> Path:
    """The mount point of the file system holding ``path`` (or its nearest existing ancestor)."""
    p = _existing_ancestor(path)
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


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (never raises)."""
    p = Path(os.path.abspath(path))
    while not os.path.exists(p) and p != p.parent:
        p = p.parent
    return p


def _limit(base: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(base, name)
    except (OSError, ValueError, AttributeError):
        return default


def _name_problem(path: Path) -> str | None:
    """Why the file system cannot take ``path``'s name: a part longer than it allows, no room in the
    last part for the temporary name used while writing, or a path longer than it allows."""
    base = _existing_ancestor(path)
    most = _limit(base, "PC_NAME_MAX", 255)
    room = most - len(os.fsencode(_tmp_prefix(""))) - _RANDOM
    for part, allowed in [(p, most) for p in path.parts[:-1]] + [(path.name, room)]:
        size = len(os.fsencode(part))
        if size > allowed:
            return (f"has a name of {size} bytes ({part[:12]}...), too long for the file system; allowed: a name "
                    f"of at most {allowed} bytes" + (" (room is left for a temporary name)" if allowed == room else ""))
    size, longest = len(os.fsencode(os.path.abspath(path))), _limit(base, "PC_PATH_MAX", 4096) - most + room - 1
    if size > longest:
        return f"is a path of {size} bytes, too long for the file system; allowed: a path of at most {longest} bytes"
    return None


def _guarded(check):
    """``check(path, ...)`` after :func:`_name_problem`, with an OSError while looking at the path (a
    folder on the way that cannot be opened) as a problem too, not a traceback."""
    @functools.wraps(check)
    def guarded(path, *args):
        path = Path(path)
        try:
            return _name_problem(path) or check(path, *args)
        except OSError as exc:
            return f"cannot be looked at ({exc.strerror}); allowed: a path through folders you can open"
    return guarded


@_guarded
def destination_problem(out: str | Path, replace: frozenset[str] = frozenset()) -> str | None:
    """Why ``out`` cannot become a new results folder (``None`` if it can), found before any work.

    A folder holding only files named in ``replace`` (an earlier output of the same command) may
    be replaced."""
    out = Path(out)
    if out.name == "..":
        return "ends in '..' (a folder above, which cannot be replaced); allowed: a new or empty folder"
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
        here = Path(os.path.realpath(Path.cwd()))
        if Path(os.path.realpath(out)) in (here, *here.parents):  # also when named through a linked folder
            return ("is the current folder or holds it (it cannot be replaced); allowed: a new folder, or a folder "
                    "inside it")
        if os.path.ismount(out):
            return "is a mount point (it cannot be replaced); allowed: a new folder, or a folder inside it"
    return _parent_problem(out)


@_guarded
def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a file kept between runs (an SQLite study, history or store: new, or an
    existing one to reuse), found before any work; ``None`` if it can."""
    path = Path(path)
    if path.exists() and not path.is_file():
        return "is not a file; allowed: a file (new, or one written by an earlier run)"
    if path.is_file() and not os.access(path, os.R_OK | os.W_OK):
        return "cannot be read and written; allowed: a file you can write (new, or one written by an earlier run)"
    return _parent_problem(path)


@_guarded
def folder_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be a folder kept between runs (a cache: new, or an existing one to add to),
    found before any work; ``None`` if it can."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return "exists and is not a folder; allowed: a folder (created if missing)"
    return _parent_problem(path / "x" if path.is_dir() else path)


def _parent_problem(path: Path) -> str | None:
    """Why nothing can be made at ``path``: its nearest existing ancestor is a file or cannot be written."""
    base = _existing_ancestor(path.parent)
    if not base.is_dir():
        return f"{base} is a file, not a folder; allowed: a path under a folder"
    probe = base / f"{_tmp_prefix('greatleap-probe')}w"
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
    """Something is at ``out`` that a result may not replace (a file, a link, a folder with other contents);
    ``False`` where that cannot be seen."""
    try:
        if out.is_symlink() or (out.exists() and not out.is_dir()):
            return True
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
    file or a folder with contents (nor does the swap: what arrived meanwhile is put back)."""
    if replace and out.is_dir() and not out.is_symlink() and not _occupied(out, replace) and any(out.iterdir()):
        old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out.name, "aside"), dir=out.parent))
        previous = old / "previous"
        try:
            os.rename(out, previous)
            if _occupied(previous, replace):  # something arrived since the last look: not ours to delete
                raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), str(out))
            os.rename(tmp, out)
        except BaseException:  # an error or Ctrl-C: the earlier output goes back
            if previous.exists():
                try:
                    os.rename(previous, out)
                except OSError:
                    _keep_beside(previous, out)  # something took its place: keep it beside, not lose it
            raise
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    os.rename(tmp, out)


def _fsync(path: str | Path) -> None:
    """Flush a file or folder to disk; one that cannot be opened, or cannot be flushed (EINVAL), is left."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:  # a file the writer made unreadable: nothing to open it with
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def _sync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` (deepest first), so that the rename publishing it
    never reaches the disk before its contents (POSIX; elsewhere folders cannot be opened)."""
    if os.name != "posix":  # pragma: no cover
        return
    for root, _, files in os.walk(folder, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(root, name)):
                _fsync(os.path.join(root, name))
        _fsync(root)


@contextmanager
def atomic_folder(out_dir: str | Path, replace: frozenset[str] = frozenset()) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out_dir`` (which must be new or empty,
    or hold only files named in ``replace``: that earlier output is then swapped out).

    A destination that cannot be used raises :class:`DestinationError` (:class:`DestinationTaken`,
    a FileExistsError, when something is there), with nothing written; but if it was found free
    by :func:`check_destination` and another process took it since, the complete result is kept
    beside it and the error names where. On a full disk the error is a :class:`DiskFullError`
    naming the device and the file, on any other OSError an :class:`OutputError` naming the file;
    the temporary folder is removed on any failure. The folder gets the usual permissions (umask)
    and keeps a set-group-id bit inherited from its parent. Its contents are flushed to disk before
    the rename, and the parent folder after (crash-consistent).
    """
    out = Path(out_dir)
    checked = os.path.abspath(out) in _CHECKED
    problem = destination_problem(out, replace)
    if problem is not None and not (checked and _occupied(out, replace)):
        raise (DestinationTaken if _occupied(out, replace) else DestinationError)(out, problem)
    made = _make_parents(out)
    clean_stale(out.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(out.name), dir=out.parent))
    except OSError as exc:
        _remove_empty(made)
        if is_disk_full(exc):
            raise DiskFullError(errno.ENOSPC, f"no space left on {mount_point(out.parent)} while making the output "
                                f"folder {out}; nothing was written") from None
        raise DestinationError(out, f"cannot write in {out.parent} ({exc.strerror}); allowed: a folder you can "
                                    "write") from None
    try:
        # mkdtemp makes 0700: respect the user's umask instead; a shared project folder's group stays
        os.chmod(tmp, (0o777 & ~_umask()) | (tmp.stat().st_mode & stat.S_ISGID))
        yield tmp
        _sync_tree(tmp)  # a full disk may show only now (delayed allocation, NFS)
    except BaseException as exc:
        where = _newest_file(tmp) if tmp.exists() else "(nothing yet)"
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        if is_disk_full(exc):
            raise DiskFullError(errno.ENOSPC, f"no space left on {mount_point(out.parent)} while writing "
                                f"{where} (output folder {out}); nothing was written") from exc
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):  # EIO, a permission taken away ...
            name = Path(exc.filename).name if isinstance(exc.filename, (str, os.PathLike)) else where
            raise OutputError(exc.errno, f"cannot write {name} (output folder {out}): {exc.strerror or exc}; "
                                         "nothing was written") from exc
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
    except BaseException:  # Ctrl-C at the rename: no temporary folder left
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise
    try:
        _fsync(out.parent)  # the rename itself
    except OSError:
        pass  # the result is in place; only its durability across a crash is not assured


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
    """Write ``data`` to ``path`` through a temporary sibling renamed into place (no partial file).
    Not flushed to disk (fsync): the run cache, its one user, checks every entry's checksum."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path.name), dir=path.parent)
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
