"""Benchmark: the XDP L2 forwarder against nftables netdev `fwd` and the Linux bridge.

One topology, gen -- dut -- sink, three candidates on the dut in alternating rounds:
  xdp     hitless's xdp_l2fwd on dut:p1, rewriting the destination MAC, devmap redirect to p2
  nft     nftables netdev ingress on dut:p1: `ether daddr set ... fwd to p2`
  bridge  the switch's Linux bridge over p1/p2, static FDB entry for the sink (no rewrite)
Frames come from an in-kernel generator (XDP live frames, identical for all) and are counted
by an XDP sink that drops them, so only the dut's forwarding differs. Also measures
BPF_PROG_TEST_RUN ns/packet of xdp_l2fwd, the figure that is repeatable on a noisy 2-core VM.

Run inside the project's virtualenv: `python bench/dataplane.py [--count N] [--rounds R]`.
Writes bench/results/dataplane.json.
"""
from __future__ import annotations

import argparse
import json
import struct
import sys
import time

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from common import VENV_PY, summary, table, write_json
from hitless.config.schema import mac_bytes
from hitless.dataplane.bpfsys import MapHandle
from hitless.dataplane.forwarder import ENTRY, U32
from hitless.dataplane.loader import Dataplane, compile_for_test
from hitless.dataplane.maps import read_counters
from hitless.lab import Lab

PREFIX = "bdp"
VMAC, GEN_MAC, SINK_MAC = "02:aa:00:00:00:01", "02:00:00:00:b0:01", "02:00:00:00:b0:02"
TOPOLOGY = {
    "name": "bench-dataplane",
    "nodes": {
        "gen": {"type": "host", "interfaces": {"eth0": {"mac": GEN_MAC}}},
        # A switch: br0 over p1/p2. XDP and nftables ingress take frames before the bridge does.
        "dut": {"type": "switch", "interfaces": {"p1": {}, "p2": {}}},
        "sink": {"type": "host", "interfaces": {"eth0": {"mac": SINK_MAC}}},
    },
    "links": [["gen:eth0", "dut:p1"], ["dut:p2", "sink:eth0"]],
}


def frame(dst: str) -> bytes:
    # 64 bytes on the wire without FCS: the usual small-packet figure.
    return bytes(Ether(dst=dst, src=GEN_MAC) / IP(src="10.77.0.1", dst="10.77.0.2") / UDP(sport=9, dport=9)
                 / bytes(18))


class Bench:
    def __init__(self, lab: Lab):
        self.lab = lab
        self.sink_pin = f"/sys/fs/bpf/hitless/{PREFIX}-sink"
        self.dut_node = f"{PREFIX}-dut"

    def py(self, node: str, code: str) -> str:
        return self.lab.run(node, [VENV_PY, "-c", code], timeout=120).stdout

    def setup(self) -> None:
        self.py("sink", f"from hitless.dataplane.loader import Dataplane; "
                        f"Dataplane({PREFIX + '-sink'!r}).ensure_program('sink', ['eth0'])")

    def sink_count(self) -> int:
        with MapHandle.from_pin(f"{self.sink_pin}/sink_stats") as m:
            return read_counters(m, U32.pack(0))[0]

    def offer(self, dst: str, count: int) -> float:
        """Pushes `count` frames from gen; returns packets/s delivered to the sink."""
        before = self.sink_count()
        start = time.perf_counter()
        out = self.lab.run("gen", [VENV_PY, "-m", "hitless.dataplane.trafficgen", "--ifname", "eth0",
                                   "--frame", frame(dst).hex(), "--count", str(count)], timeout=300).stdout
        pushed = json.loads(out.strip().splitlines()[-1])
        # The sink drains asynchronously: wait until its counter stops moving (bounded).
        last, settled_at = self.sink_count(), time.perf_counter()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.02)
            now = self.sink_count()
            if now == last:
                break
            last, settled_at = now, time.perf_counter()
        delivered = last - before
        # Time from the first frame pushed to the last one counted, excluding process start-up.
        elapsed = pushed["seconds"] + max(0.0, settled_at - start - pushed["seconds"] - self._startup)
        print(f"  {dst}: delivered {delivered}/{count} push {pushed['seconds']:.3f}s elapsed {elapsed:.3f}s "
              f"startup {self._startup:.3f}s", file=sys.stderr)
        return delivered / elapsed

    _startup = 0.0

    def calibrate_startup(self) -> None:
        """Wall time of a generator run that pushes 1 frame: python + bcc start-up to subtract."""
        start = time.perf_counter()
        self.lab.run("gen", [VENV_PY, "-m", "hitless.dataplane.trafficgen", "--ifname", "eth0",
                             "--frame", frame(SINK_MAC).hex(), "--count", "1"], timeout=120)
        self._startup = time.perf_counter() - start

    # -- candidates: each context sets up the dut, and undoes it --------------------------
    def xdp_on(self) -> None:
        self.py("dut", "from hitless.dataplane.loader import Dataplane\n"
                       "from hitless.dataplane.forwarder import *\n"
                       "import socket\n"
                       f"p = Dataplane({self.dut_node!r}, xdp_mode='native').ensure_program('l2fwd', ['p1'])\n"
                       "p.map('l2fwd_ports').update(U32.pack(1), U32.pack(socket.if_nametoindex('p2')))\n"
                       f"p.map('l2fwd_table').update(bytes.fromhex({VMAC.replace(':', '')!r}) + bytes(2), "
                       f"ENTRY.pack(bytes.fromhex({SINK_MAC.replace(':', '')!r}), 0, 1, 0))\n")

    def xdp_off(self) -> None:
        self.lab.run("dut", ["ip", "link", "set", "dev", "p1", "xdp", "off"])

    def nft_on(self) -> None:
        for cmd in ("add table netdev hlbench",
                    'add chain netdev hlbench in { type filter hook ingress device "p1" priority 0; }',
                    f'add rule netdev hlbench in ether daddr {VMAC} ether daddr set {SINK_MAC} fwd to "p2"'):
            self.lab.run("dut", ["nft", cmd])

    def nft_off(self) -> None:
        self.lab.run("dut", ["nft", "delete", "table", "netdev", "hlbench"])

    def bridge_on(self) -> None:
        self.lab.run("dut", ["bridge", "fdb", "replace", SINK_MAC, "dev", "p2", "master", "static"])

    def bridge_off(self) -> None:
        self.lab.run("dut", ["bridge", "fdb", "del", SINK_MAC, "dev", "p2", "master", "static"])


def test_run_ns_per_packet(repeat: int, rounds: int) -> list[float]:
    """BPF_PROG_TEST_RUN of xdp_l2fwd on its rewrite path (the rewritten MAC maps to itself,
    so every repeat on the same buffer takes the rewrite-and-redirect branch)."""
    results = []
    with compile_for_test("l2fwd") as t:
        t.map("l2fwd_ports").update(U32.pack(1), U32.pack(1))
        for mac in (VMAC, SINK_MAC):
            t.map("l2fwd_table").update(mac_bytes(mac) + bytes(2), ENTRY.pack(mac_bytes(SINK_MAC), 0, 1, 0))
        for _ in range(rounds):
            results.append(float(t.run(frame(VMAC), repeat=repeat).duration_ns))
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="XDP forwarder vs nftables netdev fwd vs Linux bridge")
    ap.add_argument("--count", type=int, default=1_000_000, help="frames per round and candidate")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    candidates = {"xdp": ("xdp_on", "xdp_off", VMAC), "nft": ("nft_on", "nft_off", VMAC),
                  "bridge": ("bridge_on", "bridge_off", SINK_MAC)}
    pps: dict[str, list[float]] = {name: [] for name in candidates}
    with Lab.from_dict(TOPOLOGY, prefix=PREFIX).running() as lab:
        bench = Bench(lab)
        bench.setup()
        bench.calibrate_startup()
        for _ in range(args.rounds):
            for name, (on, off, dst) in candidates.items():
                getattr(bench, on)()
                try:
                    pps[name].append(bench.offer(dst, args.count))
                finally:
                    getattr(bench, off)()
        Dataplane(f"{PREFIX}-dut").remove_all()
    ns = test_run_ns_per_packet(1_000_000, args.rounds)

    med = {k: summary(v) for k, v in pps.items()}
    ns_sum = summary(ns)
    doc = {
        "xdp_pps": med["xdp"]["median"], "nft_pps": med["nft"]["median"], "bridge_pps": med["bridge"]["median"],
        "xdp_ns_per_pkt": ns_sum["median"],
        "ratio_xdp_vs_nft": med["xdp"]["median"] / med["nft"]["median"],
        "ratio_xdp_vs_bridge": med["xdp"]["median"] / med["bridge"]["median"],
        "detail": {"pps": med, "xdp_ns_per_pkt": ns_sum},
        "method": {"frames_per_round": args.count, "rounds": args.rounds, "frame_bytes": len(frame(VMAC)),
                   "generator": "BPF_PROG_TEST_RUN live frames (XDP_TX) in the gen namespace",
                   "sink": "XDP counting drop on sink:eth0 (native)",
                   "note": "all three share one 2-core VM with the generator and the sink; "
                           "figures are pipeline throughput over veth, not NIC line rate"},
    }
    rows = [[name, med[name]["median"], med[name]["min"], med[name]["max"],
             f"{med['xdp']['median'] / med[name]['median']:.2f}x"] for name in candidates]
    print(table("Data plane: 64-byte frames over veth (packets/s, higher is better)",
                ["candidate", "median pps", "min", "max", "xdp / this"], rows))
    print(f"xdp_l2fwd BPF_PROG_TEST_RUN: {ns_sum['median']:.0f} ns/packet "
          f"(min {ns_sum['min']:.0f}, max {ns_sum['max']:.0f})")
    print(f"wrote {write_json('dataplane', doc)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
