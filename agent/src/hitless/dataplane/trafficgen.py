"""In-kernel traffic generator for benchmarks (no pktgen on these kernels).

`python -m hitless.dataplane.trafficgen --ifname eth0 --frame HEX --count N`, run inside the
sending namespace, pushes N copies of the frame out of the interface through
BPF_PROG_TEST_RUN's live-frames mode with a program that returns XDP_TX. It prints one JSON
line: {"count": N, "seconds": wall time of the push}. The receiving veth peer needs NAPI
(GRO on, or an XDP program), which the lab sets up.
"""
from __future__ import annotations

import argparse
import json
import socket
import time

from hitless.dataplane import bpfsys
from hitless.dataplane.loader import compile_for_test


def push(ifname: str, frame: bytes, count: int, batch: int = 64) -> float:
    """Transmits `count` copies of `frame` out of `ifname`; returns seconds taken."""
    ifindex = socket.if_nametoindex(ifname)
    with compile_for_test("trafficgen") as gen:
        start = time.perf_counter()
        bpfsys.prog_test_run_live(gen.fd, frame, count, ifindex, batch)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifname", required=True)
    ap.add_argument("--frame", required=True, help="the Ethernet frame, hex")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args(argv)
    seconds = push(args.ifname, bytes.fromhex(args.frame), args.count, args.batch)
    print(json.dumps({"count": args.count, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
