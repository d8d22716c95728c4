"""``greatleap estimate``: the command-line contract, every method from the command line, clean stdout."""
import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from greatleap.analysis import estimate as est
from greatleap.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def cli(*args):
    return CliRunner().invoke(app, ["estimate", *map(str, args)])


def test_json_contract_one_object():
    r = cli("--series", "official-1983", "--method", "average", "--baseline-years", "1957,1962,1963",
            "--period", "1958-1961", "--exposure", "mid", "--format", "json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert {"method", "series", "baseline", "excess", "total"} <= set(obj)
    assert obj["method"] == "average" and obj["series"] == "official-1983" and obj["baseline_unit"] == "per mille"
    assert list(obj["excess"]) == ["1958", "1959", "1960", "1961"] and list(obj["baseline"]) == list(obj["excess"])
    off = est.series_by_name("official-1983")
    cdr = off.rates("mid")[1][[list(off.years).index(y) for y in (1957, 1962, 1963)]]
    assert obj["baseline"]["1960"] == pytest.approx(cdr.mean())
    assert obj["total"] == pytest.approx(sum(obj["excess"].values())) and 16 < obj["total"] < 17


def test_json_several_methods_give_a_list_and_csv_is_data_only():
    r = cli("--method", "average,interpolation", "--period", "1958-1961", "--period", "1959-1961", "--format", "json")
    assert r.exit_code == 0
    objs = json.loads(r.stdout)
    assert isinstance(objs, list) and len(objs) == 4 and {o["period"] for o in objs} == {"1958-1961", "1959-1961"}
    r = cli("--series", "official-revised", "--method", "yang", "--format", "csv")
    assert r.exit_code == 0 and "counts used" in r.stderr and "counts used" not in r.stdout
    rows = pd.read_csv(io.StringIO(r.stdout))
    assert list(rows.year) == [1958, 1959, 1960, 1961] and rows.total_m.nunique() == 1
    assert rows.excess_m.sum() == pytest.approx(rows.total_m.iloc[0])


@pytest.mark.parametrize("args, method, total", [
    (["--method", "yang", "--pre", "1955-1957", "--post", "1964-1966"], "yang", None),
    (["--method", "constant", "--rate", "11"], "constant", None),
    (["--method", "count", "--baseline-years", "1954-1958,1962-1964"], "count", None),
    (["--method", "growth", "--rate", "0.02", "--from", "1959", "--to", "1961"], "growth", 40.632),
    (["--method", "interpolation", "--anchors", "1957,1962"], "interpolation", 16.360),
    (["--method", "pre-famine", "--baseline-years", "1956,1957", "--adjust", "0.10"], "pre-famine", 18.923),
    (["--method", "lost-births", "--baseline-years", "1957,1962,1963"], "lost-births", 39.529),
    (["--method", "lost-births", "--anchors", "1957,1962"], "lost-births", None),
    (["--method", "registered", "--period", "1959-1961"], "registered", None),
    (["--method", "average", "--period", "1958-1963", "--clip"], "average", None),
])
def test_every_method_from_the_command_line(args, method, total):
    r = cli(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["method"] == method and obj["total"] == pytest.approx(sum(obj["excess"].values()))
    if total is not None:
        assert obj["total"] == pytest.approx(total, abs=5e-4)
    if "--clip" in args:
        assert min(obj["excess"].values()) >= 0 and obj["clip"] is True


def test_exposure_conventions_differ_by_a_third_of_a_million_on_the_official_rates():
    totals = {x: json.loads(cli("--method", "average", "--exposure", x, "--format", "json").stdout)["total"]
              for x in ("previous", "rate-x-previous", "yearend", "rate-x-yearend")}
    assert totals["rate-x-previous"] - totals["previous"] == pytest.approx(0.34, abs=0.01)
    assert totals["yearend"] - totals["rate-x-yearend"] == pytest.approx(0.33, abs=0.01)


def test_table_shows_baselines_and_yearly_terms():
    r = cli("--method", "interpolation", "--anchors", "1957,1962")
    assert r.exit_code == 0
    assert "baseline rate (per mille)" in r.stdout and "1960" in r.stdout and "16.36" in r.stdout
    assert re.search(r"1958\s+│\s+10\.\d\d", r.stdout)  # the interpolated 1958 baseline


def test_default_run_shows_every_standard_method_and_the_published_estimates(tmp_path):
    r = CliRunner().invoke(app, ["estimate", "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert "official-1983" in r.stdout and "Published estimates" in r.stdout and "Lost births" in r.stdout
    assert "16.36" in r.stdout  # interpolation 1957 -> 1962 over 1958-1961
    totals = [e.total / 1e6 for e in est.run_many(est.series_by_name("official-1983"),
                                                  est.literature_set([(1958, 1961)]))]
    assert f"{min(totals):.2f}" == "14.53" and f"{max(totals):.2f}" == "18.92"   # the README's range
    assert f"{sorted(totals)[-2]:.2f}" == "16.70"
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"estimates.csv", "estimates.json", "estimates.png",
                                                              "report.md"}
    assert CliRunner().invoke(app, ["estimate", "--out", str(tmp_path / "rep")]).exit_code == 2  # not empty


@pytest.mark.parametrize("args, needle", [
    (["official"], "official was split"),
    (["--series", "coale"], "not available"),
    (["no_such_series"], "allowed: official-1983"),
    (["--method", "average", "--anchors", "1957,1962"], "--anchors is not used by --method average"),
    (["--method", "median"], "allowed: constant"),
    (["--rate", "11"], "--rate needs --method"),
    (["--method", "constant"], "needs --rate"),
    (["--method", "interpolation", "--anchors", "1957,1962", "--pre", "1956"], "not both"),
    (["--method", "average", "--period", "58-61"], "calendar years"),
    (["--method", "average", "--baseline-years", "1957;1962"], "allowed: years or ranges"),
    (["--method", "average", "--period", "1958-1961-1962"], "allowed: a year or FIRST-LAST"),
    (["--exposure", "census"], "allowed: mid, yearend"),
    (["--format", "xml"], "allowed: table, csv, json"),
    (["official-1983", "--series", "banister"], "series given twice"),
    (["--method", "average", "--baseline-years", "1940,1957"], "1940 not in the series"),
])
def test_bad_arguments_exit_2_with_one_line(args, needle):
    r = cli(*args)
    assert r.exit_code == 2 and needle in r.stderr and r.stdout == "" and "Traceback" not in r.output


def test_list_series_shows_names_and_sources():
    r = cli("--list-series", "--format", "json")
    assert r.exit_code == 0
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    names = {"official-1983", "official-revised", "banister", "coale", "sichuan", "henan", "anhui", "fujian"}
    assert names <= set(rows)
    assert rows["coale"]["available"] is False and "not found" in rows["coale"]["note"]
    assert all(row["source"] for row in rows.values())
    assert "Built-in series" in cli("--list-series").stdout


@pytest.mark.parametrize("name", ["banister", "sichuan", "henan", "un-wpp2022"])
def test_every_series_with_a_famine_span_runs(name):
    r = cli("--series", name, "--method", "interpolation", "--anchors", "1957,1962", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["total"] > 0


def test_anhui_and_fujian_serve_what_their_years_allow():
    anhui = json.loads(cli("anhui", "--method", "constant", "--rate", "10", "--period", "1960-1961",
                           "--format", "json").stdout)
    assert anhui["total"] == pytest.approx(2.2183 + 0.2444 - 0.01 * (32.345 + 30.151), abs=2e-3)
    r = cli("fujian", "--method", "interpolation", "--period", "1962")
    assert r.exit_code == 2 and "exposure 'mid'" in r.stderr
    ok = cli("fujian", "--method", "constant", "--rate", "9.8", "--period", "1962", "--exposure", "rate-x-yearend",
             "--format", "json")
    assert json.loads(ok.stdout)["total"] == pytest.approx((11.65 - 9.8) * 16.02e6 / 1e9)


def readme_commands():
    text = README.read_text(encoding="utf-8")
    section = text.split("## Counting the dead", 1)[1].split("\n## ", 1)[0]
    return [line.strip()[len("greatleap estimate"):].split() for line in section.splitlines()
            if line.strip().startswith("greatleap estimate ") and "[" not in line]


def test_readme_examples_run():
    commands = readme_commands()
    assert len(commands) >= 8
    for args in commands:
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)
