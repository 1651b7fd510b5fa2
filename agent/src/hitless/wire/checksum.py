"""Order-independent, incremental checksums of record tables over their canonical encoding.

Replication declares a standby redundant only when its per-table checksums match the
active's (SPEC §2). Both sides may hold the same rows in a different order, so the table
checksum is a multiset hash: the sum, modulo 2**256, of SHA-256 over each record's
message type id and canonical body. Adding or removing one row changes the sum by that
row's digest, so `RunningChecksum` keeps a table's checksum current in O(1) per change
instead of re-hashing the table.

Across a staged upgrade the two sides run different schema versions; both compute with
`as_version` set to the older one so the checksum covers only the fields both know.
This is consistency checking between authenticated peers, not a defence against an
adversary choosing records.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from hitless.wire.schema import Record
from hitless.wire.tlv import encode_body

_MOD = 1 << 256
DIGEST_SIZE = 32


def record_digest(record: Record, *, as_version: int | None = None) -> int:
    """SHA-256 of the record's type id and canonical body, as an integer."""
    h = hashlib.sha256(type(record).type_id.to_bytes(2, "big"))
    h.update(encode_body(record, as_version=as_version))
    return int.from_bytes(h.digest(), "big")


def canonical_checksum(records: Iterable[Record], *, as_version: int | None = None) -> bytes:
    """The 32-byte checksum of a multiset of records; insensitive to their order."""
    total = 0
    for r in records:
        total = (total + record_digest(r, as_version=as_version)) % _MOD
    return total.to_bytes(DIGEST_SIZE, "big")


class RunningChecksum:
    """A table checksum kept up to date row by row. `remove` must be given the row as it
    was when added (callers pass the old record on update: remove(old); add(new))."""

    def __init__(self, records: Iterable[Record] = (), *, as_version: int | None = None):
        self.as_version = as_version
        self.count = 0
        self._total = 0
        for r in records:
            self.add(r)

    def add(self, record: Record) -> None:
        self._total = (self._total + record_digest(record, as_version=self.as_version)) % _MOD
        self.count += 1

    def remove(self, record: Record) -> None:
        self._total = (self._total - record_digest(record, as_version=self.as_version)) % _MOD
        self.count -= 1

    def digest(self) -> bytes:
        return self._total.to_bytes(DIGEST_SIZE, "big")

    def hexdigest(self) -> str:
        return self.digest().hex()
