"""Kill tests on real processes: SIGINT (to the whole process group, as a terminal sends it),
SIGTERM and SIGKILL during run, compare, validate and calibrate. After each: no partial folder,
no hidden temporary folder, no orphan worker, nothing finished lost, and a rerun reuses it."""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tally import tally

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and process groups")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
SHORT = 'extends = "historical"\nname = "{name}"\n[run]\nend = "{end}"\n'
CAL = SHORT + '[[calibration.parameters]]\nkey = "reporting.inflation_max"\nlow = 0.6\nhigh = 2.0\n'


@pytest.fixture(autouse=True)
def only_full(full):
    if not full:
        pytest.skip("kill tests run with --full (they take minutes); the test suite has in-process ones")


def start(args, cwd, script=None):
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "greatleap", *args]
    return subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def descendants(pid: int) -> set[int]:
    kids: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            kids.setdefault(ppid, []).append(int(entry.name))
    out, todo = set(), [pid]
    while todo:
        for child in kids.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout=120.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def finish(proc, timeout=60):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def no_orphans(workers: set[int]) -> None:
    wait_for(lambda: not any(alive(p) for p in workers), 15, "workers to die with their parent")


def hidden_temporaries(folder: Path) -> list[str]:
    return [p.name for p in (*folder.rglob(".*tmp-*"), *folder.rglob(".*aside-*"))] if folder.exists() else []


def cache_entries(cache: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in cache.glob("*.json")} if cache.exists() else {}


def send(proc, sig, group: bool) -> None:
    os.killpg(proc.pid, sig) if group else os.kill(proc.pid, sig)


def interrupt_when(proc, ready, sig, what: str) -> tuple[int, str]:
    """Wait for ``ready()``, then send ``sig`` (SIGINT to the process group, as a terminal does;
    others to the parent alone); check that the workers die with it. Returns (exit code, stderr)."""
    wait_for(lambda: ready() or proc.poll() is not None, 300, what)
    workers = descendants(proc.pid)
    assert proc.poll() is None and workers, f"ended before it could be interrupted ({what})"
    send(proc, sig, group=sig == signal.SIGINT)
    code, _, err = finish(proc)
    no_orphans(workers)
    return code, err


# ------------------------------------------------------------------ run
def test_run_ctrl_c(tmp_path):
    (tmp_path / "s.toml").write_text(SHORT.format(name="s", end="1966-12"))
    proc = start(["run", "s.toml", "--scale", "700", "--out", "out"], tmp_path)
    time.sleep(6)  # the world is built and months are running
    assert proc.poll() is None, "the run ended before it could be interrupted"
    send(proc, signal.SIGINT, group=True)
    code, out, err = finish(proc)
    lines = [line for line in err.splitlines() if line.strip()]
    ok = code == 130 and lines == ["interrupted: stopped; nothing half-written"] and not (tmp_path / "out").exists() \
        and not hidden_temporaries(tmp_path) and "Traceback" not in err + out
    tally("kill tests", "clean" if ok else "not clean", None if ok else f"run SIGINT: {code} {err[-300:]}")
    assert ok, (code, err[-2000:])


WRITE_SLOWLY = """
import sys, time
import pyarrow.parquet as pq
real = pq.write_table
def slow(table, path, *a, **k):  # results write their tables through pyarrow (units in the metadata)
    real(table, path, *a, **k)
    open("writing", "w").close()
    time.sleep(3)
pq.write_table = slow
sys.argv = ["greatleap"] + sys.argv[1:]
from greatleap.cli import main
main()
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_run_killed_while_writing_its_folder(tmp_path, sig):
    (tmp_path / "s.toml").write_text(SHORT.format(name="s", end="1958-06"))
    proc = start(["run", "s.toml", "--scale", "100000", "--out", "runs/out"], tmp_path, WRITE_SLOWLY)
    wait_for(lambda: (tmp_path / "writing").exists() or proc.poll() is not None, 120, "the folder write")
    send(proc, sig, group=False)
    code, _, err = finish(proc)
    runs = tmp_path / "runs"
    if sig == signal.SIGTERM:  # the write completes (or nothing is there); no temporary is left
        complete = (runs / "out" / "run.json").exists() or not (runs / "out").exists()
        ok = complete and not hidden_temporaries(runs)
    else:  # killed outright: no final folder; the temporary is removed by the next writer
        left = hidden_temporaries(runs)
        again = subprocess.run([sys.executable, "-m", "greatleap", "run", "s.toml", "--scale", "100000", "--no-plot",
                                "--out", "runs/out2"], cwd=tmp_path, env=ENV, capture_output=True, text=True)
        ok = not (runs / "out").exists() and len(left) == 1 and again.returncode == 0 and not hidden_temporaries(runs)
    tally("kill tests", "clean" if ok else "not clean", None if ok else f"run write {sig}: {code} {err[-300:]}")
    assert ok, (code, err[-2000:], list(runs.rglob("*")))


# ------------------------------------------------------------------ compare and validate
ANALYSES = {
    # enough members for several batches (a batch is stepped as one world), so the interrupt lands mid-way
    "compare": ["compare", "a.toml", "b.toml", "--seeds", "20", "--jobs", "2", "--scale", "20000"],
    "validate": ["validate", "a.toml", "--seeds", "8", "--jobs", "2", "--scale", "20000"],
}


@pytest.mark.parametrize("command", list(ANALYSES))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_analysis_interrupted(tmp_path, command, sig):
    (tmp_path / "a.toml").write_text(SHORT.format(name="a", end="1962-12"))
    (tmp_path / "b.toml").write_text(SHORT.format(name="b", end="1962-12").replace('"historical"', '"no_great_leap"'))
    args = ANALYSES[command] + ["--cache", "cache", "--out", "report"]
    cache = tmp_path / "cache"
    code, err = interrupt_when(start(args, tmp_path), lambda: len(cache_entries(cache)) >= 1, sig, "a finished run")
    kept = cache_entries(cache)
    lines = [line for line in err.splitlines() if line.strip()]
    clean = (code == 130 and lines[-1:] == ["interrupted: stopped; nothing half-written"]) if sig == signal.SIGINT \
        else code == -signal.SIGKILL
    clean = clean and not (tmp_path / "report").exists() and len(kept) >= 1
    again = subprocess.run([sys.executable, "-m", "greatleap", *args], cwd=tmp_path, env=ENV, capture_output=True,
                           text=True, timeout=600)
    reused = all(cache_entries(cache).get(name) == mtime for name, mtime in kept.items())
    ok = clean and again.returncode == 0 and reused and not hidden_temporaries(tmp_path)
    tally("kill tests", "clean" if ok else "not clean",
          None if ok else f"{command} {sig.name}: code {code}, rerun {again.returncode}, reused {reused}: {err[-200:]}")
    assert ok, (code, err[-1500:], again.stderr[-1500:])


# ------------------------------------------------------------------ calibrate
def trial_states(db: Path) -> list[str]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as con:
            return [row[0] for row in con.execute("select state from trials order by number")]
    except sqlite3.Error:
        return []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_calibrate_interrupted(tmp_path, sig):
    (tmp_path / "c.toml").write_text(CAL.format(name="c", end="1962-12"))
    args = ["calibrate", "c.toml", "--trials", "12", "--jobs", "2", "--seeds", "1", "--scale", "20000",
            "--storage", "s.sqlite", "--out", "cal"]
    db = tmp_path / "s.sqlite"
    code, err = interrupt_when(start(args, tmp_path), lambda: trial_states(db).count("COMPLETE") >= 2, sig,
                               "two finished trials")
    states = trial_states(db)
    done_before = states.count("COMPLETE")
    if sig == signal.SIGINT:
        clean = code == 130 and "RUNNING" not in states and "Traceback" not in err
    else:
        clean = code == -signal.SIGKILL
    clean = clean and not (tmp_path / "cal").exists()
    again = subprocess.run([sys.executable, "-m", "greatleap", *args], cwd=tmp_path, env=ENV, capture_output=True,
                           text=True, timeout=600)
    after = trial_states(db)
    finished = sum(s in ("COMPLETE", "FAIL") for s in after)
    ok = clean and again.returncode == 0 and finished == 12 and "RUNNING" not in after \
        and after[:len(states)].count("COMPLETE") >= done_before and (tmp_path / "cal" / "best.toml").exists()
    tally("kill tests", "clean" if ok else "not clean",
          None if ok else f"calibrate {sig.name}: code {code}, states {states} -> {after}, rerun {again.returncode}")
    assert ok, (code, states, after, err[-1000:], again.stderr[-1000:])
