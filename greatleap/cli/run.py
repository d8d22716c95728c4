"""``greatleap run | plan | params | scenarios``: one simulation and what describes it."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from greatleap import interrupt
from greatleap.cli.common import SCALE, SEED, _cluster_address, _default_folder, _fail, _new_folder, _progress_bar, app, console, err
from greatleap.cli.draws import DRAWS, POSTERIOR
from greatleap.kernels import BACKENDS, cuda_problem
from greatleap.scenario import ScenarioError, builtin_names, load_scenario

FORMATS = ("table", "csv", "json")
# (summary column, header, format): the columns that fit 80 characters; csv and json give them all
SUMMARY_COLUMNS = (("year", "\nyear", "{:.0f}"), ("pop_end_m", "pop\nM", "{:.1f}"), ("cbr_reg", "CBR\nreg", "{:.1f}"),
                   ("cdr_reg", "CDR\nreg", "{:.1f}"), ("cdr_true", "CDR\ntrue", "{:.1f}"),
                   ("grain_mt", "grain\nMt", "{:.0f}"), ("reported_mt", "rep.\nMt", "{:.0f}"),
                   ("proc_share", "\nproc", "{:.2f}"), ("retention_kg", "ret\nkg", "{:.0f}"),
                   ("deaths_m", "deaths\nM", "{:.2f}"))


def _summary_table(results) -> Table:
    """The yearly summary in 80 columns (rates per mille; grain Mt; procurement share; retention kg)."""
    s = results.summary()
    table = Table(title=f"{escape(str(results.meta['scenario']['name']))[:40]}: yearly summary",
                  caption="rates per mille; rep. = reported; proc = procured share; ret = kg/rural person",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    for _, header, _ in SUMMARY_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for _, row in s.iterrows():
        table.add_row(*[fmt.format(row[name]) for name, _, fmt in SUMMARY_COLUMNS])
    return table


def _check_memory(scenario, scale: float | None) -> None:
    """Refuse a run that cannot fit in the memory available (exit 2, one line, nothing written)."""
    from greatleap.memory import available_memory, estimate_memory

    scale = scale if scale is not None else scenario.run.scale
    try:
        need = estimate_memory(scenario, scale)
    except ScenarioError as exc:
        _fail(str(exc))
    available = available_memory()
    if available is not None and need > available:
        # the frame is ~proportional to the agents: the smallest scale that fits, rounded up
        fits = scale * need / max(available, 1)
        _fail(f"--scale = {scale:g}: the run needs about {need / 2**30:.1f} GiB of memory, {available / 2**30:.1f} GiB "
              f"is available; allowed: a scale of at least ~{math.ceil(fits * 1.05):g} here (fewer agents)")


def _check_backend(backend: str, posterior: str | None) -> None:
    """Refuse a backend that cannot run this command here (exit 2, one line, nothing written)."""
    if backend not in BACKENDS:
        _fail(f"--backend = {backend!r}; allowed: {', '.join(BACKENDS)}")
    if backend == "cuda":
        if posterior is not None:
            _fail("--backend = 'cuda' with --posterior: posterior draws run as a CPU ensemble; allowed: --backend cpu, "
                  "or no --posterior")
        problem = cuda_problem()
        if problem is not None:
            _fail(f"--backend = 'cuda': {problem}; allowed: --backend cpu")


@app.command()
def run(
    scenario: str = typer.Argument("historical", help=f"built-in scenario ({', '.join(builtin_names())}) or a TOML path"),
    scale: Optional[float] = typer.Option(None, "--scale", parser=SCALE,
                                          help="real persons per agent, 1 .. 1000000 (default from the scenario: 1000)"),
    seed: Optional[int] = typer.Option(None, "--seed", parser=SEED, help="random seed (default from the scenario)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run folder (default runs/<scenario>-<time>)"),
    no_plot: bool = typer.Option(False, "--no-plot", help="skip the PNG summary figure"),
    fmt: str = typer.Option("table", "--format", help="yearly summary on stdout: table, csv or json "
                                                     "(csv/json: every summary column; messages go to stderr)"),
    posterior: Optional[str] = POSTERIOR,
    draws: int = DRAWS,
    backend: str = typer.Option("cpu", "--backend", help=f"where the person passes run: {' or '.join(BACKENDS)} "
                                                        "(cuda: an NVIDIA GPU, extra 'gpu')"),
    cluster: Optional[str] = typer.Option(None, "--cluster", parser=_cluster_address,
                                          help="with --posterior: run the draws on a Dask cluster, tcp://HOST:PORT "
                                               "or local[:N]"),
) -> None:
    """Run a scenario month by month and write its results folder."""
    from greatleap.sim import Sim

    if fmt not in FORMATS:
        _fail(f"--format = {fmt!r}; allowed: {', '.join(FORMATS)}")
    _check_backend(backend, posterior)
    talk = console if fmt == "table" else err
    if posterior is not None:  # one run per posterior draw, summarised with intervals
        from greatleap.cli.draws import run_posterior
        return run_posterior(scenario, posterior, draws, seed, scale, out, cluster=cluster)
    if cluster is not None:
        _fail(f"--cluster = {cluster!r} without --posterior: one run uses one machine; allowed: --cluster with "
              f"--posterior (or validate, compare, decompose, calibrate, sensitivity)")
    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    out = _new_folder(out if out is not None else _default_folder("", scen.name))
    _check_memory(scen, scale)
    try:
        sim = Sim(scen, scale=scale, seed=seed, backend=backend)
    except ScenarioError as exc:
        _fail(str(exc))
    if backend == "cuda":
        problem = sim.backend.memory_problem(sim.world)
        if problem is not None:
            _fail(f"--backend = 'cuda' at --scale = {sim.world.scale:g}: {problem}; allowed: a larger scale, "
                  "or --backend cpu")
    talk.print(f"[bold]greatleap[/] {escape(scen.name)}: {sim.layout.n_agents:,} agents "
               f"(1 agent = {sim.world.scale:g} persons), {sim.geo.n_communes:,} communes, "
               f"{sim.n_months} months, seed {sim.scenario.run.seed}", highlight=False)
    with _progress_bar(talk) as bar:
        task = bar.add_task("compiling kernels", total=sim.n_months)

        def progress(done: int, total: int) -> None:
            interrupt.check()
            bar.update(task, completed=done, description="simulating months")

        results = sim.run(progress)
    if fmt == "table":
        console.print(_summary_table(results))
    elif fmt == "csv":
        typer.echo(results.summary().to_csv(index=False), nl=False)
    else:
        typer.echo(json.dumps(json.loads(results.summary().to_json(orient="records")), indent=1))
    path = results.save(out, plot=not no_plot)
    excess = results.excess_deaths()
    talk.print(f"excess deaths 1958-1962 (true, against the 1957 death rate): {excess / 1e6:.1f} million", highlight=False)
    talk.print(f"ran in {results.meta['wall_seconds']:.1f} s (+{results.meta['compile_seconds']:.1f} s "
               f"compile/load); results in [bold]{escape(str(path))}[/]", highlight=False)


@app.command()
def plan() -> None:
    """Print the month's plan: every registered mechanism's steps, in the order they run."""
    from greatleap.sim import Sim

    console.print(Sim.default_plan(), markup=False, highlight=False)


@app.command()
def params(scenario: str = typer.Argument("historical", help="built-in scenario or TOML path")) -> None:
    """Every parameter of a scenario with its value, unit, allowed range and source."""
    from greatleap.scenario import parameter_table

    try:
        scen = load_scenario(scenario)
    except ScenarioError as exc:
        _fail(str(exc))
    t = Table(title=f"parameters of {escape(scen.name)}")
    for col in ("key", "value", "unit", "allowed", "source"):
        t.add_column(col, overflow="fold")
    for row in parameter_table(scen):
        value = row["value"]
        t.add_row(*(escape(str(v)) for v in (row["key"], f"{value:.4g}" if isinstance(value, float) else value,
                                             row["unit"], row["allowed"], row["source"])))
    console.print(t)


@app.command()
def scenarios() -> None:
    """List the built-in scenarios."""
    for name in builtin_names():
        console.print(f"{name}: {load_scenario(name).description}", markup=False, highlight=False)
