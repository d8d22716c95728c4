"""greatleap.io under review: names the file system cannot take, temporary folders of writers on other
machines, crash consistency (fsync), the umask read without changing it, set-group-id folders, the
current folder reached through a link, and an earlier output swapped out while something arrives or
Ctrl-C lands. Each test failed before its fix."""
import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

import greatleap.io as gio
from greatleap.cli import app
from greatleap.io import (DestinationError, DestinationTaken, DiskFullError, atomic_folder, check_destination, clean_stale,
                          destination_problem, file_problem, folder_problem)

runner = CliRunner()


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def everything(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------------------------ names the file system cannot take
@pytest.mark.parametrize("check", [destination_problem, file_problem, folder_problem])
def test_a_name_too_long_is_one_line_not_a_traceback(tmp_path, check):
    """A 300-byte name made every check raise OSError(ENAMETOOLONG): a traceback from the command line."""
    problem = check(tmp_path / ("x" * 300))
    assert problem and "too long" in problem and "allowed: a name of at most" in problem
    deep = tmp_path.joinpath(*["y" * 200] * 25)  # every part fits, the whole path does not (PATH_MAX)
    assert "allowed:" in check(deep) and "\n" not in check(deep)


def test_a_name_with_no_room_for_the_temporary_name_is_refused_before_the_work(tmp_path):
    """A 250-byte --out passed the check, the command did all its work, then failed at the end
    ('cannot write in PARENT (File name too long)'): the temporary name is longer than the name."""
    out = tmp_path / ("x" * 250)
    assert "too long" in destination_problem(out)
    fine = tmp_path / ("x" * 200)
    assert destination_problem(fine) is None
    with atomic_folder(fine) as tmp:
        (tmp / "a").write_text("a")
    assert (fine / "a").is_file()


def test_the_command_line_refuses_a_long_out_at_once(tmp_path):
    out = str(tmp_path / ("x" * 300))
    result = runner.invoke(app, ["estimate", "--out", out])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line, = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert f"--out = '{out}'" in line and "too long" in line and list(tmp_path.iterdir()) == []


def test_an_out_ending_in_dotdot_is_refused(tmp_path, monkeypatch):
    """'new/..' was accepted, then failed at the end saying it 'is taken'."""
    monkeypatch.chdir(tmp_path)
    assert "'..'" in destination_problem("new/..")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", ["with space", "ünïcödé 大跃进/out", "trailing/", "new/sub/out", "empty", "empty/"])
def test_unusual_but_valid_destinations_are_written(tmp_path, monkeypatch, out):
    """Checked and found fine: relative paths, spaces, non-ASCII, a trailing slash, an empty folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert check_destination(out) is None
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("a")
    assert (tmp_path / out / "a.csv").read_text() == "a"
    assert not [p for p in tmp_path.rglob("*") if gio._TMP.match(p.name)]


# ------------------------------------------------------------------ writers on other machines
def test_a_live_writer_on_another_machine_keeps_its_temporary_folder(tmp_path, monkeypatch):
    """On a shared file system a temporary folder of a process on another machine (or in another
    container) was removed whenever its pid was not running *here*: that run then failed at the end."""
    import socket
    real_pid, real_host, other = os.getpid, socket.gethostname, dead_pid()
    monkeypatch.setattr(os, "getpid", lambda: other)
    monkeypatch.setattr(socket, "gethostname", lambda: "node-b.cluster")
    with atomic_folder(tmp_path / "theirs") as tmp:  # written on node-b by a process still running there
        (tmp / "half").write_text("x")
        monkeypatch.setattr(os, "getpid", real_pid)  # meanwhile, here, where that pid is not running:
        monkeypatch.setattr(socket, "gethostname", real_host)
        assert clean_stale(tmp_path) == [] and (tmp / "half").is_file()
        monkeypatch.setattr(os, "getpid", lambda: other)
        monkeypatch.setattr(socket, "gethostname", lambda: "node-b.cluster")
    monkeypatch.setattr(os, "getpid", real_pid)
    assert (tmp_path / "theirs" / "half").is_file()


def test_a_dead_writer_on_this_machine_is_still_cleaned(tmp_path, monkeypatch):
    other, real = dead_pid(), os.getpid
    monkeypatch.setattr(os, "getpid", lambda: other)
    cm = atomic_folder(tmp_path / "killed")
    tmp = cm.__enter__()  # the writer was killed (SIGKILL) here: its folder stays
    monkeypatch.setattr(os, "getpid", real)
    assert clean_stale(tmp_path) == [tmp] and list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ crash consistency
def test_results_are_on_disk_before_the_rename_and_the_rename_after(tmp_path, monkeypatch):
    """Nothing was fsynced: after a power cut the renamed folder could hold empty or partial files."""
    events, real_fsync, real_rename = [], os.fsync, os.rename
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("sync", os.fstat(fd).st_ino)), real_fsync(fd)))
    monkeypatch.setattr(os, "rename", lambda a, b: (events.append(("rename", Path(b))), real_rename(a, b)))
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "a.csv").write_text("a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.csv").write_text("b")
    inodes = {p.stat().st_ino for p in (out, out / "a.csv", out / "sub", out / "sub" / "b.csv")}
    at = events.index(("rename", out))
    assert inodes <= {i for kind, i in events[:at] if kind == "sync"}
    assert ("sync", tmp_path.stat().st_ino) in events[at:]  # the parent folder: the rename itself


def test_a_full_disk_found_only_at_fsync_leaves_nothing(tmp_path, monkeypatch):
    """Delayed allocation (and NFS) report ENOSPC when the data is flushed, not at write."""
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFullError, match="no space left on .* while writing a.csv"):
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "a.csv").write_text("a")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ permissions
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the umask from /proc (Linux)")
def test_reading_the_umask_never_changes_it(monkeypatch):
    """The umask was read by setting it to 022 and back: another thread creating a file, or reading it the
    same way, in between got 022 - and two readers could leave the process at 022 for good."""
    old = os.umask(0o077)
    real, other = os.umask, []

    def umask(mask):  # another thread runs between the two calls and reads the mask the same way
        previous = real(mask)
        if not other:
            other.append("ran")
            thread = threading.Thread(target=lambda: other.append(gio._umask()))
            thread.start()
            thread.join()
        return previous

    monkeypatch.setattr(os, "umask", umask)
    try:
        assert gio._umask() == 0o077 and other[1:] in ([], [0o077])  # the other thread saw the user's mask
        assert real(0o077) == 0o077  # still the user's
    finally:
        real(old)


@pytest.mark.skipif(os.name != "posix", reason="set-group-id folders are POSIX")
def test_a_set_group_id_parent_is_respected(tmp_path):
    """Files in a project folder with the set-group-id bit belong to the project's group; the result
    folder inherits the bit, but the chmod for the umask cleared it, so its files lost the group."""
    tmp_path.chmod(0o2775)
    with atomic_folder(tmp_path / "out") as tmp:
        (tmp / "a").write_text("a")
    assert (tmp_path / "out").stat().st_mode & stat.S_ISGID


# ------------------------------------------------------------------ the current folder through a link
def test_the_current_folder_reached_through_a_link_is_refused(tmp_path, monkeypatch):
    """An empty current folder named through a linked parent was accepted and then replaced."""
    (tmp_path / "real" / "here").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "real" / "here")
    assert "is the current folder" in destination_problem(tmp_path / "link" / "here")


# ------------------------------------------------------------------ swapping out an earlier output
NAMES = frozenset({"best.toml"})


def earlier_output(tmp_path) -> Path:
    out = tmp_path / "cal"
    out.mkdir()
    (out / "best.toml").write_text("old")
    return out


def test_a_file_arriving_while_the_earlier_output_is_swapped_out_is_kept(tmp_path, monkeypatch):
    """A file written into the folder between the last look and the swap went into the folder that
    was then deleted."""
    out, real = earlier_output(tmp_path), os.rename

    def rename(a, b):
        if Path(a) == out:
            (out / "theirs.txt").write_text("theirs")  # arrives just before the swap
        return real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    check_destination(out, NAMES)
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out, replace=NAMES) as tmp:
            (tmp / "best.toml").write_text("new")
    assert (out / "theirs.txt").read_text() == "theirs" and (out / "best.toml").read_text() == "old"
    assert (caught.value.kept / "best.toml").read_text() == "new"
    assert everything(tmp_path) == ["cal", "cal-2", "cal-2/best.toml", "cal/best.toml", "cal/theirs.txt"]


def test_ctrl_c_while_swapping_keeps_the_earlier_output_and_leaves_no_temporary(tmp_path, monkeypatch):
    """Ctrl-C between moving the earlier output aside and moving the new one in deleted the earlier
    output and left the new one in a temporary folder."""
    out, real = earlier_output(tmp_path), os.rename

    def rename(a, b):
        if Path(b) == out and Path(a).name != "previous":  # not when putting the earlier output back
            raise KeyboardInterrupt
        return real(a, b)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(out, replace=NAMES) as tmp:
            (tmp / "best.toml").write_text("new")
    assert everything(tmp_path) == ["cal", "cal/best.toml"] and (out / "best.toml").read_text() == "old"


def test_ctrl_c_at_the_rename_leaves_no_temporary(tmp_path, monkeypatch):
    real = os.rename
    monkeypatch.setattr(os, "rename", lambda a, b: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(tmp_path / "a" / "out") as tmp:
            (tmp / "x").write_text("x")
    monkeypatch.setattr(os, "rename", real)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ other write failures
def test_an_io_error_while_writing_results_is_one_line_not_a_traceback(tmp_path, monkeypatch):
    """A disk full was one line; any other failure writing the results (EIO, a permission taken away)
    escaped as a traceback."""
    import pyarrow.parquet as pq

    def broken(table, path, *args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(pq, "write_table", broken)
    f = tmp_path / "short.toml"
    f.write_text('extends = "historical"\n[run]\nend = "1958-03"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(f), "--scale", "100000", "--no-plot", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    line, = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert "cannot write monthly_national.parquet" in line and "Input/output error" in line and str(tmp_path / "o") in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.toml"]


KILLED_MID_SWAP = """
import os, signal, sys
from pathlib import Path
from greatleap.io import atomic_folder
out, real = Path(sys.argv[1]), os.rename
def rename(a, b):
    if Path(b) == out:  # the earlier output is aside, the new one not yet in: killed outright
        os.kill(os.getpid(), signal.SIGKILL)
    real(a, b)
os.rename = rename
with atomic_folder(out, replace=frozenset({"best.toml"})) as tmp:
    (tmp / "best.toml").write_text("new")
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_an_earlier_output_aside_when_its_writer_was_killed_is_put_back(tmp_path):
    """Killed (SIGKILL) between moving the earlier output aside and moving the new one in, the earlier
    output was left inside a temporary folder, which the next writer then deleted."""
    out = earlier_output(tmp_path)
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SWAP, str(out)], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    assert not out.exists() and len(list(tmp_path.iterdir())) == 2  # aside, and the new result's temporary
    with atomic_folder(tmp_path / "next") as tmp:  # the next writer in that folder cleans up
        (tmp / "a").write_text("a")
    assert everything(tmp_path) == ["cal", "cal/best.toml", "next", "next/a"]
    assert (out / "best.toml").read_text() == "old"


def test_a_full_disk_when_making_the_temporary_folder_is_a_full_disk(tmp_path, monkeypatch):
    """It was 'cannot write in PARENT (No space left on device); allowed: a folder you can write' (exit 2,
    as for bad input) instead of the full-disk error (exit 1) naming the device."""
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkdtemp", full)
    with pytest.raises(DiskFullError, match=f"no space left on .* while making the output folder {tmp_path / 'a' / 'o'}"):
        with atomic_folder(tmp_path / "a" / "o"):
            pass
    assert list(tmp_path.iterdir()) == []


def test_a_destination_that_cannot_be_looked_at_is_a_destination_error(tmp_path, monkeypatch):
    """Where looking at the path fails (a folder on the way without search permission, EACCES), the
    check said so, but atomic_folder then looked again to choose the error and raised PermissionError."""
    out, real = tmp_path / "out", os.stat

    def stat_(path, *args, **kwargs):
        if not isinstance(path, int) and Path(path) == out:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_)
    with pytest.raises(DestinationError, match="cannot be looked at \\(Permission denied\\)"):
        with atomic_folder(out):
            pass
    monkeypatch.setattr(os, "stat", real)
    assert list(tmp_path.iterdir()) == []
