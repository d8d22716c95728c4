"""``--cluster``: address parsing and one-line errors, a real Dask LocalCluster giving the local
results, a task that kills its worker, and Ctrl-C on a cluster run."""
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import Future

import pandas as pd
import pytest
from typer.testing import CliRunner

from greatleap import load_scenario
from greatleap.analysis.cluster import ClusterError, parse_address
from greatleap.analysis.ensemble import TABLES, run_many
from greatleap.cli import app

runner = CliRunner()
SHORT = {"run.end": "1958-06", "run.scale": 100000}
NEEDS = "needs the 'cluster' extra (Dask distributed): pip install -e '.[cluster]'"


def _distributed():
    return pytest.importorskip("distributed", reason=NEEDS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("text, parsed", [
    ("tcp://127.0.0.1:8786", ("tcp", "tcp://127.0.0.1:8786")),
    ("tcp://head-node.example.org:8786", ("tcp", "tcp://head-node.example.org:8786")),
    ("local", ("local", None)),
    ("local:3", ("local", 3)),
])
def test_cluster_addresses(text, parsed):
    assert parse_address(text) == parsed


@pytest.mark.parametrize("text", ["127.0.0.1:8786", "tcp://host", "tcp://host:99999", "local:0", "local:x",
                                  "udp://host:1", ""])
def test_bad_cluster_addresses_are_refused(text):
    with pytest.raises(ClusterError, match="allowed: tcp://HOST:PORT"):
        parse_address(text)


@pytest.mark.parametrize("args, says", [
    (["compare", "historical", "no_exports", "--cluster", "tcp://nowhere"], "'tcp://nowhere': not an address"),
    (["validate", "--cluster", "local:many"], "'many' is not a number of workers"),
    (["run", "--cluster", "local:2"], "without --posterior"),
])
def test_bad_cluster_options_exit_2_with_one_line(args, says, tmp_path):
    result = runner.invoke(app, args + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert says in result.output and "allowed" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_scheduler_that_does_not_answer_exits_2(tmp_path):
    _distributed()
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    result = runner.invoke(app, ["compare", "historical", "no_exports", "--cluster", f"tcp://127.0.0.1:{port}",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "no scheduler answered" in result.output and len(result.output.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 60 and not (tmp_path / "out").exists()


# ------------------------------------------------------------------ a real LocalCluster
@pytest.fixture(scope="module")
def local_pool():
    _distributed()
    from greatleap.analysis.cluster import ClusterPool
    pool = ClusterPool("local:2")
    yield pool
    pool.close()


def test_a_local_cluster_gives_the_local_results(local_pool):
    assert local_pool.slots == 2
    fut = local_pool.submit(divmod, 17, 5)
    assert isinstance(fut, Future) and fut.result(timeout=60) == (3, 2)
    data = load_scenario("historical", **SHORT).to_dict()
    members = [(data, 1), (data, 2), (data, 3)]
    here, there = run_many(members, jobs=1), run_many(members, jobs=local_pool)
    for a, b in zip(here, there):
        assert a.error is None and b.error is None
        for name in TABLES:
            assert len(a.tables[name]) > 0
            pd.testing.assert_frame_equal(a.tables[name], b.tables[name])


def _die_once(marker: str, fn, *args):
    """Kill this worker process the first time (the marker does not exist yet), then run ``fn``."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(9)
    return fn(*args)


class _KillsFirstWorker:
    """Wraps a pool: the first task submitted kills the worker that runs it."""

    def __init__(self, pool, marker):
        self.pool, self.marker, self.slots, self.first = pool, str(marker), pool.slots, True

    def submit(self, fn, *args):
        if self.first:
            self.first = False
            return self.pool.submit(_die_once, self.marker, fn, *args)
        return self.pool.submit(fn, *args)


def test_a_task_that_kills_its_worker_loses_nothing(local_pool, tmp_path):
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    data = load_scenario("historical", **SHORT).to_dict()
    members = [(data, 1), (data, 2)]
    outcomes = run_many(members, jobs=_KillsFirstWorker(local_pool, tmp_path / "killed"))
    assert (tmp_path / "killed").exists()  # a worker did die under a batch
    reference = run_many(members, jobs=1)
    for a, b in zip(outcomes, reference):
        assert a.error is None, a.error
        pd.testing.assert_frame_equal(a.tables["annual_national"], b.tables["annual_national"])


def test_ctrl_c_on_a_cluster_run_exits_130(tmp_path):
    _distributed()
    out = tmp_path / "out"
    # 16 runs: enough work to be still running 1.5 s after the cluster is up on a quiet machine
    proc = subprocess.Popen([sys.executable, "-m", "greatleap", "compare", "historical", "no_exports", "--seeds", "8",
                             "--scale", "20000", "--cluster", "local:2", "--cache", str(tmp_path / "cache"),
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in proc.stderr:  # wait until the cluster is up and the runs are submitted
            lines.append(line)
            if line.startswith("cluster "):
                break
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines += rest.splitlines()
    assert proc.returncode == 130, lines
    assert [line.strip() for line in lines if line.strip()][-1] == "interrupted: stopped; nothing half-written"
    assert not out.exists()


def test_without_the_extra_cluster_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now fails, as without the extra
    result = runner.invoke(app, ["compare", "historical", "no_exports", "--cluster", "local:1",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "needs the 'cluster' extra" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
