"""``greatleap validate | calibrate | compare | decompose``: ensembles against the record and each other."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from greatleap.cli.common import (CLUSTER, JOBS, PERMUTATIONS, SCALE, SEEDS, TRIALS, _default_folder, _fail, _load_all,
                                  _new_folder, _progress_bar, _state_file, app, console, err, workers)
from greatleap.cli.draws import DRAWS, POSTERIOR, posterior_or_fail
from greatleap.scenario import ScenarioError, builtin_names, load_scenario


@app.command()
def validate(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path"),
    seeds: int = typer.Option(8, "--seeds", parser=SEEDS, help="ensemble size (seeds 1..N)"),
    scale: float = typer.Option(5000.0, "--scale", parser=SCALE, help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", parser=JOBS, help="parallel processes (at most the cores)"),
    cluster: Optional[str] = CLUSTER,
    vintage: str = typer.Option("official", "--vintage", help="official (registered series), banister (as truth), "
                                "wpp (UN), or both (official plus Banister's true rates)"),
    targets: Optional[Path] = typer.Option(None, "--targets", help="a targets TOML (default: the shipped one)"),
    cache: Path = typer.Option(Path("runs/.cache"), "--cache", help="finished runs are reused from here"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/validate-<scenario>-<time>)"),
    posterior: Optional[str] = POSTERIOR,
    draws: int = DRAWS,
) -> None:
    """Run an ensemble and compare every target with the record; write a report (CSV, PNG, HTML)."""
    from greatleap.analysis import draws as dr
    from greatleap.analysis.posterior import load_targets_for
    from greatleap.analysis.targets import TargetError, passed_count, score
    from greatleap.analysis.validate import fit_by_group, validation_report

    try:
        scen = load_scenario(scenario)
        table = load_targets_for(targets, vintage)
    except (ScenarioError, TargetError) as exc:
        _fail(str(exc))
    post = posterior_or_fail(posterior, draws, scen)
    out = _new_folder(out or _default_folder("validate", scen.name))
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        n_runs = seeds * (draws if post else 1)
        task = bar.add_task(f"{n_runs} runs of {escape(scen.name)}", total=n_runs)
        evaluated, runs, failures = dr.validate_draws(scen, table, post, draws, list(range(1, seeds + 1)), scale,
                                                      jobs, lambda d, n: bar.update(task, completed=d), cache_dir=cache)
    for f in failures:
        err.print(f"[red]run with seed {f.seed} failed:[/] {escape(f.error.splitlines()[0])}", highlight=False)
    from greatleap.analysis.calibrate import check_parameters, current_values
    try:
        params = current_values(scen, check_parameters(scen))
    except ScenarioError:
        params = {}
    meta = {"scenario": scen.name, "vintage": vintage, "seeds": len(runs), "scale": scale, "parameters": params}
    from importlib import resources
    fitted = resources.files("greatleap") / "scenarios" / f"{scen.name}.calibration.csv"
    if scenario in builtin_names() and fitted.is_file():  # the shipped calibration record: best values, top-k ranges
        import pandas as pd
        meta["fitted_parameters"] = pd.read_csv(fitted)
    if post:
        meta["posterior"] = dr.note(post, draws, range(seeds))
    path = dr.write_noted(lambda o: validation_report(evaluated, runs, meta, o), out, post, draws, range(seeds))
    t = Table(title=f"validate {escape(scen.name)} ({escape(vintage)}): targets within tolerance")
    for col in ("series", "passed", "of"):
        t.add_column(col)
    for name, group in evaluated.groupby("name", sort=False):
        counts = group.counted.all() if "counted" in group else True
        t.add_row(escape(str(name)) + ("" if counts else " (input; not counted)"), str(int(group.passed.sum())),
                  str(len(group)))
    console.print(t)
    fit = Table(title="fit by vintage and level (counted targets)")
    for col in ("vintage", "level", "passed", "of", "share"):
        fit.add_column(col)
    for g in fit_by_group(evaluated, vintage).itertuples():
        fit.add_row(escape(str(g.vintage)), g.level, str(g.passed), str(g.targets), f"{g.share:.0%}")
    console.print(fit)
    if post:
        console.print(meta["posterior"], highlight=False)
    passed, total = passed_count(evaluated)
    reported = len(evaluated) - total
    console.print(f"passed {passed} of {total} targets"
                  + (f" ({reported} more reported, not counted)" if reported else "")
                  + f"; score {score(evaluated):.3f}; report in [bold]{escape(str(path))}[/] (open index.html)",
                  highlight=False)


def _storage_url(storage: Path) -> str:
    """The SQLAlchemy URL of a study file; refuses a folder, a path under a file, a non-SQLite file."""
    from urllib.parse import quote
    parent = storage.parent if str(storage.parent) else Path(".")
    if not parent.is_dir():
        _fail(f"--storage = {str(storage)!r}: {parent} is not a folder; allowed: a file path in an existing folder")
    if storage.exists():
        if not storage.is_file():
            _fail(f"--storage = {str(storage)!r}: not a file; allowed: an SQLite file (new or made by calibrate)")
        with open(storage, "rb") as f:
            head = f.read(16)
        if head and head != b"SQLite format 3\0":
            _fail(f"--storage = {str(storage)!r}: not an SQLite database; allowed: an SQLite file made by calibrate, "
                  f"or a new path")
    _state_file("--storage", storage)  # and its folder can be written
    return f"sqlite:///{quote(str(storage.resolve()))}"


@app.command()
def calibrate(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path with [[calibration.parameters]]"),
    trials: int = typer.Option(200, "--trials", parser=TRIALS, help="run until the study has this many finished trials"),
    jobs: int = typer.Option(2, "--jobs", parser=JOBS, help="parallel worker processes (at most the cores)"),
    cluster: Optional[str] = CLUSTER,
    seeds: int = typer.Option(2, "--seeds", parser=SEEDS, help="seeds per trial"),
    scale: float = typer.Option(20000.0, "--scale", parser=SCALE, help="real persons per agent during the search"),
    vintage: str = typer.Option("official", "--vintage", help="official, banister, wpp or both (official rows plus "
                                "Banister's true rates)"),
    targets: Optional[Path] = typer.Option(None, "--targets", help="a targets TOML (default: the shipped one)"),
    storage: Optional[Path] = typer.Option(None, "--storage", help="SQLite file, resumable: the Optuna study "
                                           "(default calibration.sqlite) or, for abc, the SMC history "
                                           "(default abc-<scenario>-<vintage>.sqlite)"),
    study: Optional[str] = typer.Option(None, "--study", help="study name (default <scenario>-<vintage>)"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder for best.toml, top.csv, trials.csv (default "
                                       "runs/calibration); abc: the posterior (default runs/posterior-<scenario>-<time>)"),
    method: str = typer.Option("optimize", "--method", help="optimize (best point, Optuna) or abc (posterior, ABC-SMC; "
                                                            "--vintage may be both)"),
    particles: int = typer.Option(200, "--particles", help="abc: particles per generation"),
    generations: int = typer.Option(15, "--generations", help="abc: at most this many generations"),
    min_drop: float = typer.Option(0.05, "--min-drop", help="abc: stop when the threshold falls by less than this"),
    max_runs: Optional[int] = typer.Option(None, "--max-runs", help="abc: budget of model runs (whole history)"),
    max_wall: Optional[float] = typer.Option(None, "--max-wall", help="abc: budget of seconds (this call)"),
    predictive_seeds: int = typer.Option(1, "--predictive-seeds", help="abc: then run every particle at fresh seeds "
                                         "1..N for headlines and pass rates free of the fit's own seeds (0: skip)"),
    confirm: int = typer.Option(4, "--confirm", help="optimize: score the 10 best trials again at this many seeds the "
                                "search never used and keep the best there (0: the search's best)"),
) -> None:
    """Fit the scenario's declared uncertain parameters to the targets (Optuna or ABC-SMC, resumable)."""
    from greatleap.analysis import calibrate as cal
    from greatleap.analysis.posterior import load_targets_for
    from greatleap.analysis.targets import TargetError

    if method not in ("optimize", "abc"):
        _fail(f"--method = {method!r}; allowed: optimize, abc")
    if not 0 <= predictive_seeds <= 1000:
        _fail(f"--predictive-seeds = {predictive_seeds}; allowed: 0 .. 1000")
    if not 0 <= confirm <= 1000:
        _fail(f"--confirm = {confirm}; allowed: 0 .. 1000")
    if method == "abc":
        from greatleap.cli.uncertainty import calibrate_abc
        return calibrate_abc(scenario, jobs, cluster, seeds, scale, vintage, targets, storage, out, particles,
                             generations, max_runs, max_wall, min_drop, predictive_seeds)
    storage, out = storage or Path("calibration.sqlite"), out or Path("runs/calibration")
    try:
        cal.require_optuna()
        scen = load_scenario(scenario)
        specs = cal.check_parameters(scen)
        table = load_targets_for(targets, vintage)
    except (ScenarioError, TargetError) as exc:
        _fail(str(exc))
    _new_folder(out, replace=cal.OUTPUT_FILES)
    url = _storage_url(storage)
    name = study or f"{scen.name}-{vintage}"
    try:
        with workers(jobs, cluster) as jobs, _progress_bar() as bar:
            task = bar.add_task(f"calibrating {len(specs)} parameters", total=trials)
            st = cal.calibrate(scen, table, url, name, trials, jobs, tuple(range(1, seeds + 1)), scale,
                               progress=lambda d, n: bar.update(task, completed=d))
            confirmed = None
            if confirm:
                bar.update(task, description=f"scoring the best trials again at {confirm} fresh seeds")
                confirmed = cal.confirm(st, scen, specs, table, range(seeds + 1, seeds + confirm + 1), scale, jobs)
        path = cal.write_outputs(st, scen, specs, out, extends=scenario if scenario in builtin_names() else None,
                                 confirmed=confirmed)
    except ScenarioError as exc:
        _fail(str(exc))
    best = cal.results_table(st, specs).iloc[0]
    chosen = "" if confirmed is None else (
        f"; at seeds {seeds + 1}-{seeds + confirm} the best of the {len(confirmed)} best is trial "
        f"{int(confirmed.iloc[0].trial)} (score {confirmed.iloc[0].confirm_score:.4f}, "
        f"{int(confirmed.iloc[0].confirm_passed)} passed), the one written")
    console.print(f"best score {best.score:.4f} (trial {int(best.trial)}, {int(best.passed)} targets passed){chosen}; "
                  f"overlay in [bold]{escape(str(path / 'best.toml'))}[/]; study {escape(name)} in "
                  f"{escape(str(storage))}", highlight=False)


@app.command()
def compare(
    scenarios: list[str] = typer.Argument(..., help="two or more scenarios (built-in names or TOML paths); the first is the reference"),
    seeds: int = typer.Option(4, "--seeds", parser=SEEDS, help="seeds per scenario (common random numbers)"),
    scale: float = typer.Option(5000.0, "--scale", parser=SCALE, help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", parser=JOBS, help="parallel processes (at most the cores)"),
    cluster: Optional[str] = CLUSTER,
    cache: Path = typer.Option(Path("runs/.cache"), "--cache", help="finished runs are reused from here"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/compare-<time>)"),
    posterior: Optional[str] = POSTERIOR,
    draws: int = DRAWS,
) -> None:
    """Scenarios side by side: excess deaths, lost births, grain, procurement, with intervals."""
    from greatleap.analysis import draws as dr
    from greatleap.analysis.compare import write_comparison

    if len(scenarios) < 2:
        _fail(f"compare {' '.join(scenarios)}: one scenario; allowed: two or more (the first is the reference)")
    scens = _load_all(scenarios)
    if len({(s.run.start, s.run.end) for s in scens}) > 1:
        _fail("compare: " + "; ".join(f"{s.name} runs {s.run.start} .. {s.run.end}" for s in scens)
              + "; allowed: scenarios that cover the same months")
    post = [posterior_or_fail(posterior, draws, s) for s in scens][0]
    out = _new_folder(out or _default_folder("compare"))
    n_runs = len(scens) * seeds * (draws if post else 1)
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        task = bar.add_task(f"{len(scens)} scenarios x {seeds} seeds" + (f" x {draws} draws" if post else ""),
                            total=n_runs)
        seed_list = list(range(1, seeds + 1))
        c = dr.compare_draws(scens, post, draws, seed_list, scale, jobs, cache, lambda d, n: bar.update(task, completed=d))
    for f in c.failures:
        err.print(f"[red]failed:[/] {escape(f)}", highlight=False)
    t = Table(title=f"1958-1962, {len(c.seeds)} seeds; differences against {escape(c.names[0])} (5-95%)")
    for col in ("scenario", "excess deaths true (M)", "registered (M)", "lost births (M)", "grain (Mt)", "diff excess (M)"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    sm = c.summary.set_index(["scenario", "metric"])
    for name in c.names:
        g = lambda m, k="mean": sm.loc[(name, m), k]
        t.add_row(escape(name), f"{g('excess_deaths_true') / 1e6:.2f} \\[{g('excess_deaths_true', 'p05') / 1e6:.2f}, "
                        f"{g('excess_deaths_true', 'p95') / 1e6:.2f}]",
                  f"{g('excess_deaths_registered') / 1e6:.2f}", f"{g('lost_births') / 1e6:.2f}", f"{g('grain_mt'):.0f}",
                  f"{g('excess_deaths_true', 'diff_mean') / 1e6:+.2f} \\[{g('excess_deaths_true', 'diff_p05') / 1e6:+.2f}, "
                  f"{g('excess_deaths_true', 'diff_p95') / 1e6:+.2f}]")
    console.print(t)
    if post:
        console.print(dr.note(post, draws, seed_list), highlight=False)
    path = dr.write_noted(lambda o: write_comparison(c, o), out, post, draws, seed_list)
    console.print(f"report in [bold]{escape(str(path))}[/]", highlight=False)


@app.command()
def decompose(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path"),
    mechanisms: Optional[str] = typer.Option(None, "--mechanisms", help="comma-separated; default: all nine"),
    seeds: int = typer.Option(2, "--seeds", parser=SEEDS, help="seeds (common random numbers)"),
    scale: float = typer.Option(20000.0, "--scale", parser=SCALE, help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", parser=JOBS, help="parallel processes (at most the cores)"),
    cluster: Optional[str] = CLUSTER,
    permutations: int = typer.Option(0, "--permutations", parser=PERMUTATIONS,
                                     help="0 = exact over all coalitions; N = sampled permutations"),
    cache: Path = typer.Option(Path("runs/.cache"), "--cache", help="finished runs are reused from here"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/decompose-<time>)"),
    posterior: Optional[str] = POSTERIOR,
    draws: int = DRAWS,
) -> None:
    """Attribute the excess deaths to mechanisms with Shapley values over on/off combinations."""
    from greatleap.analysis import draws as dr
    from greatleap.analysis.decompose import DEFAULT_MECHANISMS, MECHANISMS
    from greatleap.analysis.decompose import write_decomposition

    names = [m.strip() for m in mechanisms.split(",")] if mechanisms else list(DEFAULT_MECHANISMS)
    bad = [m for m in names if m not in MECHANISMS]
    if bad or not names or len(set(names)) != len(names):
        _fail(f"--mechanisms = {mechanisms!r}: unknown or repeated {bad}; allowed: {', '.join(MECHANISMS)}")
    scen = _load_all([scenario])[0]
    post = posterior_or_fail(posterior, draws, scen)
    out = _new_folder(out or _default_folder("decompose"))
    t0 = time.perf_counter()
    with workers(jobs, cluster) as jobs, _progress_bar() as bar:
        task = bar.add_task("coalition runs", total=None)
        d = dr.decompose_draws(scen, names, post, draws, list(range(1, seeds + 1)), scale, jobs, permutations, cache,
                               lambda done, n: bar.update(task, completed=done, total=n))
    for f in d.failures:
        err.print(f"[red]failed:[/] {escape(f)}", highlight=False)
    t = Table(title=f"Shapley attribution of excess deaths 1958-62 (M): total {d.total[0] / 1e6:.2f} "
                    f"\\[{d.total[1] / 1e6:.2f}, {d.total[2] / 1e6:.2f}]; {'exact' if d.exact else 'sampled'}, {len(d.seeds)} seeds")
    for col in ("mechanism", "shapley", "5-95%", "alone", "total effect"):
        t.add_column(col, justify="left" if col == "mechanism" else "right")
    for r in d.shapley.itertuples():
        t.add_row(r.mechanism, f"{r.shapley / 1e6:.2f}", f"\\[{r.shapley_p05 / 1e6:.2f}, {r.shapley_p95 / 1e6:.2f}]",
                  f"{r.effect_alone / 1e6:.2f}", f"{r.total_effect / 1e6:.2f}")
    console.print(t)
    if post:
        console.print(dr.note(post, draws, range(seeds)))
    path = dr.write_noted(lambda o: write_decomposition(d, o), out, post, draws, range(seeds))
    console.print(f"sum of Shapley values {d.shapley.shapley.sum() / 1e6:.2f} M = total {d.total[0] / 1e6:.2f} M; "
                  f"{time.perf_counter() - t0:.0f} s; report in [bold]{escape(str(path))}[/]", highlight=False)
