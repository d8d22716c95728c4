"""Write docs/data_dictionary.md from greatleap/columns.py (every table and column, unit, meaning).

Usage: python scripts/data_dictionary.py [--check]   (--check: exit 1 if the file is stale)
"""
from __future__ import annotations

import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"


def render() -> str:
    from greatleap import Sim, load_scenario
    from greatleap.columns import data_dictionary
    results = Sim(load_scenario("historical", **{"run.end": "1957-12"}), scale=100000).run()
    return data_dictionary(results.tables())


def main() -> None:
    text = render()
    if "--check" in sys.argv:
        sys.exit(0 if DOC.is_file() and DOC.read_text(encoding="utf-8") == text else 1)
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
