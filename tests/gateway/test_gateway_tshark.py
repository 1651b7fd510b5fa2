"""A real capture on the lab LAN, decoded by Debian's tshark: every GLBP packet the agents
send (hellos in each VG state with their forwarders, a newcomer's request, the AVG's
response, text and MD5 authentication) decodes as `glbp` with our field values and no
expert warnings."""
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from gwlab import ROUTERS, VIP, V, wait_for
from hitless.wire.glbp import Packet

sys.path.insert(0, str(Path(__file__).parent.parent / "unit"))
from tshark_glbp import decode, experts, mismatches  # noqa: E402

pytestmark = pytest.mark.lab


def capture(gw, tmp_path: Path, name: str, seconds: float):
    pcap = tmp_path / f"{name}.pcap"
    proc = gw.lab.popen("h1", ["tcpdump", "-i", "eth0", "-U", "-w", str(pcap), "udp port 3222"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)   # tcpdump is listening
    return proc, pcap


def stop(proc):
    proc.terminate()
    proc.wait(timeout=10)


def check(pcap: Path) -> list[Packet]:
    """Asserts tshark agrees with us on every GLBP frame; returns our decodes."""
    ours = [Packet.decode(bytes(f[UDP].payload)) for f in rdpcap(str(pcap)) if UDP in f]
    frames = decode(pcap)
    assert len(frames) == len(ours) and ours
    for i, (f, p) in enumerate(zip(frames, ours)):
        assert f["protocols"].endswith("udp:glbp"), f["protocols"]
        assert mismatches(f["layers"]["glbp"], p) == [], i
    assert experts(pcap) == []
    return ours


def test_live_capture_decodes_as_glbp(gw, tmp_path):
    proc, pcap = capture(gw, tmp_path, "plain", 0)
    try:
        gw.start_all("r1", "r2")
        gw.wait_converged(routers=("r1", "r2"))
        gw.start("r3")                                   # a newcomer: request, then response
        wait_for(lambda: gw.accepting("r3") == {V(3)}, 10, "r3 to get VMAC 3")
        time.sleep(0.5)
    finally:
        stop(proc)
    pkts = check(pcap)
    states = {p.hello.vg_state for p in pkts}
    assert {4, 8, 0x10, 0x20} <= states                  # listen, speak, standby, active
    r3 = bytes.fromhex(ROUTERS["r3"][1].replace(":", ""))
    requests = [p for p in pkts if p.owner == r3 and p.request is not None]
    assert requests
    responses = [p for p in pkts if p.hello.vg_state == 0x20 and any(f.number == 3 and f.owner == r3 for f in p.forwarders)]
    assert responses
    full = next(p for p in reversed(pkts) if p.hello.vg_state == 0x20)
    assert full.hello.vip == VIP and full.hello.hello_ms == 100 and full.hello.hold_ms == 600
    assert (full.hello.redirect_s, full.hello.timeout_s) == (4, 8) and full.hello.priority == 150
    assert {(f.number, f.state) for f in full.forwarders} == {(1, 0x20), (2, 4), (3, 4)}
    assert {f.vmac.hex(":") for f in full.forwarders} == {V(1), V(2), V(3)}


@pytest.mark.parametrize("kind", ["text", "md5"])
def test_live_capture_with_authentication(gw, tmp_path, kind):
    proc, pcap = capture(gw, tmp_path, kind, 0)
    try:
        gw.start_all("r1", "r2", authentication={"type": kind, "key": "s3cret"})
        gw.wait_converged(routers=("r1", "r2"))
        time.sleep(0.3)
    finally:
        stop(proc)
    pkts = check(pcap)
    assert {p.auth.type for p in pkts} == {1 if kind == "text" else 2}
    if kind == "text":
        assert {p.auth.data for p in pkts} == {b"s3cret"}
