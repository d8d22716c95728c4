"""What a user installs: supported Pythons, dependencies capped only with a reason, licence files."""
import re
import tomllib
from pathlib import Path

from greatleap import __version__

ROOT = Path(__file__).resolve().parents[1]


def test_python_versions_and_dependency_caps():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = tomllib.loads(text)["project"]
    assert project["requires-python"] == ">=3.11"  # 3.12 and 3.13 are not refused
    deps = project["dependencies"] + sum(project["optional-dependencies"].values(), [])
    assert not any(d.startswith("duckdb") for d in deps), "duckdb is unused"
    for dep in deps:
        if "<" in dep:  # a cap must say which version breaks and why, on its line
            line = next(line for line in text.splitlines() if f'"{dep}"' in line)
            assert re.search(r"#.*\d", line), f"{dep} is capped without a comment naming the break"


def test_licence_citation_and_changelog():
    assert "MIT License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"] == {"text": "MIT"}
    cff = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert "cff-version:" in cff and f'version: "{__version__}"' in cff and "license: MIT" in cff
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {__version__}" in changelog
