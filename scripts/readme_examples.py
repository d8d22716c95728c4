"""The numbers in README.md that come from running greatleap: regenerate them, or check them.

    python scripts/readme_examples.py            # check: exit 1 naming the blocks that differ
    python scripts/readme_examples.py --write    # rewrite the marked blocks in README.md
    python scripts/readme_examples.py --status   # also the validation figures (validate --seeds 8)

A block sits between ``<!-- example: NAME -->`` and ``<!-- /example -->``. The ``compare`` and
``decompose`` blocks are made by running the README command shown just above them (exactly as
shown, with ``--out`` and ``--cache`` in a temporary folder); ``status`` by the
Python API (the estimate figures are checked by tests/test_estimate_cli.py). tests/test_readme.py uses the same functions, so README and code cannot drift apart.
Commands too slow for the tests run coarsened by :func:`coarse`.
"""
from __future__ import annotations

import re
import shlex
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCK = re.compile(r"<!-- example: (\w+) -->\n(.*?)<!-- /example -->", re.S)
FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)
WRITES = {"run", "validate", "calibrate", "compare", "decompose"}  # commands with --out
CACHED = {"validate", "compare", "decompose"}                      # commands with --cache
COARSE_SCALE = 100000.0


def console_commands(text: str) -> list[str]:
    """Every ``$ greatleap ...`` line of the README's console blocks, in order."""
    return [line[2:].strip() for lang, body in FENCE.findall(text) if lang == "console"
            for line in body.splitlines() if line.startswith("$ greatleap")]


def example_command(text: str, name: str) -> str:
    """The last console command before the block ``name``."""
    head = text[:text.index(f"<!-- example: {name} -->")]
    return console_commands(head)[-1]


def coarse(args: list[str]) -> list[str]:
    """A command made cheap for the tests: --scale at least 100000 where a scale below 50000 is
    given (or none, for commands that simulate), at most 2 seeds and 2 trials. Worked examples
    (already at --scale 50000 or coarser) are left as they are."""
    out = list(args)

    def setopt(name: str, fn) -> None:
        if name in out:
            k = out.index(name) + 1
            out[k] = fn(out[k])
        elif fn(None) is not None:
            out.extend([name, fn(None)])

    if args[0] in ("run", "validate", "calibrate", "compare", "decompose"):
        setopt("--scale", lambda v: str(COARSE_SCALE) if v is None or float(v) < 50000 else v)
    if args[0] in ("validate", "compare", "decompose", "calibrate"):
        setopt("--seeds", lambda v: None if v is None else str(min(int(v), 2)))
    if args[0] == "calibrate":
        setopt("--trials", lambda v: "2" if v is None else str(min(int(v), 2)))
    return out


def invoke(command: str, workdir: Path, tag: str, cache: Path | None = None):
    """Run a README command (``greatleap ...``) in-process, its outputs under ``workdir``."""
    from typer.testing import CliRunner

    from greatleap.cli import app
    args = shlex.split(command)[1:]
    if args and args[0] in WRITES:
        args += ["--out", str(workdir / tag)]
    if args and args[0] in CACHED:
        args += ["--cache", str(cache or workdir / "cache")]
    if args and args[0] == "calibrate":
        args += ["--storage", str(workdir / f"{tag}.sqlite")]
    return CliRunner().invoke(app, args), workdir / tag


# ------------------------------------------------------------------ the blocks
def _m(x: float) -> str:
    return f"{x / 1e6:.2f}"


def render_compare(folder: Path) -> str:
    s = pd.read_csv(folder / "summary.csv").set_index(["scenario", "metric"])
    rows = ["| scenario | excess deaths, true (M) | registered (M) | lost births (M) | grain 1958–62 (Mt) | "
            "difference (M) |", "|---|---|---|---|---|---|"]
    for name in dict.fromkeys(s.index.get_level_values(0)):
        e = s.loc[(name, "excess_deaths_true")]
        diff = f"{e.diff_mean / 1e6:+.2f}" if e.diff_p05 == e.diff_p95 == e.diff_mean else \
            f"{e.diff_mean / 1e6:+.2f} [{e.diff_p05 / 1e6:+.2f}, {e.diff_p95 / 1e6:+.2f}]"
        rows.append(f"| {name} | {_m(e['mean'])} [{_m(e.p05)}, {_m(e.p95)}] | "
                    f"{_m(s.loc[(name, 'excess_deaths_registered'), 'mean'])} | "
                    f"{_m(s.loc[(name, 'lost_births'), 'mean'])} | {s.loc[(name, 'grain_mt'), 'mean']:.0f} | {diff} |")
    return "\n".join(rows) + "\n"


def render_decompose(folder: Path) -> str:
    sh = pd.read_csv(folder / "shapley.csv")
    co = pd.read_csv(folder / "coalitions.csv")
    total = co[co["size"] == co["size"].max()].value.mean()
    rows = [f"Total {_m(total)} M (mean over seeds of the full coalition); Shapley values add up to it:", "",
            "| mechanism | Shapley (M) | alone (M) | total effect (M) |", "|---|---|---|---|"]
    rows += [f"| {r.mechanism} | {_m(r.shapley)} | {_m(r.effect_alone)} | {_m(r.total_effect)} |"
             for r in sh.itertuples()]
    return "\n".join(rows) + "\n"


def render_status(workdir: Path) -> str:
    import numpy as np

    from greatleap import load_scenario
    from greatleap.analysis.posterior import load_targets_for
    from greatleap.analysis.targets import headline_values, passed_count, score
    from greatleap.analysis.validate import fit_by_group, validate

    ev, runs, _ = validate(load_scenario("historical"), load_targets_for(None, "both"), list(range(1, 9)), 5000.0, 2,
                           cache_dir=workdir / "cache")
    # counted rows only (Sichuan's registered rates are reported beside its verified ones), net trade apart
    by = ev[ev.counted | (ev.name == "net_grain_exports")].groupby("name", sort=False).passed.agg(["sum", "count"])
    got = lambda n: f"{int(by.loc[n, 'sum'])}/{int(by.loc[n, 'count'])}"  # noqa: E731
    groups = {(g.vintage, g.level): f"{g.passed}/{g.targets}" for g in fit_by_group(ev).itertuples()}
    row = lambda name, year: ev[(ev.name == name) & (ev.year == year)].iloc[0]  # noqa: E731
    cdr60, true60, cbr59 = row("cdr", 1960), row("cdr_banister", 1960), row("cbr", 1959)
    passed, total = passed_count(ev)
    excess = np.mean([headline_values(r)["excess_deaths_true_1958_1961"] for r in runs])
    ratio = {y: ev[ev.name == f"reported_to_actual_{y}"].sim_mean.iloc[0] for y in (1958, 1959, 1960)}
    return (f"At validate's default scale (5,000) with 8 seeds (`greatleap validate --seeds 8 --vintage both`) it "
            f"passes {passed} of {total} counted targets (score {score(ev):.2f}; 1 = every target at the edge of its "
            f"tolerance): official national {groups[('official', 'national')]}, Banister's true rates "
            f"{groups[('banister', 'national')]}, provinces {groups[('official', 'provincial')]}, scalar facts "
            f"{groups[('official', 'scalar')]}. Registered CDR {got('cdr')} years (1960: {cdr60.sim_mean:.1f}‰ against "
            f"{cdr60.observed:.1f}‰), true CDR 1960 {true60.sim_mean:.1f}‰ against Banister's {true60.observed:.1f}‰, "
            f"CBR {got('cbr')} (1959: {cbr59.sim_mean:.1f}‰ against {cbr59.observed:.1f}‰), grain output "
            f"{got('grain_output')}, procurement share {got('procurement_share')}, provincial registered CDR "
            f"{got('provincial_cdr')} province-years and Sichuan's re-verified CDR (against the true rate) "
            f"{got('provincial_cdr_verified')}, provincial population 1961 {got('provincial_population_1961')}, "
            f"provincial grain {got('provincial_grain')}; reports {ratio[1958]:.1f}×, {ratio[1959]:.1f}× and "
            f"{ratio[1960]:.1f}× the harvest in 1958-60; net trade, reported but not counted: "
            f"{got('net_grain_exports')}. True excess deaths 1958–61 against the 1957 death rate: ~{excess:.0f} "
            f"million.\n")


def blocks(text: str, workdir: Path, status: bool = False) -> dict[str, str]:
    """The README blocks as the code makes them now."""
    out = {}
    for name in ("compare", "decompose"):
        result, folder = invoke(example_command(text, name), workdir, name)
        if result.exit_code != 0:
            raise RuntimeError(f"{name} example failed: {result.output[-1000:]}")
        out[name] = (render_compare if name == "compare" else render_decompose)(folder)
    if status:
        out["status"] = render_status(workdir)
    return out


def replace_blocks(text: str, new: dict[str, str]) -> str:
    return BLOCK.sub(lambda m: f"<!-- example: {m.group(1)} -->\n{new.get(m.group(1), m.group(2))}<!-- /example -->",
                     text)


def main(argv: list[str]) -> int:
    text = README.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        new = blocks(text, Path(tmp), status="--status" in argv)
    updated = replace_blocks(text, new)
    if "--write" in argv:
        README.write_text(updated, encoding="utf-8")
        print(f"README.md: {', '.join(new)} blocks written")
        return 0
    stale = [name for name, body in BLOCK.findall(text) if name in new and body != new[name]]
    print("README.md is up to date" if not stale else f"README.md blocks out of date: {', '.join(stale)} "
          f"(python scripts/readme_examples.py --write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
