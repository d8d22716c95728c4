"""A real cluster on localhost: ``dask scheduler`` and ``dask worker`` subprocesses on free ports.

A comparison run on it gives report tables byte-identical to the local run; Optuna trials run on
its workers while the study stays in this machine's SQLite file; a worker killed mid-run loses
nothing; a worker with other greatleap code is refused."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greatleap.cli import app

distributed = pytest.importorskip("distributed", reason="needs the 'cluster' extra (Dask distributed): "
                                                        "pip install -e '.[cluster]'")
import cloudpickle  # noqa: E402 - installed with distributed

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the scheduler cannot import this test module
ROOT = Path(__file__).resolve().parents[1]
COMPARE = ["compare", "historical", "no_exports", "--seeds", "2", "--scale", "20000"]
TABLE_FILES = ("summary.csv", "by_year.csv", "by_province.csv", "by_age_class.csv", "report.md")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_worker(address: str, name: str, env=None, cwd=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--nthreads", "1", "--no-nanny",
                             "--no-dashboard", "--name", name], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def cluster():
    """(address, client, worker processes by name) of a scheduler with two single-thread workers."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port",
                               address.rsplit(":", 1)[1], "--no-dashboard"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    workers = {}
    try:
        for name in ("w1", "w2"):
            workers[name] = _start_worker(address, name)
            procs.append(workers[name])
        client = distributed.Client(address, timeout=30)
        client.wait_for_workers(2, timeout=60)
        yield address, client, workers
        client.close()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def local_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "report"
    result = CliRunner().invoke(app, COMPARE + ["--jobs", "1", "--cache", str(out.parent / "cache"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _compare_on(address: str, tmp_path: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "greatleap", *COMPARE, "--cluster", address,
                             "--cache", str(tmp_path / f"cache-{name}"), "--out", str(tmp_path / name)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _same_tables(a: Path, b: Path) -> None:
    for f in TABLE_FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert len((a / "summary.csv").read_text().splitlines()) > 4


def _on_worker_tasks(dask_scheduler=None) -> int:
    """Tasks ever started through ClusterPool on this scheduler (the counts of states are cumulative)."""
    prefix = dask_scheduler.task_prefixes.get("on_worker")
    return 0 if prefix is None else prefix.state_counts.get("processing", 0)


def test_compare_on_the_cluster_equals_the_local_run(cluster, local_report, tmp_path):
    address, client, _ = cluster
    before = client.run_on_scheduler(_on_worker_tasks)
    proc = _compare_on(address, tmp_path, "cluster")
    _, errors = proc.communicate(timeout=300)
    assert proc.returncode == 0, errors
    assert f"cluster {address} (2 worker processes)" in errors
    _same_tables(local_report, tmp_path / "cluster")
    assert client.run_on_scheduler(_on_worker_tasks) - before >= 2  # the runs were the workers'


def test_optuna_trials_run_on_the_cluster(cluster, tmp_path):
    pytest.importorskip("optuna", reason="needs the 'calibrate' extra (Optuna)")
    address, client, _ = cluster
    before = client.run_on_scheduler(_on_worker_tasks)
    storage = tmp_path / "study.sqlite"
    result = CliRunner().invoke(app, ["calibrate", "--trials", "2", "--seeds", "1", "--scale", "50000", "--cluster",
                                      address, "--storage", str(storage), "--out", str(tmp_path / "cal")])
    assert result.exit_code == 0, result.output
    # each trial was evaluated by a worker, and so was each re-scoring of the best at fresh seeds (--confirm)
    assert client.run_on_scheduler(_on_worker_tasks) - before == 2 + 2
    import pandas as pd
    trials = pd.read_csv(tmp_path / "cal" / "trials.csv")
    assert len(trials) == 2 and storage.is_file()  # the study lives here, not on the workers


def test_a_worker_killed_mid_run_loses_nothing(cluster, local_report, tmp_path):
    address, client, workers = cluster
    pids = {pid: addr for addr, pid in client.run(os.getpid).items()}
    proc = _compare_on(address, tmp_path, "killed")
    victim = None
    try:
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and proc.poll() is None:
            busy = [addr for addr, keys in client.processing().items() if any("on_worker" in str(k) for k in keys)]
            if busy:
                time.sleep(0.5)  # let the batch get going
                victim = next(name for name, p in workers.items() if pids.get(p.pid) == busy[0])
                workers[victim].send_signal(signal.SIGKILL)
            time.sleep(0.05)
        _, errors = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert victim is not None, "no batch was seen running"
    assert workers[victim].wait(timeout=10) == -signal.SIGKILL
    assert proc.returncode == 0, errors
    _same_tables(local_report, tmp_path / "killed")


def test_workers_with_other_greatleap_code_are_refused(cluster, tmp_path):
    address, client, _ = cluster
    other = tmp_path / "other"
    shutil.copytree(ROOT / "greatleap", other / "greatleap", ignore=shutil.ignore_patterns("__pycache__"))
    with open(other / "greatleap" / "rules.py", "a", encoding="utf-8") as f:
        f.write("\n# a local edit\n")
    n = len(client.scheduler_info()["workers"])
    foreign = _start_worker(address, "foreign", env={**os.environ, "PYTHONPATH": str(other)}, cwd=other)
    try:
        client.wait_for_workers(n + 1, timeout=60)
        result = CliRunner().invoke(app, COMPARE + ["--cluster", address, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert "run other greatleap code" in result.output and len(result.output.strip().splitlines()) == 1
        assert not (tmp_path / "out").exists()
    finally:
        foreign.terminate()
        foreign.wait(timeout=20)
