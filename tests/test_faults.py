"""Faults: interrupts, full disks, unwritable and stale outputs, damaged caches, orphaned workers."""
import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

from greatleap import load_scenario
from greatleap.analysis import compare as cmp
from greatleap.analysis.ensemble import CacheWarning, run_key, run_many
from greatleap.cli import app
from greatleap.io import atomic_folder, clean_stale, destination_problem

runner = CliRunner()
SHORT = {"run.end": "1959-12", "run.scale": 100000}


def short_file(tmp_path, name="short.toml", extra=""):
    f = tmp_path / name
    f.write_text(f'extends = "historical"\n{extra}[run]\nend = "1958-06"\n', encoding="utf-8")
    return f


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------ atomic folders
def test_result_folders_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_folder(tmp_path / "out") as tmp:
            (tmp / "a.txt").write_text("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755


def test_a_full_disk_names_device_and_file_and_leaves_nothing(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    def full(table, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PAR1 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    result = runner.invoke(app, ["run", str(short_file(tmp_path)), "--scale", "100000", "--out", str(tmp_path / "o")])
    assert result.exit_code == 1, result.output
    line = [x for x in result.output.splitlines() if "error" in x]
    assert len(line) == 1 and "no space left on" in line[0] and "while writing monthly_national.parquet" in line[0]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.toml"]


def test_a_real_full_disk(tmp_path):
    """On a 1 MB tmpfs (needs root and mount; skipped elsewhere)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root and mount to make a small file system")
    try:
        result = runner.invoke(app, ["run", str(short_file(tmp_path)), "--scale", "100000", "--out", str(mnt / "o")])
        assert result.exit_code == 1 and f"no space left on {mnt} while writing" in result.output
        assert list(mnt.iterdir()) == []
        busy = runner.invoke(app, ["run", str(short_file(tmp_path)), "--scale", "100000", "--out", str(mnt)])
        assert busy.exit_code == 2 and "mount point" in busy.output
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        ro = runner.invoke(app, ["run", str(short_file(tmp_path)), "--scale", "100000", "--out", str(mnt / "o")])
        assert ro.exit_code == 2 and "cannot write" in ro.output and "agents" not in ro.output
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_unwritable_out_is_found_before_running(tmp_path):
    (tmp_path / "file").write_text("x")
    assert "is a file" in destination_problem(tmp_path / "file" / "out")
    result = runner.invoke(app, ["run", str(short_file(tmp_path)), "--out", str(tmp_path / "file" / "out")])
    assert result.exit_code == 2 and "--out" in result.output and "agents" not in result.output


def test_stale_temporary_folders_of_killed_writers_are_removed(tmp_path):
    stale = tmp_path / f".run.tmp-{dead_pid()}-abc123"
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x")
    live = tmp_path / f".run2.tmp-{os.getpid()}-abc123"  # ours, still running: kept
    live.mkdir()
    foreign = tmp_path / ".something.tmp-XYZ"  # not ours: kept
    foreign.mkdir()
    with atomic_folder(tmp_path / "new") as tmp:
        (tmp / "a").write_text("x")
    assert not stale.exists() and live.exists() and foreign.exists()
    assert clean_stale(tmp_path) == []


# ------------------------------------------------------------------ interrupts
def _interrupt_at_month(monkeypatch, month: int):
    from greatleap.sim import Sim
    real = Sim.step

    def step(self):
        real(self)
        if self.t == month:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Sim, "step", step)


def test_ctrl_c_during_run_prints_one_line_exits_130_and_writes_nothing(tmp_path, monkeypatch):
    _interrupt_at_month(monkeypatch, 3)
    before = signal.getsignal(signal.SIGINT)  # default_int_handler; SIG_IGN in a shell's background job
    result = runner.invoke(app, ["run", str(short_file(tmp_path)), "--scale", "100000", "--out", str(tmp_path / "o")])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output and "Traceback" not in result.output and "SystemError" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["short.toml"]
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back


def test_ctrl_c_during_compare_keeps_finished_runs(tmp_path, ctrl_c_at_run):
    count = ctrl_c_at_run(2)
    f, g = short_file(tmp_path), short_file(tmp_path, "g.toml")
    g.write_text(g.read_text().replace('"historical"', '"no_great_leap"'))
    # 18 members of ~6,500 agents run as two batches of 9 (at most 16 a batch): Ctrl-C in the second
    args = ["compare", str(f), str(g), "--seeds", "9", "--jobs", "1", "--scale", "100000",
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "rep")]
    result = runner.invoke(app, args)
    assert result.exit_code == 130 and not (tmp_path / "rep").exists()
    assert len(list((tmp_path / "cache").glob("*.json"))) == 9  # the first batch finished and is kept
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert len(count) == 2 + 1  # the rerun reused the finished runs and ran the rest as one batch


# ------------------------------------------------------------------ the run cache
def test_an_unwritable_cache_does_not_fail_the_comparison(tmp_path):
    (tmp_path / "file").write_text("x")
    a = load_scenario("historical", **SHORT)
    with pytest.warns(CacheWarning) as caught:
        c = cmp.compare([a, a], seeds=[1, 2], jobs=1, cache_dir=tmp_path / "file" / "cache")
    assert c.seeds == [1, 2] and not c.failures
    assert len([w for w in caught if issubclass(w.category, CacheWarning)]) == 1  # said once


def test_a_full_disk_under_the_cache_leaves_no_half_entry(tmp_path, monkeypatch):
    from greatleap.analysis import ensemble
    real, calls = ensemble.write_file_atomic, []

    def second_fails(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data)

    monkeypatch.setattr(ensemble, "write_file_atomic", second_fails)
    a = load_scenario("historical", **SHORT).to_dict()
    with pytest.warns(CacheWarning, match="cannot be written"):
        outcomes = run_many([(a, 1), (a, 2)], jobs=1, cache_dir=tmp_path)
    assert all(o.tables is not None for o in outcomes)
    assert list(tmp_path.iterdir()) == []  # the half-written entry was removed


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory):
    """A cache holding two runs (a and b), and their outcomes."""
    d = tmp_path_factory.mktemp("cache")
    a = load_scenario("historical", **SHORT).to_dict()
    b = load_scenario("historical", **SHORT, **{"mortality.hunger_gamma": 2.5}).to_dict()
    return d, a, b, run_many([(a, 1), (b, 1)], jobs=1, cache_dir=d)


@pytest.mark.parametrize("damage", ["truncate", "empty", "swap", "manifest"])
def test_a_damaged_cache_entry_is_detected_and_recomputed(tmp_path, filled_cache, damage):
    import shutil
    source, a, b, first = filled_cache
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    key, other = run_key(a, 1, None), run_key(b, 1, None)
    target = cache / f"{key}-annual_national.parquet"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "empty":
        target.write_bytes(b"")
    elif damage == "swap":  # a valid Parquet file, but another run's
        target.write_bytes((cache / f"{other}-annual_national.parquet").read_bytes())
    else:
        (cache / f"{key}.json").write_text("{not json")
    again = run_many([(a, 1), (b, 1)], jobs=1, cache_dir=cache)
    assert not again[0].cached and again[1].cached
    pd.testing.assert_frame_equal(again[0].tables["annual_national"], first[0].tables["annual_national"])
    assert run_many([(a, 1)], jobs=1, cache_dir=cache)[0].cached  # the recomputed entry was stored


def test_validate_uses_the_run_cache(tmp_path, monkeypatch):
    from greatleap.analysis.targets import load_targets
    from greatleap.analysis.validate import validate
    scen = load_scenario("historical", **SHORT)
    targets = load_targets()
    ev1, _, _ = validate(scen, targets, [1, 2], None, 1, cache_dir=tmp_path)
    from greatleap.sim import Sim
    monkeypatch.setattr(Sim, "run", lambda self, progress=None, until=None: (_ for _ in ()).throw(RuntimeError("not cached")))
    ev2, runs, failures = validate(scen, targets, [1, 2], None, 1, cache_dir=tmp_path)
    assert not failures and len(runs) == 2
    pd.testing.assert_frame_equal(ev1, ev2)


# ------------------------------------------------------------------ worker processes
WORKERS = """
import os, sys, time
from greatleap.analysis.ensemble import WorkerPool
pool = WorkerPool(2)
futures = [pool.submit(time.sleep, 60) for _ in range(2)]

def ignores_ctrl_c(pid):  # the initializer has run: SIGINT (bit 2) is in the ignored set
    try:
        line = next(l for l in open(f"/proc/{pid}/status") if l.startswith("SigIgn:"))
    except OSError:
        return False
    return bool(int(line.split()[1], 16) & 2)

while len(pool.executor._processes or {}) < 2 or not all(ignores_ctrl_c(p) for p in pool.executor._processes):
    time.sleep(0.05)
print(" ".join(str(p) for p in pool.executor._processes), flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc to see processes")
def test_workers_die_with_their_parent_and_ignore_ctrl_c():
    parent = subprocess.Popen([sys.executable, "-c", WORKERS], stdout=subprocess.PIPE, text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
        for p in pids:
            os.kill(p, signal.SIGINT)  # the terminal's Ctrl-C reaches workers too: they leave it to the parent
        time.sleep(0.5)
        assert all(_alive(p) for p in pids)
        parent.kill()
        parent.wait()
        deadline = time.time() + 10
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in pids), "workers outlived their parent"
    finally:
        parent.kill()


def test_jobs_are_capped_at_the_cores(tmp_path):
    result = runner.invoke(app, ["validate", "--seeds", "1", "--jobs", "100", "--scale", "100000",
                                 "--cache", str(tmp_path / "c"), "--out", str(tmp_path / "v")])
    assert result.exit_code == 0, result.output
    assert f"--jobs 100 capped at {len(os.sched_getaffinity(0))}" in result.output


def test_no_cache_warning_when_all_is_well(tmp_path):
    a = load_scenario("historical", **SHORT).to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_many([(a, 1)], jobs=1, cache_dir=tmp_path)
    assert json.loads(next(tmp_path.glob("*.json")).read_text())["sha256"]
