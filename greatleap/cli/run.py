"""``greatleap run | plan | params | scenarios``: one simulation and what describes it."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from greatleap.cli.common import _fail, _new_folder, _progress_bar, app, console
from greatleap.cli.draws import DRAWS, POSTERIOR
from greatleap.scenario import ScenarioError, builtin_names, load_scenario


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
    posterior: Optional[str] = POSTERIOR,
    draws: int = DRAWS,
) -> None:
    """Run a scenario month by month and write its results folder."""
    from greatleap.sim import Sim

    if scale is not None and not 1.0 <= scale <= 1e6:
        _fail(f"--scale = {scale!r}: allowed 1 .. 1000000 (real persons per agent)")
    if seed is not None and not 0 <= seed < 2**62:
        _fail(f"--seed = {seed!r}: allowed 0 .. 2^62-1")
    if posterior is not None:  # one run per posterior draw, summarised with intervals
        from greatleap.cli.draws import run_posterior
        return run_posterior(scenario, posterior, draws, seed, scale, out)
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
