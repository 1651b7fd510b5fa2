"""Finding and ending the processes that belong to a lab, from /proc alone.

A process belongs to a lab when its network namespace is one of the lab's (the same test
`ip netns pids` makes: the nsfs inode), or when its command line names one of the lab's
namespaces or directories (systemd-nspawn itself stays in the root namespace).
"""
from __future__ import annotations

import contextlib
import os
import signal
import time


def _ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _protected() -> set[int]:
    """This process and its ancestors: `hitless lab down` run from inside a lab node must
    not kill itself or the shell that started it."""
    out, pid = set(), os.getpid()
    while pid > 1 and pid not in out:
        out.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return out


def in_netns(ns_paths: list[str]) -> list[int]:
    """PIDs whose network namespace is one of the namespace files `ns_paths`."""
    wanted = {i for i in map(_ident, ns_paths) if i}
    if not wanted:
        return []
    skip = _protected()
    return [pid for pid in _pids() if pid not in skip and _ident(f"/proc/{pid}/ns/net") in wanted]


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except OSError:
        return []


def with_cmdline(needles: list[str], program: str | None = None) -> list[int]:
    """PIDs whose command line contains one of `needles` (optionally: whose argv[0] ends
    with `program`)."""
    skip = _protected()
    out = []
    for pid in _pids():
        if pid in skip:
            continue
        argv = cmdline(pid)
        if not argv or (program and not argv[0].endswith(program)):
            continue
        joined = "\0".join(argv)
        if any(n in joined for n in needles):
            out.append(pid)
    return out


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def terminate(pids: list[int], grace: float = 3.0) -> list[int]:
    """SIGTERM, then SIGKILL after `grace` seconds; returns the PIDs still alive after that."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        live = [p for p in pids if alive(p)]
        for p in live:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(p, sig)
        deadline = time.monotonic() + wait
        # A killed child of the caller stays a zombie until the caller waits for it; zombies
        # count as gone (alive() is False), and we never reap others' children behind their back.
        while live and time.monotonic() < deadline:
            live = [p for p in live if alive(p)]
            if live:
                time.sleep(0.05)
        if not live:
            return []
    return [p for p in pids if alive(p)]
