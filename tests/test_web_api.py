"""The explorer's API: levers, runs, caching, refusals (4xx naming field, value and range), bounded
runs (busy, time limit), downloads and the Shapley breakdown. Runs the real app with its workers."""
import io
import json
import socket
import time
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="the explorer's API needs the 'web' extra: pip install -e '.[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the 'test' extra)")

with warnings.catch_warnings():  # newer Starlette prefers httpx2 and says so; both work
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient  # noqa: E402

from greatleap.scenario import builtin_names, load_scenario  # noqa: E402
from greatleap.web.app import create_app  # noqa: E402
from greatleap.web.levers import LEVER_TABLE  # noqa: E402
from greatleap.web.service import Config  # noqa: E402

SCALE = 50000.0


def _wait_ready(client, n, timeout=300.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        pool = client.get("/api/health").json()["pool"]
        assert pool["start_error"] is None, pool
        if pool["ready"] >= n:
            return
        time.sleep(0.2)
    raise AssertionError("run workers did not start")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    # shared with the browser tests' server: its Shapley job then reuses these coalition runs
    cache = tmp_path_factory.getbasetemp() / "explorer-cache"
    config = Config(cache_dir=cache, scale=SCALE, workers=2, precompute=False, why_scale=100000.0, why_permutations=2)
    with TestClient(create_app(config)) as c:
        _wait_ready(c, 2)
        yield c


def _run(client, **body):
    r = client.post("/api/run", json={"seed": 1, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_levers_lists_every_lever_and_preset(client):
    d = client.get("/api/levers").json()
    assert [lv["name"] for lv in d["levers"]] == list(LEVER_TABLE)
    for lv in d["levers"]:
        assert {"historical", "min", "max", "unit", "source", "explanation"} <= set(lv)
    assert {p["name"] for p in d["presets"]} == set(builtin_names())
    assert len(d["presets"]) == 13 and d["defaults"]["scale"] == SCALE
    spec = client.get("/api/openapi.json").json()
    assert {"/api/levers", "/api/run", "/api/why", "/api/history"} <= set(spec["paths"])
    rec = client.get("/api/history").json()
    assert rec["vital"]["cdr"][rec["vital"]["year"].index(1960)] == pytest.approx(25.43, abs=0.1)


def test_run_returns_series_and_is_cached(client):
    d = _run(client, scenario="historical")
    a = d["annual"]
    assert a["year"] == list(range(1957, 1967))
    i1960 = a["year"].index(1960)
    assert a["cdr_true"][i1960] > 2 * a["cdr_true"][0]  # the famine is there
    assert a["grain_reported_province_mt"][1] > 1.3 * a["grain_harvest_mt"][1]  # 1958 reports inflated
    assert len(d["provinces"]["province"]) == 29 and len(d["age_class"]["deaths"]) == 6 * 3  # age groups x classes
    assert d["metrics"]["excess_deaths_true"] > 5e6
    by_province = d["provinces"]["excess_deaths"]
    assert by_province == sorted(by_province, reverse=True)
    assert sum(by_province) == pytest.approx(d["metrics"]["excess_deaths_true"], rel=0.1)
    again = _run(client, scenario="historical")
    assert again["meta"]["cached"] and again["meta"]["key"] == d["meta"]["key"]
    assert again["metrics"] == d["metrics"]
    other = _run(client, scenario="historical", seed=2)
    assert other["meta"]["key"] != d["meta"]["key"]


def test_levers_change_the_run_and_an_early_retreat_saves_lives(client):
    hist = _run(client, scenario="historical")
    honest = _run(client, scenario="historical", levers={"honest_reporting": 1})
    assert honest["meta"]["levers"] == {"honest_reporting": 1.0} and honest["meta"]["key"] != hist["meta"]["key"]
    assert honest["metrics"]["excess_deaths_true"] != hist["metrics"]["excess_deaths_true"]
    # the direction of honest reporting's effect is the model's (README, Status: it is a known defect
    # that it does not lower deaths); an early retreat does, by far (-18 M at scale 50,000)
    early = _run(client, scenario="historical", levers={"retreat": "1959-03"})
    assert early["metrics"]["excess_deaths_true"] < 0.9 * hist["metrics"]["excess_deaths_true"]
    # the lever at its historical value is history itself (same run key)
    same = _run(client, scenario="historical", levers={"honest_reporting": 0, "retreat": "1960-11"})
    assert same["meta"]["key"] == hist["meta"]["key"] and same["meta"]["levers"] == {}


@pytest.mark.parametrize("body,status,field,allowed", [
    ({"scenario": "../../etc/passwd"}, 422, "scenario", "historical"),
    ({"scenario": "/etc/passwd"}, 422, "scenario", "historical"),
    ({"seed": -1}, 422, "seed", "0 .. 2147483647"),
    ({"seed": "x"}, 422, "seed", "integer"),
    ({"scale": 1}, 422, "scale", "1000 .. 100000"),
    ({"scale": 1e9}, 422, "scale", "1000 .. 100000"),
    ({"levers": {"procurement_rate": 0.95}}, 422, "levers.procurement_rate", "0.1 .. 0.6"),
    ({"levers": {"procurement_rate": "lots"}}, 422, "levers.procurement_rate", "0.1"),
    ({"levers": {"sparrows": 1}}, 422, "levers.sparrows", "sparrow_campaign"),
    ({"levers": {"retreat": "1990-01"}}, 422, "levers.retreat", "1962-06"),
    ({"levers": [1, 2]}, 422, "levers", "lever"),
    ({"surprise": 1}, 422, "surprise", "scenario, levers, seed, scale"),
])
def test_bad_requests_are_refused_naming_field_value_and_range(client, body, status, field, allowed):
    runs = len(list((client.app.state.config.cache_dir / "runs").iterdir()))
    r = client.post("/api/run", json=body)
    assert r.status_code == status, r.text
    d = r.json()
    assert d["field"] == field and allowed in d["allowed"] and field in d["error"] and allowed in d["error"]
    assert len(list((client.app.state.config.cache_dir / "runs").iterdir())) == runs  # nothing ran or was written


def test_malformed_bodies_get_4xx_never_500(client):
    for raw in (b"not json", b"[1,2]", b"", b'{"levers": {"procurement_rate": NaN}}', b'{"scale": Infinity}', b"null"):
        r = client.post("/api/run", content=raw, headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, (raw, r.status_code, r.text)
        assert r.json()["error"]


def test_downloads_tables_and_scenario(client, tmp_path):
    d = _run(client, scenario="no_exports", levers={"honest_reporting": 0.5})
    key = d["meta"]["key"]
    for fmt, reader in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        r = client.get(f"/api/runs/{key}/tables.zip", params={"format": fmt})
        assert r.status_code == 200
        z = zipfile.ZipFile(io.BytesIO(r.content))
        names = set(z.namelist())
        assert {f"annual_national.{fmt}", f"annual_province.{fmt}", f"deaths_by_age_class.{fmt}", "summary.json"} <= names
        frame = reader(io.BytesIO(z.read(f"annual_national.{fmt}")))
        assert frame.year.tolist() == d["annual"]["year"]
        assert frame.cdr_true.tolist() == pytest.approx(d["annual"]["cdr_true"])
    assert client.get(f"/api/runs/{key}/tables.zip", params={"format": "xls"}).status_code == 422
    for bad in ("../../etc", "0" * 24, "abc"):
        assert client.get(f"/api/runs/{bad}/tables.zip").status_code == 404
    r = client.get("/api/scenario.toml", params={"scenario": "no_exports", "honest_reporting": "0.5"})
    assert r.status_code == 200
    path = tmp_path / "mine.toml"
    path.write_text(r.text, encoding="utf-8")
    scen = load_scenario(path)
    assert scen.reporting.inflation_max == pytest.approx(0.5 * load_scenario("historical").reporting.inflation_max)
    assert client.get("/api/scenario.toml", params={"procurement_rate": "9"}).status_code == 422


def test_why_breakdown_with_progress(client):
    state = {"scenario": "historical", "levers": {"canteens": 0.3}}
    assert client.post("/api/why", json={**state, "start": False}).json()["status"] == "idle"
    job = client.post("/api/why", json=state).json()
    assert job["status"] in ("queued", "running") and not job["exact"]
    seen = set()
    end = time.monotonic() + 300
    while job["status"] in ("queued", "running") and time.monotonic() < end:
        time.sleep(0.3)
        job = client.get(f"/api/why/{job['id']}").json()
        if job["status"] == "running" and job["total"]:
            seen.add((job["done"], job["total"]))
    assert job["status"] == "done", job.get("error")
    assert seen, "no progress was reported"
    m = job["result"]["mechanisms"]
    assert len(m["mechanism"]) == 9
    assert sum(m["shapley"]) == pytest.approx(job["result"]["total"][0], rel=1e-6, abs=1.0)
    assert client.post("/api/why", json={**state, "start": False}).json()["status"] == "done"
    assert client.get("/api/why/" + "f" * 24).status_code == 404


def test_busy_and_time_limit(tmp_path):
    """One worker, no queue: a second run at once is refused as busy; a run past its time limit is
    stopped (504) and its worker replaced, after which runs work again."""
    # the limit sits between a one-thread run at scale 1,000 (~4.6 s on a quiet machine) and one at the
    # test scale (~0.3 s), with room for a loaded machine
    config = Config(cache_dir=tmp_path, scale=SCALE, workers=1, queue=0, run_timeout=3.0, precompute=False)
    with TestClient(create_app(config)) as c:
        _wait_ready(c, 1)
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(c.post, "/api/run", json={"scale": 1000, "seed": 7})
            time.sleep(0.5)
            busy = c.post("/api/run", json={"seed": 8})
            assert busy.status_code == 503 and "busy" in busy.json()["error"]
            assert busy.headers["retry-after"]
            slow = slow.result()
        assert slow.status_code == 504 and "time limit" in slow.json()["error"]
        assert not any((tmp_path / "runs").iterdir())  # the stopped run left nothing behind
        _wait_ready(c, 1)
        ok = c.post("/api/run", json={"seed": 9})
        assert ok.status_code == 200, ok.text
        assert json.loads(ok.text)["meta"]["cached"] is False


def test_builtins_are_precomputed_in_the_background(tmp_path):
    """At start-up every built-in scenario's Shapley breakdown is queued (the page then shows its
    progress, or its result once done), behind anything a reader asks for."""
    config = Config(cache_dir=tmp_path, scale=SCALE, workers=1, precompute=True)
    with TestClient(create_app(config)) as c:
        counts = c.get("/api/health").json()["why"]
        assert sum(counts.values()) == len(builtin_names()) and set(counts) <= {"queued", "running"}
        job = c.post("/api/why", json={"scenario": "no_exports", "start": False}).json()
        assert job["status"] in ("queued", "running") and job["exact"]


def test_serve_refuses_bad_options_with_one_line(tmp_path):
    from typer.testing import CliRunner

    from greatleap.cli import app
    runner = CliRunner()
    for args, words in ((["--scale", "5"], "--scale"), (["--port", "0"], "--port"), (["--workers", "0"], "--workers"),
                        (["--host", "no.such.host.invalid"], "--host")):
        r = runner.invoke(app, ["serve", "--cache", str(tmp_path / "c"), *args])
        assert r.exit_code == 2 and words in r.output and "Traceback" not in r.output, (args, r.output)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = runner.invoke(app, ["serve", "--port", str(port), "--cache", str(tmp_path / "c")])
        assert r.exit_code == 2 and "in use" in r.output and str(port) in r.output
    assert not (tmp_path / "c").exists()


def test_readme_api_examples_hold(client):
    from pathlib import Path
    import re
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    body = json.loads(re.search(r"-d '(\{\"scenario\".*?\})'", readme).group(1))
    assert body["scale"] == 20000 and set(body) == {"scenario", "levers", "seed", "scale"}
    r = client.post("/api/run", json=body)
    assert r.status_code == 200 and r.json()["meta"]["levers"] == {"procurement_rate": 0.3}
    shown = re.search(r'\{"error": "(levers\.procurement_rate = 0\.95[^"]*)"', readme.replace("\n", " ")).group(1)
    refused = client.post("/api/run", json={"levers": {"procurement_rate": 0.95}}).json()["error"]
    assert refused == re.sub(r"\s+", " ", shown)
    assert "greatleap serve" in readme and (Path(__file__).resolve().parents[1] / "docs" / "explorer.png").is_file()
