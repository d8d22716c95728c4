"""The reliability corpus: malformed scenarios, malformed invocations and data files, and random
valid scenarios (every parameter drawn within its declared range, events dropped or shifted).

Each malformed case is (id, file contents, needles): the one-line message must contain every
needle (the key and the value) and say what is allowed.
"""
from __future__ import annotations

import random
import typing
from typing import Any

from pydantic import BaseModel

from greatleap.levers import month_label, parse_month
from greatleap.parameters import BY_YEAR_LIMITS, RUN_MONTHS, Scenario

H = 'extends = "historical"\n'


def _fields() -> list[tuple[str, str, Any, float | None, float | None]]:
    """(section, name, annotation, low, high) of every parameter."""
    out = []
    for section, f in Scenario.model_fields.items():
        model = f.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or section == "calibration":
            continue
        for name, g in model.model_fields.items():
            lo = next((m.ge for m in g.metadata if getattr(m, "ge", None) is not None), None)
            hi = next((m.le for m in g.metadata if getattr(m, "le", None) is not None), None)
            out.append((section, name, g.annotation, lo, hi))
    return out


# ------------------------------------------------------------------ malformed scenarios
def malformed_scenarios() -> list[tuple[str, str | bytes, list[str]]]:
    cases: list[tuple[str, str | bytes, list[str]]] = []
    numeric = [(s, n, a, lo, hi) for s, n, a, lo, hi in _fields() if a in (int, float) and lo is not None]
    for s, n, a, lo, hi in numeric[::3]:  # every third parameter, six bad values each
        key = f"{s}.{n}"
        for tag, text, shown in (("nan", "nan", "nan"), ("inf", "inf", "inf"), ("below", repr(lo - 1), repr(lo - 1)),
                                 ("above", repr(hi * 10 + 1), repr(hi * 10 + 1)), ("string", '"12"', "'12'"),
                                 ("bool", "true", "True")):
            if a is int and tag in ("nan", "inf"):
                continue
            if a is int and tag in ("below", "above"):
                text = shown = str(int(lo) - 1) if tag == "below" else str(int(hi) * 10 + 1)
            cases.append((f"{key}-{tag}", f"{H}[{s}]\n{n} = {text}\n", [key, shown]))
    for table, (lo, hi, _) in BY_YEAR_LIMITS.items():
        section = "registration" if table.endswith("completeness") else "agriculture"
        for tag, year, text, shown in (("nan", 1960, "nan", "nan"), ("low", 1960, "-0.5", "-0.5"),
                                       ("high", 1959, "1000", "1000"), ("year", 1800, "1.0", "1800"),
                                       ("string", 1961, '"0.9"', "'0.9'")):
            cases.append((f"{table}-{tag}", f"{H}[{section}.{table}]\n{year} = {text}\n",
                          [f"{section}.{table}.{year}", shown]))
    ev = '[[events]]\nlever = "{lever}"\nstart = "{start}"\n{end}value = {value}\n'
    for tag, kw, needles in (
            ("lever", dict(lever="furnaces", start="1959-01", end="", value="0.1"), ["events.0.lever", "furnaces"]),
            ("start", dict(lever="canteen", start="1959-13", end="", value="0.1"), ["events.0.start", "1959-13"]),
            ("order", dict(lever="canteen", start="1959-05", end='end = "1959-01"\n', value="0.1"), ["events.0", "1959-01"]),
            ("value", dict(lever="canteen", start="1959-01", end="", value="3.0"), ["events.0", "3.0"]),
            ("nan", dict(lever="canteen", start="1959-01", end="", value="nan"), ["events.0.value", "nan"]),
            ("late", dict(lever="canteen", start="2500-01", end="", value="0.5"), ["events.0.start", "2500-01"]),
            ("string", dict(lever="canteen", start="1959-01", end="", value='"0.5"'), ["events.0.value", "'0.5'"]),
            ("negative", dict(lever="exports", start="1959-01", end="", value="-5"), ["events.0", "-5"])):
        cases.append((f"event-{tag}", H + ev.format(**kw), needles))
    cases += [
        ("event-missing-value", H + '[[events]]\nlever = "canteen"\nstart = "1959-01"\n', ["events.0.value"]),
        ("event-missing-lever", H + '[[events]]\nstart = "1959-01"\nvalue = 0.1\n', ["events.0.lever"]),
        ("event-extra-key", H + '[[events]]\nlever = "canteen"\nstart = "1959-01"\nvalue = 0.1\ncolour = 1\n',
         ["events.0.colour", "unknown key"]),
        ("events-not-list", 'events = 5\n', ["events = 5"]),
        ("event-date-value", H + '[[events]]\nlever = "canteen"\nstart = 1959-01-01\nvalue = 0.1\n', ["events.0.start"]),
        ("unknown-top", 'colour = "red"\n', ["colour", "unknown key"]),
        ("unknown-in-section", '[run]\nscael = 10\n', ["run.scael", "unknown key"]),
        ("unknown-section", '[weather]\n1960 = 0.9\n', ["weather", "unknown key"]),
        ("section-not-table", 'run = 5\n', ["run = 5"]),
        ("duplicate-key", '[run]\nseed = 1\nseed = 2\n', ["line 3", "seed = 2"]),
        ("duplicate-table", '[run]\nseed = 1\n[run]\nscale = 5\n', ["line 3", "[run]"]),
        ("toml-unclosed", '[run\nseed = 1\n', ["line 1"]),
        ("toml-no-value", '[run]\nseed =\n', ["line 2", "seed ="]),
        ("toml-bare-string", 'name = historical\n', ["line 1", "name = historical"]),
        ("empty", "", ["empty"]),
        ("whitespace", "   \n\n", ["empty"]),
        ("comment-only", "# nothing here\n", ["empty"]),
        ("binary", b"\x00\x01\x02\x03greatleap", ["binary"]),
        ("latin-1", "name = 'Zhōu Ēnlái café'".encode("latin-1", "replace") + b"\xe9", ["not UTF-8"]),
        ("utf-16", 'name = "x"\n'.encode("utf-16"), ["binary"]),
        ("deep-arrays", "a = " + "[" * 5000 + "]" * 5000 + "\n", ["nested too deeply"]),
        ("deep-inline", "a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n", ["nested too deeply"]),
        ("extends-empty", 'extends = ""\n', ["extends = ''"]),
        ("extends-number", 'extends = 5\n', ["extends = 5"]),
        ("extends-missing", 'extends = "histroical"\n', ["histroical"]),
        ("extends-absolute", 'extends = "/etc/hostname"\n', ["/etc/hostname", "outside"]),
        ("extends-escape", 'extends = "../../../../etc/passwd"\n', ["../../../../etc/passwd", "outside"]),
        ("replace-events-string", H + 'replace_events = "no"\n', ["replace_events = 'no'"]),
        ("replace-events-number", H + 'replace_events = 1\n', ["replace_events = 1"]),
        ("name-number", 'name = 5\n', ["name = 5"]),
        ("description-list", 'description = ["a"]\n', ["description"]),
        ("run-start-early", '[run]\nstart = "1950-01"\n', ["run.start = '1950-01'"]),
        ("run-start-format", '[run]\nstart = "Jan 1958"\n', ["run.start = 'Jan 1958'"]),
        ("run-end-late", '[run]\nend = "1980-12"\n', ["run.end = '1980-12'"]),
        ("run-order", '[run]\nstart = "1960-01"\nend = "1959-01"\n', ["1959-01", "1960-01"]),
        ("check-ledgers-string", '[run]\ncheck_ledgers = "no"\n', ["run.check_ledgers = 'no'"]),
        ("check-ledgers-int", '[run]\ncheck_ledgers = 0\n', ["run.check_ledgers = 0"]),
        ("seed-float", '[run]\nseed = 1.5\n', ["run.seed = 1.5"]),
        ("flexible-string", '[planning]\nflexible_quotas = "yes"\n', ["planning.flexible_quotas = 'yes'"]),
        ("weather-not-table", '[agriculture]\nweather = 0.9\n', ["agriculture.weather"]),
        ("cal-inf", '[[calibration.parameters]]\nkey = "mortality.hunger_gamma"\nlow = -inf\nhigh = 3.0\n',
         ["calibration.parameters.0.low = -inf"]),
        ("cal-order", '[[calibration.parameters]]\nkey = "mortality.hunger_gamma"\nlow = 3.0\nhigh = 1.0\n',
         ["calibration.parameters.0", "low 3.0"]),
        ("cal-log", '[[calibration.parameters]]\nkey = "mortality.hunger_gamma"\nlow = 0.0\nhigh = 1.0\nlog = true\n',
         ["calibration.parameters.0", "log"]),
        ("cal-unknown", '[[calibration.parameters]]\nkey = "x"\nlow = 0.0\nhigh = 1.0\nstep = 2\n',
         ["calibration.parameters.0.step", "unknown key"]),
    ]
    return cases


def extends_cases() -> list[tuple[str, dict[str, str | bytes], list[str]]]:
    """Malformed chains: (id, files by name, needles); the scenario run is main.toml."""
    return [
        ("extends-cycle", {"main.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "main.toml"\n'}, ["cycle"]),
        ("extends-not-utf8", {"main.toml": 'extends = "b.toml"\n', "b.toml": b"name = '\xff'\n"}, ["not UTF-8"]),
        ("extends-binary", {"main.toml": 'extends = "b.toml"\n', "b.toml": b"\x00\x00"}, ["binary"]),
        ("extends-empty-file", {"main.toml": 'extends = "b.toml"\n', "b.toml": ""}, ["empty"]),
        ("extends-bad-base", {"main.toml": 'extends = "b.toml"\n', "b.toml": '[run]\nseed = "x"\n'}, ["run.seed = 'x'"]),
        ("extends-folder", {"main.toml": 'extends = "sub"\n', "sub/x.toml": 'name = "x"\n'}, ["sub"]),
    ]


# ------------------------------------------------------------------ malformed invocations and data files
def bad_targets() -> dict[str, bytes]:
    series = ("[[series]]\nname='x'\ncolumn='cdr_registered'\nfile='china_national_vital_rates_1949_1970_csy1999.csv'\n"
              "field='cdr_permille'\nyears=[1957,1958]\ntolerance={tol}\nweight=1\n{extra}")
    return {
        "targets-not-utf8.toml": b"[[series]]\nname = '\xff'\n",
        "targets-deep.toml": ("a = " + "[" * 5000 + "]" * 5000).encode(),
        "targets-binary.toml": b"\x00\x01",
        "targets-bad-key.toml": series.format(tol=1, extra="colour='red'\n").encode(),
        "targets-tol-nan.toml": series.format(tol="nan", extra="").encode(),
        "targets-tol-neg.toml": series.format(tol=-1, extra="").encode(),
        "targets-counted.toml": series.format(tol=1, extra="counted='no'\n").encode(),
        "targets-outside.toml": series.format(tol=1, extra="").replace(
            "china_national_vital_rates_1949_1970_csy1999.csv", "../../../../etc/passwd").encode(),
        "targets-years.toml": series.format(tol=1, extra="").replace("[1957,1958]", "[1958,1957]").encode(),
        "targets-series-not-list.toml": b"series = 3\n",
        "targets-unknown-table.toml": b"[bogus]\nx = 1\n",
        "targets-empty.toml": b"",
    }


def bad_invocations(tmp) -> list[tuple[str, list[str], list[str]]]:
    """(id, arguments, needles) run in ``tmp`` (which holds the files they name)."""
    good_cal = str(tmp / "cal.toml")
    cases = [
        ("run-scale-abc", ["run", "--scale", "abc"], ["--scale", "'abc'"]),
        ("run-scale-zero", ["run", "--scale", "0"], ["--scale", "'0'"]),
        ("run-scale-negative", ["run", "--scale", "-5"], ["--scale", "'-5'"]),
        ("run-scale-huge", ["run", "--scale", "1e7"], ["--scale", "'1e7'"]),
        ("run-scale-nan", ["run", "--scale", "nan"], ["--scale", "'nan'"]),
        ("run-scale-inf", ["run", "--scale", "inf"], ["--scale", "'inf'"]),
        ("run-scale-empty", ["run", "--scale", ""], ["--scale", "''"]),
        ("run-seed-float", ["run", "--seed", "1.5"], ["--seed", "'1.5'"]),
        ("run-seed-negative", ["run", "--seed", "-1"], ["--seed", "'-1'"]),
        ("run-seed-text", ["run", "--seed", "abc"], ["--seed", "'abc'"]),
        ("run-seed-huge", ["run", "--seed", str(2**63)], ["--seed", str(2**63)]),
        ("run-format", ["run", "--format", "xml"], ["--format", "'xml'"]),
        ("run-unknown-option", ["run", "--sacle", "5"], ["--sacle"]),
        ("run-extra-argument", ["run", "historical", "extra"], ["extra"]),
        ("run-no-scenario", ["run", "histroical"], ["histroical"]),
        ("run-scenario-folder", ["run", str(tmp)], [str(tmp)]),
        ("run-out-under-file", ["run", "--out", str(tmp / "afile" / "o")], ["--out", "afile"]),
        ("run-out-full", ["run", "--out", str(tmp / "full")], ["--out", "full"]),
        ("run-out-is-file", ["run", "--out", str(tmp / "afile")], ["--out", "afile"]),
        ("params-missing", ["params", "nope"], ["nope"]),
        ("params-bad-file", ["params", str(tmp / "bad.toml")], ["run.seed"]),
        ("validate-seeds-zero", ["validate", "--seeds", "0"], ["--seeds", "'0'"]),
        ("validate-seeds-text", ["validate", "--seeds", "many"], ["--seeds", "'many'"]),
        ("validate-seeds-huge", ["validate", "--seeds", "100000"], ["--seeds", "'100000'"]),
        ("validate-jobs-zero", ["validate", "--jobs", "0"], ["--jobs", "'0'"]),
        ("validate-jobs-negative", ["validate", "--jobs", "-2"], ["--jobs", "'-2'"]),
        ("validate-scale-small", ["validate", "--scale", "0.5"], ["--scale", "'0.5'"]),
        ("validate-vintage", ["validate", "--vintage", "un"], ["vintage", "'un'"]),
        ("validate-targets-missing", ["validate", "--targets", str(tmp / "none.toml")], ["none.toml"]),
        ("validate-targets-folder", ["validate", "--targets", str(tmp)], [str(tmp)]),
        ("validate-out-under-file", ["validate", "--out", str(tmp / "afile" / "v")], ["--out", "afile"]),
        ("validate-bad-scenario", ["validate", str(tmp / "bad.toml")], ["run.seed"]),
        ("compare-one", ["compare", "historical"], ["one scenario"]),
        ("compare-none", ["compare"], ["scenarios"]),
        ("compare-months", ["compare", "historical", str(tmp / "short.toml")], ["1958-06"]),
        ("compare-seeds", ["compare", "historical", "no_great_leap", "--seeds", "0"], ["--seeds", "'0'"]),
        ("compare-unknown", ["compare", "historical", "nope"], ["nope"]),
        ("compare-scale", ["compare", "historical", "no_great_leap", "--scale", "x"], ["--scale", "'x'"]),
        ("decompose-mechanism", ["decompose", "--mechanisms", "sparrows"], ["--mechanisms", "sparrows"]),
        ("decompose-repeated", ["decompose", "--mechanisms", "pests,pests"], ["--mechanisms", "pests,pests"]),
        ("decompose-empty", ["decompose", "--mechanisms", ","], ["--mechanisms", "','"]),
        ("decompose-permutations", ["decompose", "--permutations", "-1"], ["--permutations", "'-1'"]),
        ("decompose-permutations-text", ["decompose", "--permutations", "all"], ["--permutations", "'all'"]),
        ("decompose-jobs", ["decompose", "--jobs", "0"], ["--jobs", "'0'"]),
        ("calibrate-trials-zero", ["calibrate", "--trials", "0"], ["--trials", "'0'"]),
        ("calibrate-trials-text", ["calibrate", "--trials", "lots"], ["--trials", "'lots'"]),
        ("calibrate-storage-notdb", ["calibrate", good_cal, "--storage", str(tmp / "afile")], ["--storage", "afile"]),
        ("calibrate-storage-under-file", ["calibrate", good_cal, "--storage", str(tmp / "afile" / "s.sqlite")],
         ["--storage", "afile"]),
        ("calibrate-storage-folder", ["calibrate", good_cal, "--storage", str(tmp)], ["--storage", str(tmp)]),
        ("calibrate-out-full", ["calibrate", good_cal, "--out", str(tmp / "full")], ["--out", "full"]),
        ("calibrate-no-parameters", ["calibrate", str(tmp / "nocal.toml")], ["[[calibration.parameters]]"]),
        ("calibrate-bounds", ["calibrate", str(tmp / "wide.toml")], ["labor_elasticity", "1.5"]),
        ("calibrate-vintage", ["calibrate", good_cal, "--vintage", "2024"], ["vintage", "'2024'"]),
        ("unknown-command", ["simulate"], ["simulate"]),
        ("version-extra", ["--versoin"], ["--versoin"]),
    ]
    for name in bad_targets():
        cases.append((f"validate-{name[:-5]}", ["validate", "--targets", str(tmp / name)], [name]))
    return cases


def invocation_files(tmp) -> None:
    """The files the malformed invocations name."""
    (tmp / "afile").write_text("hello, not a database or a folder")
    (tmp / "full").mkdir()
    (tmp / "full" / "keep.txt").write_text("x")
    (tmp / "bad.toml").write_text('[run]\nseed = "x"\n')
    (tmp / "short.toml").write_text(H + '[run]\nend = "1958-06"\n')
    (tmp / "nocal.toml").write_text('extends = "no_great_leap"\n[calibration]\nparameters = []\n')
    (tmp / "cal.toml").write_text(H + '[run]\nend = "1958-06"\n')
    (tmp / "wide.toml").write_text(H + 'calibration.parameters = [{key = "agriculture.labor_elasticity", '
                                   'low = 0.2, high = 1.5}]\n')
    for name, body in bad_targets().items():
        (tmp / name).write_bytes(body)


# ------------------------------------------------------------------ random valid scenarios
def random_scenario(k: int) -> dict[str, Any]:
    """Scenario ``k``: historical with every parameter drawn within its declared range, weather and
    completeness by year within theirs, and each event dropped (1 in 5) or shifted (up to a year)."""
    from greatleap import load_scenario
    rng = random.Random(k)
    data = load_scenario("historical").to_dict()
    for section, name, ann, lo, hi in _fields():
        if section == "run":
            continue
        if ann is bool:
            data[section][name] = rng.random() < 0.5
        elif ann is int and lo is not None:
            data[section][name] = rng.randint(int(lo), int(hi))
        elif ann is float and lo is not None:
            data[section][name] = rng.uniform(lo, hi)
        elif typing.get_origin(ann) is dict:
            a, b, _ = BY_YEAR_LIMITS[name]
            data[section][name] = {str(y): rng.uniform(a, b) for y in range(1957, 1967) if rng.random() < 0.8}
    run = data["run"]
    from greatleap.mechanisms.communes import largest_valid_scale
    run["scale"] = min(100000.0, largest_valid_scale(data["population"]["initial_population_million"], 29))
    run["seed"] = rng.randint(0, 2**31)
    run["communes"] = rng.randint(29, 5000)
    run["capacity_factor"] = rng.uniform(1.05, 4.0)
    start = parse_month(RUN_MONTHS[0])
    run["end"] = month_label(rng.randint(start + 12, parse_month("1966-12")))
    events = []
    for ev in data["events"]:
        if rng.random() < 0.2:
            continue
        shift = rng.randint(-12, 12) if rng.random() < 0.5 else 0
        ev["start"] = month_label(max(start, parse_month(ev["start"]) + shift))
        if ev.get("end"):
            ev["end"] = month_label(max(parse_month(ev["start"]), parse_month(ev["end"]) + shift))
        events.append(ev)
    data["events"] = events
    data["name"] = f"random_{k}"
    return data


COUNT_WORDS = ("population", "births", "deaths", "escapes", "workers")
SIGNED_FLOWS = ("net_exports_mt", "outflow_mt")
RATIO_WORDS = ("cbr_", "cdr_", "_share", "reported_to_actual", "retention_kg", "ratio", "reserve_",
               "_may_")  # a value in May: undefined (NaN) in a year the run does not reach May


def table_problems(tables: dict) -> list[str]:
    """Infinity anywhere; NaN in a count or an amount (a rate or a share over a zero population or
    harvest is NaN by design: undefined, not wrong); negative counts (persons) or grain amounts."""
    import numpy as np
    import pandas as pd
    problems = []
    for tname, frame in tables.items():
        for col in frame.columns:
            values = frame[col]
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                continue
            arr = values.to_numpy(dtype=float)
            ratio = any(w in col for w in RATIO_WORDS) or tname == "harvest_factors"
            if np.isinf(arr).any():
                problems.append(f"{tname}.{col}: infinity")
            if np.isnan(arr).any() and not ratio:
                problems.append(f"{tname}.{col}: NaN")
            # net flows may be negative: net exports (imports), a province's outflow (grain received)
            counts = any(w in col for w in COUNT_WORDS) or (col.endswith("_mt") and col not in SIGNED_FLOWS)
            if counts and not ratio and (arr < -1e-6).any():
                problems.append(f"{tname}.{col}: negative ({np.nanmin(arr):.3g})")
    return problems
