"""``--posterior PATH|builtin --draws N`` for run, validate, compare and decompose, and ``run --posterior``.

The options are defined once here; the commands call :mod:`greatleap.analysis.draws`, which
turns draws x seeds into members (common random numbers within each draw).
"""
from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from greatleap.cli.common import _fail, _new_folder, _progress_bar, console, err, workers
from greatleap.scenario import ScenarioError, load_scenario

POSTERIOR = typer.Option(None, "--posterior", help="draw the calibrated parameters from a posterior: builtin, a "
                                                    "posterior folder or CSV (intervals then carry parameter uncertainty)")
DRAWS = typer.Option(20, "--draws", help="with --posterior: parameter sets drawn; each runs with every seed")


def posterior_or_fail(path: Optional[str], draws: int, scenario=None, most: int = 10000):
    """The loaded posterior (None without --posterior); exit 2 on a bad file, --draws (1 .. ``most``) or
    parameter key."""
    if path is None:
        return None
    from greatleap.analysis.posterior import PosteriorError, draw_scenarios, load_posterior
    if not 1 <= draws <= most:
        _fail(f"--draws = {draws}: allowed 1 .. {most}")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            post = load_posterior(path)
        for w in caught:
            err.print(f"[yellow]warning:[/] {w.message}")
        if scenario is not None:
            draw_scenarios(scenario, post.draws(1))  # every key must exist in this scenario
    except (PosteriorError, ScenarioError) as exc:
        _fail(str(exc))
    from greatleap.provenance import model_hash, source_hash
    key, now = ("model_hash", model_hash()) if "model_hash" in post.meta else ("source_hash", source_hash())
    if post.meta.get(key) not in (None, now):
        err.print(f"[yellow]note:[/] posterior {post.source} was fitted to model {post.meta[key]}; the model is now {now}")
    missing = uncovered(post, scenario)
    if missing:
        err.print(f"[yellow]note:[/] posterior {post.source} does not cover {', '.join(missing)} (declared for "
                  "calibration since it was fitted): held at the scenario's values in every draw")
    return post


def uncovered(post, scenario) -> list[str]:
    """The scenario's calibrated parameters the posterior has no values for (held at the scenario's)."""
    from greatleap.analysis.calibrate import check_parameters

    if scenario is None:
        return []
    try:
        declared = {spec["key"] for spec in check_parameters(scenario)}
    except ScenarioError:  # a scenario that declares none
        return []
    return sorted(declared - set(post.keys))


def run_posterior(scenario: str, posterior: str, draws: int, seed: Optional[int], scale: Optional[float],
                  out: Optional[Path], jobs: int = 2, cluster: Optional[str] = None) -> None:
    """``greatleap run --posterior``: the scenario once per draw; yearly means and 5-95% over the draws."""
    from greatleap.analysis import draws as dr

    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    if scen.run.start > "1957-01" or scen.run.end < "1962-12":  # the headlines read 1957 .. 1962
        _fail(f"--posterior with run.start = {scen.run.start!r}, run.end = {scen.run.end!r}: the headlines over "
              f"the draws need 1957 .. 1962; allowed: run.start 1957-01 or earlier and run.end 1962-12 or later")
    post = posterior_or_fail(posterior, draws, scen)
    seeds = [seed if seed is not None else scen.run.seed]
    scale = scale or scen.run.scale
    out = _new_folder(out or Path("runs") / f"{scen.name}-posterior-{time.strftime('%Y%m%d-%H%M%S')}")
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        task = bar.add_task(f"{draws} posterior draws of {scen.name}", total=draws)
        r = dr.summarise_run_draws(scen, post, draws, seeds, scale, jobs, lambda d, n: bar.update(task, completed=d))
    for f in r.failures:
        err.print(f"[red]failed:[/] {f}")
    text = dr.note(post, draws, seeds)
    t = Table(title=f"{scen.name}: yearly means [5-95%] over posterior draws (per mille; grain Mt)")
    cols = ["cdr_registered", "cdr_true", "cbr_registered", "cbr_true", "grain_harvest_mt"]
    for col in ("year", *cols):
        t.add_column(col, justify="right")
    s = r.summary.set_index(["year", "column"])
    for year in sorted(r.summary.year.unique()):
        t.add_row(str(year), *[f"{s.loc[(year, c), 'mean']:.1f} [{s.loc[(year, c), 'p05']:.1f}, "
                               f"{s.loc[(year, c), 'p95']:.1f}]" for c in cols if (year, c) in s.index])
    console.print(t)
    ex = r.headlines.excess_deaths / 1e6
    console.print(f"excess deaths 1958-1962 (true): {ex.mean():.1f} million [{ex.quantile(0.05):.1f}, "
                  f"{ex.quantile(0.95):.1f}]. {text}")
    console.print(f"results in [bold]{dr.write_run_draws(r, out, text)}[/]")
