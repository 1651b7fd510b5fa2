"""Reconciling a pinned map with the table the control plane wants.

An agent that starts (or a new active after switchover) never flushes a map: it compares
what it wants with what is in the kernel and writes only the differences, so entries
that are already right are never touched and no packet sees a half-built table.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from hitless.dataplane.bpfsys import MapHandle

COUNTERS = struct.Struct("<QQ")  # struct hl_counters {u64 packets; u64 bytes;}


@dataclass
class SyncResult:
    added: int = 0
    changed: int = 0
    removed: int = 0

    @property
    def writes(self) -> int:
        return self.added + self.changed + self.removed


def sync_map(handle: MapHandle, desired: dict[bytes, bytes], prune: bool = True) -> SyncResult:
    """Makes `handle` hold exactly `desired` (or at least, with prune=False)."""
    result = SyncResult()
    current = dict(handle.items())
    for key, value in desired.items():
        have = current.get(key)
        if have == value:
            continue
        handle.update(key, value)
        if have is None:
            result.added += 1
        else:
            result.changed += 1
    if prune:
        for key in current.keys() - desired.keys():
            if handle.delete(key):
                result.removed += 1
    return result


def read_counters(handle: MapHandle, key: bytes) -> tuple[int, int]:
    """Sums a per-CPU `struct hl_counters` entry over all CPUs: (packets, bytes)."""
    values = handle.lookup_percpu(key) or []
    packets = bytes_ = 0
    for raw in values:
        p, b = COUNTERS.unpack_from(raw)
        packets, bytes_ = packets + p, bytes_ + b
    return packets, bytes_
