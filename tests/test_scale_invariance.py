"""scripts/scale_invariance.py: the headline at several scales, with the standard errors a comparison needs."""
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greatleap import Sim, load_scenario
from greatleap.analysis.compare import ending_with, run_metrics

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("scale_invariance", ROOT / "scripts" / "scale_invariance.py")
si = importlib.util.module_from_spec(spec)
spec.loader.exec_module(si)


def test_it_reports_each_scales_mean_and_spread_from_the_runs(tmp_path, capsys):
    out = tmp_path / "runs.csv"
    assert si.main(["--scales", "50000,100000", "--seeds", "2", "--seeds-at", "100000=3", "--jobs", "1",
                    "--out", str(out)]) == 0
    runs = pd.read_csv(out)
    assert runs.groupby("scale").seed.apply(list).to_dict() == {50000.0: [1, 2], 100000.0: [1, 2, 3]}
    # each value is compare's headline of that seed's run (to December 1962)
    scen = load_scenario("historical")
    one = Sim(load_scenario("historical", **{"run.end": "1962-12"}), scale=100000, seed=3).run()
    tables = {"annual_national": one.annual_national}
    assert runs.query("scale == 100000 and seed == 3").excess_deaths_true.iloc[0] == pytest.approx(
        run_metrics(tables)["excess_deaths_true"], rel=1e-12)
    assert ending_with(scen.to_dict())["run"]["end"] == "1962-12"
    text = capsys.readouterr().out.splitlines()
    rows = {float(line.split()[0]): line.split() for line in text[2:]}
    for scale, values in runs.groupby("scale").excess_deaths_true:
        cols = rows[scale]
        assert float(cols[4]) == pytest.approx(values.mean() / 1e6, abs=0.006)
        assert float(cols[5]) == pytest.approx(values.std() / np.sqrt(len(values)) / 1e6, abs=0.006)
    assert rows[50000.0][8] == "+0.0"  # the finest scale is the reference
    # the difference is paired by seed: seeds 1 and 2 ran at both scales, seed 3 only at 100,000
    by = runs.pivot_table(index="seed", columns="scale", values="excess_deaths_true")
    pairs = by.loc[[1, 2]]
    d = pairs[100000.0] - pairs[50000.0]
    assert rows[100000.0][7] == "2"
    assert float(rows[100000.0][8]) == pytest.approx(d.mean() / pairs[50000.0].mean() * 100, abs=0.06)
    assert float(rows[100000.0][9]) == pytest.approx(d.std() / np.sqrt(2) / pairs[50000.0].mean() * 100, abs=0.06)
    # and the same table from the file, without running
    assert si.main(["--runs", str(out), str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == text[2:]


def test_bad_seed_counts_are_refused():
    with pytest.raises(ValueError, match="'20000' is not SCALE=N"):
        si.parse_seeds_at("5000=4,20000")
    with pytest.raises(SystemExit) as exc:
        si.main(["--seeds-at", "20000=many"])
    assert exc.value.code == 2
