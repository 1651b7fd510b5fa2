"""The lab's state record, /run/hitless-lab/{prefix}/state.json.

It lets `status`, `exec` and `inventory` find a running lab's topology without being told
again. `down` reads it when present but never needs it: everything is found by prefix.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

RUN_ROOT = Path(os.environ.get("HITLESS_LAB_RUN", "/run/hitless-lab"))


def path(prefix: str) -> Path:
    return RUN_ROOT / prefix / "state.json"


def write(prefix: str, record: dict) -> None:
    p = path(prefix)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps({**record, "prefix": prefix, "updated": time.time()}, indent=1))
    os.replace(tmp, p)


def read(prefix: str) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path(prefix).read_text())
        return data if isinstance(data, dict) else None
    return None


def remove(prefix: str) -> None:
    shutil.rmtree(RUN_ROOT / prefix, ignore_errors=True)


def prefixes() -> list[str]:
    with contextlib.suppress(FileNotFoundError):
        return sorted(p.name for p in RUN_ROOT.iterdir() if p.is_dir())
    return []


@contextlib.contextmanager
def lock(prefix: str) -> Iterator[None]:
    """Serialises up/down of one prefix across processes (the lock file outlives the lab)."""
    RUN_ROOT.mkdir(parents=True, exist_ok=True)
    with open(RUN_ROOT / f".{prefix}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
