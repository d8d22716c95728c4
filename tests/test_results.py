"""Results: tidy tables, run.json, the figure, and atomic writing."""
import json

import pytest

from greatleap import Sim, load_scenario


def test_tables_are_tidy_and_complete(historical):
    t = historical.tables()
    assert len(t["monthly_national"]) == 120
    assert set(t["monthly_province"].sector) == {"rural", "urban"}
    assert t["monthly_province"].province.nunique() == 29
    ap = t["annual_province"]
    assert set(ap.sector) == {"total", "rural", "urban"} and ap.year.nunique() == 10
    assert {"cdr_registered", "cbr_true", "harvest_mt", "reported_province_mt", "rural_retention_kg"} <= set(ap.columns)
    pyr = t["population_by_age"]
    assert set(pyr.year) == set(range(1957, 1967)) and pyr.age.max() == 100
    d = t["deaths_by_age_class"]
    assert set(d.cause) == {"natural", "famine", "violence"}
    # provincial tables add up to the nation
    an = t["annual_national"].set_index("year")
    tot = ap[ap.sector == "total"].groupby("year").deaths.sum()
    assert (tot == an.deaths).all()
    assert d.groupby("year").deaths.sum().round().equals(an.deaths.round())


def test_save_is_atomic(tmp_path, monkeypatch, historical):
    import greatleap.plots

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(greatleap.plots, "summary_figure", broken)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        historical.save(out)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_save_writes_everything(tmp_path, historical):
    out = historical.save(tmp_path / "run")
    meta = json.loads((out / "run.json").read_text())
    assert meta["scenario"]["name"] == "historical" and "timings_seconds" in meta and meta["backend"] == "cpu"
    assert (out / "summary.png").stat().st_size > 10_000
    with pytest.raises(FileExistsError):
        historical.save(out)


def test_python_api_one_liner():
    r = Sim(load_scenario("historical", **{"run.end": "1957-12"}), scale=100000).run()
    assert r.summary().year.tolist() == [1957]
    assert r.excess_deaths(baseline_years=(1957,), period=(1957, 1957)) == pytest.approx(0.0, abs=1e-6)


def test_every_column_is_in_the_data_dictionary_and_the_parquet_metadata(tmp_path):
    import importlib.util
    from pathlib import Path

    import pyarrow.parquet as pq

    from greatleap import Sim, load_scenario
    from greatleap.columns import COLUMNS, column_info
    results = Sim(load_scenario("historical", **{"run.end": "1957-12"}), scale=100000).run()
    used = {c for frame in results.tables().values() for c in frame.columns}
    assert used <= set(COLUMNS), f"undeclared columns: {sorted(used - set(COLUMNS))}"
    assert set(COLUMNS) <= used, f"declared but never produced: {sorted(set(COLUMNS) - used)}"
    path = results.save(tmp_path / "run", plot=False)
    schema = pq.read_schema(path / "monthly_national.parquet")
    field = schema.field("cdr_registered")
    assert field.metadata[b"unit"].decode() == column_info("cdr_registered")[0] == "per mille per year"
    assert str(schema.field("month").type).startswith("timestamp")
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("data_dictionary", root / "scripts" / "data_dictionary.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.DOC.read_text(encoding="utf-8") == module.render(), \
        "docs/data_dictionary.md is stale: run python scripts/data_dictionary.py"
