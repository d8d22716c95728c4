"""Malformed scenarios, invocations and data files: every one exits 2 with one line per error that
names the key and the value and says what is allowed; no traceback; nothing written."""
import os

from tally import tally
from corpus import bad_invocations, extends_cases, invocation_files, malformed_scenarios
from typer.testing import CliRunner

from greatleap.cli import app

runner = CliRunner()


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def check_refusal(result, needles, group, case_id, before, folder):
    lines = [line for line in result.output.splitlines() if line.strip()]
    problems = []
    if result.exit_code != 2:
        problems.append(f"exit {result.exit_code}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"exception {type(result.exception).__name__}")
    if "Traceback" in result.output:
        problems.append("traceback")
    if len(lines) != 1 or not lines[0].startswith("error:"):
        problems.append(f"{len(lines)} lines")
    text = " ".join(lines)
    problems += [f"no {n!r}" for n in needles if n not in text]
    if "allowed" not in text:
        problems.append("no 'allowed'")
    if files_under(folder) != before:
        problems.append("wrote " + ", ".join(sorted(set(files_under(folder)) - set(before))))
    tally(group, "refused cleanly" if not problems else "not clean",
          None if not problems else f"{case_id}: {'; '.join(problems)} :: {text[:160]}")
    assert not problems, f"{problems}: {result.output[-600:]}"


def test_malformed_scenario(case, tmp_path, monkeypatch):
    case_id, body, needles = case
    monkeypatch.chdir(tmp_path)
    files = {"bad.toml": body} if body is not None else dict((c[0], c[1]) for c in extends_cases())[case_id]
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    f = tmp_path / ("bad.toml" if body is not None else "main.toml")
    before = files_under(tmp_path)
    result = runner.invoke(app, ["run", str(f), "--scale", "100000", "--out", str(tmp_path / "out")])
    check_refusal(result, needles, "malformed scenarios", case_id, before, tmp_path)


test_malformed_scenario.cases = lambda: malformed_scenarios() + [(c[0], None, c[2]) for c in extends_cases()]
test_malformed_scenario.every = 8


def test_malformed_invocation(case, tmp_path, monkeypatch):
    case_id, args, needles = case
    monkeypatch.chdir(tmp_path)
    invocation_files(tmp_path)
    before = files_under(tmp_path)
    result = runner.invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    check_refusal(result, [n.replace("{tmp}", str(tmp_path)) for n in needles], "malformed invocations and files",
                  case_id, before, tmp_path)


test_malformed_invocation.cases = lambda: bad_invocations(_Tmp())
test_malformed_invocation.every = 6


class _Tmp:
    """A placeholder folder: paths are filled in with the test's own tmp folder."""

    def __truediv__(self, name):
        return _P(os.path.join("{tmp}", name))

    def __str__(self):
        return "{tmp}"


class _P(str):
    def __truediv__(self, name):
        return _P(os.path.join(self, name))
