"""Scenario schema, overlays, the timeline, and clear errors for bad input."""
import pytest

from greatleap.scenario import ScenarioError, load_scenario
from greatleap.levers import LEVER_INDEX, parse_month
from greatleap.timeline import lever_matrix


def test_historical_loads_with_sourced_events():
    s = load_scenario("historical")
    assert s.name == "historical"
    assert s.run.start == "1957-01" and s.run.end == "1966-12"
    assert len(s.events) > 40
    assert all(ev.source for ev in s.events), "every event names its source"


def test_lever_matrix_follows_the_dated_events():
    s = load_scenario("historical")
    lev = lever_matrix(s)[..., 0]
    assert lev.shape == (120, len(LEVER_INDEX))
    row = {m: parse_month(m) - parse_month("1957-01") for m in ("1957-06", "1958-10", "1959-12", "1961-07", "1962-06")}
    assert lev[row["1957-06"], LEVER_INDEX["furnace_labor"]] == 0.0
    assert lev[row["1958-10"], LEVER_INDEX["furnace_labor"]] == pytest.approx(0.25)
    assert lev[row["1958-10"], LEVER_INDEX["free_eating"]] == 1.0
    assert lev[row["1959-12"], LEVER_INDEX["anti_right"]] == 1.0
    assert lev[row["1961-07"], LEVER_INDEX["canteen"]] == 0.0
    assert lev[row["1962-06"], LEVER_INDEX["imports"]] == pytest.approx(410.0)
    # exports 1959 = 4,155 kt (china_grain_trade_1958_1962_kt.csv)
    y59 = slice(row["1959-12"] - 11, row["1959-12"] + 1)
    assert lev[y59, LEVER_INDEX["exports"]].sum() == pytest.approx(4155.0)


def test_overlay_extends_historical(tmp_path):
    f = tmp_path / "no_furnaces.toml"
    f.write_text('extends = "historical"\nname = "no_furnaces"\n[agriculture]\nlabor_elasticity = 0.35\n'
                 '[[events]]\nlever = "furnace_labor"\nstart = "1957-01"\nvalue = 0.0\n', encoding="utf-8")
    s = load_scenario(f)
    base = load_scenario("historical")
    assert s.name == "no_furnaces"
    assert s.agriculture.labor_elasticity == 0.35
    assert s.agriculture.weather == base.agriculture.weather  # inherited
    assert len(s.events) == len(base.events) + 1
    assert lever_matrix(s)[..., 0][:, LEVER_INDEX["furnace_labor"]].max() == 0.0


def test_overrides_by_dotted_key():
    s = load_scenario("historical", **{"run.scale": 20000, "mortality.hunger_gamma": 3.0})
    assert s.run.scale == 20000 and s.mortality.hunger_gamma == 3.0


@pytest.mark.parametrize("body, must_contain", [
    ("[run]\nscael = 10\n", ["run.scael", "unknown key", "scale"]),
    ("[run]\nscale = 'big'\n", ["run.scale", "'big'"]),
    ("[agriculture]\nlabor_elasticity = 5.0\n", ["agriculture.labor_elasticity", "5.0", "0.1", "0.9"]),
    ("[run]\nstart = '1958-01'\nend = '1957-06'\n", ["1957-06", "before", "1958-01"]),
    ("[[events]]\nlever = 'furnace_labor'\nstart = '1959-05'\nend = '1959-01'\nvalue = 0.1\n", ["events.0", "before"]),
    ("[[events]]\nlever = 'furnaces'\nstart = '1959-05'\nvalue = 0.1\n", ["events.0.lever", "furnaces", "furnace_labor"]),
    ("[[events]]\nlever = 'canteen'\nstart = '1959-13'\nvalue = 0.1\n", ["events.0.start", "1959-13", "YYYY-MM"]),
    ("[[events]]\nlever = 'canteen'\nstart = '1959-01'\nvalue = 3.0\n", ["events.0", "3.0", "0", "1"]),
    ("[registration]\ndeath_completeness = {1960 = 1.5}\n", ["registration.death_completeness", "1.5"]),
    ("[registration]\ncensus = '1964-07'\n", ["registration.census", "'1964-07'", "a list such as"]),
    ("[registration]\ncensus = ['1964-13']\n", ["registration.census", "1964-13", "YYYY-MM"]),
    ("[registration]\ncensus = ['1975-07']\n", ["registration.census", "1975-07", "1957-01 .. 1970-12"]),
    ("this is = not [toml\n", ["malformed TOML"]),
])
def test_bad_scenarios_name_key_value_and_allowed(tmp_path, body, must_contain):
    f = tmp_path / "bad.toml"
    f.write_text(body, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    message = str(info.value)
    for part in must_contain:
        assert part in message, f"{part!r} not in {message!r}"


def test_unknown_scenario_name():
    with pytest.raises(ScenarioError, match="no such file and not a built-in scenario"):
        load_scenario("historicl")


def test_extends_cycle_is_caught(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="extends"):
        load_scenario(tmp_path / "a.toml")


def test_every_parameter_has_unit_range_and_source():
    from greatleap.scenario import Scenario
    for section, field in Scenario.model_fields.items():
        model = field.annotation
        if not hasattr(model, "model_fields") or section in ("run", "calibration"):
            continue
        for name, f in model.model_fields.items():
            assert f.description, f"{section}.{name} lacks a description with unit and source"
            extra = f.json_schema_extra or {}
            if isinstance(f.default, (int, float)) and not isinstance(f.default, bool):
                assert "unit" in extra and "source" in extra, f"{section}.{name}"
                assert any(getattr(m, "ge", None) is not None for m in f.metadata), f"{section}.{name} has no range"


def test_overlay_can_change_one_year_of_a_by_year_table(tmp_path):
    f = tmp_path / "dry1960.toml"
    f.write_text('extends = "historical"\n[agriculture.weather]\n1960 = 0.85\n', encoding="utf-8")
    s = load_scenario(f)
    base = load_scenario("historical").agriculture.weather
    assert s.agriculture.weather[1960] == 0.85
    assert all(s.agriculture.weather[y] == v for y, v in base.items() if y != 1960)
