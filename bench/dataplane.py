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
import sys

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from common import summary, table, write_json
from hitless.dataplane.loader import Dataplane
from veth_rig import VethRig, l2fwd_ns_per_packet

PREFIX = "bdp"
VMAC, GEN_MAC, SINK_MAC = "02:aa:00:00:00:01", "02:00:00:00:b0:01", "02:00:00:00:b0:02"


def frame(dst: str) -> bytes:
    # 64 bytes on the wire without FCS: the usual small-packet figure.
    return bytes(Ether(dst=dst, src=GEN_MAC) / IP(src="10.77.0.1", dst="10.77.0.2") / UDP(sport=9, dport=9)
                 / bytes(18))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="XDP forwarder vs nftables netdev fwd vs Linux bridge")
    ap.add_argument("--count", type=int, default=1_000_000, help="frames per round and candidate")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)

    rig = VethRig(PREFIX, GEN_MAC, SINK_MAC)
    with rig.running(frame(SINK_MAC)):
        candidates = {
            "xdp": (lambda: rig.l2fwd_on(VMAC, SINK_MAC), rig.xdp_off, frame(VMAC)),
            "nft": (lambda: rig.nft_on(VMAC, SINK_MAC), rig.nft_off, frame(VMAC)),
            "bridge": (rig.bridge_on, rig.bridge_off, frame(SINK_MAC)),
        }
        pps, delivered = rig.rounds(candidates, args.count, args.rounds)
        Dataplane(rig.dut_node).remove_all()
    ns = l2fwd_ns_per_packet(frame(VMAC), VMAC, SINK_MAC, 1_000_000, args.rounds)

    med = {k: summary(v) for k, v in pps.items()}
    ns_sum = summary(ns)
    doc = {
        "xdp_pps": med["xdp"]["median"], "nft_pps": med["nft"]["median"], "bridge_pps": med["bridge"]["median"],
        "xdp_ns_per_pkt": ns_sum["median"],
        "ratio_xdp_vs_nft": med["xdp"]["median"] / med["nft"]["median"],
        "ratio_xdp_vs_bridge": med["xdp"]["median"] / med["bridge"]["median"],
        "detail": {"pps": med, "delivered": delivered, "xdp_ns_per_pkt": ns_sum},
        "method": {"frames_per_round": args.count, "rounds": args.rounds, "frame_bytes": len(frame(VMAC)),
                   "generator": "BPF_PROG_TEST_RUN live frames (XDP_TX) in the gen namespace",
                   "sink": "XDP counting drop on sink:eth0 (native)",
                   "note": "all three share one 2-core VM with the generator and the sink; "
                           "figures are pipeline throughput over veth, not NIC line rate"},
    }
    rows = [[name, med[name]["median"], med[name]["min"], med[name]["max"],
             f"{med['xdp']['median'] / med[name]['median']:.2f}x"] for name in pps]
    print(table("Data plane: 64-byte frames over veth (packets/s, higher is better)",
                ["candidate", "median pps", "min", "max", "xdp / this"], rows))
    print(f"xdp_l2fwd BPF_PROG_TEST_RUN: {ns_sum['median']:.0f} ns/packet "
          f"(min {ns_sum['min']:.0f}, max {ns_sum['max']:.0f})")
    print(f"wrote {write_json('dataplane', doc)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
