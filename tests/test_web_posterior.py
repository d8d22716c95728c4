"""The explorer with ``--posterior``: each page state runs parameter draws x seeds, the baseline uses
the same draws and seeds (paired), the API says what the intervals carry, bad options exit 2."""
import time
import warnings

import pytest
from typer.testing import CliRunner

pytest.importorskip("fastapi", reason="the explorer's API needs the 'web' extra: pip install -e '.[web]'")
pytest.importorskip("uvicorn", reason="the explorer needs the 'web' extra: pip install -e '.[web]'")
pytest.importorskip("httpx", reason="FastAPI's TestClient needs httpx (in the 'test' extra)")

with warnings.catch_warnings():  # newer Starlette prefers httpx2 and says so; both work
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient  # noqa: E402

from greatleap.analysis.posterior import load_posterior  # noqa: E402
from greatleap.cli import app  # noqa: E402
from greatleap.web.app import create_app  # noqa: E402
from greatleap.web.service import Config  # noqa: E402

SCALE = 100000.0
DRAWS, SEEDS = 3, 2


@pytest.fixture(scope="module")
def client(tiny_posterior, tmp_path_factory):
    config = Config(cache_dir=tmp_path_factory.mktemp("post-cache"), scale=SCALE, seeds=SEEDS, workers=2,
                    precompute=False, posterior=load_posterior(tiny_posterior), draws=DRAWS)
    with TestClient(create_app(config)) as c:
        end = time.monotonic() + 300
        while c.get("/api/health").json()["pool"]["ready"] < 2:
            assert time.monotonic() < end, "run workers did not start"
            time.sleep(0.2)
        yield c


def _post(client, path, **body):
    r = client.post(path, json={"seed": 1, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_api_says_what_the_intervals_carry(client):
    d = client.get("/api/levers").json()["defaults"]
    assert (d["draws"], d["seeds"], d["runs"]) == (DRAWS, SEEDS, DRAWS * SEEDS)
    assert "3 parameter sets from the posterior x 2 seeds" in d["uncertainty"]
    assert "parameter and seed uncertainty" in d["uncertainty"]


def test_draws_apply_the_posterior_under_the_levers(client, tiny_posterior):
    runs = client.app.state.runs
    params = client.app.state.config.params
    assert len(params) == DRAWS and params == load_posterior(tiny_posterior).draws(DRAWS, 0)  # fixed draw seed
    key = "reporting.inflation_max"
    assert key in params[0]
    for d in range(DRAWS):
        _, _, data = runs.scenario("historical", {}, d)
        assert data["reporting"]["inflation_max"] == pytest.approx(params[d][key])
        # a lever acts on top of the draw: honest reporting halves the draw's inflation, not the point's
        _, _, half = runs.scenario("historical", {"honest_reporting": 0.5}, d)
        assert half["reporting"]["inflation_max"] == pytest.approx(params[d][key] * 0.5)
    keys = {_post(client, "/api/run", draw=d)["meta"]["key"] for d in range(DRAWS)}
    assert len(keys) == len({tuple(p.values()) for p in params})  # a distinct draw is a distinct run


def test_posterior_interval_is_paired_and_at_least_as_wide_as_seeds_alone(client):
    levers = {"retreat": "1959-06"}
    r = _post(client, "/api/excess", scenario="historical", levers=levers)
    assert r["draws"] == DRAWS and "posterior" in r["uncertainty"]
    reps = r["replicates"]
    assert [(x["draw"], x["seed"]) for x in reps] == [(d, s) for d in range(DRAWS) for s in (1, 2)]
    for x in reps:  # each change is against history under the same draw and seed
        now = _post(client, "/api/run", levers=levers, seed=x["seed"], draw=x["draw"])
        base = _post(client, "/api/run", seed=x["seed"], draw=x["draw"])
        assert now["meta"]["cached"] and base["meta"]["cached"]
        assert x["excess"] == now["metrics"]["excess_deaths_true"]
        assert x["baseline"] == base["metrics"]["excess_deaths_true"]
        assert x["change"] == pytest.approx(x["excess"] - x["baseline"])
    assert len({x["baseline"] for x in reps}) > 1  # the baselines are not one number reused
    # seeds alone, at the calibrated point (no draw), for the same state
    point = [_post(client, "/api/run", levers=levers, seed=s)["metrics"]["excess_deaths_true"] for s in (1, 2)]
    ex = r["excess"]
    assert ex["min"] <= ex["p05"] <= ex["mean"] <= ex["p95"] <= ex["max"]
    assert ex["max"] - ex["min"] >= max(point) - min(point) > 0
    hist = _post(client, "/api/excess", scenario="historical")
    assert all(x["change"] == 0 for x in hist["replicates"])  # history against itself: exactly paired


def test_draw_is_refused_outside_the_servers_draws(client):
    for draw in (DRAWS, -1):
        r = client.post("/api/run", json={"draw": draw})
        assert r.status_code == 422 and r.json()["field"] == "draw", r.text


def test_bad_posterior_or_draws_exit_2_before_anything_starts(tiny_posterior, tmp_path):
    cases = [(["--posterior", str(tmp_path / "missing")], "not found"),
             (["--posterior", str(tiny_posterior), "--draws", "0"], "--draws = 0: allowed 1 .. 50"),
             (["--posterior", str(tiny_posterior), "--draws", "51"], "--draws = 51: allowed 1 .. 50"),
             (["--posterior", str(tiny_posterior), "--seeds", "0"], "--seeds = 0: allowed 1 .. 20")]
    for args, needle in cases:
        r = CliRunner().invoke(app, ["serve", "--cache", str(tmp_path / "never"), "--port", "1", *args])
        assert r.exit_code == 2, (args, r.output)
        assert needle in " ".join(r.output.split()), (args, r.output)
        assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output
        assert not (tmp_path / "never").exists()
