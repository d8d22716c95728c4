"""Targets, error measures, validation reports, and calibration (Optuna extra)."""
import importlib.util
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


def test_a_one_off_target_is_drawn_on_its_own_scale_not_a_year_axis():
    from greatleap.analysis.validate import national_figure
    one = pd.DataFrame([{"name": "famine_deaths_under_10_share", "year": 1961, "observed": 0.41, "lower": 0.33,
                         "upper": 0.49, "sim_mean": 0.35, "sim_p05": 0.34, "sim_p95": 0.36, "passed": True,
                         "unit": "share of deaths from hunger and violence, 1958-61, under age 10"}])
    ax = national_figure("famine_deaths_under_10_share", one).axes[0]
    lo, hi = ax.get_xlim()
    assert lo <= 0.33 and hi >= 0.49 and hi - lo < 1.0  # the values' scale, not 1875-2050
    assert [t.get_text() for t in ax.get_yticklabels()] == ["simulated", "record (1961)"]
    assert "1958-61, under age 10" in ax.get_title().replace("\n", " ")  # the unit wrapped, not cut off
    series = one.assign(year=1960).pipe(lambda d: pd.concat([d, one]))
    assert national_figure("x", series).axes[0].get_xlim()[0] < 1961  # a series keeps its year axis


def test_validate_cli_writes_report(tmp_path):
    out = tmp_path / "val"
    result = CliRunner().invoke(app, ["validate", "--seeds", "2", "--jobs", "1", "--scale", "100000", "--out", str(out),
                                      "--cache", str(tmp_path / "cache"), "--vintage", "both"])
    assert result.exit_code == 0, result.output
    assert "passed" in result.output and "targets" in result.output and "fit by vintage and level" in result.output
    names = {p.name for p in out.iterdir()}
    assert {"targets.csv", "summary.json", "index.html", "cdr.png", "cdr_banister.png", "parameters.csv",
            "provincial_cdr.png", "provinces_cdr_1960.png", "fit_by_group.csv"} <= names
    groups = pd.read_csv(out / "fit_by_group.csv")
    assert {("official", "national"), ("official", "provincial"), ("banister", "national")} <= set(
        zip(groups.vintage, groups.level))
    ev = pd.read_csv(out / "targets.csv")
    counted_ev = ev[ev.counted]
    assert groups.targets.sum() == len(counted_ev) and groups.passed.sum() == counted_ev.passed.sum()
    fitted = pd.read_csv(out / "parameters.csv")
    assert (fitted.best >= fitted.low - 1e-9).all() and (fitted.best <= fitted.high + 1e-9).all()
    assert "top-20 5-95%" in (out / "index.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == 2 and summary["vintage"] == "both" and "mortality.hunger_beta_adult" in summary["parameters"]
    assert sum(g["targets"] for g in summary["by_group"]) == summary["targets"]
    assert CliRunner().invoke(app, ["validate", "--vintage", "un", "--out", str(tmp_path / "v2")]).exit_code == 2


# ------------------------------------------------------------------ calibration (optional extra)
needs_optuna = pytest.mark.skipif(importlib.util.find_spec("optuna") is None,
                                  reason="needs the 'calibrate' extra (pip install -e '.[calibrate]'): Optuna")


def _bad_start(tmp_path):
    f = tmp_path / "start.toml"
    f.write_text('extends = "historical"\nname = "tiny"\n[run]\nend = "1959-12"\n[reporting]\ninflation_max = 0.05\n'
                 '[[calibration.parameters]]\nkey = "reporting.inflation_max"\nlow = 0.02\nhigh = 2.5\n'
                 'note = "test"\n', encoding="utf-8")
    return load_scenario(f)


@needs_optuna
def test_tiny_calibration_improves_the_objective(tmp_path):
    from greatleap.analysis import calibrate as cal
    scen = _bad_start(tmp_path)
    targets = load_targets()
    targets = targets[targets.name == "reported_to_actual_1958"]
    study = cal.calibrate(scen, targets, f"sqlite:///{tmp_path / 's.sqlite'}", "tiny", trials=5, jobs=1,
                          seeds=(1,), scale=100000)
    table = cal.results_table(study, cal.check_parameters(scen))
    first = table[table.trial == 0].score.iloc[0]
    # the objective is the share of targets missed plus 0.01 x the capped squared error: with one target
    # missed by the start, the search must move the error well toward the target
    assert table.score.min() < first - 0.02
    out = cal.write_outputs(study, scen, cal.check_parameters(scen), tmp_path / "out",
                            extends=str(tmp_path / "start.toml"))
    best = load_scenario(out / "best.toml")
    assert best.reporting.inflation_max == pytest.approx(float(table.iloc[0]["reporting.inflation_max"]), rel=1e-5)


@needs_optuna
def test_the_best_trials_are_scored_again_at_fresh_seeds_and_the_best_there_is_written(tmp_path):
    """The search's best is read off its own seeds; the result is the best of the top trials at
    seeds the search never used (their scores recomputed exactly)."""
    from greatleap.analysis import calibrate as cal
    scen = _bad_start(tmp_path)
    specs = cal.check_parameters(scen)
    targets = load_targets()
    targets = targets[targets.name.isin(["reported_to_actual_1958", "steel_1958"])]
    study = cal.calibrate(scen, targets, f"sqlite:///{tmp_path / 's.sqlite'}", "conf", trials=4, jobs=1,
                          seeds=(1,), scale=100000)
    confirmed = cal.confirm(study, scen, specs, targets, (2, 3), 100000, jobs=1, top=3)
    assert len(confirmed) == 3 and list(confirmed.confirm_score) == sorted(confirmed.confirm_score)
    assert set(confirmed.trial) == set(cal.results_table(study, specs).head(3).trial)
    winner = confirmed.iloc[0]
    again = cal.evaluate_params(scen.to_dict(), specs, {"reporting.inflation_max": winner["reporting.inflation_max"]},
                                targets, [2, 3], 100000)
    assert again == (winner.confirm_score, winner.confirm_passed)
    out = cal.write_outputs(study, scen, specs, tmp_path / "out", extends=str(tmp_path / "start.toml"),
                            confirmed=confirmed)
    top = pd.read_csv(out / "top.csv")
    assert top.trial.iloc[0] == winner.trial and len(top) == 4 and (out / "confirmed.csv").is_file()
    assert load_scenario(out / "best.toml").reporting.inflation_max == pytest.approx(winner["reporting.inflation_max"],
                                                                                      rel=1e-5)
    params = pd.read_csv(out / "parameters.csv").set_index("key")
    assert params.loc["reporting.inflation_max", "best"] == pytest.approx(winner["reporting.inflation_max"])


@needs_optuna
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


# ------------------------------------------------------------------ counted targets (inputs are reported, not counted)
def test_net_grain_trade_is_reported_but_not_counted():
    t = load_targets()
    trade = t[t.name == "net_grain_exports"]
    assert len(trade) == 5 and not trade.counted.any()
    sichuan_registered = (t.name == "provincial_cdr") & (t.province == "Sichuan")  # a re-verification (below)
    assert not t[sichuan_registered].counted.any()
    assert t[(t.name != "net_grain_exports") & ~sichuan_registered].counted.all()
    from greatleap.analysis.targets import passed_count
    base = {"annual_national": pd.DataFrame({"year": range(1957, 1967)})}
    for column in t.column.unique():
        base["annual_national"][column] = 0.0
    ev = evaluate(t, [base])
    far = ev.copy()
    far.loc[far.name == "net_grain_exports", ["normalised_error"]] = 1e6  # the inputs way off: score unchanged
    far.loc[far.name == "net_grain_exports", "passed"] = True
    assert score(far) == pytest.approx(score(ev))
    assert passed_count(far) == passed_count(ev) and passed_count(ev)[1] == len(t) - 10


def test_sichuans_verified_deaths_are_judged_against_the_true_rate():
    """Sichuan's series is the 1962 re-verification (deaths +38% in 1958, +57% in 1959 over the first reports), so
    it counts against the true death rate; beside the first registration it is only reported."""
    t = load_targets()
    sichuan = t[t.province == "Sichuan"]
    verified = sichuan[sichuan.name == "provincial_cdr_verified"].set_index("year")
    registered = sichuan[sichuan.name == "provincial_cdr"].set_index("year")
    assert list(verified.index) == list(range(1958, 1963)) and verified.counted.all()
    assert (verified.column == "cdr_true").all() and (registered.column == "cdr_registered").all()
    assert verified.loc[1959, "observed"] == pytest.approx(46.91) and verified.loc[1960, "observed"] == pytest.approx(53.97)
    assert verified.observed.equals(registered.observed) and not registered.counted.any()
    others = t[(t.name == "provincial_cdr") & (t.province != "Sichuan")]
    assert others.province.nunique() == 15 and others.counted.all() and (others.column == "cdr_registered").all()


def test_calibration_objective_and_pass_count_use_the_counted_set():
    from greatleap.analysis import calibrate as cal
    from greatleap.analysis.targets import objective, passed_count
    scen = load_scenario("historical", **{"run.end": "1962-12"})
    t = load_targets()
    t = t[t.name.isin(["net_grain_exports", "reported_to_actual_1958"])]
    value, passed = cal.evaluate_params(scen.to_dict(), [], {}, t, [1], 100000)
    from greatleap.analysis.ensemble import run_one
    ev = evaluate(t, [run_one(scen.to_dict(), 1, 100000).tables])
    assert value == pytest.approx(objective(ev)) and (passed, 1) == passed_count(ev)


@pytest.mark.parametrize("body, needle", [
    (b"name = '\xff'", "not UTF-8"),
    (("a = " + "[" * 5000 + "]" * 5000).encode(), "nested too deeply"),
    (b"[[series]]\nname='x'\ncolumn='c'\nfile='../../../../etc/passwd'\nfield='a'\nyears=[1957,1958]\ntolerance=1\n"
     b"weight=1\n", "outside the folders"),
    (b"[[series]]\nname='x'\ncolumn='c'\nfile='china_grain_trade_1958_1962_kt.csv'\nfield='net_imports_kt'\n"
     b"years=[1958,1962]\ntolerance=1\nweight=1\ncounted='no'\n", "counted = 'no'"),
    (b"[[series]]\nname='x'\ncolumn='c'\nfile='china_grain_trade_1958_1962_kt.csv'\nfield='net_imports_kt'\n"
     b"years=[1958,1962]\ntolerance=nan\nweight=1\n", "tolerance = nan"),
    (b"series = 3\n", "[[series]]"),
])
def test_bad_targets_files_without_tracebacks(tmp_path, body, needle):
    f = tmp_path / "t.toml"
    f.write_bytes(body)
    with pytest.raises(TargetError) as info:
        load_targets(f)
    assert needle in str(info.value) and len(str(info.value).splitlines()) == 1


def test_a_targets_file_may_read_a_csv_beside_it(tmp_path):
    (tmp_path / "obs.csv").write_text("# my source\nyear,cdr\n1957,11.0\n1958,12.0\n", encoding="utf-8")
    (tmp_path / "t.toml").write_text("[[series]]\nname='mine'\ncolumn='cdr_registered'\nfile='./obs.csv'\nfield='cdr'\n"
                                     "years=[1957,1958]\ntolerance=1\nweight=1\n", encoding="utf-8")
    t = load_targets(tmp_path / "t.toml")
    assert t.observed.tolist() == [11.0, 12.0]


# ------------------------------------------------------------------ calibration studies: settings, stale trials, outputs
def _tiny(tmp_path):
    scen = _bad_start(tmp_path)
    targets = load_targets()
    return scen, targets[targets.name == "reported_to_actual_1958"]


@needs_optuna
def test_resuming_with_other_settings_is_refused(tmp_path):
    from greatleap.analysis import calibrate as cal
    scen, targets = _tiny(tmp_path)
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    cal.calibrate(scen, targets, url, "st", trials=1, jobs=1, seeds=(1,), scale=100000)
    for change in ({"scale": 50000}, {"seeds": (1, 2)}):
        kwargs = {"seeds": (1,), "scale": 100000, **change}
        with pytest.raises(cal.StudyMismatch, match="other settings") as info:
            cal.calibrate(scen, targets, url, "st", trials=2, jobs=1, **kwargs)
        assert next(iter(change)) in str(info.value) and "--study" in str(info.value)
    with pytest.raises(cal.StudyMismatch, match="targets_sha256"):
        cal.calibrate(scen, load_targets().head(3), url, "st", trials=2, jobs=1, seeds=(1,), scale=100000)
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "start.toml"), "--trials", "2", "--scale", "50000",
                                      "--seeds", "1", "--jobs", "1", "--storage", str(tmp_path / "s.sqlite"),
                                      "--study", "st", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "other settings" in result.output and not (tmp_path / "out").exists()


@needs_optuna
def test_trials_left_running_by_a_killed_process_are_failed_and_n_means_n(tmp_path):
    from greatleap.analysis import calibrate as cal
    scen, targets = _tiny(tmp_path)
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    study = cal.calibrate(scen, targets, url, "k", trials=2, jobs=1, seeds=(1,), scale=100000)
    study.ask()  # a trial started by a process that was then killed outright: RUNNING forever
    study = cal.calibrate(scen, targets, url, "k", trials=4, jobs=1, seeds=(1,), scale=100000)
    import optuna
    states = [t.state for t in study.trials]
    assert len(states) == 4 and optuna.trial.TrialState.RUNNING not in states
    assert study.trials[2].state == optuna.trial.TrialState.FAIL and study.trials[2].user_attrs["interrupted"]


@needs_optuna
def test_ctrl_c_during_a_trial_marks_it_interrupted_and_keeps_the_finished(tmp_path, monkeypatch, ctrl_c_at_run):
    import optuna

    from greatleap import interrupt
    from greatleap.analysis import calibrate as cal
    from greatleap.sim import Sim
    scen, targets = _tiny(tmp_path)
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    real = Sim.run
    ctrl_c_at_run(3)
    with interrupt.handle_signals(), pytest.raises(interrupt.Interrupted):
        cal.calibrate(scen, targets, url, "c", trials=5, jobs=1, seeds=(1,), scale=100000)
    study = optuna.load_study(study_name="c", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "FAIL"]
    assert study.trials[2].user_attrs["interrupted"]
    monkeypatch.setattr(Sim, "run", real)
    study = cal.calibrate(scen, targets, url, "c", trials=5, jobs=1, seeds=(1,), scale=100000)
    assert len(study.trials) == 5 and study.trials[0].params == {"reporting.inflation_max": 0.05}


@needs_optuna
def test_best_toml_is_written_by_a_toml_library(tmp_path):
    import tomllib

    from greatleap.analysis import calibrate as cal
    scen, targets = _tiny(tmp_path)
    evil = scen.model_copy(update={"name": 'x"\n[run]\nscale = 1\n# '})
    text = cal.overlay_toml(evil, {"reporting.inflation_max": 1.25, "agriculture.weather.1960": 0.9},
                            header="line one\n[mortality]\nhunger_gamma = 6", extends="historical")
    doc = tomllib.loads(text)
    assert set(doc) == {"extends", "name", "reporting", "agriculture"}
    assert doc["name"] == 'x"\n[run]\nscale = 1\n# _calibrated' and doc["agriculture"]["weather"] == {"1960": 0.9}


@needs_optuna
def test_best_toml_sets_lever_values_as_the_search_did(tmp_path):
    """An open-ended event calibrated in the search (enforcement from August 1959) keeps the lever's later
    events (the retreat's 0.3 and 0.1) in best.toml: its lever matrix is the one the search ran, month by
    month, for every lever and province."""
    from greatleap.analysis import calibrate as cal
    from greatleap.levers import LEVER_INDEX
    from greatleap.scenario import validate_scenario
    from greatleap.timeline import lever_matrix
    hist = load_scenario("historical")
    params = {"lever:enforcement@1959-08": 0.61, "lever:relief@1959-08": 0.2, "lever:waterworks_labor@1957-11": 0.25}
    searched = validate_scenario(cal.apply_params(hist.to_dict(), params), "searched")
    (tmp_path / "best.toml").write_text(cal.overlay_toml(hist, params), encoding="utf-8")
    written = load_scenario(tmp_path / "best.toml")
    assert np.array_equal(lever_matrix(written), lever_matrix(searched))
    enforcement = lever_matrix(written)[:, LEVER_INDEX["enforcement"], 0]
    assert enforcement[(1959 - 1957) * 12 + 7] == 0.61 and enforcement[-1] == 0.1  # Aug 1959; the retreat kept


@needs_optuna
def test_calibrate_cli_storage_and_out_are_checked_first(tmp_path):
    start = _bad_start(tmp_path)
    assert start.name == "tiny"
    base = ["calibrate", str(tmp_path / "start.toml"), "--trials", "1", "--seeds", "1", "--jobs", "1",
            "--scale", "100000"]
    (tmp_path / "notdb").write_text("hello, not a database")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("x")
    for extra, needle in ((["--storage", str(tmp_path / "notdb")], "not an SQLite database"),
                          (["--storage", str(tmp_path / "notdb" / "s.sqlite")], "is not a folder"),
                          (["--out", str(tmp_path / "full")], "not an empty folder")):
        result = CliRunner().invoke(app, base + extra + ["--out" if "--out" not in extra else "--study",
                                                         str(tmp_path / "o") if "--out" not in extra else "s"])
        assert result.exit_code == 2 and needle in result.output and "calibrating" not in result.output, result.output
    odd = tmp_path / "a?b=1#c.sqlite"
    result = CliRunner().invoke(app, base + ["--storage", str(odd), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert odd.is_file() and not (tmp_path / "a").exists()
    assert "1 targets passed" in result.output.replace("\n", " ") or " targets passed" in result.output
    assert ".0 targets passed" not in result.output
    assert {p.name for p in (tmp_path / "o").iterdir()} == {"best.toml", "base.toml", "top.csv", "parameters.csv",
                                                            "trials.csv", "confirmed.csv"}
    assert "at seeds 2-5 the best of the 1 best is trial 0" in " ".join(result.output.split())
    best = load_scenario(tmp_path / "o" / "best.toml")
    assert best.name == "tiny_calibrated" and best.run.end == "1959-12"
    again = CliRunner().invoke(app, base + ["--trials", "2", "--storage", str(odd), "--out", str(tmp_path / "o")])
    assert again.exit_code == 0, again.output  # an earlier calibration's outputs are replaced
    assert len(pd.read_csv(tmp_path / "o" / "trials.csv")) == 2


def test_calibrate_help_shows_the_table_name():
    result = CliRunner().invoke(app, ["calibrate", "--help"])
    assert "[[calibration.parameters]]" in result.output


@needs_optuna
def test_a_scenario_without_calibration_parameters_is_said_literally(tmp_path):
    f = tmp_path / "plain.toml"
    f.write_text('extends = "no_great_leap"\n[calibration]\nparameters = []\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["calibrate", str(f), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no [[calibration.parameters]] declared" in result.output


def test_provincial_population_targets_use_the_provinces_own_scale():
    """The 1961 population targets are the registered counts x the factor that scaled the provinces'
    1956 counts to the national total: both must use the same factor."""
    import re
    import tomllib
    from importlib import resources
    text = (resources.files("greatleap.data") / "provinces_1958.csv").read_text()
    scale = float(re.search(r"^# pop_scale = ([0-9.]+)$", text, re.M).group(1))
    spec = tomllib.loads((resources.files("greatleap.data") / "targets.toml").read_text())
    entry = next(s for s in spec["series"] if s["name"] == "provincial_population_1961")
    assert entry["multiply"] == pytest.approx(scale, abs=1e-6)
    t = load_targets()
    rows = t[t.name == "provincial_population_1961"]
    assert len(rows) >= 10 and rows.province.notna().all()


def test_objective_is_the_weighted_share_missed_plus_a_small_pull():
    from greatleap.analysis.targets import objective
    ev = pd.DataFrame({"weight": [1.0, 3.0], "passed": [True, False], "normalised_error": [0.5, 2.0],
                       "counted": [True, True]})
    assert objective(ev) == pytest.approx(3 / 4 + 0.01 * (0.25 + 3 * 4.0) / 4)
    ev.loc[1, "normalised_error"] = 100.0  # the pull is capped: one wild target cannot dominate
    assert objective(ev) == pytest.approx(3 / 4 + 0.01 * (0.25 + 3 * 25.0) / 4)
