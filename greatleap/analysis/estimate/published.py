"""The published estimates, and which of them the shipped series can reproduce.

Each row of ``china_famine_excess_death_estimates.csv`` is either checked here (a :class:`Check`,
with a test named after it) or listed in :data:`NOT_REPRODUCIBLE` with the reason. A check is
``exact`` when the published figure follows from shipped inputs by a stated method to the
precision published, or ``bracketed`` when the method is stated but not its anchors: then the
usual anchor choices are computed and the published figure must lie within them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from greatleap import data
from greatleap.analysis.estimate import methods as m
from greatleap.analysis.estimate.catalog import series_by_name

ANCHORS = (((1957,), (1962,)), ((1957,), (1963,)), ((1956, 1957), (1962, 1963)),
           ((1955, 1956, 1957), (1962, 1963, 1964)))


def published_estimates():
    """The shipped table of published excess-death estimates (with sources and confidence flags)."""
    rows = data.read_sourced_csv("china_famine_excess_death_estimates.csv",
                                 ("estimate_million", "author", "year_published", "period", "confidence"))
    rows["year_published"] = rows.year_published.fillna("n/a").astype(str)
    return rows


def _bracket(series: str, period: tuple[int, int]) -> list[float]:
    s = series_by_name(series)
    return [m.interpolation(s, pre, post, period).total / 1e6 for pre, post in ANCHORS]


@dataclass(frozen=True)
class Check:
    """A published figure and how the shipped series reproduce (or bracket) it; values in millions."""
    key: str
    author: str
    published: float
    precision: float
    status: str
    how: str
    compute: Callable[[], list[float]]


CHECKS = (
    Check("banister_1987_30_million", "Judith Banister", 30.0, 1.0, "bracketed",
          "interpolation between pre- and post-Leap rates (her method as summarised by the secondary sources; "
          "anchors not stated there) on her 1984 Table 5 rates and the official-1983 mid-year population, 1958-1961; "
          "anchors 1957->1962, 1957->1963, 1956-57->1962-63, 1955-57->1962-64",
          lambda: _bracket("banister", (1958, 1961))),
    Check("banister_1987_registered_15_million", "Judith Banister", 15.0, 1.0, "bracketed",
          "her registered-data step (15 M implied by the official series): the same four interpolations on "
          "official-1983, 1958-1961", lambda: _bracket("official-1983", (1958, 1961))),
    Check("coale_1984_registered_16_million", "Ansley Coale", 16.0, 1.0, "bracketed",
          "his registered-data step (16 M before his adjustment to 27 M): the same four interpolations on "
          "official-1983 over his period 1958-1963 (he used July-June years; these are calendar years)",
          lambda: _bracket("official-1983", (1958, 1963))),
    Check("anhui_gazetteer_deaths_1959_1961", "Anhui gazetteer", 3.033, 0.001, "exact",
          "plain registered deaths 1959-1961 of the anhui series (the gazetteer prints 303.3 wan)",
          lambda: [m.registered(series_by_name("anhui"), (1959, 1961)).total / 1e6]),
)

# (author, year_published) -> why the shipped series cannot reproduce it
NOT_REPRODUCIBLE = {
    ("Peng Xizhe", "1987"): "registered deaths of 14 provinces, not shipped (several provinces' famine years are "
                            "withheld on purpose); the national registered step is the pre-famine method",
    ("Ansley Coale", "1984"): "the 27 M rests on his reconstruction, not found at published precision (series "
                              "'coale' unavailable); his 16 M registered-data step is bracketed",
    ("Ashton, Hill, Piazza, Zeitz", "1984"): "their own reconstruction of births and deaths by July-June year "
                                             "(not published as a series we hold)",
    ("Judith Banister", "1987"): "her anchors and population are not stated in the sources we hold: bracketed only",
    ("Cao Shuji", "2005"): "county gazetteers aggregated to prefectures: not shipped",
    ("Cao Shuji", "2004"): "Sichuan county gazetteers, not the provincial series shipped as 'sichuan'",
    ("Yang Jisheng", "2008"): "provincial volumes of Zhongguo Renkou plus others' estimates; method not verified",
    ("Jung Chang & Jon Halliday", "2005"): "method known (average of 1957, 1962, 1963 rates, x each year's "
                                           "population) but applied to rates 'by Chinese demographers' not shipped",
    ("Frank Dikötter", "2010"): "party archives",
    ("Jiang Zhenghua (蒋正华)", "1986-87"): "life-table reconstruction from unpublished data",
    ("Li Chengrui", "1997"): "figure recalled (R), method not verified",
    ("Houser, Sands, Xiao", "2005/2009"): "Bayesian model of a provincial panel",
    ("Yao Shujie", "1999"): "formula known (previous year-end population x (actual - expected rate): --exposure "
                            "rate-x-previous) but his expected rates are not in the sources we hold",
    ("range cited by Kung & Lin 2003", "2003"): "a range of others' estimates",
    ("range cited by Meng Qian Yared 2015", "2015"): "a range of others' estimates",
    ("Cheng Enfu & Zhan Zhihua", "2014"): "baseline 1955-57 average deaths with under-reporting corrections that "
                                          "are not stated in the sources we hold",
    ("Yang Songlin", "2021"): "linear-trend baselines on data not stated in the sources we hold",
    ("Kenneth Hill", "1980s"): "known only as summarised by Yang Jisheng",
    ("Gerard Calot", "1980s"): "known only as summarised by Yang Jisheng",
    ("John Aird", "1980s"): "known only as summarised by Yang Jisheng",
    ("Steven Mosher", "1980s"): "known only as summarised by Yang Jisheng",
    ("Chinese Academy of Sciences national-conditions report", "n/a"): "method not stated",
}


def coverage() -> list[tuple[str, str]]:
    """(author, year) of every published row that is neither checked nor explained (should be empty)."""
    rows = published_estimates()
    keys = {(str(a), str(y)) for a, y in zip(rows.author, rows.year_published, strict=True)}
    return sorted(keys - set(NOT_REPRODUCIBLE))
