"""The explorer in a real browser: Playwright drives Debian's headless Chromium against the real
server (``greatleap serve``) on a free local port. Screenshots go to each test's tmp folder.

Skips, saying why, when Playwright, the browser or the web extra is missing
(``apt-get install chromium``; ``pip install -e '.[test,web]'``).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the explorer needs the 'web' extra: pip install -e '.[web]'")
pytest.importorskip("uvicorn", reason="the explorer needs the 'web' extra: pip install -e '.[web]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests need Playwright: pip install playwright")

CHROMIUM = os.environ.get("GREATLEAP_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SERVE = "from greatleap.cli import main; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@contextmanager
def _serve(cache: Path, log_path: Path, *args: str):
    """``greatleap serve ARGS`` in a subprocess on a free port; its URL once both run workers are ready."""
    port = _free_port()
    cache.mkdir(exist_ok=True)
    log = open(log_path, "w+")
    proc = subprocess.Popen([sys.executable, "-c", SERVE, "serve", "--port", str(port), "--cache", str(cache),
                             "--no-precompute", "--workers", "2", *args], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + 300
        while True:
            try:
                if _get(f"{url}/api/health")["pool"]["ready"] >= 2:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > end:
                log.seek(0)
                pytest.fail(f"the server did not start:\n{log.read()}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()  # the cache is shared with test_web_api (cached runs)
    with _serve(base / "explorer-cache", base / "serve.log", "--scale", "50000", "--seeds", "3",
                "--why-scale", "100000", "--why-permutations", "3") as url:
        yield url


@pytest.fixture(scope="module")
def posterior_server(tmp_path_factory):
    """The explorer on the shipped posterior, two draws: its particles are spread over the priors, so the two
    parameter sets differ materially (a tiny fitted posterior's last particles can be near-copies of one
    particle, whose runs at this coarse scale come out identical)."""
    base = tmp_path_factory.getbasetemp()
    with _serve(base / "explorer-cache", base / "serve-posterior.log", "--scale", "100000",
                "--posterior", "builtin", "--draws", "2") as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's browser with 'apt-get install -y chromium'")
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start is a skip with its reason
            pytest.skip(f"Chromium at {CHROMIUM} could not be started by Playwright: {exc}")
        yield b
        b.close()


def _page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("request", lambda r: errors.append(f"off-machine request: {r.url}")
            if not r.url.startswith(("http://127.0.0.1", "data:")) else None)
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    return page, errors


def _excess(page) -> float:
    return float(page.get_attribute("#excess", "data-value"))


def _trace(page, chart: str, name: str) -> dict:
    traces = page.evaluate(f"document.getElementById('{chart}').data.map(t => ({{name: t.name, x: t.x, y: t.y}}))")
    return {int(x): y for t in traces if t["name"] == name for x, y in zip(t["x"], t["y"])}


GRAIN = {"grown": "grain_harvest_mt", "reported": "grain_reported_province_mt",
         "believed by the centre": "grain_believed_mt", "taken by the state": "procurement_mt"}


def _traces(page, chart: str) -> dict:
    js = f"document.getElementById('{chart}').data.map(t => [t.name, {{x: t.x, y: t.y, ex: t.error_x, ey: t.error_y}}])"
    return dict(page.evaluate(js))


def _whiskers(values, err) -> tuple[list, list]:
    """(low, high) of error bars drawn around values."""
    return [v - m for v, m in zip(values, err["arrayminus"])], [v + p for v, p in zip(values, err["array"])]


def _assert_every_chart_shows_the_range(page, over: str) -> None:
    """Each of the grain, retention, provinces and age/class charts draws the range over the runs behind the
    interval (``over``: the headline's words): lowest <= the drawn first run <= highest at every point, the
    bounds are the min and max of the runs the page recorded, and the chart says what the range is over."""
    runs = page.evaluate("Object.values(explorer.perSeed[explorer.shownKey])")
    n = len(runs)
    assert n >= 2 and f"range over {over}" in page.inner_text("#excess-interval")
    first = page.evaluate("explorer.current")
    width = 0.0

    def check_band(chart, name, values_of, drawn):
        nonlocal width
        t = _traces(page, chart)
        lo, hi = t[f"{name}: lowest of {over}"]["y"], t[f"{name}: range over {over}"]["y"]
        assert t[f"{name}: range over {over}"]["x"] == t[name]["x"]
        per_point = list(zip(*map(values_of, runs)))  # each point's values over the runs
        assert lo == [min(vs) for vs in per_point] and hi == [max(vs) for vs in per_point]
        assert t[name]["y"] == drawn and all(a <= v <= b for a, v, b in zip(lo, drawn, hi))
        width += sum(b - a for a, b in zip(lo, hi))

    for name, col in GRAIN.items():
        check_band("chart-grain", name, lambda r, col=col: r[col], first["annual"][col])
    kept = "rural_retention_kg"
    check_band("chart-retention", "this scenario", lambda r: r[kept], first["annual"][kept])
    check_band("chart-deaths", "true", lambda r: r["cdr_true"], first["annual"]["cdr_true"])

    bars = _traces(page, "chart-provinces")["this scenario"]  # largest at the top: the first run's order, reversed
    assert bars["y"] == first["provinces"]["province"][::-1]
    lo, hi = _whiskers(bars["x"], bars["ex"])
    for name, a, v, b in zip(bars["y"], lo, bars["x"], hi):
        deaths = [r["provinces"][name] / 1e3 for r in runs]
        assert a == pytest.approx(min(deaths), abs=1e-6) and b == pytest.approx(max(deaths), abs=1e-6)
        assert a - 1e-9 <= v <= b + 1e-9
    width += sum(b - a for a, b in zip(lo, hi))

    ages = _traces(page, "chart-ageclass")
    total = ages[f"all classes: range over {over}"]
    stacked = [sum(ages[c]["y"][i] for c in ("ordinary", "cadres", "black elements")) for i in range(6)]  # age groups
    assert total["y"] == pytest.approx(stacked, rel=1e-9)  # the whiskers sit on the stack's top
    lo, hi = _whiskers(total["y"], total["ey"])
    for i, (a, v, b) in enumerate(zip(lo, total["y"], hi)):
        deaths = [r["age_deaths"][i] / 1e6 for r in runs]
        assert a == pytest.approx(min(deaths), abs=1e-9) and b == pytest.approx(max(deaths), abs=1e-9)
        assert a - 1e-9 <= v <= b + 1e-9
    width += sum(b - a for a, b in zip(lo, hi))
    assert width > 0  # the runs differ: the ranges are not the first run drawn twice

    notes = page.locator(".range-note")
    assert notes.count() == 6
    for i in range(6):
        assert f"range over {over}" in notes.nth(i).inner_text()
        assert notes.nth(i).get_attribute("data-runs") == str(n)


def test_a_lever_moved_by_keyboard_redraws_against_history_and_the_link_reproduces_the_page(server, browser, tmp_path):
    page, errors = _page(browser, server + "/")
    page.screenshot(path=str(tmp_path / "history.png"), full_page=True)
    assert page.get_attribute("#excess", "data-seeds") == "3"
    history = _excess(page)
    assert history > 5e6
    assert "This is history" in page.inner_text("#excess-change")
    true_cdr = _trace(page, "chart-deaths", "true")
    official = _trace(page, "chart-deaths", "official (registered)")
    assert true_cdr[1960] > 2 * true_cdr[1957] and official[1960] == pytest.approx(25.43, abs=0.1)
    assert len(page.evaluate("document.getElementById('chart-provinces').data[1].y")) == 29
    _assert_every_chart_shows_the_range(page, "3 seeds")

    renders = int(page.get_attribute("body", "data-renders"))
    slider = page.locator("#in-honest_reporting")
    slider.focus()
    page.keyboard.press("End")  # a real keyboard move of the slider to 100% honest
    page.wait_for_function(f"Number(document.body.dataset.renders) > {renders} && document.body.dataset.ready === '1'",
                           timeout=120_000)
    page.screenshot(path=str(tmp_path / "honest.png"), full_page=True)
    assert "honest_reporting=1" in page.url
    assert page.inner_text("#lever-honest_reporting .value") == "100%"
    honest = _excess(page)
    # the page shows the change against history (its direction is the model's: README, Status)
    assert honest != history
    change = float(page.get_attribute("#excess-change", "data-value"))  # mean over seeds of (now - history)
    assert change != 0 and abs(change) < 1e9
    assert "compared with history" in page.inner_text("#excess-change")
    now_cdr, base_cdr = _trace(page, "chart-deaths", "true"), _trace(page, "chart-deaths", "history: true")
    assert now_cdr != base_cdr and base_cdr == true_cdr
    grain = _trace(page, "chart-grain", "reported")
    assert grain[1958] == pytest.approx(_trace(page, "chart-grain", "grown")[1958], rel=0.02)  # no inflation
    toml = page.get_attribute("#dl-toml", "href")
    assert "honest_reporting=1" in toml and page.get_attribute("#dl-csv", "href").endswith("format=csv")

    shared, errors2 = _page(browser, page.url)  # a new tab from the shared link
    assert _excess(shared) == honest
    assert shared.inner_text("#lever-honest_reporting .value") == "100%"
    assert "moved" in shared.get_attribute("#lever-honest_reporting", "class")
    shared.screenshot(path=str(tmp_path / "shared.png"), full_page=True)
    assert not errors and not errors2, errors + errors2


def test_presets(server, browser, tmp_path):
    page, errors = _page(browser, server + "/?scenario=no_great_leap")
    assert "1957 institutions" in page.inner_text("#preset-desc")
    assert _excess(page) < 0.5 * float(page.evaluate("explorer.perSeed[explorer.shownKey][1].base"))
    page.select_option("#preset", "peng_prevails")
    page.wait_for_function("document.body.dataset.ready === '1' && location.search.includes('peng_prevails')",
                           timeout=120_000)
    peng = _excess(page)
    page.locator("#in-canteens").focus()
    page.keyboard.press("Home")  # no canteens on top of the preset
    page.wait_for_function("location.search.includes('canteens=0') && document.body.dataset.ready === '1'",
                           timeout=120_000)
    assert _excess(page) != peng and "moved" in page.get_attribute("#lever-canteens", "class")
    page.screenshot(path=str(tmp_path / "peng-no-canteens.png"), full_page=True)
    assert not errors, errors


def test_why_with_progress(server, browser, tmp_path):
    page, errors = _page(browser, server + "/?canteens=0.3")
    assert "Not computed yet" in page.inner_text("#why-status")
    page.click("#why-run")
    page.wait_for_selector("#why-progress:not([hidden])", timeout=60_000)
    page.wait_for_function("document.getElementById('why-progress').value > 0", timeout=120_000)
    page.screenshot(path=str(tmp_path / "why-progress.png"), full_page=True)
    page.wait_for_selector("#chart-why[data-total]", timeout=300_000)
    assert "3 sampled orderings" in page.inner_text("#why-status")
    bars = page.evaluate("document.getElementById('chart-why').data[0].x")
    assert len(bars) == 9
    assert sum(bars) * 1e6 == pytest.approx(float(page.get_attribute("#chart-why", "data-total")), rel=1e-6)
    page.screenshot(path=str(tmp_path / "why.png"), full_page=True)
    assert not errors, errors


def test_a_bad_request_is_refused(server, browser, tmp_path):
    page, errors = _page(browser, server + "/?procurement_rate=5")
    message = page.inner_text("#error")
    assert "levers.procurement_rate" in message and "0.1 .. 0.6" in message and "5" in message
    page.screenshot(path=str(tmp_path / "refused.png"))
    r = page.request.post(server + "/api/run", data={"scenario": "historical", "seed": -3})
    assert r.status == 422 and r.json()["field"] == "seed"
    r = page.request.post(server + "/api/run", data={"scenario": "../../etc/passwd"})
    assert r.status == 422 and r.json()["field"] == "scenario"


def test_the_page_says_its_intervals_carry_parameter_uncertainty(posterior_server, browser, tmp_path):
    page, errors = _page(browser, posterior_server + "/?retreat=1959-06")
    note = page.inner_text("#uncertainty")
    assert "2 parameter sets from the posterior x 1 seed each" in note and "parameter and seed uncertainty" in note
    assert page.get_attribute("#excess", "data-seeds") == "2"  # 2 draws x 1 seed (the default with a posterior)
    assert "range over 2 runs (parameter sets x seeds)" in page.inner_text("#excess-interval")
    assert set(page.evaluate("Object.keys(explorer.perSeed[explorer.shownKey])")) == {"0:1", "1:1"}
    over = "2 runs (parameter sets x seeds)"
    lo, hi = (_trace(page, "chart-deaths", f"true: {name} {over}") for name in ("lowest of", "range over"))  # band
    cdr = [r["cdr_true"] for r in page.evaluate("Object.values(explorer.perSeed[explorer.shownKey])")]
    assert hi[1960] == max(c[3] for c in cdr) and lo[1960] == min(c[3] for c in cdr) and hi[1960] > lo[1960]
    _assert_every_chart_shows_the_range(page, over)
    assert "calibrated point" in page.inner_text("#why-point")  # the Shapley breakdown is not over the draws
    page.screenshot(path=str(tmp_path / "posterior.png"), full_page=True)
    assert not errors, errors
