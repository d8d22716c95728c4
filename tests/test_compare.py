"""Counterfactual overlays, scenario comparison with common random numbers, Shapley attribution, caching."""
import itertools

import numpy as np
import pandas as pd
import pytest

from greatleap import load_scenario
from greatleap.analysis import compare as cmp
from greatleap.analysis import decompose as dec
from greatleap.analysis.ensemble import run_many, run_key
from greatleap.scenario import builtin_names
from greatleap.levers import LEVER_INDEX, parse_month
from greatleap.timeline import lever_matrix

SHORT = {"run.end": "1962-12", "run.scale": 100000}
COUNTERFACTUALS = ["honest_reporting", "flexible_procurement", "no_exports", "foreign_aid", "no_furnaces",
                   "no_lysenko", "no_four_pests", "no_canteens", "peng_prevails", "early_retreat", "free_movement",
                   "no_great_leap"]


def test_every_counterfactual_is_shipped_inherits_and_validates():
    assert set(COUNTERFACTUALS) <= set(builtin_names())
    base = load_scenario("historical")
    for name in COUNTERFACTUALS:
        s = load_scenario(name)
        assert s.name == name and s.description
        assert s.mortality == base.mortality  # calibrated parameters inherited
    row = parse_month("1959-06") - parse_month("1957-01")
    assert lever_matrix(load_scenario("no_exports"))[..., 0][row, LEVER_INDEX["exports"]] == 0
    assert lever_matrix(load_scenario("no_furnaces"))[..., 0][:, LEVER_INDEX["furnace_labor"]].max() == 0
    pp = lever_matrix(load_scenario("peng_prevails"))[..., 0]
    assert pp[row + 6, LEVER_INDEX["anti_right"]] == 0 and lever_matrix(base)[..., 0][row + 6, LEVER_INDEX["anti_right"]] == 1
    assert load_scenario("flexible_procurement").planning.flexible_quotas
    assert load_scenario("no_great_leap").events == []


def test_compare_a_with_a_is_exactly_zero():
    a = load_scenario("historical", **SHORT)
    c = cmp.compare([a, a], seeds=[1, 2], jobs=1)
    second = c.summary[c.summary.scenario == a.name].iloc[len(c.summary) // 2:]
    assert (second[["diff_mean", "diff_p05", "diff_p95"]].to_numpy() == 0).all()
    assert (c.by_province.deaths_diff == 0).all() and (c.by_age_class.deaths_diff == 0).all()


def test_compare_counterfactual_reduces_deaths_with_tight_paired_intervals():
    h = load_scenario("historical", **SHORT)
    n = load_scenario("no_great_leap", **SHORT)
    c = cmp.compare([h, n], seeds=[1, 2, 3], jobs=1)
    s = c.summary.set_index(["scenario", "metric"])
    d = s.loc[("no_great_leap", "excess_deaths_true")]
    assert d.diff_p95 < 0  # every seed: fewer deaths without the Leap
    sichuan = c.by_province[(c.by_province.scenario == "no_great_leap") & (c.by_province.province == "Sichuan")].iloc[0]
    assert sichuan.deaths_diff_p05 <= sichuan.deaths_diff <= sichuan.deaths_diff_p95 < 0
    assert {"deaths_p05", "deaths_p95", "deaths_diff_p05"} <= set(c.by_age_class.columns)
    spread_levels = s.loc[("historical", "excess_deaths_true"), "p95"] - s.loc[("historical", "excess_deaths_true"), "p05"]
    assert d.diff_p95 - d.diff_p05 < spread_levels  # common random numbers: differences less noisy than levels


def test_shapley_exact_sums_to_total_and_single_player_gets_its_effect():
    players = ["a", "b", "c", "d"]
    weights = {"a": 5.0, "b": 2.0, "c": 0.0, "d": 1.0}
    v = lambda s: sum(weights[p] for p in s) + (3.0 if {"a", "b"} <= s else 0.0)  # an a-b interaction
    phi = dec.shapley_exact(v, players)
    assert sum(phi.values()) == pytest.approx(v(frozenset(players)))
    assert phi["a"] == pytest.approx(6.5) and phi["b"] == pytest.approx(3.5) and phi["c"] == 0
    only = dec.shapley_exact(lambda s: 7.0 if "b" in s else 0.0, players)
    assert only == pytest.approx({"a": 0, "b": 7.0, "c": 0, "d": 0})
    perms = [tuple(p) for p in itertools.permutations(players)]
    sampled = dec.shapley_sampled(v, perms)
    assert {p: x.mean() for p, x in sampled.items()} == pytest.approx(phi)


def test_decompose_parts_add_up_and_one_mechanism_equals_its_effect(tmp_path):
    scen = load_scenario("historical", **SHORT)
    d = dec.decompose(scen, ["exports", "canteens"], seeds=[1, 2], jobs=1, cache_dir=tmp_path / "cache")
    assert d.exact and d.shapley.shapley.sum() == pytest.approx(d.total[0], rel=1e-9)
    one = dec.decompose(scen, ["canteens"], seeds=[1, 2], jobs=1, cache_dir=tmp_path / "cache")
    row = one.shapley.iloc[0]
    assert row.shapley == pytest.approx(row.total_effect) and row.shapley == pytest.approx(one.total[0])
    assert len(d.interactions) == 1
    out = dec.write_decomposition(d, tmp_path / "rep")
    assert {p.name for p in out.iterdir()} == {"shapley.csv", "interactions.csv", "coalitions.csv", "decompose.png",
                                               "report.md"}


def test_ending_with_cuts_a_longer_run_at_the_period_and_leaves_others():
    data = load_scenario("historical").to_dict()
    assert data["run"]["end"] == "1966-12"
    cut = cmp.ending_with(data)
    assert cut["run"]["end"] == "1962-12" and data["run"]["end"] == "1966-12"  # a copy
    short = {**data, "run": {**data["run"], "end": "1960-06"}}
    assert cmp.ending_with(short) is short
    late = {**data, "run": {**data["run"], "start": "1963-01"}}
    assert cmp.ending_with(late) is late


def test_decompose_runs_to_the_period_end_and_matches_full_length_runs(tmp_path):
    """v(S) counts deaths 1958-62: runs cut at 1962-12 give exactly the full runs' values."""
    scen = load_scenario("historical", **{"run.scale": 100000})
    d = dec.decompose(scen, ["exports", "canteens"], seeds=[1], jobs=1, cache_dir=tmp_path / "cache")
    cached = list((tmp_path / "cache").rglob("*"))
    assert cached  # the cut runs were run (and cached), not the full ones
    base = scen.to_dict()
    coalitions = [frozenset(), frozenset(["exports"]), frozenset(["canteens"]), frozenset(["exports", "canteens"])]
    full = run_many([(dec.switch_off(base, [m for m in ("exports", "canteens") if m not in c]), 1) for c in coalitions])
    deaths = [cmp.run_metrics(o.tables)["deaths_true"] for o in full]
    assert all(o.tables["annual_national"].year.max() == 1966 for o in full)
    want = {"+".join(sorted(c)) or "(none)": deaths[k] - deaths[0] for k, c in enumerate(coalitions)}
    got = dict(zip(d.coalitions.coalition, d.coalitions.value))
    assert got == want and want["canteens+exports"] != 0.0


def test_switch_off_is_a_copy_and_rejects_unknown_mechanisms():
    data = load_scenario("historical").to_dict()
    n_events = len(data["events"])
    off = dec.switch_off(data, ["weather", "reporting_inflation"])
    assert len(data["events"]) == n_events and data["agriculture"]["weather"]
    assert off["agriculture"]["weather"] == {} and off["reporting"]["inflation_max"] == 0.0
    # normal weather: every harvest's, and no province singled out by the disaster record
    assert off["agriculture"]["summer_weather"] == {} and off["agriculture"]["severe_hit_yield_loss"] == 0.0
    with pytest.raises(ValueError, match="allowed"):
        dec.switch_off(data, ["sparrows"])


def test_cache_reuses_runs_and_a_changed_parameter_invalidates(tmp_path):
    a = load_scenario("historical", **SHORT).to_dict()
    first = run_many([(a, 1)], jobs=1, cache_dir=tmp_path)
    again = run_many([(a, 1)], jobs=1, cache_dir=tmp_path)
    assert not first[0].cached and again[0].cached
    pd.testing.assert_frame_equal(first[0].tables["annual_national"], again[0].tables["annual_national"])
    b = load_scenario("historical", **SHORT, **{"mortality.hunger_gamma": 2.5}).to_dict()
    assert run_key(a, 1, None) != run_key(b, 1, None)
    assert not run_many([(b, 1)], jobs=1, cache_dir=tmp_path)[0].cached


def test_cache_key_follows_the_model_not_the_interfaces(monkeypatch):
    """A cached run is stale when the model, its scenarios or data change (model_hash), not when the
    command line, the web page or an unrelated analysis does (source_hash alone)."""
    from greatleap import provenance
    a = load_scenario("historical", **SHORT).to_dict()
    key = run_key(a, 1, None)
    monkeypatch.setattr(provenance, "source_hash", lambda: "another-cli")
    assert run_key(a, 1, None) == key
    monkeypatch.setattr(provenance, "model_hash", lambda: "another-model")
    assert run_key(a, 1, None) != key


def test_a_crashing_run_is_reported_and_the_rest_complete(monkeypatch):
    from greatleap import sim as sim_module
    real_run = sim_module.Sim.run

    def flaky(self, progress=None, until=None):  # the run of seed 2 crashes, and with it any batch it is in
        if any(s.run.seed == 2 for s in self.scenarios):
            raise RuntimeError("simulated crash")
        return real_run(self, progress, until)

    monkeypatch.setattr(sim_module.Sim, "run", flaky)
    a = load_scenario("historical", **SHORT).to_dict()
    outcomes = run_many([(a, 1), (a, 2), (a, 3)], jobs=1)
    assert [o.tables is not None for o in outcomes] == [True, False, True]
    assert "simulated crash" in outcomes[1].error
    c = cmp.compare([load_scenario("historical", **SHORT)] * 2, seeds=[1, 2, 3], jobs=1)
    assert c.seeds == [1, 3] and len(c.failures) == 2
    assert np.isfinite(c.summary["mean"]).all()


def test_honest_reporting_lowers_excess_deaths():
    """What the literature holds (Bernstein 1984; Lin & Yang 2000): quotas set from inflated reports killed.
    The state allots resales and relief on what it believes communes hold, so inflated reports both raise
    quotas and hide hunger from relief; honest reports undo both."""
    from greatleap.analysis.compare import run_metrics
    from greatleap.analysis.ensemble import run_one
    excess = {name: np.mean([run_metrics(run_one(load_scenario(name).to_dict(), s, 50000).tables)["excess_deaths_true"]
                             for s in (1, 2)]) for name in ("historical", "honest_reporting")}
    assert excess["honest_reporting"] < 0.95 * excess["historical"]


def test_exports_switched_off_as_the_no_exports_scenario_and_1957_58_trade_kept():
    """The decomposition's 'exports' and the no_exports counterfactual answer one question: the
    same levers every month; 1957's routine trade and 1958's exports are as in history."""
    from greatleap.scenario import Scenario
    history = load_scenario("historical")
    off = lever_matrix(Scenario.model_validate(dec.switch_off(history.to_dict(), ["exports"])))
    assert np.array_equal(off, lever_matrix(load_scenario("no_exports")))
    exports = LEVER_INDEX["exports"]
    assert np.array_equal(off[:24, exports], lever_matrix(history)[:24, exports])  # 1957-58
    assert off[0, exports, 0] == 190.0 and off[12, exports, 0] == pytest.approx(240.4)
    assert (off[24:, exports] == 0.0).all()
