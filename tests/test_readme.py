"""The README is kept true: every command shown runs, the Python and TOML blocks work, the
synopses name real options, and the worked examples' numbers are what the code produces.

Slow commands run coarsened (scripts/readme_examples.py: ``coarse``); the worked examples run as
shown. Regenerate the numbers after a model change: ``python scripts/readme_examples.py --write``.
"""
import importlib.util
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from greatleap.cli import app

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("readme_examples", ROOT / "scripts" / "readme_examples.py")
rx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rx)
TEXT = rx.README.read_text(encoding="utf-8")
BLOCKS = dict(rx.BLOCK.findall(TEXT))
EXAMPLES = {rx.example_command(TEXT, name): name for name in ("compare", "decompose")}
HAS_OPTUNA = importlib.util.find_spec("optuna") is not None
HAS_DISTRIBUTED = importlib.util.find_spec("distributed") is not None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme")


@pytest.mark.parametrize("command", rx.console_commands(TEXT))
def test_every_command_in_the_readme_runs(command, workdir, monkeypatch):
    if command.startswith("greatleap calibrate") and not HAS_OPTUNA:
        pytest.skip("needs the 'calibrate' extra (Optuna)")
    if "--backend cuda" in command:
        from greatleap.kernels import cuda_problem
        problem = cuda_problem()
        if problem is not None:
            pytest.skip(f"needs the 'gpu' extra and an NVIDIA GPU: {problem}")
    if "--cluster" in command and not HAS_DISTRIBUTED:
        pytest.skip("needs the 'cluster' extra (Dask distributed)")
    monkeypatch.chdir(workdir)
    args = shlex.split(command)[1:]
    tag = re.sub(r"\W+", "_", command)[:60]
    if command in EXAMPLES:  # a worked example: run as shown, and its numbers must be the README's
        result, folder = rx.invoke(command, workdir, EXAMPLES[command])
        assert result.exit_code == 0, result.output[-2000:]
        render = rx.render_compare if EXAMPLES[command] == "compare" else rx.render_decompose
        assert render(folder) == BLOCKS[EXAMPLES[command]], "stale: python scripts/readme_examples.py --write"
        return
    result, _ = rx.invoke(" ".join(["greatleap"] + [shlex.quote(a) for a in rx.coarse(args)]), workdir, tag)
    assert result.exit_code == 0, (command, result.output[-2000:])


def test_synopses_name_real_options():
    for lang, body in rx.FENCE.findall(TEXT):
        for line in body.splitlines():
            if lang != "text" or not line.startswith("greatleap "):
                continue
            command = line.split()[1]
            help_text = CliRunner().invoke(app, [command, "--help"]).output
            for option in re.findall(r"--[a-z-]+", line):
                assert option in help_text, f"{command} has no {option} (README synopsis)"
            for flag, default in re.findall(r"\[(--[a-z-]+) (\d+)\]", line):  # shown defaults are the defaults
                assert re.search(rf"{flag}\s.*default:\s+{default}(\.0)?\]", help_text.replace("\n", " ")) or \
                    f"[default: {default}" in help_text, f"{command} {flag} default is not {default}"


def test_python_blocks_run(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    blocks = [body for lang, body in rx.FENCE.findall(TEXT) if lang == "python"]
    assert len(blocks) >= 2
    import matplotlib
    matplotlib.use("Agg")
    for code in blocks:
        code = re.sub(r"scale=\d+", f"scale={int(rx.COARSE_SCALE)}", code)
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_toml_block_is_a_valid_scenario(tmp_path):
    from greatleap import load_scenario
    body = next(body for lang, body in rx.FENCE.findall(TEXT) if lang == "toml")
    f = tmp_path / "example.toml"
    f.write_text(body, encoding="utf-8")
    assert load_scenario(f).name == "no_furnaces"


def test_status_figures(workdir, full):
    if not full:
        pytest.skip("the validation figures take a minute: run with --full")
    assert rx.render_status(workdir) == BLOCKS["status"]
