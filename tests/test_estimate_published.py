"""The published estimates: one test per estimate the shipped series can check, and every other one explained.

A test named after an estimate fails if the shipped series or the method stop giving the
published figure to the precision published (exact checks), or stop bracketing it between the
usual anchor choices when the author's anchors are not stated (bracketed checks).
"""
from pathlib import Path

import numpy as np
import pytest

from greatleap.analysis import estimate as est
from greatleap.analysis.estimate import published

README = Path(__file__).resolve().parents[1] / "README.md"
CHECKS = {c.key: c for c in published.CHECKS}


def check(key):
    c = CHECKS[key]
    values = c.compute()
    if c.status == "exact":
        assert round(values[0] / c.precision) * c.precision == pytest.approx(c.published), values
    else:
        assert min(values) <= c.published <= max(values), values
        assert max(values) - min(values) < 0.25 * c.published   # the anchor choice matters, but not wildly
    return values


def test_banister_1987_30_million():
    values = check("banister_1987_30_million")
    assert sum(round(v) == 30 for v in values) == 2     # 1957->1963 and 1956-57->1962-63 round to the figure


def test_banister_1987_registered_15_million():
    check("banister_1987_registered_15_million")


def test_coale_1984_registered_16_million():
    values = check("coale_1984_registered_16_million")
    assert sum(round(v) == 16 for v in values) == 3


def test_anhui_gazetteer_deaths_1959_1961():
    check("anhui_gazetteer_deaths_1959_1961")


def test_every_check_has_its_test():
    names = {n for n in globals() if n.startswith("test_")}
    assert {f"test_{k}" for k in CHECKS} <= names


def test_every_published_row_is_checked_or_explained():
    assert published.coverage() == []
    rows = published.published_estimates()
    assert len(rows) == len(published.NOT_REPRODUCIBLE)


def test_readme_lists_every_estimate_and_check():
    text = " ".join(README.read_text(encoding="utf-8").split())
    for author, _ in published.NOT_REPRODUCIBLE:
        assert author in text, author
    for c in published.CHECKS:
        for v in c.compute():
            assert f"{v:.2f}" in text, (c.key, v)


def test_thirty_million_needs_the_reconstructed_series():
    off, ban = est.series_by_name("official-1983"), est.series_by_name("banister")
    for method in (lambda s: est.interpolation(s, (1957,), (1962,), (1958, 1961)),
                   lambda s: est.average(s, (1957, 1962), (1958, 1961))):
        assert method(off).total < 18e6 and 27e6 < method(ban).total < 34e6


def test_official_1983_is_the_release_banister_called_registered():
    """The identification of official-1983: Banister 1984's registered rates are it, rounded, every year."""
    off = est.series_by_name("official-1983")
    rev = est.series_by_name("official-revised")
    from greatleap import data

    ban = data.banister_rates().set_index("year")
    years = [y for y in off.years if y in ban.index]
    i = [list(off.years).index(y) for y in years]
    assert np.allclose(np.round(off.published_cbr[i] + 1e-9, 1), ban.loc[years, "cbr_registered"])
    assert np.allclose(np.round(off.published_cdr[i] + 1e-9, 1), ban.loc[years, "cdr_registered"])
    j = [list(rev.years).index(y) for y in (1962, 1963, 1966)]
    assert not np.allclose(np.round(rev.published_cbr[j], 1), ban.loc[[1962, 1963, 1966], "cbr_registered"])
