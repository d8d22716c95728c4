"""``greatleap estimate``: excess deaths and lost births by the methods of the literature.

Tables go to stdout for people; ``--format csv|json`` puts only the data on stdout (notes and
warnings go to stderr) so scripts can read it. Bad input exits 2 with a one-line message.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from greatleap.cli.common import _fail, _new_folder, app, console, err

FORMATS = ("table", "csv", "json")


def _split(values: Optional[List[str]]) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def _load(est, name: str, units: Optional[str], book: Optional[str], allow_extreme: bool):
    """(series, run annual table or None) for a built-in name, a run folder or a CSV file."""
    path = Path(name)
    if name in est.CATALOG or name in ("official",) or not (path.is_dir() or path.is_file()):
        if units or book:
            _fail(f"{'--units' if units else '--book'} applies to a CSV file or a run folder, not series {name!r}")
        return est.series_by_name(name), None
    if path.is_dir():
        if units:
            _fail("--units applies to a CSV file; a run folder is in persons")
        annual = est.read_run_annual(path)
        return est.results_series(annual, book or "registered", str(path), allow_extreme), annual
    if book:
        _fail("--book applies to a run folder")
    return est.read_csv_series(path, units or "persons", allow_extreme), None


def _specs(est, methods, periods, exposure, clip, opts):
    if not methods:
        given = [flag for flag, v in opts.items() if v is not None]
        if given:
            _fail(f"{given[0]} needs --method (allowed: {', '.join(est.METHODS)})")
        return est.literature_set(periods or tuple(est.PERIODS.values()), exposure, clip)
    kw = {"baseline_years": opts["--baseline-years"], "pre": opts["--pre"], "post": opts["--post"],
          "anchors": opts["--anchors"], "rate": opts["--rate"], "start": opts["--from"], "end": opts["--to"],
          "adjust": opts["--adjust"]}
    return [est.check_spec(est.MethodSpec(mth, period=p, exposure=exposure, clip=clip, **kw))
            for mth in methods for p in (periods or [(1958, 1961)])]


def _birth_specs(est, specs):
    """Lost births under the same rate baselines as the death requests (each once)."""
    out = []
    for sp in specs:
        if sp.method in ("average", "pre-famine", "yang", "interpolation") and not sp.adjust:
            b = est.MethodSpec("lost-births", period=sp.period, exposure=sp.exposure, clip=sp.clip,
                               baseline_years=sp.baseline_years, pre=sp.pre, post=sp.post, anchors=sp.anchors)
            if b not in out:
                out.append(b)
    return out


def _detail(est, e) -> Table:
    unit = "per mille" if e.baseline_unit == "per mille" else "million"
    what = {"per mille": "baseline rate (per mille)", "persons": "baseline count (million)"}.get(
        e.baseline_unit, "expected year-end population (million)" if e.baseline is not None else "baseline")
    console.print(f"[bold]{e.label}[/]: {e.measure} (million), series {e.series}"
                  + (f", exposure {e.exposure}" if e.exposure else ""), highlight=False)
    t = Table()
    for col in ("year", what, e.measure):
        t.add_column(col, justify="right")
    for i, y in enumerate(e.years):
        b = "" if e.baseline is None else (f"{e.baseline[i]:.2f}" if unit == "per mille"
                                           else f"{e.baseline[i] / 1e6:.2f}")
        t.add_row(str(y), b, est.fmt_m(e.terms[i]))
    t.add_row("total", "", est.fmt_m(e.total), style="bold")
    return t


def _totals(est, ests, title) -> Table:
    table = est.comparison_table(ests)
    t = Table(title=title)
    t.add_column("method")
    periods = list(dict.fromkeys(table.period))
    for p in periods:
        t.add_column(p, justify="right")
    for label, g in table.groupby("label", sort=False):
        by = dict(zip(g.period, g.total_m, strict=True))
        t.add_row(label, *[f"{by[p]:.2f}" if p in by else "" for p in periods])
    return t


def _frame_table(frame, title, cols) -> Table:
    t = Table(title=title)
    for c in cols:
        t.add_column(c, justify="left" if c in ("method", "label", "measure", "author", "period") else "right")
    for _, r in frame.iterrows():
        t.add_row(*[f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
    return t


@app.command()
def estimate(
    series_arg: Optional[str] = typer.Argument(None, metavar="[SERIES]", help="same as --series"),
    series: Optional[str] = typer.Option(None, "--series", help="a built-in name (see --list-series), a CSV file "
                                         "or a run folder [default: official-1983]"),
    list_series: bool = typer.Option(False, "--list-series", help="list the built-in series with sources"),
    method: Optional[List[str]] = typer.Option(None, "--method", help="constant, average, pre-famine, yang, "
                                               "interpolation, count, growth, registered, lost-births (repeat or "
                                               "comma-separate); none: the literature's standard set"),
    baseline_years: Optional[str] = typer.Option(None, "--baseline-years", help="e.g. 1957,1962,1963 or "
                                                 "1954-1958,1962-1964"),
    pre: Optional[str] = typer.Option(None, "--pre", help="pre-famine span, e.g. 1955-1957 (yang, interpolation)"),
    post: Optional[str] = typer.Option(None, "--post", help="post-famine span, e.g. 1962-1964"),
    anchors: Optional[str] = typer.Option(None, "--anchors", help="interpolation anchors A,B, e.g. 1957,1962"),
    period: Optional[List[str]] = typer.Option(None, "--period", help="e.g. 1958-1961 (repeat or comma-separate)"),
    exposure: str = typer.Option("mid", "--exposure", help="mid, yearend, previous (rates re-derived on that "
                                 "population) or rate-x-yearend, rate-x-previous (published rate x population)"),
    adjust: Optional[float] = typer.Option(None, "--adjust", help="raise famine-year deaths by this share (0.10)"),
    rate: Optional[float] = typer.Option(None, "--rate", help="constant: baseline per mille; growth: a fraction/yr"),
    from_: Optional[int] = typer.Option(None, "--from", help="growth: start year-end"),
    to: Optional[int] = typer.Option(None, "--to", help="growth: end year-end"),
    clip: bool = typer.Option(False, "--clip", help="set negative yearly terms to zero before summing"),
    units: Optional[str] = typer.Option(None, "--units", help="CSV population and counts: persons, 10k, million"),
    allow_extreme: bool = typer.Option(False, "--allow-extreme", help="accept implausible but possible rates"),
    book: Optional[str] = typer.Option(None, "--book", help="run folder: registered (default) or true"),
    fmt: str = typer.Option("table", "--format", help="table, csv or json (csv and json: data only on stdout)"),
    out: Optional[Path] = typer.Option(None, "--out", help="also write a report folder (CSV, JSON, PNG, Markdown)"),
) -> None:
    """Excess deaths and lost births by the methods of the literature, with their baselines by year."""
    from greatleap.analysis import estimate as est

    if fmt not in FORMATS:
        _fail(f"--format = {fmt!r}; allowed: {', '.join(FORMATS)}")
    if exposure not in est.EXPOSURES:
        _fail(f"--exposure = {exposure!r}; allowed: {', '.join(est.EXPOSURES)}")
    if units is not None and units not in est.UNITS:
        _fail(f"--units = {units!r}; allowed: {', '.join(est.UNITS)}")
    if book is not None and book not in ("registered", "true"):
        _fail(f"--book = {book!r}; allowed: registered, true")
    if series_arg and series and series_arg != series:
        _fail(f"series given twice ({series_arg!r} and --series {series!r}); give one")
    if list_series:
        return _print_series(est, fmt)
    if out is not None:
        _new_folder(out)
    try:
        s, annual = _load(est, series or series_arg or "official-1983", units, book, allow_extreme)
        opts = {"--baseline-years": baseline_years and est.parse_years(baseline_years, "--baseline-years"),
                "--pre": pre and est.parse_years(pre, "--pre"), "--post": post and est.parse_years(post, "--post"),
                "--anchors": anchors and est.parse_anchors(anchors), "--rate": rate, "--from": from_, "--to": to,
                "--adjust": adjust}
        periods = [est.parse_period(p) for p in _split(period)]
        specs = _specs(est, _split(method), periods, exposure, clip, opts)
        skipped: list[str] = []
        ests = est.run_many(s, specs, skipped if not method else None)
        if not ests:
            _fail(f"series {s.label}: no method could be applied ({'; '.join(skipped[:2])})")
        births = [] if method else est.run_many(s, _birth_specs(est, specs), [])
        bed = est.testbed(annual, specs[0].period, exposure, specs if method else None, clip) \
            if annual is not None else None
    except est.SeriesError as exc:
        _fail(str(exc))
    for note in s.notes:
        err.print(f"note: {s.label}: {note}", highlight=False)
    if skipped:
        err.print(f"note: {len(skipped)} request(s) left out for lack of years, e.g. {skipped[0]}", highlight=False)
    if fmt == "json":
        sys.stdout.write(est.to_json(ests) + "\n")
    elif fmt == "csv":
        est.long_rows(ests).to_csv(sys.stdout, index=False)
    else:
        _print_tables(est, s, ests, births, bed, detailed=bool(method))
    if out is not None:
        path = est.write_report(ests + births, s.label, out, bed, est.published_estimates())
        err.print(f"report in {path}", highlight=False)


def _print_tables(est, s, ests, births, bed, detailed: bool) -> None:
    if detailed:
        for e in ests:
            console.print(_detail(est, e))
            for note in e.notes:
                console.print(f"  {note}")
    else:
        console.print(_totals(est, ests, f"Excess deaths (million) by method: {s.label}; exposure {ests[0].exposure}"))
        if births:
            console.print(_totals(est, births, "Lost births (million) by the same baselines"))
        pub = est.published_estimates()
        console.print(_frame_table(pub, "Published estimates (shipped with sources; confidence V/V*/P/R)",
                                   ["estimate_million", "author", "year_published", "period", "confidence"]))
    if bed is not None:
        console.print(_frame_table(bed, "Testbed: each method on the registered series vs the run's truth (million)",
                                   ["label", "measure", "truth_m", "estimate_registered_m", "bias_m",
                                    "due_to_underregistration_m", "due_to_method_m"]))


def _print_series(est, fmt: str) -> None:
    table = est.list_series()
    if fmt == "json":
        sys.stdout.write(table.to_json(orient="records", indent=1) + "\n")
    elif fmt == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        console.print(_frame_table(table, "Built-in series (greatleap estimate --series NAME)",
                                   ["name", "years", "kind", "confidence", "what", "source", "note"]))
