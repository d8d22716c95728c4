"""Result folders and state files under concurrent or unusual use: a destination taken by another
process while a command works, or unusable from the start (a folder with contents, a file, a link,
a path under a file, a read-only folder). Each gives one line naming --out (or the file's option),
exit 2, no traceback, and nothing half-written; a finished result is kept beside a taken folder."""
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import greatleap.cli.common as cli_common
from greatleap.cli import app
from greatleap.io import (DestinationError, DestinationTaken, atomic_folder, check_destination, destination_problem,
                          file_problem)

runner = CliRunner()


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary folders or files of ours still in ``folder`` (an earlier output moved aside too)."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or ".aside-" in p.name)


def theirs(out: Path) -> None:
    """Another process's finished result at ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "other.txt").write_text("theirs", encoding="utf-8")


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# ------------------------------------------------------------------ atomic_folder itself
def test_a_folder_taken_while_writing_keeps_the_result_beside_it(tmp_path):
    out = tmp_path / "out"
    assert check_destination(out) is None  # found free before the work, as the command line does
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out) as tmp:
            (tmp / "ours.txt").write_text("ours")
            theirs(out)  # another run finished first
    exc = caught.value
    assert isinstance(exc, FileExistsError) and exc.kept == tmp_path / "out-2"
    assert (out / "other.txt").read_text() == "theirs" and sorted(p.name for p in out.iterdir()) == ["other.txt"]
    assert (tmp_path / "out-2" / "ours.txt").read_text() == "ours"
    assert "another process has written there since" in str(exc) and "kept in" in str(exc) and "\n" not in str(exc)
    assert leftovers(tmp_path) == []


def test_a_folder_taken_before_writing_still_keeps_the_finished_work(tmp_path):
    out = tmp_path / "out"
    check_destination(out)
    theirs(out)  # the other run finished while this one computed
    (tmp_path / "out-2").mkdir()  # the next name is taken too: out-3
    (tmp_path / "out-2" / "x").write_text("x")
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out) as tmp:
            (tmp / "ours.txt").write_text("ours")
    assert caught.value.kept == tmp_path / "out-3" and (tmp_path / "out-3" / "ours.txt").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["other.txt"] and leftovers(tmp_path) == []


def test_a_destination_never_checked_is_refused_before_writing(tmp_path):
    """Library use (Results.save and the like): a taken folder is an error at once, nothing written."""
    out = tmp_path / "out"
    theirs(out)
    ran = []
    with pytest.raises(FileExistsError) as caught:
        with atomic_folder(out):
            ran.append(1)
    assert not ran and caught.value.kept is None and "nothing was written" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_race_in_library_use_deletes_only_its_own_temporary_folder(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out) as tmp:
            (tmp / "ours.txt").write_text("ours")
            theirs(out)
    assert caught.value.kept is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and (out / "other.txt").is_file()


def test_replace_swaps_only_an_earlier_output_never_another_runs_folder(tmp_path):
    """``replace`` (calibrate's earlier best.toml, top.csv ...) must not swap out a folder another run
    filled meanwhile: before, any non-empty folder found at the end was moved aside and deleted."""
    out, names = tmp_path / "cal", frozenset({"best.toml"})
    out.mkdir()
    (out / "best.toml").write_text("old")
    with atomic_folder(out, replace=names) as tmp:  # the earlier output is replaced
        (tmp / "best.toml").write_text("new")
    assert (out / "best.toml").read_text() == "new" and leftovers(tmp_path) == []
    check_destination(out, names)
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out, replace=names) as tmp:
            (tmp / "best.toml").write_text("newer")
            (out / "other.txt").write_text("theirs")  # someone else's file arrives
    assert sorted(p.name for p in out.iterdir()) == ["best.toml", "other.txt"]
    assert (out / "best.toml").read_text() == "new" and (caught.value.kept / "best.toml").read_text() == "newer"


def test_a_file_or_link_at_the_destination(tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    assert "not a folder" in destination_problem(tmp_path / "file")
    assert "symbolic link" in destination_problem(tmp_path / "link")
    out = tmp_path / "out"
    check_destination(out)
    with pytest.raises(DestinationTaken) as caught:
        with atomic_folder(out) as tmp:
            (tmp / "a").write_text("a")
            out.write_text("a file appeared")
    assert out.read_text() == "a file appeared" and (caught.value.kept / "a").is_file()


def test_the_current_folder_is_refused_even_when_empty(tmp_path, monkeypatch):
    """Before, ``--out .`` in an empty folder ended in a traceback and left a temporary folder in it."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert destination_problem("..") is not None  # holds the current folder (and is not empty)
    for out in (".", "", "../here"):
        assert "is the current folder" in destination_problem(out)
    result = runner.invoke(app, ["estimate", "--out", "."])
    assert result.exit_code == 2 and "--out = '.': is the current folder" in error_lines(result.output)[0]
    assert list(here.iterdir()) == [] and "Traceback" not in result.output


def test_a_parent_that_became_a_file_writes_nothing(tmp_path):
    out = tmp_path / "a" / "b" / "out"
    check_destination(out)
    (tmp_path / "a").write_text("now a file")
    with pytest.raises(DestinationError) as caught:
        with atomic_folder(out):
            pass
    assert not isinstance(caught.value, DestinationTaken) and "is a file, not a folder" in str(caught.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


def test_parent_folders_made_for_a_failed_write_are_removed(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_folder(tmp_path / "a" / "b" / "out") as tmp:
            (tmp / "half").write_text("x")
            raise RuntimeError("failed midway")
    assert list(tmp_path.iterdir()) == []


def test_file_problem(tmp_path):
    (tmp_path / "file").write_text("x")
    assert file_problem(tmp_path / "new" / "h.sqlite") is None and file_problem(tmp_path / "file") is None
    assert "is not a file" in file_problem(tmp_path)
    assert "is a file, not a folder" in file_problem(tmp_path / "file" / "h.sqlite")


# ------------------------------------------------------------------ the command line: a folder taken meanwhile
@pytest.fixture()
def taken_meanwhile(monkeypatch):
    """Every --out is taken by 'another process' right after the command's up-front check."""
    real = cli_common.check_destination

    def check_then_taken(out, replace=frozenset()):
        problem = real(out, replace)
        theirs(Path(out))
        return problem

    monkeypatch.setattr(cli_common, "check_destination", check_then_taken)


def assert_kept_beside(result, out: Path, expected_file: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not (result.exception and not isinstance(result.exception, SystemExit))
    line, = error_lines(result.output)
    kept = out.with_name(out.name + "-2")
    assert f"--out = '{out}'" in line and f"kept in '{kept}'" in line and "allowed: a new or empty folder" in line
    assert sorted(p.name for p in out.iterdir()) == ["other.txt"]  # theirs untouched
    assert (kept / expected_file).is_file() and leftovers(out.parent) == []


def test_estimate_out_taken_meanwhile(tmp_path, taken_meanwhile):
    out = tmp_path / "est"
    assert_kept_beside(runner.invoke(app, ["estimate", "--out", str(out)]), out, "estimates.csv")


def test_run_out_taken_meanwhile(tmp_path, taken_meanwhile):
    f = tmp_path / "short.toml"
    f.write_text('extends = "historical"\n[run]\nend = "1958-03"\n', encoding="utf-8")
    out = tmp_path / "run"
    result = runner.invoke(app, ["run", str(f), "--scale", "100000", "--no-plot", "--out", str(out)])
    assert_kept_beside(result, out, "run.json")


def test_two_sensitivity_runs_into_one_folder(tmp_path, taken_meanwhile):
    """The reported bug: the second of two runs with the same --out died with a FileExistsError traceback."""
    pytest.importorskip("SALib", reason="sensitivity needs the 'uncertainty' extra (pip install -e '.[uncertainty]')")
    f = tmp_path / "two.toml"
    f.write_text('extends = "historical"\nname = "two"\n[run]\nend = "1962-12"\n[calibration]\nparameters = [\n'
                 '  {key = "mortality.starvation_hazard", low = 0.2, high = 0.5},\n'
                 '  {key = "reporting.inflation_max", low = 0.6, high = 2.0}]\n', encoding="utf-8")
    out = tmp_path / "sens"
    result = runner.invoke(app, ["sensitivity", str(f), "--samples", "2", "--scale", "100000", "--jobs", "1",
                                 "--outputs", "excess_deaths", "--cache", str(tmp_path / "s.sqlite"),
                                 "--out", str(out)])
    assert_kept_beside(result, out, "sensitivity.csv")
    kept = tmp_path / "sens-2"
    assert {"settings.json", "report.md"} <= {p.name for p in kept.iterdir()}  # the whole report, not a part
    assert "mortality.starvation_hazard" in (kept / "sensitivity.csv").read_text()


# ------------------------------------------------------------------ the command line: unusable from the start
@pytest.fixture(scope="module")
def read_only(tmp_path_factory):
    """A read-only file system (a tmpfs; needs root and mount, as test_faults' full disk): root ignores chmod."""
    mnt = tmp_path_factory.mktemp("ro")
    if os.geteuid() != 0:
        mnt.chmod(0o500)
        yield mnt
        mnt.chmod(0o700)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,ro", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("needs mount (as root) to make a read-only folder")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


COMMANDS = {  # each would run for minutes if the destination were not refused first
    "run": ["run"],
    "run --posterior": ["run", "--posterior", "builtin", "--draws", "2"],
    "validate": ["validate"],
    "compare": ["compare", "historical", "no_great_leap"],
    "decompose": ["decompose"],
    "calibrate": ["calibrate", "--trials", "1"],
    "calibrate --method abc": ["calibrate", "--method", "abc"],
    "sensitivity": ["sensitivity"],
    "posterior-report": ["posterior-report"],
    "posterior-predict": ["posterior-predict"],
    "estimate": ["estimate"],
}
CASES = {
    "a folder with contents": ("full", "not an empty folder"),
    "a file": ("file", "exists and is not a folder"),
    "a link": ("link", "symbolic link"),
    "under a file": ("file/out", "is a file, not a folder"),
    "a read-only folder": (None, "cannot write in"),
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_an_unusable_out_is_refused_before_any_work(tmp_path, monkeypatch, read_only, command, case):
    monkeypatch.chdir(tmp_path)  # defaults (histories, studies, caches) land here, if anywhere
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    where, needle = CASES[case]
    out = str(tmp_path / where) if where else str(read_only / "out")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = runner.invoke(app, [*COMMANDS[command], "--out", out])
    assert result.exit_code == 2, result.output
    line, = error_lines(result.output)
    assert f"--out = '{out}'" in line and needle in line and "allowed:" in line, line
    assert "Traceback" not in result.output and "agents" not in result.output and "evaluations" not in result.output
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before  # nothing written
    assert list(read_only.iterdir()) == []


@pytest.mark.parametrize("args, key, needle", [
    (["calibrate", "--method", "abc", "--storage", "file/h.sqlite"], "--storage", "is a file, not a folder"),
    (["calibrate", "--method", "abc", "--storage", "."], "--storage", "not a file"),
    (["sensitivity", "--cache", "file/s.sqlite"], "--cache", "is a file, not a folder"),
    (["sensitivity", "--cache", "."], "--cache", "is not a file"),
    (["calibrate", "--trials", "1", "--storage", "ro/s.sqlite"], "--storage", "cannot write in"),
    (["calibrate", "--method", "abc", "--storage", "ro/h.sqlite"], "--storage", "cannot write in"),
    (["sensitivity", "--cache", "ro/s.sqlite"], "--cache", "cannot write in"),
    (["serve", "--cache", "file/c"], "--cache", "is a file, not a folder"),
    (["serve", "--cache", "file"], "--cache", "exists and is not a folder"),
    (["serve", "--cache", "ro"], "--cache", "cannot write in"),
])
def test_an_unusable_state_file_or_cache_is_refused_before_any_work(tmp_path, monkeypatch, read_only, args, key, needle):
    if "abc" in args or "sensitivity" in args:
        pytest.importorskip("SALib", reason="needs the 'uncertainty' extra (pip install -e '.[uncertainty]')")
    if "serve" in args:
        pytest.importorskip("uvicorn", reason="the explorer needs the 'web' extra (pip install -e '.[web]')")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file").write_text("x")
    (tmp_path / "ro").symlink_to(read_only)
    result = runner.invoke(app, [*args, *([] if "serve" in args else ["--out", str(tmp_path / "out")])])
    assert result.exit_code == 2, result.output
    line, = error_lines(result.output)
    assert f"{key} = " in line and needle in line and "allowed:" in line, line
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ro"] and list(read_only.iterdir()) == []


# ------------------------------------------------------------------ one ABC run per history
def test_an_abc_history_is_used_by_one_run_at_a_time(tmp_path):
    """Two fits on one history both wrote each generation: the second died on the generations table."""
    from greatleap.analysis.abc import ABCError, History
    first = History(tmp_path / "h.sqlite")
    with pytest.raises(ABCError, match="in use by another ABC calibration running now; allowed: another history"):
        History(tmp_path / "h.sqlite")
    first.close()
    History(tmp_path / "h.sqlite").close()  # free again once the first run ends


def test_calibrate_abc_on_a_history_in_use_exits_2_writing_nothing(tmp_path):
    from greatleap.io import lock_exclusively
    h = tmp_path / "h.sqlite"
    fd = lock_exclusively(h)  # another calibration holds it
    try:
        result = runner.invoke(app, ["calibrate", "--method", "abc", "--storage", str(h), "--particles", "4",
                                     "--generations", "1", "--scale", "100000", "--jobs", "1",
                                     "--out", str(tmp_path / "post")])
    finally:
        os.close(fd)
    assert result.exit_code == 2, result.output
    line, = error_lines(result.output)
    assert f"history = '{h}': in use by another ABC calibration" in line and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.sqlite"] and h.stat().st_size == 0


# ------------------------------------------------------------------ found on the way
def test_run_posterior_of_a_short_run_is_refused_before_any_run(tmp_path):
    """It ran every draw, then died with KeyError(1960) computing the headlines (exit 1, traceback)."""
    f = tmp_path / "short.toml"
    f.write_text('extends = "historical"\n[run]\nend = "1958-06"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(f), "--posterior", "builtin", "--draws", "2", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    line, = error_lines(result.output)
    assert "run.end = '1958-06'" in line and "allowed: run.start 1957-01 or earlier and run.end 1962-12" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.toml"]
