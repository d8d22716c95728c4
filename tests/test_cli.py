"""The command line: runs write a complete folder; bad input exits 2 and writes nothing."""
import json

import pytest
from typer.testing import CliRunner

from greatleap.cli import app

runner = CliRunner()


def test_run_writes_results_folder(tmp_path):
    out = tmp_path / "run1"
    result = runner.invoke(app, ["run", "historical", "--scale", "50000", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "yearly summary" in result.output and str(out) in result.output.replace("\n", "")
    names = {p.name for p in out.iterdir()}
    assert {"monthly_national.parquet", "monthly_province.parquet", "annual_national.parquet",
            "annual_province.parquet", "deaths_by_age_class.parquet", "population_by_age.parquet",
            "run.json", "summary.png"} <= names
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 3 and meta["scale"] == 50000 and meta["scenario"]["name"] == "historical"
    assert meta["version"]


def test_bad_scenario_file_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "historical"\n[mortality]\nhunger_gamma = 99\n', encoding="utf-8")
    out = tmp_path / "never"
    result = runner.invoke(app, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert "mortality.hunger_gamma" in result.output and "99" in result.output and "6.0" in result.output
    assert not out.exists()
    assert not any(p.name.startswith(".never") for p in tmp_path.iterdir())


def test_bad_arguments_exit_2(tmp_path):
    for args in (["run", "--scale", "0"], ["run", "--scale", "abc"], ["run", "nonexistent_scenario"],
                 ["run", "--seed", "-1"]):
        result = runner.invoke(app, args + ["--out", str(tmp_path / "x")])
        assert result.exit_code == 2, (args, result.output)
    assert not (tmp_path / "x").exists()


def test_out_folder_not_empty_is_refused(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    result = runner.invoke(app, ["run", "--scale", "50000", "--out", str(tmp_path / "full")])
    assert result.exit_code == 2 and "not an empty folder" in result.output
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


def test_plan_lists_the_step_order():
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 0
    lines = result.output
    assert lines.index("agriculture.produce") < lines.index("procurement.procure") < lines.index("live.live")


def test_params_lists_value_unit_range_and_source():
    result = runner.invoke(app, ["params"])
    assert result.exit_code == 0
    assert "mortality.hunger_beta_child" in result.output and "calibrate" in result.output
    assert "kcal per kg unhusked grain" in result.output
    assert runner.invoke(app, ["params", "nope"]).exit_code == 2


# ------------------------------------------------------------------ habits of a good command line
def test_version_and_python_dash_m():
    import subprocess
    import sys

    from greatleap import __version__
    assert runner.invoke(app, ["--version"]).output.strip() == f"greatleap {__version__}"
    done = subprocess.run([sys.executable, "-m", "greatleap", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"greatleap {__version__}"


@pytest.mark.parametrize("args, needles", [
    (["run", "--scale", "abc"], ["--scale", "'abc'", "1 .. 1000000"]),
    (["run", "--scale", "nan"], ["--scale", "'nan'", "finite"]),
    (["run", "--seed", "1.5"], ["--seed", "'1.5'", "an integer"]),
    (["validate", "--jobs", "0"], ["--jobs", "'0'", "1 .. 1024"]),
    (["calibrate", "--trials", "0"], ["--trials", "'0'", "1 .. 1000000"]),
    (["calibrate", "--confirm", "-1"], ["--confirm = -1", "0 .. 1000"]),
    (["decompose", "--permutations", "-1"], ["--permutations", "'-1'", "0 .. 100000"]),
    (["compare", "historical"], ["one scenario", "two or more"]),
    (["run", "--format", "xml"], ["--format", "'xml'", "csv"]),
    (["run", "--sacle", "5"], ["--sacle", "--scale"]),
])
def test_bad_arguments_give_one_line_naming_key_value_and_allowed(tmp_path, args, needles):
    result = runner.invoke(app, args + ["--out", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert not (tmp_path / "x").exists()


def test_user_text_is_not_read_as_markup(tmp_path):
    (tmp_path / "[bold]odd[").mkdir()
    bad = tmp_path / "[bold]odd[" / "].toml"
    bad.write_text('[run]\n"[/]" = 1\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "MarkupError" not in result.output
    assert "[bold]odd[/].toml" in result.output and "run.[/] = 1" in result.output


def test_summary_fits_80_columns_and_scripts_get_csv_and_json(tmp_path):
    import io

    from rich.console import Console

    from greatleap import Sim, load_scenario
    from greatleap.cli.run import _summary_table
    results = Sim(load_scenario("historical", **{"run.end": "1958-12"}), scale=100000).run()
    out = Console(width=80, file=io.StringIO(), record=True)
    out.print(_summary_table(results))
    text = out.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    f = tmp_path / "short.toml"
    f.write_text('extends = "historical"\n[run]\nend = "1958-12"\n', encoding="utf-8")
    csv = runner.invoke(app, ["run", str(f), "--scale", "100000", "--format", "csv", "--no-plot", "--out",
                              str(tmp_path / "a")])
    assert csv.exit_code == 0
    import pandas as pd
    table = pd.read_csv(io.StringIO(csv.stdout))
    assert table.year.tolist() == [1957, 1958] and "famine_deaths_m" in table.columns
    js = runner.invoke(app, ["run", str(f), "--scale", "100000", "--format", "json", "--no-plot", "--out",
                             str(tmp_path / "b")])
    assert [row["year"] for row in json.loads(js.stdout)] == [1957, 1958]


def test_progress_never_counts_past_its_total():
    from greatleap.cli.common import _progress_bar
    with _progress_bar() as bar:
        task = bar.add_task("x", total=4)
        bar.update(task, completed=5)
        assert bar.tasks[0].completed == 4
        bar.update(task, completed=31, total=30)
        assert bar.tasks[0].completed == 30


def test_scenario_names_cannot_escape_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "esc.toml"
    f.write_text('extends = "historical"\nname = "../../escaped"\n[run]\nend = "1957-06"\n', encoding="utf-8")
    result = runner.invoke(app, ["run", str(f), "--scale", "100000", "--no-plot"])
    assert result.exit_code == 0, result.output
    made = [p.name for p in (tmp_path / "runs").iterdir()]
    assert len(made) == 1 and made[0].startswith("escaped-")
    assert {p.name for p in tmp_path.iterdir()} == {"esc.toml", "runs"}


def test_builtin_descriptions_are_true():
    result = runner.invoke(app, ["scenarios"])
    assert "historical:" in result.output and "un-calibrated" not in result.output
