"""The gateway's VMAC table in XDP (bpf/gateway.c): which VMACs this member accepts.

The agent computes the set it wants after every event and `VmacTable.sync` writes only the
differences, so taking a VMAC over or giving it up is exactly one map update. A restarted
agent reads what the previous one left (`installed`) and keeps it while it relearns the
group (see GatewayService), so a restart never drops a VMAC that is still ours.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from hitless.dataplane.maps import read_counters

VALUE = struct.Struct("<6sHII")   # struct gw_vmac {u8 rewrite[6]; u16 pad; u32 ifindex; u32 flags;}
COUNTERS = struct.Struct("<QQ")
U32 = struct.Struct("<I")
STATS = ("rx", "accepted", "passed", "wrong_if")   # enum gw_stat


def key(vmac: bytes) -> bytes:
    return bytes(vmac) + b"\0\0"


def value(rewrite: bytes, ifindex: int) -> bytes:
    return VALUE.pack(bytes(rewrite), 0, ifindex, 0)


@dataclass(frozen=True)
class Entry:
    rewrite: bytes
    ifindex: int


class VmacTable:
    def __init__(self, prog):
        self.vmacs = prog.map("gw_vmacs")
        self.vstats = prog.map("gw_vmac_stats")
        self.stats = prog.map("gw_stats")
        self.installed: dict[bytes, Entry] = {}
        for k, v in self.vmacs.items():
            rewrite, _, ifindex, _ = VALUE.unpack(v)
            self.installed[k[:6]] = Entry(rewrite, ifindex)
        self.writes = 0

    def sync(self, desired: dict[bytes, Entry]) -> tuple[list[bytes], list[bytes]]:
        """Makes the map hold exactly `desired`; returns (added or changed, removed) VMACs."""
        added, removed = [], []
        for vmac, e in desired.items():
            if self.installed.get(vmac) == e:
                continue
            if self.vstats.lookup(key(vmac)) is None:
                self.vstats.update(key(vmac), COUNTERS.pack(0, 0))
            self.vmacs.update(key(vmac), value(e.rewrite, e.ifindex))
            self.installed[vmac] = e
            self.writes += 1
            added.append(vmac)
        for vmac in [v for v in self.installed if v not in desired]:
            self.vmacs.delete(key(vmac))
            del self.installed[vmac]
            self.writes += 1
            removed.append(vmac)
        return added, removed

    def counters(self) -> dict:
        out = {}
        for i, name in enumerate(STATS):
            p, b = read_counters(self.stats, U32.pack(i))
            out[name] = {"packets": p, "bytes": b}
        return out

    def vmac_counters(self, vmac: bytes) -> dict:
        p, b = read_counters(self.vstats, key(vmac))
        return {"packets": p, "bytes": b}
