"""Fixtures for probe tests: two namespaces joined by a veth pair, nftables drop rules.

Names start with "tprb" plus this process id, so parallel runs never collide; every
namespace is deleted in teardown (deleting a namespace also removes its veth end and
its nftables rules).
"""
import os
import subprocess
from dataclasses import dataclass

import pytest

PREFIX = f"tprb{os.getpid() % 100000}"
SRC_IP, DST_IP = "10.251.0.1", "10.251.0.2"
SRC_MAC, DST_MAC = "02:7b:00:00:00:01", "02:7b:00:00:00:02"


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=30)


def in_ns(ns, *argv, check=True):
    return sh("ip", "netns", "exec", ns, *argv, check=check)


@dataclass
class Pair:
    lab: str              # lab prefix: namespaces are f"{lab}-s" and f"{lab}-r"
    src_ns: str
    dst_ns: str
    src_if: str
    dst_if: str
    src_ip: str = SRC_IP
    dst_ip: str = DST_IP
    src_mac: str = SRC_MAC
    dst_mac: str = DST_MAC


@pytest.fixture(scope="module")
def pair():
    if os.geteuid() != 0:
        pytest.fail("probe lab tests need root (network namespaces)")
    p = Pair(PREFIX, f"{PREFIX}-s", f"{PREFIX}-r", f"{PREFIX}s0", f"{PREFIX}r0")
    try:
        sh("ip", "netns", "add", p.src_ns)
        sh("ip", "netns", "add", p.dst_ns)
        sh("ip", "link", "add", p.src_if, "netns", p.src_ns, "address", p.src_mac,
           "type", "veth", "peer", "name", p.dst_if, "netns", p.dst_ns, "address", p.dst_mac)
        for ns, ifname, ip, peer_ip, peer_mac in (
                (p.src_ns, p.src_if, p.src_ip, p.dst_ip, p.dst_mac),
                (p.dst_ns, p.dst_if, p.dst_ip, p.src_ip, p.src_mac)):
            in_ns(ns, "ip", "addr", "add", f"{ip}/24", "dev", ifname)
            in_ns(ns, "ip", "link", "set", "lo", "up")
            in_ns(ns, "ip", "link", "set", ifname, "up")
            # static neighbours: no ARP round trip in front of the first probe packets
            in_ns(ns, "ip", "neigh", "replace", peer_ip, "lladdr", peer_mac, "dev", ifname,
                  "nud", "permanent")
        yield p
    finally:
        for ns in (p.src_ns, p.dst_ns):
            sh("ip", "netns", "del", ns, check=False)


class Nft:
    """An nftables table in the receiver's namespace; dropped in teardown."""

    TABLE = "tprb"

    def __init__(self, ns):
        self.ns = ns
        in_ns(ns, "nft", "add", "table", "inet", self.TABLE)
        in_ns(ns, "nft", "add", "chain", "inet", self.TABLE, "in",
              "{ type filter hook input priority 0; }")

    def add(self, *rule):
        """Adds a rule to the input chain; returns its handle."""
        out = in_ns(self.ns, "nft", "--echo", "--handle", "add", "rule", "inet", self.TABLE,
                    "in", *rule).stdout
        return int(out.rsplit("# handle", 1)[1].split()[0])

    def delete(self, handle):
        in_ns(self.ns, "nft", "delete", "rule", "inet", self.TABLE, "in", "handle", str(handle))

    def close(self):
        in_ns(self.ns, "nft", "delete", "table", "inet", self.TABLE, check=False)


@pytest.fixture
def nft(pair):
    table = Nft(pair.dst_ns)
    try:
        yield table
    finally:
        table.close()
