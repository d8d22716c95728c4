"""``greatleap estimate``: excess deaths and lost births by the methods of the literature."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from greatleap.cli.common import _fail, app, console


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
