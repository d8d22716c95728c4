"""Targets, error measures, validation reports, and calibration (Optuna extra)."""
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from greatleap import load_scenario
from greatleap.analysis.targets import TargetError, evaluate, load_targets, score
from greatleap.cli import app


def test_shipped_targets_load_with_sources():
    t = load_targets()
    assert len(t) >= 90
    cdr = t[(t.name == "cdr")].set_index("year")
    assert cdr.loc[1960, "observed"] == 25.43 and cdr.loc[1960, "upper"] - cdr.loc[1960, "observed"] == 2.0
    assert cdr.loc[1957, "upper"] - cdr.loc[1957, "observed"] == 1.5
    grain = t[t.name == "grain_output"].set_index("year")
    assert grain.loc[1958, "observed"] == pytest.approx(197.65)
    assert grain.loc[1958, "upper"] == pytest.approx(197.65 * 1.05)
    assert t[t.name == "procurement_share"].set_index("year").loc[1959, "observed"] == pytest.approx(6411.5 / 17000)
    assert (t.source.str.len() > 5).all()
    ban = load_targets(vintage="banister")
    assert ban[ban.name == "cdr"].column.iloc[0] == "cdr_true"
    assert ban[ban.name == "cdr"].set_index("year").loc[1960, "observed"] == 44.6


@pytest.mark.parametrize("body, needle", [
    ("[[series]]\nname='x'\n", "missing key 'column'"),
    ("[[series]]\nname='x'\ncolumn='cdr_true'\nfile='china_national_vital_rates_1949_1970_csy1999.csv'\n"
     "field='cdr_permille'\nyears=[1957,1958]\ntolerance=-1\nweight=1\n", "tolerance = -1"),
    ("[[series]]\nname='x'\ncolumn='c'\nfile='china_national_vital_rates_1949_1970_csy1999.csv'\nfield='nope'\n"
     "years=[1957,1958]\ntolerance=1\nweight=1\n", "field 'nope'"),
    ("[[series]]\nname='x'\ncolumn='c'\nfile='missing.csv'\nfield='a'\nyears=[1957,1958]\ntolerance=1\nweight=1\n",
     "missing.csv"),
    ("[[series]]\nname='x'\ncolor='red'\n", "unknown key(s) ['color']"),
    ("[[scalar]]\nname='s'\ncolumn='c'\nyear=1958\nlower=3\nupper=1\nweight=1\nsource='x'\n", "lower 3 > upper 1"),
    ("[bogus]\n", "unknown table"),
    ("not = [toml", "malformed TOML"),
])
def test_bad_targets_file(tmp_path, body, needle):
    f = tmp_path / "t.toml"
    f.write_text(body)
    with pytest.raises(TargetError) as info:
        load_targets(f)
    assert needle in str(info.value)


def test_error_measures_exact():
    targets = pd.DataFrame({"name": ["a", "a", "b"], "table": "annual_national", "column": ["x", "x", "y"],
                            "province": None, "sector": None, "year": [1957, 1958, 1958],
                            "observed": [10.0, 20.0, 1.0], "lower": [9.0, 18.0, 0.0], "upper": [11.0, 22.0, 2.0],
                            "weight": [1.0, 1.0, 2.0], "unit": "", "source": "s"})
    run = lambda x58, y58: {"annual_national": pd.DataFrame({"year": [1957, 1958], "x": [10.5, x58], "y": [0.0, y58]})}
    ev = evaluate(targets, [run(21.0, 1.5), run(23.0, 2.5)])
    assert ev.sim_mean.tolist() == pytest.approx([10.5, 22.0, 2.0])
    assert ev.error.tolist() == pytest.approx([0.5, 2.0, 1.0])
    assert ev.normalised_error.tolist() == pytest.approx([0.5, 1.0, 1.0])
    assert ev.passed.tolist() == [True, True, True]
    assert score(ev) == pytest.approx((0.25 + 1.0 + 2 * 1.0) / 4)
    assert ev.sim_p05.iloc[1] == pytest.approx(21.1) and ev.sim_p95.iloc[1] == pytest.approx(22.9)


def test_historical_passes_validate_with_loosened_tolerances(historical):
    """The shipped (calibrated) scenario against the record; tolerances x3 at this small scale.

    The full check is `greatleap validate --seeds 8` at the default scale (README)."""
    t = load_targets()
    half = (t.upper - t.lower) / 2 * 3
    centre = (t.upper + t.lower) / 2
    t = t.assign(lower=centre - half, upper=centre + half)
    ev = evaluate(t, [{"annual_national": historical.annual_national, "annual_province": historical.annual_province}])
    assert ev.passed.mean() >= 0.85, ev[~ev.passed][["name", "year", "observed", "sim_mean"]].to_string()


def test_validate_cli_writes_report(tmp_path):
    out = tmp_path / "val"
    result = CliRunner().invoke(app, ["validate", "--seeds", "2", "--jobs", "1", "--scale", "100000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "passed" in result.output and "targets" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"targets.csv", "summary.json", "index.html", "cdr.png", "parameters.csv"} <= names
    fitted = pd.read_csv(out / "parameters.csv")
    assert (fitted.best >= fitted.low - 1e-9).all() and (fitted.best <= fitted.high + 1e-9).all()
    assert "top-20 5-95%" in (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == 2 and summary["vintage"] == "official" and "mortality.hunger_beta_adult" in summary["parameters"]
    assert CliRunner().invoke(app, ["validate", "--vintage", "un", "--out", str(tmp_path / "v2")]).exit_code == 2


# ------------------------------------------------------------------ calibration (optional extra)
optuna = pytest.importorskip("optuna", reason="calibration tests need the 'calibrate' extra (pip install -e '.[calibrate]')")


def _bad_start(tmp_path):
    f = tmp_path / "start.toml"
    f.write_text('extends = "historical"\nname = "tiny"\n[run]\nend = "1959-12"\n[reporting]\ninflation_max = 0.05\n'
                 '[[calibration.parameters]]\nkey = "reporting.inflation_max"\nlow = 0.02\nhigh = 2.5\n'
                 'note = "test"\n', encoding="utf-8")
    return load_scenario(f)


def test_tiny_calibration_improves_the_objective(tmp_path):
    from greatleap.analysis import calibrate as cal
    scen = _bad_start(tmp_path)
    targets = load_targets()
    targets = targets[targets.name == "reported_to_actual_1958"]
    study = cal.calibrate(scen, targets, f"sqlite:///{tmp_path / 's.sqlite'}", "tiny", trials=5, jobs=1,
                          seeds=(1,), scale=100000)
    table = cal.results_table(study, cal.check_parameters(scen))
    first = table[table.trial == 0].score.iloc[0]
    assert table.score.min() < 0.5 * first
    out = cal.write_outputs(study, scen, cal.check_parameters(scen), tmp_path / "out",
                            extends=str(tmp_path / "start.toml"))
    best = load_scenario(out / "best.toml")
    assert best.reporting.inflation_max == pytest.approx(float(table.iloc[0]["reporting.inflation_max"]), rel=1e-5)


def test_calibration_resumes_after_interruption(tmp_path):
    from greatleap.analysis import calibrate as cal
    scen = _bad_start(tmp_path)
    targets = load_targets()
    targets = targets[targets.name == "reported_to_actual_1958"]
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    cal.calibrate(scen, targets, url, "resume", trials=2, jobs=1, seeds=(1,), scale=100000)  # "interrupted" here
    study = cal.calibrate(scen, targets, url, "resume", trials=4, jobs=1, seeds=(1,), scale=100000)
    numbers = sorted(t.number for t in study.trials if t.state.is_finished())
    assert numbers == [0, 1, 2, 3]  # the second call went on from trial 2, it did not restart
    assert study.trials[0].params["reporting.inflation_max"] == pytest.approx(0.05)


def test_calibration_bounds_must_be_allowed(tmp_path):
    from greatleap.analysis import calibrate as cal
    from greatleap.scenario import ScenarioError
    f = tmp_path / "b.toml"
    f.write_text('extends = "historical"\n[[calibration.parameters]]\nkey = "agriculture.labor_elasticity"\n'
                 'low = 0.2\nhigh = 1.5\nreplace = 1\n', encoding="utf-8")
    with pytest.raises(ScenarioError):
        load_scenario(f)
    f.write_text('extends = "historical"\ncalibration.parameters = [{key = "agriculture.labor_elasticity", '
                 'low = 0.2, high = 1.5}]\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="labor_elasticity high = 1.5"):
        cal.check_parameters(load_scenario(f))
    assert np.isfinite(0.0)
