"""Shared pieces of the command line: the Typer app, consoles, errors, progress bars, folders.

Bad input (scenario file, arguments) exits with code 2 and a message naming the key, the value
and what is allowed; nothing is written. Results are written atomically.
"""
from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from greatleap.scenario import ScenarioError, load_scenario

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="greatleap: simulate the Great Leap Forward and the famine it caused.")
# wide enough for the summary tables when the output is a file or a pipe
console = Console() if sys.stdout.isatty() else Console(width=170)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=170)


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def _new_folder(out: Path) -> Path:
    """Refuse an output folder that exists with something in it (exit 2, nothing written)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        _fail(f"--out = {str(out)!r}: exists and is not an empty folder; allowed: a new or empty folder")
    return out


def _load_all(names: list[str]):
    try:
        return [load_scenario(n) for n in names]
    except ScenarioError as exc:
        _fail(str(exc))
