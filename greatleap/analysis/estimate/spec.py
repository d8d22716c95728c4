"""A method request (what the command line asks for), its checks, and the literature's standard set.

:class:`MethodSpec` names a method and its options; :func:`run_spec` applies it to a series.
Options a method does not use are refused, so a request never means something other than it says.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from greatleap.analysis.estimate import methods as m
from greatleap.analysis.estimate.methods import Estimate
from greatleap.analysis.estimate.series import SeriesError, VitalSeries

PERIODS = {"1958-1961": (1958, 1961), "1959-1961": (1959, 1961), "1958-1962": (1958, 1962)}

# method -> (options it uses, what it does)
METHODS = {
    "constant": ({"rate", "adjust"}, "baseline = a constant rate (--rate, per mille)"),
    "average": ({"baseline_years", "adjust"}, "baseline = pooled mean rate of --baseline-years "
                                              "(default 1957,1962,1963: Chang & Halliday)"),
    "pre-famine": ({"baseline_years", "adjust"}, "baseline = mean rate of pre-famine --baseline-years "
                                                 "(default 1956,1957: Peng); --adjust 0.10 raises deaths 10%"),
    "yang": ({"pre", "post", "adjust"}, "baseline = mean of the --pre mean and the --post mean "
                                        "(defaults 1955-1957 and 1962-1964)"),
    "interpolation": ({"anchors", "pre", "post", "adjust"}, "baseline linear between --anchors A,B "
                                                            "(default 1957,1962) or the --pre and --post spans"),
    "count": ({"baseline_years", "adjust"}, "deaths minus the mean deaths of --baseline-years; no population "
                                            "(Xia's rule; default 1957,1962,1963)"),
    "growth": ({"rate", "start", "end", "baseline_years"}, "population at year-end --from grown at --rate "
                                                          "(a fraction; default: natural increase of "
                                                          "--baseline-years, 1956,1957) to --to, minus the observed"),
    "registered": (set(), "plain registered deaths over the period"),
    "lost-births": ({"baseline_years", "pre", "post", "anchors", "rate"},
                    "births below a baseline birth rate: --anchors (interpolation), --pre/--post (Yang), "
                    "--rate (constant) or --baseline-years (average, default 1957,1962,1963)"),
}
OPTION_FLAGS = {"baseline_years": "--baseline-years", "pre": "--pre", "post": "--post", "anchors": "--anchors",
                "rate": "--rate", "start": "--from", "end": "--to", "adjust": "--adjust"}


@dataclass(frozen=True)
class MethodSpec:
    """A method and the options the user gave (None = not given, the method's default applies)."""
    method: str
    period: tuple[int, int] = (1958, 1961)
    exposure: str = "mid"
    baseline_years: tuple[int, ...] | None = None
    pre: tuple[int, ...] | None = None
    post: tuple[int, ...] | None = None
    anchors: tuple[int, int] | None = None
    rate: float | None = None
    start: int | None = None
    end: int | None = None
    adjust: float | None = None
    clip: bool = False

    def given(self) -> set[str]:
        return {name for name in OPTION_FLAGS if getattr(self, name) is not None}


def check_spec(spec: MethodSpec) -> MethodSpec:
    """Refuse an unknown method or an option the method does not use (SeriesError)."""
    if spec.method not in METHODS:
        raise SeriesError(f"--method = {spec.method!r}; allowed: {', '.join(METHODS)}")
    uses = METHODS[spec.method][0]
    for name in sorted(spec.given() - uses):
        allowed = ", ".join(OPTION_FLAGS[u] for u in sorted(uses)) or "no options"
        raise SeriesError(f"{OPTION_FLAGS[name]} is not used by --method {spec.method} (it uses {allowed})")
    if spec.anchors is not None and (spec.pre is not None or spec.post is not None):
        raise SeriesError("give --anchors A,B or --pre and --post, not both")
    if (spec.pre is None) != (spec.post is None) and spec.method in ("yang", "interpolation"):
        raise SeriesError(f"--method {spec.method}: give both --pre and --post (or neither for the defaults)")
    m.check_period(spec.period)
    return spec


def run_spec(series: VitalSeries, spec: MethodSpec) -> Estimate:
    """Apply one method request to a series."""
    s = check_spec(spec)
    common = dict(period=s.period, exposure=s.exposure, clip=s.clip)
    adjust = s.adjust or 0.0
    pre_post = {} if s.pre is None else {"pre": s.pre, "post": s.post}
    if s.anchors is not None:
        pre_post = {"pre": (s.anchors[0],), "post": (s.anchors[1],)}
    years = {} if s.baseline_years is None else {"years": s.baseline_years}
    if s.method == "constant":
        if s.rate is None:
            raise SeriesError("--method constant needs --rate (per mille, e.g. --rate 11)")
        return m.constant(series, s.rate, adjust=adjust, **common)
    if s.method == "average":
        return m.average(series, adjust=adjust, **years, **common)
    if s.method == "pre-famine":
        return m.prefamine(series, adjust=adjust, **years, **common)
    if s.method == "yang":
        return m.yang(series, adjust=adjust, **pre_post, **common)
    if s.method == "interpolation":
        return m.interpolation(series, adjust=adjust, **pre_post, **common)
    if s.method == "count":
        return m.count(series, period=s.period, adjust=adjust, clip=s.clip, **years)
    if s.method == "growth":
        start = s.start if s.start is not None else s.period[0] - 1
        end = s.end if s.end is not None else s.period[1]
        return m.growth(series, s.rate, start, end, exposure=s.exposure, clip=s.clip, **years)
    if s.method == "registered":
        return m.registered(series, s.period)
    births = dict(measure="births", **common)
    if s.anchors is not None:
        e = m.interpolation(series, **pre_post, **births)
    elif s.pre is not None:
        e = m.yang(series, **pre_post, **births)
    elif s.rate is not None:
        e = m.constant(series, s.rate, **births)
    else:
        e = m.average(series, **years, **births)
    e.options["rule"], e.method = e.method, "lost-births"
    return e


def literature_set(periods: Sequence[tuple[int, int]] = tuple(PERIODS.values()), exposure: str = "mid",
                   clip: bool = False) -> list[MethodSpec]:
    """The standard requests of the literature, for each period."""
    base = [
        MethodSpec("average", baseline_years=(1957, 1962, 1963)),
        MethodSpec("average", baseline_years=(1957, 1962)),
        MethodSpec("pre-famine", baseline_years=(1956, 1957)),
        MethodSpec("pre-famine", baseline_years=(1956, 1957), adjust=0.10),
        MethodSpec("pre-famine", baseline_years=(1957,)),
        MethodSpec("yang", pre=(1955, 1956, 1957), post=(1962, 1963, 1964)),
        MethodSpec("interpolation", anchors=(1957, 1962)),
        MethodSpec("interpolation", anchors=(1957, 1963)),
        MethodSpec("interpolation", pre=(1955, 1956, 1957), post=(1962, 1963, 1964)),
        MethodSpec("count", baseline_years=(1957, 1962, 1963)),
    ]
    return [replace(s, period=tuple(p), exposure=exposure, clip=clip) for p in periods for s in base]


def run_many(series: VitalSeries, specs: Sequence[MethodSpec], skipped: list | None = None) -> list[Estimate]:
    """Apply each request; those the series cannot serve (missing years) are named in ``skipped``."""
    out = []
    for spec in specs:
        try:
            out.append(run_spec(series, spec))
        except SeriesError as exc:
            if skipped is None:
                raise
            skipped.append(f"{spec.method} {spec.period[0]}-{spec.period[1]}: {exc}")
    return out


# ------------------------------------------------------------------ parsing command-line values
def parse_years(text: str, flag: str) -> tuple[int, ...]:
    """'1957,1962,1963' or '1954-1958,1962-1964' -> years (each once, in order)."""
    years: list[int] = []
    for part in (p.strip() for p in str(text).split(",")):
        try:
            a, b = parse_period(part, flag)
        except SeriesError:
            raise SeriesError(f"{flag} = {text!r}: allowed: years or ranges separated by commas, "
                              f"e.g. 1957,1962,1963 or 1955-1957,1962-1964") from None
        years += [y for y in range(a, b + 1) if y not in years]
    return tuple(years)


def parse_period(text: str, flag: str = "--period") -> tuple[int, int]:
    """'1958-1961' or '1960' -> (first, last); a reversed range is refused."""
    parts = str(text).strip().split("-")
    try:
        if len(parts) not in (1, 2) or not all(p.strip().isdigit() for p in parts):
            raise ValueError
        a, b = int(parts[0]), int(parts[-1])
    except ValueError:
        raise SeriesError(f"{flag} = {text!r}: allowed: a year or FIRST-LAST, e.g. 1958-1961") from None
    if not (1000 <= a <= 3000 and 1000 <= b <= 3000):
        raise SeriesError(f"{flag} = {text!r}: allowed: calendar years, e.g. 1958-1961")
    if a > b:
        raise SeriesError(f"{flag} = {text!r}: the first year comes after the last; "
                          f"allowed: FIRST-LAST with FIRST <= LAST (e.g. 1958-1961)")
    return a, b


def parse_anchors(text: str) -> tuple[int, int]:
    years = parse_years(text, "--anchors")
    if len(years) != 2 or "-" in str(text):
        raise SeriesError(f"--anchors = {text!r}: allowed: two years A,B (e.g. 1957,1962); "
                          f"for spans use --pre and --post")
    return years[0], years[1]
