"""Helpers for the Ansible tests: run ansible-playbook / ansible-lint from the repository's
virtualenv with the repository's ansible.cfg, and read PLAY RECAP lines."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RECAP_RE = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def ansible_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PATH": f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PY_COLORS": "0",
    })
    env.update(extra)
    return env


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 900,
        cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env or ansible_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def playbook(args: list[str], env: dict[str, str] | None = None, timeout: float = 900,
             cwd: Path = REPO) -> subprocess.CompletedProcess:
    return run([str(VENV_BIN / "ansible-playbook"), *args], env=env, timeout=timeout, cwd=cwd)


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """host -> {ok, changed, unreachable, failed} from a PLAY RECAP."""
    return {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
            for m in RECAP_RE.findall(stdout)}


def explain(cp: subprocess.CompletedProcess, lines: int = 60) -> str:
    out = (cp.stdout + "\n" + cp.stderr).strip().splitlines()
    return "\n".join(out[-lines:])
