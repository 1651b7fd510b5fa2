"""Helpers shared by the GLBP tshark tests: decode a pcap with Debian's tshark and list
every expert (malformed/warning) item, so a test can assert on both."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

TSHARK = shutil.which("tshark") or "/usr/bin/tshark"


def decode(pcap: Path) -> list[dict]:
    """One dict per frame: its protocol stack and its glbp layer as tshark shows them."""
    out = subprocess.run([TSHARK, "-r", str(pcap), "-T", "json", "--no-duplicate-keys",
                          "-o", "udp.check_checksum:TRUE",
                          "-o", "ip.check_checksum:TRUE"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    frames = []
    for pkt in json.loads(out or "[]"):
        layers = pkt["_source"]["layers"]
        frames.append({"protocols": layers["frame"]["frame.protocols"], "layers": layers})
    return frames


def experts(pcap: Path) -> list[str]:
    """Every line of tshark's expert summary under Errors or Warnings (empty when clean)."""
    out = subprocess.run([TSHARK, "-r", str(pcap), "-q", "-z", "expert", "-o", "udp.check_checksum:TRUE",
                          "-o", "ip.check_checksum:TRUE"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    bad, section = [], None
    for line in out.splitlines():
        head = line.strip().split(" (")[0]
        if head in ("Errors", "Warnings", "Notes", "Chats", "Comments"):
            section = head
            continue
        if section in ("Errors", "Warnings") and line.strip() and not line.startswith(("=", " Frequency")) \
                and "Frequency" not in line:
            bad.append(f"{section}: {line.strip()}")
    return bad


def tlvs(glbp_layer: dict) -> list[dict]:
    """The TLV subtrees of one glbp layer, in order."""
    t = glbp_layer.get("glbp.tlv", [])
    return t if isinstance(t, list) else [t]


def mismatches(layer: dict, pkt) -> list[str]:
    """Differences between tshark's decode of one glbp layer and the Packet we sent."""
    from hitless.wire.glbp import mac_text

    want: list[tuple[str, str]] = [("glbp.version", "1"), ("glbp.group", str(pkt.group)),
                                   ("glbp.ownerid", mac_text(pkt.owner))]
    got_tlvs = tlvs(layer)
    exp_tlvs = []
    if pkt.auth is not None:
        a = {"glbp.type": "3", "glbp.auth.authtype": str(pkt.auth.type),
             "glbp.auth.authlength": str(len(pkt.auth.data))}
        if pkt.auth.type == 1:
            a["glbp.auth.plainpass"] = pkt.auth.data.decode()
        elif pkt.auth.type == 2:
            a["glbp.auth.md5hash"] = ":".join(f"{b:02x}" for b in pkt.auth.data)
        exp_tlvs.append(a)
    if pkt.hello is not None:
        h = pkt.hello
        exp_tlvs.append({"glbp.type": "1", "glbp.hello.vgstate": str(int(h.vg_state)),
                         "glbp.hello.priority": str(h.priority), "glbp.hello.helloint": str(h.hello_ms),
                         "glbp.hello.holdint": str(h.hold_ms), "glbp.hello.redirect": str(h.redirect_s),
                         "glbp.hello.timeout": str(h.timeout_s), "glbp.hello.virtualipv4": h.vip})
    for f in pkt.forwarders:
        exp_tlvs.append({"glbp.type": "2", "glbp.reqresp.forwarder": str(f.number),
                         "glbp.reqresp.vfstate": str(int(f.state)), "glbp.reqresp.priority": str(f.priority),
                         "glbp.reqresp.weight": str(f.weight), "glbp.reqresp.virtualmac": mac_text(f.vmac)})
    out = [f"{k}: tshark {layer.get(k)!r}, sent {v!r}" for k, v in want if layer.get(k) != v]
    if len(got_tlvs) != len(exp_tlvs):
        out.append(f"{len(got_tlvs)} TLVs decoded, {len(exp_tlvs)} sent")
    for i, (g, e) in enumerate(zip(got_tlvs, exp_tlvs)):
        out += [f"TLV {i} {k}: tshark {g.get(k)!r}, sent {v!r}" for k, v in e.items() if g.get(k) != v]
    return out
