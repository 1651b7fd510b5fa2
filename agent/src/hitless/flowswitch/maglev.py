"""Weighted Maglev consistent hashing: builds the lookup table the XDP program indexes.

Maglev (Eisenbud et al., NSDI 2016) gives every backend a permutation of the table's
slots (offset + j*skip mod M, M prime) and lets the backends take turns claiming their
next free preferred slot until the table is full. Removing one backend only re-assigns
the slots it held plus a small fraction of others, which is what keeps flows in place.

Weights: in each round a backend earns `weight / max_weight` credit and claims one slot
per whole credit, so slot counts are proportional to weight (capacity x load factor).

The table is pure data (an `array('I')` of backend indices, or EMPTY when no backend
is eligible) so the agent can write it into the inactive half of the BPF map and flip.
Speed matters: the agent rebuilds periodically, so the inner loop works on local
variables and a bytearray of "taken" flags (65537 slots x 100 backends < 1 s).
"""
from __future__ import annotations

import hashlib
from array import array
from dataclasses import dataclass
from typing import Sequence

DEFAULT_SIZE = 65537
EMPTY = 0xFFFFFFFF  # slot value when no backend is eligible: the XDP program bridges instead


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    i = 3
    while i * i <= n:
        if n % i == 0:
            return False
        i += 2
    return True


def _h64(name: str, salt: bytes) -> int:
    # Stable across processes and Python versions (hash() is randomised per process), so a
    # restarted agent builds exactly the same table and no flow moves on restart.
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8, person=salt).digest(), "little")


def permutation_params(name: str, size: int) -> tuple[int, int]:
    """(offset, skip) of a backend's slot permutation; skip is in 1..size-1."""
    return _h64(name, b"hl-mgl-off") % size, _h64(name, b"hl-mgl-skip") % (size - 1) + 1


@dataclass(frozen=True)
class Backend:
    """One eligible server: `name` fixes its permutation, `index` is what the slot stores."""

    name: str
    index: int
    weight: float = 1.0


def build(backends: Sequence[Backend], size: int = DEFAULT_SIZE) -> array:
    """Returns the Maglev table of `size` slots for the backends with weight > 0."""
    if not is_prime(size):
        raise ValueError(f"Maglev table size must be prime, got {size}")
    live = [b for b in backends if b.weight > 0]
    if len({b.name for b in live}) != len(live):
        raise ValueError("backend names must be unique")
    table = array("I", [EMPTY]) * size
    if not live:
        return table
    wmax = max(b.weight for b in live)
    n = len(live)
    offsets = [0] * n
    skips = [0] * n
    for i, b in enumerate(live):
        offsets[i], skips[i] = permutation_params(b.name, size)
    # next[i]: current position in backend i's permutation (as a slot number, advanced by skip).
    pos = offsets[:]
    credit = [0.0] * n
    share = [b.weight / wmax for b in live]
    values = [b.index for b in live]
    taken = bytearray(size)
    filled = 0
    while True:
        for i in range(n):
            credit[i] += share[i]
            if credit[i] < 1.0:
                continue
            credit[i] -= 1.0
            c = pos[i]
            s = skips[i]
            while taken[c]:
                c += s
                if c >= size:
                    c -= size
            taken[c] = 1
            table[c] = values[i]
            c += s
            if c >= size:
                c -= size
            pos[i] = c
            filled += 1
            if filled == size:
                return table


def shares(table: array) -> dict[int, float]:
    """Fraction of slots each backend index holds (EMPTY excluded from the keys)."""
    counts: dict[int, int] = {}
    for v in table:
        counts[v] = counts.get(v, 0) + 1
    total = len(table)
    return {k: c / total for k, c in counts.items() if k != EMPTY}


def diff_fraction(a: array, b: array) -> float:
    """Share of slots whose backend differs between two tables of equal size."""
    if len(a) != len(b):
        raise ValueError("tables differ in size")
    return sum(1 for x, y in zip(a, b) if x != y) / len(a)
