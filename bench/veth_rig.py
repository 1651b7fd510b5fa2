"""The benchmarks' forwarding rig: gen -- dut -- sink over veth, in a lab of its own.

gen pushes frames with the in-kernel generator (XDP live frames), sink counts and drops them
in XDP, so only what runs on dut:p1 differs between candidates. Candidates are switched on
and off between rounds, alternating, so drift of this shared machine hits them alike.
"""
from __future__ import annotations

import contextlib
import json
import time
from typing import Callable, Iterator

from common import VENV_PY
from hitless.config.schema import mac_bytes
from hitless.dataplane.bpfsys import MapHandle
from hitless.dataplane.forwarder import ENTRY, U32
from hitless.dataplane.loader import compile_for_test
from hitless.dataplane.maps import read_counters
from hitless.lab import Lab


class VethRig:
    def __init__(self, prefix: str, gen_mac: str, sink_mac: str):
        self.prefix, self.gen_mac, self.sink_mac = prefix, gen_mac, sink_mac
        self.dut_node = f"{prefix}-dut"
        self.sink_pin = f"/sys/fs/bpf/hitless/{prefix}-sink/sink_stats"
        self.lab: Lab | None = None
        self._startup = 0.0

    def topology(self) -> dict:
        return {
            "name": f"bench-{self.prefix}",
            "nodes": {
                "gen": {"type": "host", "interfaces": {"eth0": {"mac": self.gen_mac}}},
                # A switch: br0 over p1/p2. XDP and nftables ingress see frames before the bridge.
                "dut": {"type": "switch", "interfaces": {"p1": {}, "p2": {}}},
                "sink": {"type": "host", "interfaces": {"eth0": {"mac": self.sink_mac}}},
            },
            "links": [["gen:eth0", "dut:p1"], ["dut:p2", "sink:eth0"]],
        }

    @contextlib.contextmanager
    def running(self, probe_frame: bytes) -> Iterator["VethRig"]:
        with Lab.from_dict(self.topology(), prefix=self.prefix).running() as lab:
            self.lab = lab
            self.py("sink", f"from hitless.dataplane.loader import Dataplane; "
                            f"Dataplane({self.prefix + '-sink'!r}).ensure_program('sink', ['eth0'])")
            # Wall time of a 1-frame generator run: process and bcc start-up, subtracted later.
            start = time.perf_counter()
            self._push(probe_frame, 1)
            self._startup = time.perf_counter() - start
            try:
                yield self
            finally:
                self.lab = None

    def py(self, node: str, code: str) -> str:
        return self.lab.run(node, [VENV_PY, "-c", code], timeout=300).stdout

    def _push(self, frame: bytes, count: int) -> dict:
        out = self.lab.run("gen", [VENV_PY, "-m", "hitless.dataplane.trafficgen", "--ifname", "eth0",
                                   "--frame", frame.hex(), "--count", str(count)], timeout=600).stdout
        return json.loads(out.strip().splitlines()[-1])

    def sink_count(self) -> int:
        with MapHandle.from_pin(self.sink_pin) as m:
            return read_counters(m, U32.pack(0))[0]

    def offer(self, frame: bytes, count: int) -> tuple[float, int]:
        """Pushes `count` frames from gen; returns (packets/s delivered to sink, delivered)."""
        before = self.sink_count()
        start = time.perf_counter()
        pushed = self._push(frame, count)
        last, settled_at = self.sink_count(), time.perf_counter()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the sink drains asynchronously; bounded wait
            time.sleep(0.02)
            now = self.sink_count()
            if now == last:
                break
            last, settled_at = now, time.perf_counter()
        delivered = last - before
        # From the first frame pushed to the last one counted, without process start-up.
        elapsed = pushed["seconds"] + max(0.0, settled_at - start - pushed["seconds"] - self._startup)
        return delivered / elapsed, delivered

    # -- candidates on dut:p1 -----------------------------------------------------------
    def xdp_off(self) -> None:
        self.lab.run("dut", ["ip", "link", "set", "dev", "p1", "xdp", "off"])

    def l2fwd_on(self, match_mac: str, new_mac: str) -> None:
        """hitless's static L2 forwarder: one hash lookup, rewrite, devmap redirect to p2."""
        self.py("dut", "import socket\n"
                       "from hitless.dataplane.loader import Dataplane\n"
                       "from hitless.dataplane.forwarder import ENTRY, U32\n"
                       f"p = Dataplane({self.dut_node!r}, xdp_mode='native').ensure_program('l2fwd', ['p1'])\n"
                       "p.map('l2fwd_ports').update(U32.pack(1), U32.pack(socket.if_nametoindex('p2')))\n"
                       f"p.map('l2fwd_table').update(bytes.fromhex({match_mac.replace(':', '')!r}) + bytes(2), "
                       f"ENTRY.pack(bytes.fromhex({new_mac.replace(':', '')!r}), 0, 1, 0))\n")

    def nft_on(self, match_mac: str, new_mac: str, table: str = "hlbench") -> None:
        """nftables netdev ingress doing the same rewrite: `ether daddr set ... fwd to p2`."""
        for cmd in (f"add table netdev {table}",
                    f'add chain netdev {table} in {{ type filter hook ingress device "p1" priority 0; }}',
                    f'add rule netdev {table} in ether daddr {match_mac} ether daddr set {new_mac} fwd to "p2"'):
            self.lab.run("dut", ["nft", cmd])

    def nft_off(self, table: str = "hlbench") -> None:
        self.lab.run("dut", ["nft", "delete", "table", "netdev", table])

    def bridge_on(self) -> None:
        """The switch's own bridge, with a static FDB entry for the sink (no rewrite)."""
        self.lab.run("dut", ["bridge", "fdb", "replace", self.sink_mac, "dev", "p2", "master", "static"])

    def bridge_off(self) -> None:
        self.lab.run("dut", ["bridge", "fdb", "del", self.sink_mac, "dev", "p2", "master", "static"])

    def rounds(self, candidates: dict[str, tuple[Callable, Callable, bytes]], count: int,
               rounds: int) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
        """Runs every candidate once per round, in turn; returns pps and delivered per candidate."""
        pps = {name: [] for name in candidates}
        delivered = {name: [] for name in candidates}
        for _ in range(rounds):
            for name, (on, off, frame) in candidates.items():
                on()
                try:
                    rate, n = self.offer(frame, count)
                finally:
                    off()
                pps[name].append(rate)
                delivered[name].append(n)
        return pps, delivered


def l2fwd_ns_per_packet(frame: bytes, match_mac: str, new_mac: str, repeat: int, rounds: int) -> list[float]:
    """BPF_PROG_TEST_RUN ns/packet of xdp_l2fwd on its rewrite path. The rewritten MAC maps
    to itself, so every repeat on the same buffer takes the rewrite-and-redirect branch."""
    results = []
    with compile_for_test("l2fwd") as t:
        t.map("l2fwd_ports").update(U32.pack(1), U32.pack(1))
        for mac in (match_mac, new_mac):
            t.map("l2fwd_table").update(mac_bytes(mac) + bytes(2), ENTRY.pack(mac_bytes(new_mac), 0, 1, 0))
        for _ in range(rounds):
            results.append(float(t.run(frame, repeat=repeat).duration_ns))
    return results
