"""Shared benchmark plumbing: repeated rounds, medians, the printed table and the JSON file.

Every benchmark runs its candidates side by side in one run, alternating rounds so machine
drift hits all of them alike, and reports medians with min and max next to them.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
VENV_PY = str(Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python")


def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def machine() -> dict:
    return {"kernel": platform.release(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def table(title: str, header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[f"{c:,.0f}" if isinstance(c, float) and c >= 100 else
                                           f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, line] + ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells[:1]] + [line]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells[1:]] + [line]
    return "\n".join(out)


def write_json(name: str, doc: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **doc}, indent=2, sort_keys=True) + "\n")
    return path
