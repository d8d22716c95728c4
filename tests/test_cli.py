"""The command line: runs write a complete folder; bad input exits 2 and writes nothing."""
import json

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
