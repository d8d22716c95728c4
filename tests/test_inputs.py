"""Bad scenario input is refused with one line per error naming key, value and what is allowed;
overlays resolve the same way from a dict and from a file; extends is confined."""
import warnings

import pytest

from greatleap.io import safe_folder_name
from greatleap.scenario import ScenarioError, ScenarioWarning, load_scenario, validate_scenario


def refused(tmp_path, body, name="bad.toml"):
    f = tmp_path / name
    f.write_text(body, encoding="utf-8") if isinstance(body, str) else f.write_bytes(body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(f)
    return str(info.value)


@pytest.mark.parametrize("body, needles", [
    ('[agriculture.weather]\n1960 = nan\n', ["agriculture.weather.1960 = nan", "finite", "0.2 .. 2.0"]),
    ('[agriculture.weather]\n1960 = inf\n', ["agriculture.weather.1960 = inf", "finite"]),
    ('[agriculture.weather]\n1960 = -0.5\n', ["agriculture.weather.1960 = -0.5", "0.2 .. 2.0"]),
    ('[agriculture.weather]\n1960 = 1000\n', ["agriculture.weather.1960 = 1000", "0.2 .. 2.0"]),
    ('[agriculture.weather]\n1890 = 1.0\n', ["agriculture.weather.1890", "1949 .. 1970"]),
    ('[registration]\nbirth_completeness = {1960 = nan}\n', ["registration.birth_completeness.1960 = nan", "finite"]),
    ('[registration]\ndeath_completeness = {1960 = -1}\n', ["death_completeness.1960 = -1", "0.05 .. 1.0"]),
    ('[mortality]\nhunger_beta_adult = nan\n', ["mortality.hunger_beta_adult = nan", "not a finite number", "0.0 .. 50.0"]),
    ('[run]\ncheck_ledgers = "no"\n', ["run.check_ledgers = 'no'", "true or false"]),
    ('[run]\nscale = "1000"\n', ["run.scale = '1000'", "a number", "1.0 .. 1000000.0"]),
    ('[run]\nseed = true\n', ["run.seed = True", "an integer"]),
    ('[run]\nseed = 1.5\n', ["run.seed = 1.5", "an integer"]),
    ('[nutrition]\nrecovery_efficiency = true\n', ["nutrition.recovery_efficiency = True", "a number"]),
    ('extends = "historical"\nreplace_events = "no"\n', ["replace_events = 'no'", "true or false"]),
    ('[run]\nstart = "1950-01"\n', ["run.start = '1950-01'", "1957-01 .. 1970-12"]),
    ('[run]\nscale = 1\nscale = 2\n', ["line 3", "scale = 2", "defined twice"]),
    ('extends = ""\n', ["extends = ''", "built-in name"]),
    ('[[events]]\nlever = "canteen"\nstart = "1959-01"\nvalue = 3.0\n', ["events.0 = {lever='canteen'", "0 .. 1"]),
    ('[[events]]\nlever = "canteen"\nstart = "2500-01"\nvalue = 0.5\n', ["events.0.start = '2500-01'", "1970-12"]),
    ('[[calibration.parameters]]\nkey = "mortality.hunger_gamma"\nlow = -inf\nhigh = 3\n',
     ["calibration.parameters.0.low = -inf", "finite"]),
    ('events = 5\n', ["events = 5", "[[events]]"]),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", ["nested too deeply"]),
    ('[run]\n"[/]" = 1\n', ["run.[/] = 1", "unknown key", "allowed keys"]),
])
def test_bad_values_name_key_value_and_allowed(tmp_path, body, needles):
    message = refused(tmp_path, body)
    for part in needles:
        assert part in message, f"{part!r} not in {message!r}"
    assert "allowed type: list" not in message and "should be <=" not in message
    assert len(message.splitlines()) == 1


def test_one_line_per_error(tmp_path):
    message = refused(tmp_path, '[run]\nseed = true\nscale = "x"\n')
    assert len(message.splitlines()) == 2 and all(line.startswith("scenario ") for line in message.splitlines())


@pytest.mark.parametrize("raw, needle", [
    (b"", "empty file"),
    (b"# only a comment\n", "empty file"),
    (b"\x00\x01binary", "binary"),
    ("name = 'caf\xe9'".encode("latin-1"), "not UTF-8"),
])
def test_unreadable_or_empty_files(tmp_path, raw, needle):
    assert needle in refused(tmp_path, raw)


def test_utf8_bom_is_accepted(tmp_path):
    f = tmp_path / "bom.toml"
    f.write_bytes("\ufeffextends = \"historical\"\nname = \"bom\"\n".encode("utf-8"))
    assert load_scenario(f).name == "bom"


def test_extends_target_that_is_not_utf8(tmp_path):
    (tmp_path / "base.toml").write_bytes(b"name = '\xff'\n")
    assert "not UTF-8" in refused(tmp_path, 'extends = "base.toml"\n')


def test_validate_scenario_resolves_extends_like_a_file(tmp_path):
    overlay = {"extends": "historical", "name": "dry", "agriculture": {"weather": {"1960": 0.85}},
               "events": [{"lever": "furnace_labor", "start": "1957-01", "value": 0.0}]}
    from_dict = validate_scenario(overlay)
    f = tmp_path / "dry.toml"
    f.write_text('extends = "historical"\nname = "dry"\n[agriculture.weather]\n1960 = 0.85\n'
                 '[[events]]\nlever = "furnace_labor"\nstart = "1957-01"\nvalue = 0.0\n', encoding="utf-8")
    from_file = load_scenario(f)
    assert from_dict == from_file
    base = load_scenario("historical")
    assert from_dict.agriculture.weather[1961] == base.agriculture.weather[1961]  # inherited, not the default
    assert from_dict.mortality == base.mortality and len(from_dict.events) == len(base.events) + 1
    assert from_dict.extends is None
    assert validate_scenario(from_dict.to_dict()) == from_dict  # a resolved scenario is not merged twice


def test_dict_extends_is_confined_unless_given_a_folder(tmp_path):
    (tmp_path / "base.toml").write_text('extends = "historical"\nname = "base"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match="outside the folders"):
        validate_scenario({"extends": str(tmp_path / "base.toml")})
    assert validate_scenario({"extends": "base.toml"}, base_dir=tmp_path).name == "base"


def test_file_extends_is_confined(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    inside = tmp_path / "project"
    outside.mkdir()
    inside.mkdir()
    (outside / "secret.toml").write_text('name = "secret"\n', encoding="utf-8")
    monkeypatch.chdir(inside)
    for target in (str(outside / "secret.toml"), "../outside/secret.toml", "/etc/hostname"):
        message = refused(inside, f'extends = "{target}"\n')
        assert "outside the folders" in message and "GREATLEAP_SCENARIO_PATH" in message
    monkeypatch.setenv("GREATLEAP_SCENARIO_PATH", str(outside))
    f = inside / "ok.toml"
    f.write_text(f'extends = "{outside / "secret.toml"}"\n', encoding="utf-8")
    assert load_scenario(f).name == "secret"


def test_replace_events_must_be_a_boolean_and_true_drops_the_base_events(tmp_path):
    f = tmp_path / "r.toml"
    f.write_text('extends = "historical"\nreplace_events = true\n', encoding="utf-8")
    assert load_scenario(f).events == []


def test_events_after_the_run_end_are_warned(tmp_path):
    f = tmp_path / "late.toml"
    f.write_text('extends = "historical"\n[run]\nend = "1960-12"\n[[events]]\nlever = "canteen"\n'
                 'start = "1965-01"\nvalue = 0.5\n', encoding="utf-8")
    with pytest.warns(ScenarioWarning, match="1 event.* start after run.end 1960-12"):
        load_scenario(f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_scenario("historical", **{"run.end": "1960-12"})  # a built-in's own events: no warning


@pytest.mark.parametrize("name, expected", [
    ("../../escaped", "escaped"), ("/etc/passwd", "etc_passwd"), ("a" * 300, "a" * 64), ("..", "scenario"),
    ("my scenario: v2", "my_scenario_v2"), ("historical", "historical"),
])
def test_scenario_names_become_safe_folder_names(name, expected):
    assert safe_folder_name(name) == expected


def test_historical_description_and_weather_comment_are_true():
    import re
    from importlib import resources
    s = load_scenario("historical")
    assert "un-calibrated" not in s.description and "calibrated" in s.description
    text = (resources.files("greatleap") / "scenarios" / "historical.toml").read_text(encoding="utf-8")
    comment = text[:text.index("[agriculture.weather]")]
    worst = int(re.search(r"(\d{4}) (?:is )?the worst", comment).group(1))
    bad_years = {y: v for y, v in s.agriculture.weather.items() if 1959 <= y <= 1961}
    assert worst == min(bad_years, key=bad_years.get)
