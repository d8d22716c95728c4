"""Shared pieces of the command line: the Typer app, consoles, errors, progress bars, folders.

Bad input (scenario file, arguments) exits with code 2 and one line per error naming the key,
the value and what is allowed; nothing is written. Ctrl-C (or SIGTERM) prints one line and exits
130 (143) with nothing half-written. Results are written atomically; a full disk exits 1 naming
the device and the file. User text is never read as Rich markup.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from greatleap import __version__, interrupt
from greatleap.io import (DestinationError, OutputError, check_destination, file_problem, folder_problem,
                          safe_folder_name)
from greatleap.scenario import ScenarioError, load_scenario

try:  # recent Typer vendors Click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older Typer on Click
    import click.exceptions
    ClickException = click.exceptions.ClickException
    NoArgsIsHelpError = getattr(click.exceptions, "NoArgsIsHelpError", ())

# wide enough for the summary tables when the output is a file or a pipe
console = Console() if sys.stdout.isatty() else Console(width=170)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=170)


def say_error(message: str) -> None:
    """Print an error, one line per line of the message, never read as markup."""
    for line in str(message).splitlines() or [""]:
        err.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)


class _Group(TyperGroup):
    """Usage errors as one line; interrupts, full disks and warnings handled for every command."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra: Any) -> Any:
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
        except ClickException as exc:
            if NoArgsIsHelpError and isinstance(exc, NoArgsIsHelpError):
                console.print(exc.format_message(), markup=False, highlight=False)
            else:
                message = " ".join(exc.format_message().split()).rstrip(".")
                where = getattr(getattr(exc, "ctx", None), "command_path", "greatleap")
                say_error(message + ("" if "allowed" in message else f"; allowed: see '{where} --help'"))
            if not standalone_mode:
                raise
            sys.exit(exc.exit_code)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv

    def invoke(self, ctx) -> Any:
        from greatleap.io import DiskFullError

        def show(message, category, filename, lineno, file=None, line=None) -> None:
            err.print(f"[yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)

        with interrupt.handle_signals(), warnings.catch_warnings():
            warnings.showwarning = show  # our warnings (cache, scenario) as one line each
            try:
                return super().invoke(ctx)
            except interrupt.Interrupted as exc:
                err.print(f"{exc}: stopped; nothing half-written", highlight=False)
                raise typer.Exit(exc.exit_code) from None
            except DiskFullError as exc:
                say_error(exc.strerror or str(exc))
                raise typer.Exit(1) from None
            except DestinationError as exc:  # --out taken or made unwritable while the command ran
                say_error(exc.describe("--out"))
                raise typer.Exit(2) from None
            except OutputError as exc:
                say_error(exc.strerror or str(exc))
                raise typer.Exit(1) from None


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="greatleap: simulate the Great Leap Forward and the famine it caused.")


@app.callback(invoke_without_command=True)
def _root(version: bool = typer.Option(False, "--version", help="print the version and exit", is_eager=True)) -> None:
    """greatleap: simulate the Great Leap Forward and the famine it caused."""
    if version:
        console.print(f"greatleap {__version__}", highlight=False)
        raise typer.Exit(0)
    if "matplotlib" in sys.modules:  # the command line draws to files only
        import matplotlib
        matplotlib.use("Agg")
    else:
        import os
        os.environ.setdefault("MPLBACKEND", "Agg")


def _fail(message: str) -> None:
    say_error(message)
    raise typer.Exit(code=2)


# ------------------------------------------------------------------ argument parsers (one-line errors)
def bounded(kind: type, lo: float, hi: float, what: str = "") -> Callable[[str], Any]:
    """A Typer ``parser``: an int or a finite float within [lo, hi], else a message naming value and range."""
    rng = f"{lo:.15g} .. {hi:.15g}" if kind is float else f"{int(lo)} .. {int(hi)}"
    allowed = f"allowed: {'an integer' if kind is int else 'a number'} {rng}" + (f" ({what})" if what else "")

    def parse(text: Any) -> Any:
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            value = text
        else:
            try:
                value = int(str(text).strip()) if kind is int else float(str(text).strip())
            except ValueError:
                raise typer.BadParameter(f"{str(text)!r} is not {'an integer' if kind is int else 'a number'}; "
                                         f"{allowed}") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise typer.BadParameter(f"{str(text)!r} is not a finite number; {allowed}")
        if not lo <= value <= hi:
            raise typer.BadParameter(f"{str(text)!r} is out of range; {allowed}")
        return kind(value)

    parse.__name__ = kind.__name__
    return parse


SCALE = bounded(float, 1, 1e6, "real persons per agent")
SEED = bounded(int, 0, 2**62, "random seed")
SEEDS = bounded(int, 1, 1000, "ensemble size")
JOBS = bounded(int, 1, 1024, "worker processes; more than the cores are capped")
TRIALS = bounded(int, 1, 1_000_000, "finished trials")
PERMUTATIONS = bounded(int, 0, 100_000, "0 = exact")


def _cluster_address(text: Any) -> str:
    """A Typer ``parser`` for ``--cluster``: the address's form only (connecting comes later)."""
    from greatleap.analysis.cluster import ClusterError, parse_address
    try:
        parse_address(str(text))
    except ClusterError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--cluster = ")) from None
    return str(text).strip()


_cluster_address.__name__ = "str"
CLUSTER = typer.Option(None, "--cluster", parser=_cluster_address,
                       help="run on a Dask cluster: tcp://HOST:PORT (a running 'dask scheduler' with workers) or "
                            "local[:N] (N local worker processes); replaces --jobs")


@contextmanager
def workers(jobs: int, cluster: str | None) -> Iterator[Any]:
    """What runs an ensemble command's model runs: ``--jobs`` local processes (capped at the cores),
    or with ``--cluster`` an open :class:`~greatleap.analysis.cluster.ClusterPool` (exit 2 when the
    scheduler does not answer, has no workers or its workers run other greatleap code). Leaving the
    block (done, error or Ctrl-C) cancels what is still running and disconnects."""
    if cluster is None:
        yield cap_jobs(jobs)
        return
    from greatleap.analysis.cluster import ClusterError, ClusterPool
    try:
        pool = ClusterPool(cluster)
    except ClusterError as exc:
        _fail(str(exc))
    err.print(f"cluster {pool.describe()}", highlight=False)
    try:
        yield pool
    finally:
        pool.close()


def cap_jobs(jobs: int) -> int:
    """``--jobs`` capped at the usable cores (said once)."""
    cores = interrupt.usable_cores()
    if jobs > cores:
        err.print(f"note: --jobs {jobs} capped at {cores}, the number of usable cores", highlight=False)
    return min(jobs, cores)


# ------------------------------------------------------------------ progress and folders
class _ClampedProgress(Progress):
    """A progress bar that never counts past its total."""

    def update(self, task_id, *, completed=None, total=None, **kwargs) -> None:
        limit = total if total is not None else self._tasks[task_id].total
        if completed is not None and limit is not None:
            completed = min(completed, limit)
        super().update(task_id, completed=completed, total=total, **kwargs)


def _progress_bar(out: Console | None = None) -> Progress:
    return _ClampedProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=out or console)


def _new_folder(out: Path, replace: frozenset[str] = frozenset()) -> Path:
    """Refuse an output folder that cannot be written (exists with something in it, a file or a link,
    under a file, read-only, a mount point): exit 2 before any work, nothing written. If another process
    takes the folder while the command works, the result is kept beside it (``OUT-2``) and the command
    exits 2 saying where (:func:`greatleap.io.atomic_folder`)."""
    problem = check_destination(out, replace)
    if problem is not None:
        _fail(f"--out = {str(out)!r}: {problem}")
    return out


def _state_file(key: str, path: Path, folder: bool = False) -> Path:
    """Refuse a file kept between runs (a study, history or store; with ``folder``, a cache folder) that
    cannot be made or written: a folder (a file), under a file, read-only. Exit 2 before any work,
    nothing written."""
    problem = (folder_problem if folder else file_problem)(path)
    if problem is not None:
        _fail(f"{key} = {str(path)!r}: {problem}")
    return path


def _default_folder(kind: str, name: str = "") -> Path:
    """runs/<kind>-<safe name>-<time>, unique."""
    stem = "-".join(p for p in (kind, safe_folder_name(name) if name else "", time.strftime("%Y%m%d-%H%M%S")) if p)
    out, k = Path("runs") / stem, 2
    while out.exists():
        out, k = Path("runs") / f"{stem}-{k}", k + 1
    return out


def _load_all(names: list[str]):
    try:
        return [load_scenario(n) for n in names]
    except ScenarioError as exc:
        _fail(str(exc))
