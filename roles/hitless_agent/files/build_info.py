#!/usr/bin/env python3
"""Names a build of the agent source tree: its release version plus a digest of its sources.

Prints {"version": "0.1.0", "digest": "<sha256>", "build": "0.1.0-<12 hex>"}. Two trees with
the same release but different code get different builds, so each lands in its own bank
(/opt/hitless/<build>) and an unchanged tree is never reinstalled.
"""
import hashlib
import json
import sys
import tomllib
from pathlib import Path

SKIP_DIRS = {"__pycache__", "build", "dist", ".pytest_cache"}


def source_files(root: Path):
    yield root / "pyproject.toml"
    for path in sorted((root / "src").rglob("*")):
        rel = path.relative_to(root).parts
        if any(p in SKIP_DIRS or p.endswith(".egg-info") for p in rel) or not path.is_file():
            continue
        if path.suffix in (".pyc", ".pyo"):
            continue
        yield path


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    h = hashlib.sha256()
    for path in source_files(root):
        h.update(str(path.relative_to(root)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    digest = h.hexdigest()
    print(json.dumps({"version": version, "digest": digest, "build": f"{version}-{digest[:12]}"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
