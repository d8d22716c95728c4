"""The explorer's lever table: each web lever changes exactly the scenario it claims to change.

No web extra needed: these test greatleap.web.levers and greatleap.web.export only.
"""
import math

import numpy as np
import pytest

from greatleap.levers import LEVER_INDEX, LEVERS, parse_month
from greatleap.scenario import builtin_names, load_scenario, parameter_table, validate_scenario
from greatleap.timeline import lever_matrix
from greatleap.web.export import scenario_toml
from greatleap.web.levers import (LEVER_TABLE, RETREAT_HISTORICAL, LeverError, apply_levers, check_lever,
                                  describe_levers, historical_values, lever_at, preset_dict)

START = parse_month("1957-01")


def _matrix(data):
    return lever_matrix(validate_scenario(data))


def _far_value(lever):
    """The allowed value farthest from history (a real move)."""
    hist = lever.historical(preset_dict("historical"))
    if lever.kind == "toggle":
        return not hist
    if lever.kind == "month":
        lo, hi, h = parse_month(lever.lo), parse_month(lever.hi), parse_month(hist)
        return lever.lo if h - lo > hi - h else lever.hi
    return lever.lo if hist - lever.lo > lever.hi - hist else lever.hi


def _changes(data):
    """What differs from the historical scenario: engine levers (by month) and scalar parameters."""
    hist = preset_dict("historical")
    a, b = _matrix(hist), _matrix(data)
    levers = {f"lever:{name}" for name, j in LEVER_INDEX.items() if not np.array_equal(a[:, j], b[:, j])}
    ha = {r["key"]: r["value"] for r in parameter_table(validate_scenario(hist))}
    hb = {r["key"]: r["value"] for r in parameter_table(validate_scenario(data))}
    params = {k for k in ha if ha[k] != hb[k]}
    return levers | params


def test_every_lever_described_with_historical_value_range_unit_and_source():
    rows = describe_levers()
    assert [r["name"] for r in rows] == list(LEVER_TABLE)
    assert len(rows) >= 15
    for r in rows:
        assert r["explanation"] and r["source"] and r["label"], r["name"]
        if r["kind"] == "range":
            assert r["unit"] and r["min"] <= r["historical"] <= r["max"], r
        if r["kind"] == "month":
            assert parse_month(r["min"]) <= parse_month(r["historical"]) <= parse_month(r["max"]), r
    hist = historical_values()
    assert hist["procurement_rate"] == pytest.approx(0.24)
    assert hist["furnace_labor"] == pytest.approx(0.25)
    assert hist["retreat"] == RETREAT_HISTORICAL and hist["peng_prevails"] is False


def test_levers_at_their_historical_values_change_nothing():
    assert apply_levers("historical", historical_values()) == preset_dict("historical")
    for name in builtin_names():
        assert apply_levers(name, historical_values()) == preset_dict(name)


@pytest.mark.parametrize("name", list(LEVER_TABLE))
def test_each_lever_changes_what_it_claims(name):
    lever = LEVER_TABLE[name]
    data = apply_levers("historical", {name: _far_value(lever)})
    changed = _changes(data)
    claimed = set(lever.changes)
    assert changed, f"{name} changed nothing"
    if name == "retreat":
        assert changed <= claimed and len(changed) >= 8, changed
    else:
        assert changed == claimed, (name, changed, claimed)


def test_levers_move_the_timeline_the_right_way():
    hist = preset_dict("historical")
    d = apply_levers("historical", {"procurement_rate": 0.5, "furnace_labor": 0.5, "canteens": 0.45,
                                    "exports": 0.0, "imports_mt": 3.0, "imports_start": "1959-06", "hukou": 0.1})
    assert lever_at(d, "procurement_rate", "1959-06") == 0.5
    assert lever_at(d, "procurement_rate", "1961-06") == lever_at(hist, "procurement_rate", "1961-06")
    assert lever_at(d, "furnace_labor", "1958-10") == pytest.approx(0.5)
    assert lever_at(d, "furnace_labor", "1959-03") == pytest.approx(2 * lever_at(hist, "furnace_labor", "1959-03"))
    assert lever_at(d, "canteen", "1958-12") == pytest.approx(0.45)
    assert all(lever_at(d, "exports", f"{y}-06") == 0.0 for y in (1959, 1960, 1961))
    assert lever_at(d, "exports", "1958-06") == lever_at(hist, "exports", "1958-06") > 0
    assert lever_at(d, "exports", "1962-06") == lever_at(hist, "exports", "1962-06") > 0
    assert lever_at(d, "imports", "1959-06") == pytest.approx(250.0)
    assert lever_at(d, "imports", "1961-12") == pytest.approx(250.0)
    assert lever_at(d, "imports", "1962-06") == lever_at(hist, "imports", "1962-06")
    assert lever_at(d, "hukou", "1960-01") == 0.1
    late = apply_levers("historical", {"imports_start": "1962-01"})
    assert lever_at(late, "imports", "1961-06") == 0.0


def test_retreat_moves_the_whole_trajectory():
    hist = preset_dict("historical")
    early = apply_levers("historical", {"retreat": "1959-11"})  # 12 months earlier
    for lever in ("procurement_rate", "canteen", "campaign", "relief", "anti_right"):
        for month in ("1959-11", "1960-06", "1961-01"):
            later = parse_month(month) + 12
            assert lever_at(early, lever, month) == lever_at(hist, lever, f"{later // 12}-{later % 12 + 1:02d}"), (lever, month)
    assert lever_at(early, "campaign", "1959-06") == lever_at(hist, "campaign", "1959-06")
    late = apply_levers("historical", {"retreat": "1961-11"})   # 12 months later
    for lever in ("canteen", "campaign", "relief", "anti_right"):
        assert lever_at(late, lever, "1961-06") == lever_at(hist, lever, "1960-10"), lever
        assert lever_at(late, lever, "1962-01") == lever_at(hist, lever, "1961-01"), lever


def test_a_moved_lever_overrides_the_preset_and_an_unmoved_one_keeps_it():
    kept = apply_levers("no_exports", {})
    assert lever_at(kept, "exports", "1960-06") == 0.0
    moved = apply_levers("no_exports", {"exports": 0.5})
    hist = preset_dict("historical")
    assert lever_at(moved, "exports", "1960-06") == pytest.approx(0.5 * lever_at(hist, "exports", "1960-06"))
    peng = apply_levers("historical", {"peng_prevails": True})
    preset = preset_dict("peng_prevails")
    assert np.array_equal(_matrix(peng), _matrix(preset))


@pytest.mark.parametrize("name,value,allowed", [
    ("nope", 1, "one of"), ("procurement_rate", 0.95, "0.1 .. 0.6"), ("procurement_rate", math.nan, "0.1 .. 0.6"),
    ("procurement_rate", "abc", "a number"), ("procurement_rate", True, "a number"),
    ("flexible_quotas", "maybe", "true or false"), ("retreat", "1958-01", "1959-03"), ("retreat", "soon", "YYYY-MM"),
    ("imports_start", "1960-13", "YYYY-MM"),
])
def test_bad_lever_values_are_refused_naming_field_value_and_range(name, value, allowed):
    with pytest.raises(LeverError) as info:
        check_lever(name, value)
    assert info.value.field == f"levers.{name}" and allowed in info.value.allowed
    assert name in str(info.value) and allowed in str(info.value)


def test_unknown_preset_is_refused():
    for bad in ("../etc/passwd", "/etc/passwd", 3, "historical.toml"):
        with pytest.raises(LeverError) as info:
            apply_levers(bad, {})
        assert info.value.field == "scenario" and "historical" in info.value.allowed


def test_normal_weather_makes_every_harvest_normal_everywhere():
    history = load_scenario("historical").to_dict()["agriculture"]
    assert history["summer_weather"] and history["severe_hit_yield_loss"] > 0
    agri = apply_levers("historical", {"normal_weather": True})["agriculture"]
    assert set(agri["weather"]) == set(history["weather"]) and set(agri["weather"].values()) == {1.0}
    assert set(agri["summer_weather"]) == set(history["summer_weather"]) and set(agri["summer_weather"].values()) == {1.0}
    assert agri["severe_hit_yield_loss"] == 0.0


def test_lever_values_stay_inside_the_engine_ranges():
    for name, lever in LEVER_TABLE.items():
        for value in ((lever.lo, lever.hi) if lever.kind != "toggle" else (True, False)):
            data = apply_levers("historical", {name: value})
            for ev in data["events"]:
                assert LEVERS[ev["lever"]].lo <= ev["value"] <= LEVERS[ev["lever"]].hi


def test_scenario_toml_loads_back_to_the_same_scenario(tmp_path):
    levers = {"honest_reporting": 0.5, "retreat": "1960-03", "normal_weather": True, "exports": 0.2,
              "flexible_quotas": True, "peng_prevails": True}
    for preset in ("historical", "no_great_leap", "early_retreat"):
        data = apply_levers(preset, levers)
        path = tmp_path / f"{preset}.toml"
        path.write_text(scenario_toml(preset, levers, data), encoding="utf-8")
        loaded, expected = load_scenario(path).to_dict(), validate_scenario(data).to_dict()
        assert f'extends = "{preset}"' in path.read_text(encoding="utf-8")
        assert loaded == expected  # a resolved scenario no longer names what it extends
