"""``greatleap posterior-report | sensitivity`` and ``calibrate --method abc``.

A posterior is fitted by ``greatleap calibrate --method abc`` (ABC-SMC, resumable from its SQLite
history), read back with ``--posterior PATH|builtin --draws N`` by run, validate, compare and
decompose (:mod:`greatleap.cli.draws`), and explained by ``posterior-report`` (what the record
pins down). ``sensitivity`` is Morris screening, then Sobol' indices.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from greatleap.cli.common import (CLUSTER, _fail, _new_folder, _progress_bar, _state_file, app, console,
                                  workers)
from greatleap.cli.draws import posterior_or_fail
from greatleap.scenario import ScenarioError, load_scenario

def calibrate_abc(scenario: str, jobs: int, cluster: Optional[str], seeds: int, scale: float, vintage: str, targets: Optional[Path],
                  history: Optional[Path], out: Optional[Path], particles: int, generations: int,
                  max_runs: Optional[int], max_wall: Optional[float], min_drop: float,
                  predictive_seeds: int = 1) -> None:
    """``greatleap calibrate --method abc``: fit, run every particle again at fresh seeds (the posterior
    predictive), write the posterior folder with its identifiability report."""
    from greatleap.analysis import identifiability
    from greatleap.analysis import predictive as pp
    from greatleap.analysis.abc import ABCError, SMCSettings
    from greatleap.analysis.posterior import fit_posterior, load_posterior, load_targets_for, write_posterior
    from greatleap.analysis.targets import TargetError

    settings = SMCSettings(population=particles, seeds_per_particle=seeds, min_drop=min_drop,
                           max_generations=generations, max_runs=max_runs, max_wall_s=max_wall)
    try:
        settings.check()
        scen = load_scenario(scenario)
        table = load_targets_for(targets, vintage)
    except (ABCError, ScenarioError, TargetError) as exc:
        _fail(str(exc))
    history = _state_file("--storage", history or Path(f"abc-{scen.name}-{vintage}.sqlite"))
    out = _new_folder(out or Path("runs") / f"posterior-{scen.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        task = bar.add_task("ABC generation 0", total=particles)

        def progress(gen: int, evaluated: int, planned: int) -> None:
            bar.update(task, completed=evaluated, total=planned, description=f"ABC generation {gen}")

        try:
            result, problem = fit_posterior(scen, table, vintage, settings, history, scale, jobs, progress=progress)
        except ABCError as exc:
            _fail(str(exc))
        fresh, seeds_used, t0 = None, list(range(1, predictive_seeds + 1)), time.perf_counter()
        if seeds_used:
            runs = len(result.population.weights) * len(seeds_used)
            task = bar.add_task(f"posterior predictive: every particle at seeds 1..{predictive_seeds}", total=runs)
            fresh = pp.predictive_runs(result.particles()[list(result.prior.keys)], problem, seeds_used, jobs,
                                       progress=lambda d, n: bar.update(task, completed=d, total=n))
    wall = time.perf_counter() - t0

    def finish(tmp: Path) -> None:
        if fresh is not None:
            pp.apply_predictive(tmp, problem, fresh, seeds_used, wall)
        identifiability.write_report(load_posterior(tmp, str(out)), tmp)

    info = {"targets_file": str(targets or "greatleap/data/targets.toml"), "history": str(history)}
    path = write_posterior(result, problem, out, info, extra=finish)
    t = Table(title=f"ABC-SMC {scen.name} ({vintage}): {result.runs} runs, stopped: {result.stop_reason}")
    for col in ("generation", "threshold", "evaluated", "moves", "moves accepted", "distinct particles", "runs",
                "wall s"):
        t.add_column(col, justify="right")
    for r in result.generations.itertuples():
        t.add_row(str(r.generation), f"{r.epsilon:.3f}", str(r.evaluated), str(r.moves), f"{r.acceptance_rate:.2f}",
                  str(r.unique), str(r.runs), f"{r.wall_s:.0f}")
    console.print(t)
    meta = json.loads((path / "posterior.json").read_text(encoding="utf-8"))
    heads = meta["headlines"]
    source = "fresh seeds" if "predictive" in meta else "the fit's own runs"
    console.print(f"excess deaths {heads['excess_deaths']['mean'] / 1e6:.1f} M "
                  f"[{heads['excess_deaths']['p05'] / 1e6:.1f}, {heads['excess_deaths']['p95'] / 1e6:.1f}] (90%); "
                  f"posterior predictive pass rate {meta['predictive_pass_rate']['all']:.0%} ({source}); "
                  f"posterior in [bold]{path}[/] (identifiability.md); history {history} (rerun to resume)")


@app.command("posterior-predict")
def posterior_predict(
    posterior: str = typer.Argument("builtin", help="builtin, a posterior folder or a posterior CSV"),
    seeds: int = typer.Option(2, "--seeds", help="fresh runs per particle (seeds 1..N, the same for every particle)"),
    scale: Optional[float] = typer.Option(None, "--scale", help="real persons per agent (default: the fit's scale)"),
    jobs: int = typer.Option(2, "--jobs", help="parallel processes"),
    cluster: Optional[str] = CLUSTER,
    cache: Optional[Path] = typer.Option(None, "--cache", help="keep finished runs here and reuse them (a folder)"),
    out: Optional[Path] = typer.Option(None, "--out", help="new posterior folder (default runs/posterior-predict-<time>)"),
) -> None:
    """Run every particle again at fresh seeds: headlines and pass rates free of the fit's own seeds."""
    import shutil

    from greatleap.analysis import identifiability
    from greatleap.analysis import predictive as pp
    from greatleap.analysis.posterior import PosteriorError, _paths, load_posterior
    from greatleap.io import atomic_folder

    if not 1 <= seeds <= 1000 or (scale is not None and not 1 <= scale <= 1e6):
        _fail(f"--seeds = {seeds}, --scale = {scale}; allowed: --seeds 1 .. 1000, --scale 1 .. 1e6")
    post = posterior_or_fail(posterior, 1)
    scale = float(scale or post.meta.get("scale", 20000.0))
    try:
        problem = pp.problem_for(post, scale)
    except PosteriorError as exc:
        _fail(str(exc))
    if cache is not None:
        _state_file("--cache", cache, folder=True)
    out = _new_folder(out or Path("runs") / f"posterior-predict-{time.strftime('%Y%m%d-%H%M%S')}")
    seed_list, t0 = list(range(1, seeds + 1)), time.perf_counter()
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        task = bar.add_task(f"{len(post.values)} particles x {seeds} fresh seeds at scale {scale:g}",
                            total=len(post.values) * seeds)
        runs = pp.predictive_runs(post.values, problem, seed_list, jobs, cache_dir=cache,
                                  progress=lambda d, n: bar.update(task, completed=d, total=n))
    csv, js, _ = _paths(posterior)
    generations = csv.parent / "generations.csv"
    with atomic_folder(out) as tmp:
        shutil.copyfile(csv, tmp / "posterior.csv")
        shutil.copyfile(js, tmp / "posterior.json")
        if csv.name == "posterior.csv" and generations.is_file():
            shutil.copyfile(generations, tmp / "generations.csv")
        meta = pp.apply_predictive(tmp, problem, runs, seed_list, time.perf_counter() - t0,
                                   command=f"greatleap posterior-predict {posterior} --seeds {seeds} --scale {scale:g}")
        identifiability.write_report(load_posterior(tmp, str(out)), tmp)
    t = Table(title=f"posterior predictive of {post.label()}: {seeds} fresh seed(s) a particle, scale {scale:g}")
    for col in ("headline", "fresh seeds: mean [5-95%]", "the fit's own runs"):
        t.add_column(col, justify="left" if col == "headline" else "right")
    fit = meta["fit_runs"]["headlines"] or {}
    for key, band in meta["headlines"].items():
        div = 1e6 if key in ("excess_deaths", "births_deficit") else 1.0
        old = fit.get(key)
        t.add_row(key, f"{band['mean'] / div:.3g} [{band['p05'] / div:.3g}, {band['p95'] / div:.3g}]",
                  f"{old['mean'] / div:.3g} [{old['p05'] / div:.3g}, {old['p95'] / div:.3g}]" if old else "-")
    console.print(t)
    rates = meta["predictive_pass_rate"]
    console.print(f"pass rate {rates['all']:.0%} of {len(problem.targets)} targets at fresh seeds "
                  f"({', '.join(f'{k} {v:.0%}' for k, v in rates.items() if k != 'all')}); "
                  f"{meta['predictive']['failed']} failed run(s); posterior in [bold]{out}[/]")


@app.command("posterior-report")
def posterior_report(
    posterior: str = typer.Argument("builtin", help="builtin, a posterior folder or a posterior CSV"),
    sensitivity: Optional[Path] = typer.Option(None, "--sensitivity", help="a sensitivity.csv (Sobol' ST) to "
                                                                           "say what the headlines depend on"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/posterior-report-<time>)"),
) -> None:
    """What the record pins down: prior vs posterior widths, pairwise plots, what the headlines depend on."""
    import pandas as pd

    from greatleap.analysis import identifiability
    from greatleap.io import atomic_folder

    post = posterior_or_fail(posterior, 1)
    table = None
    if sensitivity is not None:
        try:
            table = pd.read_csv(sensitivity)
        except (OSError, ValueError) as exc:
            _fail(f"--sensitivity = {str(sensitivity)!r}: cannot read ({exc}); allowed: a sensitivity.csv")
        if not {"parameter", "output", "index", "value"} <= set(table.columns):
            _fail(f"--sensitivity = {str(sensitivity)!r}: columns {list(table.columns)}; allowed: a sensitivity.csv "
                  f"(parameter, output, index, value, low, high)")
    out = _new_folder(out or Path("runs") / f"posterior-report-{time.strftime('%Y%m%d-%H%M%S')}")
    with atomic_folder(out) as tmp:
        identifiability.write_report(post, tmp, table)
    widths = pd.read_csv(out / "identifiability.csv")
    t = Table(title=f"What the record pins down: {post.label()}")
    for col in ("parameter", "verdict", "width ratio", "posterior 5-95%", "prior"):
        t.add_column(col, justify="left" if col in ("parameter", "verdict") else "right")
    for r in widths.sort_values("width_ratio").itertuples():
        t.add_row(r.parameter, r.verdict, f"{r.width_ratio:.2f}", f"{r.posterior_p05:.3g} - {r.posterior_p95:.3g}",
                  f"{r.prior_low:.3g} - {r.prior_high:.3g}")
    console.print(t)
    console.print(f"report in [bold]{out}[/] (identifiability.md, marginals.png, pairs.png)")


@app.command()
def sensitivity(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path with [[calibration.parameters]]"),
    method: str = typer.Option("morris", "--method", help="morris (screen every parameter) or sobol (Morris, then "
                                                          "Sobol' S1/ST for the --top ones)"),
    samples: Optional[int] = typer.Option(None, "--samples", help="Morris trajectories (default 10) or Sobol' base "
                                                                  "samples, a power of 2 (default 256)"),
    outputs: Optional[str] = typer.Option(None, "--outputs", help="comma-separated; default all: excess_deaths, "
                                                                  "cdr_registered_peak, grain_collapse, births_deficit"),
    top: int = typer.Option(6, "--top", help="sobol: parameters taken from the Morris ranking"),
    scale: float = typer.Option(20000.0, "--scale", help="real persons per agent"),
    seeds: int = typer.Option(1, "--seeds", help="runs per parameter set (seeds 1..N, the same for every set)"),
    jobs: int = typer.Option(2, "--jobs", help="parallel processes"),
    cluster: Optional[str] = CLUSTER,
    cache: Path = typer.Option(Path("runs/.cache/sensitivity.sqlite"), "--cache",
                               help="finished evaluations are kept here and reused (resumable)"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/sensitivity-<time>)"),
) -> None:
    """Global sensitivity of the headline results to the calibrated parameters (SALib)."""
    from greatleap.analysis import sensitivity as sa
    from greatleap.io import atomic_folder

    if method not in ("morris", "sobol"):
        _fail(f"--method = {method!r}; allowed: morris, sobol")
    if seeds < 1 or jobs < 1 or top < 1 or not 1 <= scale <= 1e6 or (samples is not None and samples < 2):
        _fail("--seeds, --jobs and --top must be >= 1, --samples >= 2 and --scale within 1..1e6")
    names = [o.strip() for o in outputs.split(",")] if outputs else None
    try:
        sa.require_salib()
        scen = load_scenario(scenario)
        if names and any(n not in sa.HEADLINES for n in names):
            raise sa.SensitivityError(f"--outputs = {outputs!r}; allowed: {', '.join(sa.HEADLINES)}")
        if method == "sobol" and samples and samples & (samples - 1):
            raise sa.SensitivityError(f"--samples = {samples}: Sobol' needs a power of 2 (e.g. 64, 256, 1024)")
    except ScenarioError as exc:
        _fail(str(exc))
    _state_file("--cache", cache)
    out = _new_folder(out or Path("runs") / f"sensitivity-{time.strftime('%Y%m%d-%H%M%S')}")
    t0 = time.perf_counter()
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, n: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{stage} evaluations", total=n)
            bar.update(tasks[stage], completed=done)

        try:
            table, settings = sa.run_sensitivity(scen, method, samples, names, scale, range(1, seeds + 1), jobs, top,
                                                 cache, progress=progress)
        except ScenarioError as exc:
            _fail(str(exc))
    settings["wall_s"] = round(time.perf_counter() - t0, 1)
    with atomic_folder(out) as tmp:
        sa.write_tables(table, settings, tmp)
    console.print(_summary_table(table))
    console.print(f"{settings['evaluations_computed']} new model evaluations ({seeds} run(s) each) in "
                  f"{settings['wall_s']:.0f} s; report in [bold]{out}[/] (sensitivity.csv, sensitivity.png)")


def _summary_table(table) -> Table:
    """The top five parameters per output: Sobol' ST if computed, else Morris mu*/sd."""
    sob = table[table["index"] == "ST"]
    key = sob if len(sob) else table[table["index"] == "mu_star_rel"]
    label = "total-order ST" if len(sob) else "Morris mu*/sd"
    t = Table(title=f"largest effects per output ({label}; interval {'5-95%' if len(sob) else '95%'} bootstrap)")
    for col in ("output", "parameter", "value", "interval"):
        t.add_column(col, justify="left" if col in ("output", "parameter") else "right")
    for name, g in key.groupby("output", sort=False):
        for r in g.sort_values("value", ascending=False).head(5).itertuples():
            t.add_row(name, r.parameter, f"{r.value:.3f}", f"[{r.low:.3f}, {r.high:.3f}]")
    return t
