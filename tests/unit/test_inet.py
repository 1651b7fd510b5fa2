"""RFC 1071 Internet checksum, against scapy's independent implementation."""
from hypothesis import given, strategies as st
from scapy.utils import checksum

from hitless.wire.inet import inet_checksum


def test_known_ipv4_header():
    # A textbook IPv4 header with its checksum field zeroed; the right checksum is 0xb861.
    header = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert inet_checksum(header) == 0xB861
    patched = header[:10] + (0xB861).to_bytes(2, "big") + header[12:]
    assert inet_checksum(patched) == 0  # a correct header sums to zero


@given(st.binary(max_size=200))
def test_matches_scapy(data):
    assert inet_checksum(data) == checksum(data)
