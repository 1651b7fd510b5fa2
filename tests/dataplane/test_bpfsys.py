"""bpfsys.MapHandle on a real pinned map: element ops, batch update, batch count, per-CPU."""
import struct

import pytest

from hitless.dataplane.forwarder import ENTRY, U32
from hitless.dataplane.loader import compile_for_test
from hitless.errors import DataplaneError


@pytest.fixture(scope="module")
def prog():
    with compile_for_test("l2fwd") as t:
        yield t


def key(i: int) -> bytes:
    return struct.pack(">IH", 0x02AA0000, i) + bytes(2)  # MAC 02:aa:00:00:ii:ii + pad


def test_batch_update_then_count_and_lookup(prog):
    table = prog.map("l2fwd_table")
    table.clear()
    keys = b"".join(key(i) for i in range(300))
    values = b"".join(ENTRY.pack(bytes(6), 0, i, 0) for i in range(300))
    assert table.update_batch(keys, values) == 300
    assert table.count() == 300 == len(list(table.keys()))
    assert ENTRY.unpack(table.lookup(key(123)))[2] == 123
    assert table.delete(key(123)) and table.lookup(key(123)) is None
    assert table.count(chunk=7) == 299  # several batches
    table.clear()
    assert table.count() == 0


def test_batch_update_rejects_mismatched_lengths(prog):
    with pytest.raises(DataplaneError, match="not 2 elements"):
        prog.map("l2fwd_table").update_batch(key(1) + key(2), ENTRY.pack(bytes(6), 0, 1, 0))


def test_wrong_key_size_is_a_clear_error(prog):
    with pytest.raises(DataplaneError, match="key is 3 bytes"):
        prog.map("l2fwd_table").lookup(b"abc")


def test_percpu_values_have_one_slot_per_cpu(prog):
    stats = prog.map("l2fwd_stats")
    assert stats.percpu
    per_cpu = stats.lookup_percpu(U32.pack(0))
    assert len(per_cpu) >= 1 and all(len(v) == stats.value_size for v in per_cpu)
    stats.update(U32.pack(3), struct.pack("<QQ", 5, 7))  # one value is written to every CPU
    assert all(struct.unpack("<QQ", v) == (5, 7) for v in stats.lookup_percpu(U32.pack(3)))


def test_missing_pin_is_a_dataplane_error():
    from hitless.dataplane.bpfsys import MapHandle

    with pytest.raises(DataplaneError, match="cannot open pinned map"):
        MapHandle.from_pin("/sys/fs/bpf/hitless-no-such-map")
