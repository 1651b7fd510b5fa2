#!/usr/bin/env python3
"""Builds the wheelhouse for one agent build on the controller: usage SRC OUTDIR DEP...

OUTDIR gets the agent's wheel plus a wheel of each runtime dependency DEP, pinned to the
version installed next to this interpreter, so nodes install offline exactly what the
controller runs. The tree is copied first (the build never writes into the source tree) and
OUTDIR appears only when complete (built in a temporary sibling, then renamed).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

# Built wheelhouses kept in the cache (newest first); older ones are removed after a build.
KEEP = 5


def pip_wheel(args, cwd):
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", *args]
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    if res.returncode != 0:
        sys.stderr.write(res.stdout + res.stderr)
        raise SystemExit(f"pip wheel {' '.join(args)} failed with exit {res.returncode}")


def main() -> int:
    src, out, deps = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3:]
    if (out / ".complete").exists():
        print(json.dumps({"changed": False, "wheels": sorted(p.name for p in out.glob("*.whl"))}))
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        tree = tmp / "tree"
        shutil.copytree(src, tree, ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "*.egg-info", "build", "dist", ".pytest_cache"))
        wheels = tmp / "wheels"
        # No build isolation: setuptools comes from this interpreter, so no index is needed.
        pip_wheel(["--no-build-isolation", "-w", str(wheels), str(tree)], cwd=tmp)
        pins = [f"{d}=={metadata.version(d)}" for d in deps]
        if pins:
            pip_wheel(["-w", str(wheels), *pins], cwd=tmp)
        (wheels / ".complete").write_text("\n".join(sorted(p.name for p in wheels.glob("*.whl"))) + "\n")
        if out.exists():  # an unfinished earlier attempt
            shutil.rmtree(out)
        os.rename(wheels, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    builds = sorted((p for p in out.parent.iterdir() if (p / ".complete").exists() and p != out),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP - 1:]:
        shutil.rmtree(old, ignore_errors=True)
    print(json.dumps({"changed": True, "wheels": sorted(p.name for p in out.glob("*.whl"))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
