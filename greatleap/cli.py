"""Command line: ``greatleap run [SCENARIO] [--scale N] [--seed N] [--out DIR]`` and helpers.

Bad input (scenario file, arguments) exits with code 2 and a message naming the key, the value
and what is allowed; nothing is written. Results are written atomically.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from greatleap.scenario import ScenarioError, builtin_names, load_scenario

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="greatleap: simulate the Great Leap Forward and the famine it caused.")
# wide enough for the summary tables when the output is a file or a pipe
console = Console() if sys.stdout.isatty() else Console(width=170)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=170)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


def _summary_table(results) -> Table:
    s = results.summary()
    table = Table(title=f"{results.meta['scenario']['name']}: yearly summary "
                        f"(rates per mille; grain Mt; retention kg/rural person)")
    cols = [("year", "{:.0f}"), ("pop_end_m", "{:.1f}"), ("cbr_reg", "{:.1f}"), ("cdr_reg", "{:.1f}"),
            ("cbr_true", "{:.1f}"), ("cdr_true", "{:.1f}"), ("grain_mt", "{:.1f}"), ("reported_mt", "{:.1f}"),
            ("procured_mt", "{:.1f}"), ("proc_share", "{:.2f}"), ("retention_kg", "{:.0f}"),
            ("deaths_m", "{:.2f}"), ("famine_deaths_m", "{:.2f}")]
    for name, _ in cols:
        table.add_column(name, justify="right")
    for _, row in s.iterrows():
        table.add_row(*[fmt.format(row[name]) for name, fmt in cols])
    return table


@app.command()
def run(
    scenario: str = typer.Argument("historical", help=f"built-in scenario ({', '.join(builtin_names())}) or a TOML path"),
    scale: Optional[float] = typer.Option(None, "--scale", help="real persons per agent (default from the scenario: 1000)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default from the scenario)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/<scenario>-<time>)"),
    no_plot: bool = typer.Option(False, "--no-plot", help="skip the PNG summary figure"),
) -> None:
    """Run a scenario month by month and write its results folder."""
    from greatleap.sim import Sim

    if scale is not None and not 1.0 <= scale <= 1e6:
        _fail(f"--scale = {scale!r}: allowed 1 .. 1000000 (real persons per agent)")
    if seed is not None and not 0 <= seed < 2**62:
        _fail(f"--seed = {seed!r}: allowed 0 .. 2^62-1")
    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    if out is None:
        out = Path("runs") / f"{scen.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    _new_folder(out)
    try:
        sim = Sim(scen, scale=scale, seed=seed)
    except ScenarioError as exc:
        _fail(str(exc))
    console.print(f"[bold]greatleap[/] {scen.name}: {sim.people.n_alive:,} agents "
                  f"(1 agent = {sim.scale:g} persons), {sim.places.n_communes:,} communes, "
                  f"{sim.n_months} months, seed {sim.scenario.run.seed}")
    with _progress_bar() as bar:
        task = bar.add_task("compiling kernels", total=sim.n_months)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, description="simulating months")

        results = sim.run(progress)
    console.print(_summary_table(results))
    path = results.save(out, plot=not no_plot)
    excess = results.excess_deaths()
    console.print(f"excess deaths 1958-1962 (true, against the 1957 death rate): {excess / 1e6:.1f} million")
    console.print(f"ran in {results.meta['wall_seconds']:.1f} s (+{results.meta['compile_seconds']:.1f} s "
                  f"compile/load); results in [bold]{path}[/]")


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _new_folder(out: Path) -> Path:
    """Refuse an output folder that exists with something in it (exit 2, nothing written)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        _fail(f"--out = {str(out)!r}: exists and is not an empty folder; allowed: a new or empty folder")
    return out


@app.command()
def validate(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path"),
    seeds: int = typer.Option(8, "--seeds", help="ensemble size (seeds 1..N)"),
    scale: float = typer.Option(5000.0, "--scale", help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", help="parallel processes"),
    vintage: str = typer.Option("official", "--vintage", help="official (registered series) or banister (as truth)"),
    targets: Optional[Path] = typer.Option(None, "--targets", help="a targets TOML (default: the shipped one)"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/validate-<scenario>-<time>)"),
) -> None:
    """Run an ensemble and compare every target with the record; write a report (CSV, PNG, HTML)."""
    from greatleap.analysis.targets import TargetError, load_targets
    from greatleap.analysis.validate import validate as run_validation
    from greatleap.analysis.validate import validation_report

    if seeds < 1 or jobs < 1 or not 1 <= scale <= 1e6:
        _fail(f"--seeds {seeds} / --jobs {jobs} / --scale {scale}: allowed seeds >= 1, jobs >= 1, scale 1..1e6")
    try:
        scen = load_scenario(scenario)
        table = load_targets(targets, vintage)
    except (ScenarioError, TargetError) as exc:
        _fail(str(exc))
    out = _new_folder(out or Path("runs") / f"validate-{scen.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    with _progress_bar() as bar:
        task = bar.add_task(f"{seeds} runs of {scen.name}", total=seeds)
        evaluated, runs, failures = run_validation(scen, table, list(range(1, seeds + 1)), scale, jobs,
                                                   lambda d, n: bar.update(task, completed=d))
    for f in failures:
        err.print(f"[red]run with seed {f.seed} failed:[/] {f.error.splitlines()[0]}")
    from greatleap.analysis.calibrate import current_values
    try:
        from greatleap.analysis.calibrate import check_parameters
        params = current_values(scen, check_parameters(scen))
    except ScenarioError:
        params = {}
    meta = {"scenario": scen.name, "vintage": vintage, "seeds": len(runs), "scale": scale, "parameters": params}
    from importlib import resources
    fitted = resources.files("greatleap") / "scenarios" / f"{scen.name}.calibration.csv"
    if fitted.is_file():  # the shipped calibration record: best values and top-k ranges
        import pandas as pd
        meta["fitted_parameters"] = pd.read_csv(fitted)
    path = validation_report(evaluated, runs, meta, out)
    by = evaluated.groupby("name").passed.agg(["sum", "count"])
    t = Table(title=f"validate {scen.name} ({vintage}): targets within tolerance")
    for col in ("series", "passed", "of"):
        t.add_column(col)
    for name, row in by.iterrows():
        t.add_row(name, str(int(row["sum"])), str(int(row["count"])))
    console.print(t)
    from greatleap.analysis.targets import score
    console.print(f"passed {int(evaluated.passed.sum())} of {len(evaluated)} targets; score {score(evaluated):.3f}; "
                  f"report in [bold]{path}[/] (open index.html)")


@app.command()
def calibrate(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path with [[calibration.parameters]]"),
    trials: int = typer.Option(200, "--trials", help="run until the study has this many finished trials"),
    jobs: int = typer.Option(2, "--jobs", help="parallel worker processes"),
    seeds: int = typer.Option(2, "--seeds", help="seeds per trial"),
    scale: float = typer.Option(20000.0, "--scale", help="real persons per agent during the search"),
    vintage: str = typer.Option("official", "--vintage", help="official or banister"),
    targets: Optional[Path] = typer.Option(None, "--targets", help="a targets TOML (default: the shipped one)"),
    storage: Path = typer.Option(Path("calibration.sqlite"), "--storage", help="Optuna study storage (SQLite file); resumable"),
    study: Optional[str] = typer.Option(None, "--study", help="study name (default <scenario>-<vintage>)"),
    out: Path = typer.Option(Path("runs/calibration"), "--out", help="folder for best.toml, top.csv, trials.csv"),
) -> None:
    """Fit the scenario's declared uncertain parameters to the targets (Optuna, resumable)."""
    from greatleap.analysis import calibrate as cal
    from greatleap.analysis.targets import TargetError, load_targets

    if trials < 1 or jobs < 1 or seeds < 1 or not 1 <= scale <= 1e6:
        _fail("--trials, --jobs, --seeds must be >= 1 and --scale within 1..1e6")
    try:
        cal.require_optuna()
        scen = load_scenario(scenario)
        specs = cal.check_parameters(scen)
        table = load_targets(targets, vintage)
    except (ScenarioError, TargetError) as exc:
        _fail(str(exc))
    name = study or f"{scen.name}-{vintage}"
    url = f"sqlite:///{storage.resolve()}"
    with _progress_bar() as bar:
        task = bar.add_task(f"calibrating {len(specs)} parameters", total=trials)
        st = cal.calibrate(scen, table, url, name, trials, jobs, tuple(range(1, seeds + 1)), scale,
                           progress=lambda d, n: bar.update(task, completed=d))
    source = scenario if not Path(scenario).is_file() else str(Path(scenario).resolve())
    path = cal.write_outputs(st, scen, specs, out, extends=source)
    best = cal.results_table(st, specs).iloc[0]
    console.print(f"best score {best.score:.4f} (trial {int(best.trial)}, {best.passed} targets passed); "
                  f"overlay in [bold]{path / 'best.toml'}[/]; study {name} in {storage}")


def _load_all(names: list[str]):
    try:
        return [load_scenario(n) for n in names]
    except ScenarioError as exc:
        _fail(str(exc))


@app.command()
def compare(
    scenarios: list[str] = typer.Argument(..., help="two or more scenarios (built-in names or TOML paths); the first is the reference"),
    seeds: int = typer.Option(4, "--seeds", help="seeds per scenario (common random numbers)"),
    scale: float = typer.Option(5000.0, "--scale", help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", help="parallel processes"),
    cache: Path = typer.Option(Path("runs/.cache"), "--cache", help="finished runs are reused from here"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/compare-<time>)"),
) -> None:
    """Scenarios side by side: excess deaths, lost births, grain, procurement, with intervals."""
    from greatleap.analysis.compare import compare as run_compare
    from greatleap.analysis.compare import write_comparison

    if seeds < 1 or jobs < 1 or not 1 <= scale <= 1e6:
        _fail("--seeds and --jobs must be >= 1 and --scale within 1..1e6")
    scens = _load_all(scenarios)
    out = _new_folder(out or Path("runs") / f"compare-{time.strftime('%Y%m%d-%H%M%S')}")
    with _progress_bar() as bar:
        task = bar.add_task(f"{len(scens)} scenarios x {seeds} seeds", total=len(scens) * seeds)
        c = run_compare(scens, list(range(1, seeds + 1)), scale, jobs, cache, lambda d, n: bar.update(task, completed=d))
    for f in c.failures:
        err.print(f"[red]failed:[/] {f}")
    t = Table(title=f"1958-1962, {len(c.seeds)} seeds; differences against {c.names[0]} (5-95%)")
    for col in ("scenario", "excess deaths true (M)", "registered (M)", "lost births (M)", "grain (Mt)", "diff excess (M)"):
        t.add_column(col, justify="left" if col == "scenario" else "right")
    sm = c.summary.set_index(["scenario", "metric"])
    for name in c.names:
        g = lambda m, k="mean": sm.loc[(name, m), k]
        t.add_row(name, f"{g('excess_deaths_true') / 1e6:.2f} [{g('excess_deaths_true', 'p05') / 1e6:.2f}, "
                        f"{g('excess_deaths_true', 'p95') / 1e6:.2f}]",
                  f"{g('excess_deaths_registered') / 1e6:.2f}", f"{g('lost_births') / 1e6:.2f}", f"{g('grain_mt'):.0f}",
                  f"{g('excess_deaths_true', 'diff_mean') / 1e6:+.2f} [{g('excess_deaths_true', 'diff_p05') / 1e6:+.2f}, "
                  f"{g('excess_deaths_true', 'diff_p95') / 1e6:+.2f}]")
    console.print(t)
    console.print(f"report in [bold]{write_comparison(c, out)}[/]")


@app.command()
def decompose(
    scenario: str = typer.Argument("historical", help="built-in scenario or TOML path"),
    mechanisms: Optional[str] = typer.Option(None, "--mechanisms", help="comma-separated; default: all nine"),
    seeds: int = typer.Option(2, "--seeds", help="seeds (common random numbers)"),
    scale: float = typer.Option(20000.0, "--scale", help="real persons per agent"),
    jobs: int = typer.Option(2, "--jobs", help="parallel processes"),
    permutations: int = typer.Option(0, "--permutations", help="0 = exact over all coalitions; N = sampled permutations"),
    cache: Path = typer.Option(Path("runs/.cache"), "--cache", help="finished runs are reused from here"),
    out: Optional[Path] = typer.Option(None, "--out", help="report folder (default runs/decompose-<time>)"),
) -> None:
    """Attribute the excess deaths to mechanisms with Shapley values over on/off combinations."""
    from greatleap.analysis.compare import DEFAULT_MECHANISMS, MECHANISMS
    from greatleap.analysis.compare import decompose as run_decompose
    from greatleap.analysis.compare import write_decomposition

    names = [m.strip() for m in mechanisms.split(",")] if mechanisms else list(DEFAULT_MECHANISMS)
    bad = [m for m in names if m not in MECHANISMS]
    if bad or not names or len(set(names)) != len(names):
        _fail(f"--mechanisms = {mechanisms!r}: unknown or repeated {bad}; allowed: {', '.join(MECHANISMS)}")
    if seeds < 1 or jobs < 1 or permutations < 0 or not 1 <= scale <= 1e6:
        _fail("--seeds and --jobs must be >= 1, --permutations >= 0 and --scale within 1..1e6")
    scen = _load_all([scenario])[0]
    out = _new_folder(out or Path("runs") / f"decompose-{time.strftime('%Y%m%d-%H%M%S')}")
    t0 = time.perf_counter()
    with _progress_bar() as bar:
        task = bar.add_task("coalition runs", total=None)
        d = run_decompose(scen, names, list(range(1, seeds + 1)), scale, jobs, permutations, cache,
                          lambda done, n: bar.update(task, completed=done, total=n))
    for f in d.failures:
        err.print(f"[red]failed:[/] {f}")
    t = Table(title=f"Shapley attribution of excess deaths 1958-62 (M): total {d.total[0] / 1e6:.2f} "
                    f"[{d.total[1] / 1e6:.2f}, {d.total[2] / 1e6:.2f}]; {'exact' if d.exact else 'sampled'}, {len(d.seeds)} seeds")
    for col in ("mechanism", "shapley", "5-95%", "alone", "total effect"):
        t.add_column(col, justify="left" if col == "mechanism" else "right")
    for r in d.shapley.itertuples():
        t.add_row(r.mechanism, f"{r.shapley / 1e6:.2f}", f"[{r.shapley_p05 / 1e6:.2f}, {r.shapley_p95 / 1e6:.2f}]",
                  f"{r.effect_alone / 1e6:.2f}", f"{r.total_effect / 1e6:.2f}")
    console.print(t)
    console.print(f"sum of Shapley values {d.shapley.shapley.sum() / 1e6:.2f} M = total {d.total[0] / 1e6:.2f} M; "
                  f"{time.perf_counter() - t0:.0f} s; report in [bold]{write_decomposition(d, out)}[/]")


@app.command()
def estimate(
    series: str = typer.Argument("official", help="official | banister | a CSV file (year,population,births,deaths "
                                                  "or year,population,cbr,cdr) | a run folder"),
    book: str = typer.Option("registered", "--book", help="for a run folder: registered or true"),
    population: str = typer.Option("mid", "--population", help="exposure: mid (mean of year-ends), yearend, previous"),
    out: Optional[Path] = typer.Option(None, "--out", help="write a report folder (CSV, PNG, Markdown)"),
) -> None:
    """Excess deaths and lost births by every baseline method, beside the published estimates."""
    import pandas as pd

    from greatleap.analysis import estimate as est

    if population not in est.POPULATION_CONVENTIONS:
        _fail(f"--population = {population!r}; allowed: {', '.join(est.POPULATION_CONVENTIONS)}")
    if book not in ("registered", "true"):
        _fail(f"--book = {book!r}; allowed: registered, true")
    annual = None
    try:
        if series == "official":
            s = est.official_series()
        elif series == "banister":
            s = est.banister_series()
        elif Path(series).is_dir():
            if not (Path(series) / "annual_national.parquet").is_file():
                _fail(f"series {series!r}: a folder but not a run folder (no annual_national.parquet)")
            annual = pd.read_parquet(Path(series) / "annual_national.parquet")
            s = est.results_series(annual, book, label=f"{series} ({book})")
        elif Path(series).is_file():
            s = est.read_csv_series(series)
        else:
            _fail(f"series {series!r}: allowed: official, banister, a CSV file or a run folder")
        skipped: list[str] = []
        table = est.comparison_table(est.all_methods(s, population=population, skipped=skipped))
        if table.empty:
            _fail(f"series {s.label}: no method could be applied ({'; '.join(skipped[:3])})")
        bed = est.testbed(annual, population=population) if annual is not None else None
    except est.SeriesError as exc:
        _fail(str(exc))
    pivot = table.pivot(index="method", columns="period", values="excess_deaths_m")
    t = Table(title=f"Excess deaths (million) by method: {s.label}; population = {population}")
    t.add_column("method")
    for col in pivot.columns:
        t.add_column(col, justify="right")
    for method, row in pivot.iterrows():
        t.add_row(method, *[f"{v:.2f}" for v in row])
    console.print(t)
    lost = table.pivot(index="method", columns="period", values="lost_births_m")
    t = Table(title="Lost births (million) by method")
    t.add_column("method")
    for col in lost.columns:
        t.add_column(col, justify="right")
    for method, row in lost.iterrows():
        t.add_row(method, *[f"{v:.2f}" for v in row])
    console.print(t)
    if bed is not None:
        t = Table(title="Testbed: methods on the registered series vs the simulation's truth (million)")
        for col in ("method", "truth_m", "estimate_registered_m", "bias_m", "due_to_underregistration_m", "due_to_baseline_m"):
            t.add_column(col, justify="right" if col != "method" else "left")
        for _, r in bed.iterrows():
            t.add_row(r.method, *[f"{r[c]:.2f}" for c in ("truth_m", "estimate_registered_m", "bias_m",
                                                          "due_to_underregistration_m", "due_to_baseline_m")])
        console.print(t)
    if skipped:
        console.print(f"left out for lack of years: {len(skipped)} method x period combinations "
                      f"(e.g. {skipped[0].split(':')[0]})")
    pub = est.published_estimates()
    t = Table(title="Published estimates (shipped with sources; confidence V/P/R)")
    for col in ("estimate_million", "author", "year_published", "period", "confidence"):
        t.add_column(col)
    for _, r in pub.iterrows():
        t.add_row(*[str(r[c]) for c in ("estimate_million", "author", "year_published", "period", "confidence")])
    console.print(t)
    if out is not None:
        try:
            path = est.write_report(table, s, out, bed)
        except FileExistsError as exc:
            _fail(str(exc))
        console.print(f"report in [bold]{path}[/]")


@app.command()
def plan() -> None:
    """Print the month's step plan (which mechanism runs when, in what order)."""
    from greatleap.sim import Sim

    console.print(Sim.plan())


@app.command()
def params(scenario: str = typer.Argument("historical", help="built-in scenario or TOML path")) -> None:
    """Every parameter of a scenario with its value, unit, allowed range and source."""
    from greatleap.scenario import parameter_table

    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    t = Table(title=f"parameters of {scen.name}")
    for col in ("key", "value", "unit", "allowed", "source"):
        t.add_column(col, overflow="fold")
    for row in parameter_table(scen):
        value = row["value"]
        t.add_row(row["key"], f"{value:.4g}" if isinstance(value, float) else str(value), row["unit"],
                  row["allowed"], row["source"])
    console.print(t)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    for name in builtin_names():
        console.print(f"{name}: {load_scenario(name).description}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; no results written")
        sys.exit(130)


if __name__ == "__main__":
    main()
