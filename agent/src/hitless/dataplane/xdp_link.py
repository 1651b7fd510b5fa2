"""Attach, query and detach XDP programs on interfaces of the current network namespace.

Attachment goes through libbcc's netlink helper; queries read iproute2's JSON, which
reports the attached program id and mode without needing the program's fd.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from hitless.errors import DataplaneError

XDP_FLAGS_SKB_MODE, XDP_FLAGS_DRV_MODE = 1 << 1, 1 << 2
# iproute2's "xdp.mode" values (enum XDP_ATTACHED_*).
_ATTACHED_MODES = {1: "native", 2: "generic", 3: "offload"}


@dataclass
class Attachment:
    ifname: str
    prog_id: int
    mode: str  # native | generic | offload


def query(ifname: str) -> Attachment | None:
    """The XDP program attached to `ifname`, or None."""
    proc = subprocess.run(["ip", "-j", "-d", "link", "show", "dev", ifname],
                          capture_output=True, text=True, timeout=10)
    if proc.returncode != 0:
        raise DataplaneError(f"interface {ifname}: {proc.stderr.strip() or 'not found'}")
    link = json.loads(proc.stdout)[0]
    xdp = link.get("xdp")
    if not xdp or "prog" not in xdp:
        return None
    return Attachment(ifname, int(xdp["prog"]["id"]), _ATTACHED_MODES.get(xdp.get("mode"), "unknown"))


def _lib_attach(ifname: str, fd: int, flags: int) -> int:
    from bcc import lib  # imported late: bcc is heavy and absent on some controllers

    return lib.bpf_attach_xdp(ifname.encode(), fd, flags)


def attach(ifname: str, fd: int, mode: str) -> str:
    """Attaches (or atomically replaces) the program on `ifname`. Returns the mode obtained.

    mode "auto" tries native first and falls back to generic, because native XDP on veth
    is faster but not every driver supports it. A program already attached in an
    acceptable mode is replaced in that mode: replacement in place is atomic, while a mode
    change needs a detach first and so a brief gap.
    """
    current = query(ifname)
    order = ["native", "generic"] if mode == "auto" else [mode]
    if current and current.mode in order:
        order = [current.mode] + [m for m in order if m != current.mode]
    for want in order:
        if current and current.mode != want:
            detach(ifname)
            current = None
        flags = XDP_FLAGS_DRV_MODE if want == "native" else XDP_FLAGS_SKB_MODE
        if _lib_attach(ifname, fd, flags) >= 0:
            return want
    raise DataplaneError(f"cannot attach XDP to {ifname} in mode {mode}")


def detach(ifname: str) -> None:
    current = query(ifname)
    if current is None:
        return
    flags = {"native": XDP_FLAGS_DRV_MODE, "generic": XDP_FLAGS_SKB_MODE}.get(current.mode, 0)
    if _lib_attach(ifname, -1, flags) < 0:
        raise DataplaneError(f"cannot detach XDP from {ifname}")
