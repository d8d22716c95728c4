"""Atomic output folders: everything is written to a hidden temporary sibling that is renamed
into place only when complete, so a failure leaves no partial folder."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_folder(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out_dir`` (which must be new or empty)."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"output folder {out} exists and is not empty; choose another")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def markdown_table(frame) -> str:
    """A pandas DataFrame as a Markdown table (floats to 2 decimals, or 4 significant digits if small)."""
    import numpy as np

    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return f"{v:.2f}" if abs(v) >= 0.01 or v == 0 else f"{v:.4g}"
        return str(v)

    cols = list(frame.columns)
    rows = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    rows += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join(rows)
