"""Benchmark the explorer: how long a lever change takes to show new charts at the page's scale.

Usage: python bench/bench_web.py [--scale 20000] [--changes 30] [--no-browser] [--posterior P [--draws 8]]

Starts ``greatleap serve`` (fresh cache, no background precompute) on a free port and moves the
procurement-rate lever one step at a time (each step a new, uncached scenario):
- api: POST /api/run of the new state, seed 1 (the run the page waits for; history is cached);
- page: in headless Chromium (if Playwright and Debian's chromium are there), from the key press
  on the slider to the redrawn charts (the page's first render; further seeds follow in the
  background). The page waits for those seeds before the next move, as a reader would. The
  time the page spends drawing (Plotly) is reported apart.
- interval (always): POST /api/excess of the new state: every run behind the page's interval
  (seeds, or with --posterior draws x seeds; history under the same draws and seeds is cached after
  the first state), as the page has them when its headline interval is complete.
Prints median and 95th percentile, the machine's load and core count, as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def _summary(times: list[float]) -> dict:
    s = sorted(times)
    return {"n": len(s), "median_s": round(statistics.median(s), 3),
            "p95_s": round(s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))], 3), "max_s": round(s[-1], 3)}


def bench_api(url: str, scale: float, changes: int) -> dict:
    _post(f"{url}/api/run", {"scenario": "historical", "seed": 1, "scale": scale})  # history, as the page has it
    times = []
    for k in range(changes):
        rate = round(0.25 + 0.01 * k, 2)
        t0 = time.perf_counter()
        out = _post(f"{url}/api/run", {"levers": {"procurement_rate": rate}, "seed": 1, "scale": scale})
        times.append(time.perf_counter() - t0)
        assert not out["meta"]["cached"]
    return _summary(times)


def bench_interval(url: str, scale: float, changes: int) -> dict:
    _post(f"{url}/api/excess", {"scenario": "historical", "seed": 1, "scale": scale})  # history's runs
    times = []
    for k in range(changes):
        t0 = time.perf_counter()
        out = _post(f"{url}/api/excess", {"levers": {"hukou": round(0.5 + 0.01 * k, 2)}, "seed": 1, "scale": scale})
        times.append(time.perf_counter() - t0)
    return {**_summary(times), "runs_per_state": len(out["replicates"]), "uncertainty": out["uncertainty"]}


def bench_page(url: str, changes: int) -> dict | str:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: Playwright not installed"
    if not os.path.isfile(chromium):
        return "skipped: no chromium (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/?waterworks_labor=0")  # steps 0.01 .. 0.29 (history is 0.30): none cached
        page.wait_for_selector("body[data-ready='1']", timeout=300_000)
        times, drawing = [], []
        for _ in range(min(changes, 29)):
            n = int(page.get_attribute("body", "data-renders"))
            page.locator("#in-waterworks_labor").focus()
            page.evaluate("window.__t0 = performance.now()")
            page.keyboard.press("ArrowRight")
            page.wait_for_function(f"Number(document.body.dataset.renders) > {n}", timeout=120_000, polling="raf")
            times.append(page.evaluate("performance.now() - window.__t0") / 1000)
            drawing.append(page.evaluate("explorer.drawMs") / 1000)
            page.wait_for_selector("body[data-ready='1']", timeout=300_000)
        browser.close()
    return {**_summary(times), "of_which_drawing_median_s": round(statistics.median(drawing), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=20000.0)
    ap.add_argument("--changes", type=int, default=25, help="lever moves to time (the page: at most 29)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--posterior", help="serve --posterior (builtin, a folder or CSV)")
    ap.add_argument("--draws", type=int, default=8)
    args = ap.parse_args()
    extra = ["--posterior", args.posterior, "--draws", str(args.draws)] if args.posterior else []
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cache = tempfile.mkdtemp(prefix="greatleap-bench-web-")
    proc = subprocess.Popen([sys.executable, "-c", "from greatleap.cli import main; main()", "serve", "--port",
                             str(port), "--cache", cache, "--no-precompute", "--scale", str(args.scale), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=5) as r:
                    if json.loads(r.read())["pool"]["ready"] >= 1:
                        break
            except OSError:
                time.sleep(0.3)
        load_before = os.getloadavg()
        result = {"scale": args.scale, "cores": os.cpu_count(), "load_avg_1_5_15_before": load_before,
                  "api_lever_change": bench_api(url, args.scale, args.changes),
                  "api_interval": bench_interval(url, args.scale, args.changes)}
        if not args.no_browser:
            result["page_lever_change"] = bench_page(url, args.changes)
        result["load_avg_1_5_15_after"] = os.getloadavg()
        print(json.dumps(result, indent=2))
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
