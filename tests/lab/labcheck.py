"""Shared checks for lab tests: what exists of a prefix, seen from outside the lab code."""
from __future__ import annotations

import glob
import json
import os
import subprocess
from hitless.lab.poll import PollTimeout, wait_for


def namespaces(prefix: str) -> list[str]:
    return sorted(os.path.basename(p) for p in glob.glob(f"/run/netns/{prefix}-*"))


def root_links(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [d["ifname"] for d in json.loads(out) if d["ifname"].startswith(prefix)]


def netns_inode(ns: str) -> int:
    return os.stat(f"/run/netns/{ns}").st_ino


def pids_in_netns_inodes(inodes: set[int]) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if os.stat(f"/proc/{p}/ns/net").st_ino in inodes:
                out.append(int(p))
        except OSError:
            continue
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_with_cmdline(needle: str) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as fh:
                if needle.encode() in fh.read():
                    out.append(int(p))
        except OSError:
            continue
    return out


def pin_map(path: str) -> int:
    """Creates a small hash map pinned at `path` with bpftool; returns its map id."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(["bpftool", "map", "create", path, "type", "hash", "key", "4", "value", "4",
                    "entries", "4", "name", "hltest"], check=True, capture_output=True)
    info = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "pinned", path],
                                     check=True, capture_output=True, text=True).stdout)
    return int(info["id"])


def map_exists(map_id: int) -> bool:
    return subprocess.run(["bpftool", "map", "show", "id", str(map_id)], capture_output=True).returncode == 0


def wait_until(pred, timeout: float = 10.0, step: float = 0.05) -> bool:
    """Whether `pred` came true within `timeout`, for `assert wait_until(...)`."""
    try:
        return bool(wait_for(pred, timeout, step=step))
    except PollTimeout:
        return False
