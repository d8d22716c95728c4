"""The explorer's levers: ONE table mapping each web lever to the scenario change it makes.

A web lever is a plain-language choice of 1958-62 (procurement rate, honest reports, the date of
the retreat, ...). Its *historical* value is read from the historical scenario, so it follows the
calibration. Left at that value, a lever changes nothing: the preset (a built-in scenario) runs
as it is. Moved, it overrides the preset for what it touches, either by appending dated events
over the timeline (later events win, see :mod:`greatleap.timeline`) or by overriding parameters.
Every value is checked against the lever's range here, and the resulting scenario is validated
by the scenario schema.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from greatleap.analysis.calibrate import apply_params
from greatleap.levers import LEVERS, month_label, parse_month
from greatleap.scenario import builtin_names, load_scenario, validate_scenario

RETREAT_HISTORICAL = "1960-11"  # Emergency Directive Letter (Twelve Articles): glf_policy_timeline.csv
# engine levers whose whole trajectory moves with the date of the retreat
RETREAT_LEVERS = ("campaign", "anti_right", "ambition", "commune", "private_plots", "canteen", "enforcement",
                  "search", "scepticism", "procurement_rate", "relief", "close_cropping", "deep_plowing", "fallow",
                  "recruitment", "senddown")


class LeverError(ValueError):
    """A lever request is invalid; ``field``, ``value`` and ``allowed`` say why."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field_name, value, allowed
        super().__init__(f"{field_name} = {value!r}: not allowed; allowed: {allowed}")


# ------------------------------------------------------------------ reading a scenario's timeline
@lru_cache(maxsize=64)
def _preset(name: str) -> dict:
    return load_scenario(name).to_dict()


def preset_dict(name: str) -> dict:
    """A fresh copy of a built-in scenario as a dict."""
    return copy.deepcopy(_preset(name))


def lever_path(data: dict, lever: str, first: int, last: int) -> list[float]:
    """Value of an engine lever in every month ``first..last`` (absolute indices) under the dict's events.

    Later events override earlier ones where they overlap, as in :mod:`greatleap.timeline`.
    """
    path = [float(LEVERS[lever].default)] * (last - first + 1)
    for ev in data.get("events", []):
        if ev["lever"] != lever:
            continue
        s = max(parse_month(ev["start"]), first)
        e = last if ev.get("end") is None else min(parse_month(ev["end"]), last)
        if e >= s:
            path[s - first:e - first + 1] = [float(ev["value"])] * (e - s + 1)
    return path


def lever_at(data: dict, lever: str, month: str) -> float:
    """Value of an engine lever in ``month`` ('YYYY-MM') under the scenario dict's events."""
    m = parse_month(month)
    return lever_path(data, lever, m, m)[0]


def _events_of(data: dict, lever: str) -> list[dict]:
    return [ev for ev in data.get("events", []) if ev["lever"] == lever]


def _peak(data: dict, lever: str, year: int | None = None) -> float:
    """The national peak of a lever's events (events for one province, e.g. Gansu's works, are scaled
    with the national ones but do not set the reference)."""
    vals = [ev["value"] for ev in _events_of(data, lever)
            if (year is None or ev["start"].startswith(str(year))) and not ev.get("where")]
    return float(max(vals, default=LEVERS[lever].default))


def _event(lever: str, start: int, end: int | None, value: float, note: str) -> dict:
    lo, hi = LEVERS[lever].lo, LEVERS[lever].hi
    return {"lever": lever, "start": month_label(start), "end": None if end is None else month_label(end),
            "value": float(min(max(value, lo), hi)), "note": note, "source": "explorer lever"}


def _set(data: dict, dotted: str, value: Any) -> None:
    node = data
    *head, last = dotted.split(".")
    for part in head:
        node = node.setdefault(part, {})
    node[last] = value


def _get(data: dict, dotted: str) -> Any:
    node = data
    for part in dotted.split("."):
        node = node[part]
    return node


# ------------------------------------------------------------------ the scenario changes
@dataclass
class Context:
    """What an apply function sees: every lever's value, the historical scenario dict (with the
    posterior draw's parameters set, if any) and those parameters."""
    values: dict[str, Any]
    history: dict
    params: dict[str, float] = field(default_factory=dict)


def _scale_events(levers: tuple[str, ...], factor: float, ctx: Context, data: dict, note: str,
                  window: tuple[str, str] | None = None) -> None:
    """Append the historical events of ``levers`` with their values times ``factor`` (within ``window``)."""
    lo, hi = (parse_month(w) for w in window) if window else (0, 10**9)
    for lever in levers:
        for ev in _events_of(ctx.history, lever):
            s = max(parse_month(ev["start"]), lo)
            e = parse_month(ev["end"]) if ev.get("end") else hi if window else None
            if e is not None:
                e = min(e, hi)
                if e < s:
                    continue
            data["events"].append(_event(lever, s, e, ev["value"] * factor, note))


def _scaler(levers: tuple[str, ...], reference: Callable[[dict], float], window: tuple[str, str] | None = None):
    """Apply: scale the historical events of ``levers`` so their reference value becomes the lever's."""
    def apply(name: str, data: dict, ctx: Context) -> None:
        ref = reference(ctx.history)
        factor = float(ctx.values[name]) / ref if ref > 0 else 0.0
        _scale_events(levers, factor, ctx, data, f"explorer: {name} = {ctx.values[name]}", window)
    return apply


def _procurement(name: str, data: dict, ctx: Context) -> None:
    end = parse_month(RETREAT_HISTORICAL) - 1
    data["events"].append(_event("procurement_rate", parse_month("1958-01"), end, ctx.values[name],
                                 f"explorer: procurement rate {ctx.values[name]} until the retreat"))


def _honesty(name: str, data: dict, ctx: Context) -> None:
    keep = 1.0 - float(ctx.values[name])
    for key in ("reporting.inflation_max", "reporting.province_inflation_max"):
        _set(data, key, _get(ctx.history, key) * keep)


def _flexible(name: str, data: dict, ctx: Context) -> None:
    _set(data, "planning.flexible_quotas", bool(ctx.values[name]))


def _free_eating(name: str, data: dict, ctx: Context) -> None:
    _scale_events(("free_eating",), 1.0 if ctx.values[name] else 0.0, ctx, data, f"explorer: {name}")


def _imports(name: str, data: dict, ctx: Context) -> None:
    start = parse_month(ctx.values["imports_start"])
    hist_start = parse_month(LEVER_TABLE["imports_start"].historical(ctx.history))
    if start > hist_start:  # delayed: no imports before the new start
        data["events"].append(_event("imports", hist_start, start - 1, 0.0, "explorer: imports delayed"))
    if start <= parse_month("1961-12"):
        data["events"].append(_event("imports", start, parse_month("1961-12"), ctx.values["imports_mt"] * 1000 / 12,
                                     "explorer: famine imports (kt/month)"))


def _overlay(preset: str):
    """Apply: what a built-in preset changes relative to history (parameters and appended events)."""
    def apply(name: str, data: dict, ctx: Context) -> None:
        if not ctx.values[name]:
            return
        over = _under_draw(_preset(preset), ctx.params)  # the preset under the same draw as history
        for section, values in over.items():
            if isinstance(values, dict) and section != "calibration":
                for key, value in values.items():
                    if ctx.history.get(section, {}).get(key) != value:
                        _set(data, f"{section}.{key}", copy.deepcopy(value))
        data["events"].extend(copy.deepcopy(over["events"][len(ctx.history["events"]):]))
    return apply


def _weather(name: str, data: dict, ctx: Context) -> None:
    if ctx.values[name]:
        for key in ("agriculture.weather", "agriculture.summer_weather"):
            _set(data, key, {year: 1.0 for year in _get(ctx.history, key) or {}})
        _set(data, "agriculture.severe_hit_yield_loss", 0.0)  # and no province singled out by a drought or flood


def _hukou(name: str, data: dict, ctx: Context) -> None:
    data["events"].append(_event("hukou", parse_month(data["run"]["start"]), None, ctx.values[name],
                                 f"explorer: hukou enforcement {ctx.values[name]}"))


def _retreat(name: str, data: dict, ctx: Context) -> None:
    """Move the whole trajectory of the retreat levers from 1960-11 to the chosen month.

    Works on the scenario as built so far (preset and other levers): before a delayed retreat the
    pre-retreat state of 1960-10 goes on; from the new date the 1960-11 onward path follows, shifted.
    """
    hist, new = parse_month(RETREAT_HISTORICAL), parse_month(ctx.values[name])
    first, last = parse_month(data["run"]["start"]), parse_month(data["run"]["end"])
    delta = new - hist
    begin = max(min(new, hist), first)
    for lever in RETREAT_LEVERS:
        current = lever_path(data, lever, first, last)
        path = []
        for m in range(begin, last + 1):
            src = hist - 1 if m < new else min(m - delta, last)
            path.append(current[max(src, first) - first])
        k = 0
        while k < len(path):  # one event per run of equal values
            j = k
            while j + 1 < len(path) and path[j + 1] == path[k]:
                j += 1
            data["events"].append(_event(lever, begin + k, begin + j if j + 1 < len(path) else None, path[k],
                                         f"explorer: retreat moved to {ctx.values[name]}"))
            k = j + 1


# ------------------------------------------------------------------ the table
@dataclass(frozen=True)
class WebLever:
    """One lever of the page: how it is shown, its historical value and what it changes."""
    name: str
    label: str
    group: str
    kind: str                      # "range" (a number), "toggle" (true/false) or "month" ("YYYY-MM")
    unit: str
    lo: Any
    hi: Any
    step: float
    explanation: str
    source: str
    changes: tuple[str, ...]       # engine levers ("lever:NAME") or parameters ("section.key") it changes
    historical: Callable[[dict], Any]
    apply: Callable[[str, dict, Context], None]
    percent: bool = field(default=False)  # show a 0..1 share as a percentage

    def describe(self, history: dict) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "group": self.group, "kind": self.kind, "unit": self.unit,
                "min": self.lo, "max": self.hi, "step": self.step, "historical": self.historical(history),
                "explanation": self.explanation, "source": self.source, "changes": list(self.changes),
                "percent": self.percent}


def _const(value: Any) -> Callable[[dict], Any]:
    return lambda history: value


def _first_import_month(history: dict) -> str:
    big = [ev for ev in _events_of(history, "imports") if ev["value"] >= 100 and ev["start"] >= "1959-01"]
    return min((ev["start"] for ev in big), default="1961-01")


def _round(fn: Callable[[dict], float], digits: int = 4) -> Callable[[dict], float]:
    return lambda history: round(fn(history), digits)


def _scaled(name: str, label: str, group: str, unit: str, hi: float, step: float, explanation: str, source: str,
            levers: tuple[str, ...], year: int | None = None, percent: bool = False) -> WebLever:
    """A lever that scales the historical events of ``levers`` so that the peak of the first becomes its value."""
    peak = lambda h: _peak(h, levers[0], year)  # noqa: E731
    return WebLever(name, label, group, "range", unit, 0.0, hi, step, explanation, source,
                    tuple(f"lever:{x}" for x in levers), _round(peak), _scaler(levers, peak), percent)


def _toggle(name: str, label: str, group: str, explanation: str, source: str, changes: tuple[str, ...],
            historical: Callable[[dict], Any], apply: Callable[[str, dict, Context], None]) -> WebLever:
    """An on/off lever."""
    return WebLever(name, label, group, "toggle", "", False, True, 1, explanation, source, changes, historical, apply)


_L = WebLever
LEVER_TABLE: dict[str, WebLever] = {lever.name: lever for lever in (
    # -- reports and quotas: what the centre hears and what it takes
    _L("procurement_rate", "Procurement rate", "Reports and quotas", "range", "share of believed output", 0.1, 0.6, 0.01,
       "Share of the harvest the centre believes in that the state takes as tax and compulsory purchase, 1958 until the retreat.",
       "State procurement reached 37.7% of real output in 1959 (Lin & Yang 2000; china_grain_procurement_retention).",
       ("lever:procurement_rate",), _round(lambda h: lever_at(h, "procurement_rate", "1959-06")), _procurement, True),
    _toggle("flexible_quotas", "Quotas follow the real harvest", "Reports and quotas",
            "Off (history): quotas are fixed in January from reported output. On: the state takes its rate of the true harvest.",
            "Quotas were set before the harvest from inflated reports (Bernstein 1984; Yang 2012, Tombstone).",
            ("planning.flexible_quotas",), _const(False), _flexible),
    _L("honest_reporting", "Honest reporting", "Reports and quotas", "range", "share of inflation removed", 0.0, 1.0, 0.05,
       "0 = cadres inflate reports as they did (1958 claims ~375 Mt against ~200 Mt); 1 = every level reports the truth.",
       "Inflation up to 10x in meetings; Henan 1,200 vs ~600 jin/mu (DESIGN.md item 7; Yang 2012).",
       ("reporting.inflation_max", "reporting.province_inflation_max"), _const(0.0), _honesty, True),
    # -- labor and farming: who works the fields, and how
    _scaled("furnace_labor", "Backyard furnaces", "Labor and farming", "peak share of rural labor, autumn 1958", 0.6, 0.01,
            "Share of rural workers pulled from the fields to smelt steel at the 1958 peak (the later, smaller drafts scale with it).",
            "Sep-Dec 1958 campaign: 10.7 Mt steel target, >3 Mt unusable (glf_campaign_quantities.csv).",
            ("furnace_labor",), percent=True),
    _scaled("waterworks_labor", "Water-conservancy works", "Labor and farming", "peak share of rural labor, winter 1957-58",
            0.6, 0.01, "Share of rural workers sent to dig dams and canals in the winter campaigns (later winters scale with it).",
            "Winter 1957-58 water-conservancy campaign (glf_policy_timeline.csv; Dikotter 2010).",
            ("waterworks_labor",), percent=True),
    _scaled("lysenko", "Close cropping and deep plowing", "Labor and farming", "intensity (1 = as in 1958-60)", 1.0, 0.05,
            "Lysenkoist techniques: seeds sown far too densely, fields plowed metres deep, good land left fallow.",
            "Anhui trial fields fell from 400 to under 200 jin/mu with close cropping (DESIGN.md item 4).",
            ("close_cropping", "deep_plowing", "fallow")),
    _scaled("sparrow_campaign", "Sparrow campaign", "Labor and farming", "intensity in 1958", 1.0, 0.05,
            "The Four Pests campaign killed sparrows; without birds, locusts and insects ate the crops of 1959-60.",
            "Hundreds of millions of sparrows killed in 1958 (DESIGN.md item 5; Shapiro 2001).",
            ("sparrow_campaign",), year=1958),
    # -- daily life: who eats what
    _scaled("canteens", "Communal canteens", "Daily life", "peak share of rural people eating in canteens", 1.0, 0.05,
            "Villagers ate in commune canteens from autumn 1958 until mid-1961; the canteen decided who ate what.",
            "Canteens from autumn 1958, dissolved 1961 (glf_policy_timeline.csv; Chang & Wen 1997).",
            ("canteen",), percent=True),
    _toggle("free_eating", "Free eating in autumn 1958", "Daily life",
            "On (history): for a few months canteens let everyone eat their fill, using up the reserves.",
            "Free-eating phase Oct 1958 - Jan 1959 (Chang & Wen 1997; DESIGN.md item 2).",
            ("lever:free_eating",), _const(True), _free_eating),
    # -- trade: grain out and in
    _L("exports", "Grain exports 1959-61", "Trade", "range", "share of the historical exports", 0.0, 2.0, 0.05,
       "China kept exporting grain during the famine (4.2 Mt in 1959) to pay debts to the USSR and keep face.",
       "Net exports 2.66 Mt (1958), 4.16 Mt (1959) (china_grain_trade_1958_1962_kt.csv).",
       ("lever:exports",), _const(1.0),
       _scaler(("exports",), lambda h: 1.0, ("1959-01", "1961-12")), True),
    _L("imports_mt", "Grain imports", "Trade", "range", "Mt per year, from the start month to end-1961", 0.0, 10.0, 0.1,
       "Grain bought from Australia and Canada once the retreat began (5.8 Mt in 1961).",
       "Net imports 4.46 Mt in 1961 (china_grain_trade_1958_1962_kt.csv).",
       ("lever:imports",), _round(lambda h: lever_at(h, "imports", "1961-06") * 12 / 1000, 2), _imports),
    _L("imports_start", "Imports begin", "Trade", "month", "month", "1958-07", "1962-12", 1,
       "When the grain imports start. Earlier imports mean the state admits the famine earlier.",
       "First purchase contracts signed in early 1961 (glf_policy_timeline.csv).",
       ("lever:imports",), _first_import_month, _imports),
    # -- politics, the state and nature
    _toggle("peng_prevails", "Peng Dehuai prevails at Lushan", "Politics",
            "Summer 1959: Peng's letter criticising the Leap wins. No Anti-Right struggle; the cooling of early 1959 goes on.",
            "Lushan conference Jul-Aug 1959 and the Anti-Right-Deviation campaign (glf_policy_timeline.csv); the peng_prevails preset.",
            ("lever:anti_right", "lever:campaign", "lever:enforcement", "lever:relief", "lever:scepticism"),
            _const(False), _overlay("peng_prevails")),
    _L("hukou", "Hukou: villagers kept in place", "Politics", "range", "enforcement index", 0.0, 1.0, 0.05,
       "Household registration: 1 = peasants cannot leave their village to look for food; 0 = they can move.",
       "Hukou system from 1958; escape punished (DESIGN.md item 11).",
       ("lever:hukou",), _round(lambda h: lever_at(h, "hukou", "1959-06")), _hukou),
    _toggle("normal_weather", "Normal weather", "Politics",
            "On: every year's weather is normal. Off (history): the good 1958 and the drought and floods of 1959-61.",
            "Share of the collapse due to weather disputed: Liu Shaoqi '30% nature'; Houser et al. ~31%.",
            ("agriculture.weather", "agriculture.summer_weather", "agriculture.severe_hit_yield_loss"), _const(False),
            _weather),
    _L("retreat", "Date of the retreat", "Politics", "month", "month", "1959-03", "1962-06", 1,
       "When the centre retreats: procurement cut, canteens closed, private plots back, relief sent.",
       "Emergency Directive Letter, Nov 1960; Ninth Plenum, Jan 1961 (glf_policy_timeline.csv).",
       tuple(f"lever:{name}" for name in RETREAT_LEVERS), _const(RETREAT_HISTORICAL), _retreat),
)}
GROUPS = tuple(dict.fromkeys(lever.group for lever in LEVER_TABLE.values()))


@lru_cache(maxsize=1)
def history() -> dict:
    return _preset("historical")


def historical_values() -> dict[str, Any]:
    h = history()
    return {name: lever.historical(h) for name, lever in LEVER_TABLE.items()}


def describe_levers() -> list[dict[str, Any]]:
    h = history()
    return [lever.describe(h) for lever in LEVER_TABLE.values()]


def _under_draw(data: dict, params: dict[str, float]) -> dict:
    """A copy of a scenario dict with a posterior draw's values set. A dated-event key
    (``lever:NAME@YYYY-MM``) whose event the preset does not have (no_great_leap drops the campaign
    events) is left out: that preset has nothing for it to set. Other keys must exist."""
    def has(key: str) -> bool:
        lever, _, start = key[6:].partition("@")
        return any(ev["lever"] == lever and ev["start"] == start for ev in data.get("events", []))
    return apply_params(data, {k: v for k, v in params.items() if not k.startswith("lever:") or has(k)})


# ------------------------------------------------------------------ validation and building
def check_lever(name: str, value: Any) -> Any:
    """The lever's value in canonical form (float, bool or 'YYYY-MM'), or :class:`LeverError`."""
    if name not in LEVER_TABLE:
        raise LeverError(f"levers.{name}", value, f"one of {', '.join(LEVER_TABLE)}")
    lv = LEVER_TABLE[name]
    where = f"levers.{name}"
    if lv.kind == "toggle":
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise LeverError(where, value, "true or false")
    if lv.kind == "month":
        try:
            m = parse_month(str(value))
        except ValueError:
            raise LeverError(where, value, f"a month 'YYYY-MM' from {lv.lo} to {lv.hi}") from None
        if not parse_month(lv.lo) <= m <= parse_month(lv.hi):
            raise LeverError(where, value, f"a month 'YYYY-MM' from {lv.lo} to {lv.hi}")
        return month_label(m)
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise LeverError(where, value, f"a number from {lv.lo} to {lv.hi} ({lv.unit})") from None
    if not lv.lo <= number <= lv.hi:  # also refuses NaN
        raise LeverError(where, value, f"{lv.lo} .. {lv.hi} ({lv.unit})")
    return number


def check_levers(levers: dict[str, Any]) -> dict[str, Any]:
    """Every requested lever checked; those equal to their historical value are dropped."""
    hist = historical_values()
    out = {}
    for name, value in levers.items():
        value = check_lever(name, value)
        if value != hist[name]:
            out[name] = value
    return {name: out[name] for name in LEVER_TABLE if name in out}


def check_preset(name: Any) -> str:
    names = builtin_names()
    if not isinstance(name, str) or name not in names:
        raise LeverError("scenario", name, f"a built-in scenario: {', '.join(names)}")
    return name


def apply_levers(preset: str, levers: dict[str, Any], params: dict[str, float] | None = None) -> dict:
    """The scenario dict of ``preset`` with the (checked) ``levers`` applied; the retreat goes last.

    ``params`` (a posterior draw: calibration key -> value) are set first, in the preset and in the
    history the levers read, so the levers act on top of the draw.
    """
    moved = check_levers(levers)
    params = params or {}
    data = _under_draw(preset_dict(check_preset(preset)), params)
    ctx = Context({**historical_values(), **moved}, _under_draw(history(), params) if params else history(), params)
    done: set[int] = set()
    order = [n for n in LEVER_TABLE if n != "retreat"] + ["retreat"]
    for name in order:
        lever = LEVER_TABLE[name]
        if name in moved and id(lever.apply) not in done:
            done.add(id(lever.apply))
            lever.apply(name, data, ctx)
    if moved:
        data["name"] = f"{preset}+levers"
        data["description"] = (f"{data.get('description', '')} Explorer levers: "
                               + ", ".join(f"{n} = {v}" for n, v in moved.items())).strip()
    validate_scenario(data, data["name"])
    return data
