"""Running commands for the lab: in the root namespace or inside a node's network namespace.

Commands inside a node go through `nsenter --net=/run/netns/NS --`, never `ip netns exec`:
the latter remounts /sys for the namespace, which hides /sys/fs/bpf and so the pinned maps
the agent shares with the tests.
"""
from __future__ import annotations

import json
import subprocess
from typing import Any, Sequence

from hitless.errors import LabError

NETNS_DIR = "/run/netns"
DEFAULT_TIMEOUT = 60.0


class LabCommandError(LabError, subprocess.CalledProcessError):
    """A command run for the lab failed. It is both a LabError (so the CLI prints one line)
    and a CalledProcessError (so callers used to `check=True` can catch what they expect)."""

    def __init__(self, returncode: int, cmd: Sequence[str], output: Any = None, stderr: Any = None):
        subprocess.CalledProcessError.__init__(self, returncode, list(cmd), output, stderr)
        LabError.__init__(self, self._message())

    def _message(self) -> str:
        err = self.stderr
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        err = (err or "").strip().splitlines()
        tail = f": {err[-1]}" if err else ""
        return f"command failed (exit {self.returncode}): {' '.join(map(str, self.cmd))}{tail}"

    def __str__(self) -> str:
        return self._message()


class LabTimeout(LabError, subprocess.TimeoutExpired):
    """A lab command ran out of time: a LabError that is also a TimeoutExpired."""

    def __init__(self, cmd: Sequence[str], timeout: float, output: Any = None, stderr: Any = None):
        subprocess.TimeoutExpired.__init__(self, list(cmd), timeout, output, stderr)
        LabError.__init__(self, str(self))

    def __str__(self) -> str:
        return f"command timed out after {self.timeout}s: {' '.join(map(str, self.cmd))}"


def netns_path(ns: str) -> str:
    return f"{NETNS_DIR}/{ns}"


def in_netns(ns: str | None, argv: Sequence[str]) -> list[str]:
    """The argv that runs `argv` inside namespace `ns` (or as is for the root namespace)."""
    argv = [str(a) for a in argv]
    if ns is None:
        return argv
    return ["nsenter", f"--net={netns_path(ns)}", "--", *argv]


def run(argv: Sequence[str], ns: str | None = None, check: bool = True,
        timeout: float | None = DEFAULT_TIMEOUT, text: bool = True, **kw) -> subprocess.CompletedProcess:
    """Runs a command to completion, capturing output; raises LabCommandError when check fails."""
    full = in_netns(ns, argv)
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL if "input" not in kw else None)
    if kw["stdin"] is None:
        del kw["stdin"]
    try:
        cp = subprocess.run(full, timeout=timeout, text=text, **kw)
    except FileNotFoundError as exc:
        raise LabError(f"cannot run {full[0]}: {exc.strerror}") from None
    except subprocess.TimeoutExpired as exc:
        raise LabTimeout(full, timeout, exc.output, exc.stderr) from None
    if check and cp.returncode != 0:
        raise LabCommandError(cp.returncode, full, cp.stdout, cp.stderr)
    return cp


def ip_json(args: Sequence[str], ns: str | None = None) -> list[dict]:
    """`ip -j ARGS` parsed; an empty list when ip prints nothing."""
    out = run(["ip", "-j", *args], ns=ns).stdout.strip()
    return json.loads(out) if out else []
