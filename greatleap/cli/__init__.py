"""Command line: ``greatleap run [SCENARIO] [--scale N] [--seed N] [--out DIR]`` and the analyses.

One module per group of commands (``run``, ``analysis``, ``estimate``, ``uncertainty``); they register on the
shared Typer ``app`` of :mod:`greatleap.cli.common`.
"""
from __future__ import annotations

import sys

from greatleap.cli import run  # noqa: F401,I001  (registers run, plan, params, scenarios first)
from greatleap.cli import analysis, estimate  # noqa: F401,E402
from greatleap.cli import serve  # noqa: F401,E402  (the explorer; needs the 'web' extra only when run)
from greatleap.cli import uncertainty  # noqa: F401,E402  (posterior-report, sensitivity)
from greatleap.cli.common import app, err


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; no results written")
        sys.exit(130)


__all__ = ["app", "main"]
