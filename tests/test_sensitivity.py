"""Global sensitivity: Sobol' indices of the Ishigami function and Morris effects of a linear one,
through the same evaluator, store and analysis functions as the model; resume; the command."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

pytest.importorskip("SALib", reason="sensitivity tests need the 'uncertainty' extra (pip install -e '.[uncertainty]')")

from greatleap.analysis.abc import Prior  # noqa: E402
from greatleap.analysis.sensitivity import (COLUMNS, SensitivityError, StoredEvaluator, morris, sobol,  # noqa: E402
                                            top_parameters)
from greatleap.cli import app  # noqa: E402

runner = CliRunner()
ISHIGAMI_S1 = [0.314, 0.442, 0.0]  # a = 7, b = 0.1 (Ishigami & Homma 1990; Sobol' & Levitan 1999)
ISHIGAMI_ST = [0.558, 0.442, 0.244]


def ishigami(p, a=7.0, b=0.1):
    return np.array([np.sin(p["x1"]) + a * np.sin(p["x2"]) ** 2 + b * p["x3"] ** 4 * np.sin(p["x1"])])


def linear(p):
    return np.array([2.0 * p["a"] + 0.5 * p["b"] + 0.0 * p["c"], -3.0 * p["c"]])


def test_sobol_indices_of_the_ishigami_function(tmp_path):
    prior = Prior([{"key": f"x{i}", "low": -np.pi, "high": np.pi} for i in (1, 2, 3)])
    evaluate = StoredEvaluator(ishigami, tmp_path / "store.sqlite", {"function": "ishigami"})
    table = sobol(prior, evaluate, ["y"], samples=1024, seed=1)
    assert list(table.columns) == COLUMNS
    s1 = table[table["index"] == "S1"].value.to_numpy()
    st = table[table["index"] == "ST"].value.to_numpy()
    assert s1 == pytest.approx(ISHIGAMI_S1, abs=0.03)
    assert st == pytest.approx(ISHIGAMI_ST, abs=0.03)
    assert ((table.low <= table.value) & (table.value <= table.high)).all()
    assert evaluate.computed == 1024 * 5
    again = StoredEvaluator(ishigami, tmp_path / "store.sqlite", {"function": "ishigami"})
    assert sobol(prior, again, ["y"], samples=1024, seed=1).equals(table) and again.computed == 0  # all reused
    with pytest.raises(SensitivityError, match="power of 2"):
        sobol(prior, again, ["y"], samples=1000)


def test_morris_effects_of_a_linear_function(tmp_path):
    """mu* of a linear term = |coefficient| x range of the input (log range for a log-uniform prior)."""
    prior = Prior([{"key": "a", "low": 0.0, "high": 10.0}, {"key": "b", "low": 1.0, "high": 3.0},
                   {"key": "c", "low": 1.0, "high": 100.0, "log": True}])
    evaluate = StoredEvaluator(lambda p: linear({**p, "c": np.log(p["c"])}), tmp_path / "s.sqlite", {"f": "linear"})
    table = morris(prior, evaluate, ["y", "z"], trajectories=8)
    mu = table[table["index"] == "mu_star"].set_index(["parameter", "output"]).value
    assert mu[("a", "y")] == pytest.approx(20.0) and mu[("b", "y")] == pytest.approx(1.0)
    assert mu[("c", "y")] == pytest.approx(0.0, abs=1e-9) and mu[("c", "z")] == pytest.approx(3.0 * np.log(100))
    sigma = table[table["index"] == "sigma"].value
    assert sigma.abs().max() < 1e-9  # linear: no interactions
    assert set(top_parameters(table, 2)) == {"a", "c"} and top_parameters(table, 3)[2] == "b"  # b: smallest effect


def test_interrupted_evaluations_are_kept(tmp_path):
    calls = []

    def flaky(p):
        calls.append(p)
        if len(calls) == 7:
            raise KeyboardInterrupt
        return ishigami(p)

    rows = [{"x1": 0.1 * k, "x2": 0.2, "x3": 0.3} for k in range(12)]
    store = tmp_path / "s.sqlite"
    with pytest.raises(KeyboardInterrupt):
        StoredEvaluator(flaky, store, {"f": "i"})(rows)
    resumed = StoredEvaluator(ishigami, store, {"f": "i"})
    y = resumed(rows)
    assert resumed.computed == 6 and y[:, 0] == pytest.approx([ishigami(r)[0] for r in rows])
    other = StoredEvaluator(ishigami, store, {"f": "i", "scale": 2})  # other settings: nothing reused
    other(rows[:3])
    assert other.computed == 3


@pytest.fixture()
def three_parameters(tmp_path):
    f = tmp_path / "three.toml"
    f.write_text('extends = "historical"\nname = "three"\ncalibration.parameters = [\n'
                 '  {key = "mortality.starvation_hazard", low = 0.2, high = 0.5},\n'
                 '  {key = "agriculture.weather.1960", low = 0.85, high = 0.97},\n'
                 '  {key = "reporting.inflation_max", low = 0.6, high = 2.0}]\n', encoding="utf-8")
    return str(f)


def test_sensitivity_command_screens_and_resumes(three_parameters, tmp_path):
    args = ["sensitivity", three_parameters, "--samples", "2", "--scale", "100000", "--jobs", "1",
            "--cache", str(tmp_path / "cache.sqlite")]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "s1")])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(tmp_path / "s1" / "sensitivity.csv")
    assert list(table.columns) == COLUMNS and len(table) == 3 * 4 * 3  # parameters x outputs x indices
    assert set(table["index"]) == {"mu_star", "mu_star_rel", "sigma"}
    hazard = table[(table.parameter == "mortality.starvation_hazard") & (table["index"] == "mu_star")]
    assert (hazard.value > 0).all()
    settings = json.loads((tmp_path / "s1" / "settings.json").read_text())
    assert settings["evaluations_computed"] == 8 and settings["morris_trajectories"] == 2
    assert (tmp_path / "s1" / "sensitivity.png").is_file() and (tmp_path / "s1" / "report.md").is_file()
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "s2")])
    assert r.exit_code == 0 and "0 new model evaluations" in " ".join(r.output.split())
    assert pd.read_csv(tmp_path / "s2" / "sensitivity.csv").equals(table)


@pytest.mark.parametrize("extra, needle", [
    (["--method", "fast"], "allowed: morris, sobol"),
    (["--method", "sobol", "--samples", "100"], "power of 2"),
    (["--outputs", "excess_deaths,famine"], "allowed: excess_deaths"),
    (["--seeds", "0"], "--seeds"),
    (["nonexistent_scenario"], "nonexistent_scenario"),
])
def test_sensitivity_bad_input_exits_2(tmp_path, extra, needle):
    r = runner.invoke(app, ["sensitivity", *extra, "--out", str(tmp_path / "never")])
    assert r.exit_code == 2, r.output
    assert needle in " ".join(r.output.split())
    assert not (tmp_path / "never").exists()
