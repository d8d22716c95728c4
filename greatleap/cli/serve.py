"""``greatleap serve``: the explorer, a web page where anyone can pull the levers of 1958."""
from __future__ import annotations

import errno
import os
import socket
from pathlib import Path
from typing import Optional

import typer

from greatleap.cli.common import _fail, _state_file, app, console


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "greatleap" / "explorer"


def _check_port(host: str, port: int) -> None:
    """Refuse a port that cannot be bound, with one clear line (exit 2)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        _fail(f"--host = {host!r}: not a known address; allowed: an IP address or host name, e.g. 127.0.0.1")
    with socket.socket(infos[0][0], socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(infos[0][4])
        except OSError as exc:
            why = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            _fail(f"--port = {port}: cannot listen on {host}:{port} ({why}); allowed: a free port, e.g. --port 8766")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this machine only)"),
    port: int = typer.Option(8765, "--port", help="port to listen on"),
    scale: float = typer.Option(20000.0, "--scale", help="the page's default scale (real persons per agent)"),
    seeds: Optional[int] = typer.Option(None, "--seeds", help="seeds per page state, or per posterior draw "
                                        "(the interval of excess deaths; default 4, or 1 with --posterior)"),
    posterior: Optional[str] = typer.Option(None, "--posterior", help="builtin, a posterior folder or CSV: each "
                                            "page state then runs --draws parameter sets x --seeds (intervals "
                                            "carry parameter uncertainty)"),
    draws: int = typer.Option(8, "--draws", help="with --posterior: parameter sets per page state (1 .. 50)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="runs at once (default: number of cores)"),
    queue: Optional[int] = typer.Option(None, "--queue", help="requests that may wait for a worker (default 4 x workers)"),
    run_timeout: float = typer.Option(60.0, "--run-timeout", help="time limit of one run, seconds"),
    cache: Optional[Path] = typer.Option(None, "--cache", help="cache folder (default ~/.cache/greatleap/explorer)"),
    precompute: bool = typer.Option(True, "--precompute/--no-precompute",
                                    help="compute the Shapley breakdown of the built-in scenarios in the background"),
    why_scale: float = typer.Option(50000.0, "--why-scale", help="coarse scale of the Shapley runs"),
    why_permutations: int = typer.Option(8, "--why-permutations",
                                         help="sampled orderings for the Shapley breakdown of moved levers"),
) -> None:
    """Start the explorer: a web page with the levers of 1958, charts and the API behind them."""
    try:
        import uvicorn

        from greatleap.web.app import create_app
        from greatleap.web.service import Config
    except ModuleNotFoundError as exc:
        _fail(f"the explorer needs the 'web' extra ({exc.name} is missing); install it: pip install -e \".[web]\"")
    seeds = seeds if seeds is not None else 1 if posterior else 4  # with draws, N x 1 runs by default
    for name, value, lo, hi in (("--port", port, 1, 65535), ("--scale", scale, 1000, 100000),
                                ("--seeds", seeds, 1, 20), ("--workers", 1 if workers is None else workers, 1, 256),
                                ("--queue", 0 if queue is None else queue, 0, 10000), ("--run-timeout", run_timeout, 1, 3600),
                                ("--why-scale", why_scale, 1000, 100000), ("--why-permutations", why_permutations, 1, 1000)):
        if not lo <= value <= hi:
            _fail(f"{name} = {value!r}: allowed {lo:g} .. {hi:g}")
    from greatleap.cli.draws import posterior_or_fail
    from greatleap.scenario import load_scenario
    post = posterior_or_fail(posterior, draws, load_scenario("historical"), most=50)
    cache = _state_file("--cache", cache or default_cache(), folder=True)
    _check_port(host, port)
    config = Config(cache_dir=cache, scale=scale, seeds=seeds, workers=workers or os.cpu_count() or 1,
                    queue=queue, run_timeout=run_timeout, why_scale=why_scale,
                    why_permutations=why_permutations, precompute=precompute, posterior=post, draws=draws)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"[bold]greatleap explorer[/] on http://{shown}:{port}/  ({config.workers} run workers; "
                  f"cache {config.cache_dir}; Ctrl-C to stop)\n{config.uncertainty()}", highlight=False)
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning")
