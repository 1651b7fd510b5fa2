"""The flow switch's BPF maps as Python: struct layouts mirroring flowswitch.c, and writers.

Every key and value is packed here and nowhere else. `FlowSwitchMaps` wraps a loaded
program (an XdpProgram or a test program; anything with `.map(name)`) and writes the
tables the control plane decides:
- Maglev tables are double-buffered: cluster c's table has two halves in fs_maglev
  ([c*2+half]*M ...); the agent writes the half that is not live with one
  BPF_MAP_UPDATE_BATCH call and then flips fs_sel[c] (one 4-byte array write, which the
  XDP program reads once per packet). So the swap is atomic for every packet and the
  program is never reloaded. Chosen over map-in-map because bcc 0.26 cannot pin an
  inner-map template, and a flat array is simpler to adopt after an agent restart.
- Everything else is small and written element by element, diffed against the map.
"""
from __future__ import annotations

import socket
import struct
from array import array
from dataclasses import dataclass

from hitless.config.schema import mac_bytes
from hitless.dataplane.bpfsys import MapHandle
from hitless.dataplane.maps import read_counters, sync_map
from hitless.flowswitch.maglev import EMPTY

MAX_CLUSTERS = 16
MAX_SERVERS = 256
MAX_ROUTERS = 64
POOL_MAX = 16
MODE_BALANCE, MODE_AVAILABILITY = 0, 1
PORT_SERVER, PORT_ROUTER = 1, 2

U32 = struct.Struct("<I")
CLUSTER = struct.Struct("<4sIII")          # struct fs_cluster (ip in network order)
VIP_ARP = struct.Struct("<6sHII")          # struct fs_vip_arp
SERVER = struct.Struct("<6sHIIII")         # struct fs_server
FLOW = struct.Struct("!4s4sHHB3x")         # struct fs_flow (ports as on the wire)
CT_VAL = struct.Struct("<II")              # struct fs_ct_val
FRAG_KEY = struct.Struct("!4s4sHBxI")      # struct fs_frag_key
SRC_KEY = struct.Struct("<4s6sH")          # struct fs_src_key
ROUTER = struct.Struct("<II6sHIIII")       # struct fs_router
GW = struct.Struct("<II" + "8s" * POOL_MAX)  # struct fs_gw
GW_KEY = struct.Struct("<4s6sH")           # struct fs_gw_key

STATS = ("rx", "inbound", "no_server", "vip_bad_ip", "ct_hit", "ct_new", "ct_reselect",
         "frag_hit", "frag_l3", "arp_proxy", "arp_gw", "arp_isolated", "arp_self",
         "router_rewrite", "pass", "no_port")   # enum fs_stat



def ip4(text: str) -> bytes:
    return socket.inet_aton(text)


def mac_key(mac: str | bytes) -> bytes:
    return (mac if isinstance(mac, bytes) else mac_bytes(mac)) + b"\0\0"


def flow_key(saddr: str, daddr: str, proto: int, sport: int = 0, dport: int = 0) -> bytes:
    return FLOW.pack(ip4(saddr), ip4(daddr), sport, dport, proto)


# ---- the XDP hash, mirrored so tests and the bench can predict Maglev slots ----------------

def _mix(h: int, k: int) -> int:
    k = (k * 0xCC9E2D51) & 0xFFFFFFFF
    k = ((k << 15) | (k >> 17)) & 0xFFFFFFFF
    k = (k * 0x1B873593) & 0xFFFFFFFF
    h ^= k
    h = ((h << 13) | (h >> 19)) & 0xFFFFFFFF
    return (h * 5 + 0xE6546B64) & 0xFFFFFFFF


def flow_hash(key: bytes) -> int:
    """fs_hash() of flowswitch.c over a packed FLOW key."""
    saddr, daddr = struct.unpack_from("<II", key, 0)        # C reads them as host-order u32
    sport, dport = struct.unpack_from("<HH", key, 8)
    proto = key[12]
    h = 0x5EED0004
    h = _mix(h, saddr)
    h = _mix(h, daddr)
    h = _mix(h, ((sport << 16) | dport) & 0xFFFFFFFF)
    h = _mix(h, proto)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h



@dataclass
class ServerEntry:
    sid: int
    mac: str
    slot: int
    up: bool
    cluster: int


class FlowSwitchMaps:
    """Writes the control plane's decisions into the pinned maps of one flowswitch program."""

    def __init__(self, prog, maglev_size: int):
        self.prog = prog
        self.M = maglev_size
        self._h: dict[str, MapHandle] = {}

    def m(self, name: str) -> MapHandle:
        if name not in self._h:
            self._h[name] = self.prog.map(name)
        return self._h[name]

    # -- reading back (adoption after an agent restart) --

    def clusters(self) -> dict[str, tuple[int, str, int]]:
        """{vmac: (id, cluster ip, mode)} as the maps hold them now."""
        out = {}
        for k, v in self.m("fs_vip").items():
            ip, cid, mode, _ = CLUSTER.unpack(v)
            out[":".join(f"{b:02x}" for b in k[:6])] = (cid, socket.inet_ntoa(ip), mode)
        return out

    def servers(self) -> dict[int, ServerEntry]:
        """Server slots in use (a zero MAC marks a free slot)."""
        out = {}
        h = self.m("fs_servers")
        for sid in range(MAX_SERVERS):
            raw = h.lookup(U32.pack(sid))
            if raw is None:
                continue
            mac, _, slot, up, cluster, _ = SERVER.unpack(raw)
            if mac != bytes(6):
                out[sid] = ServerEntry(sid, ":".join(f"{b:02x}" for b in mac), slot, bool(up), cluster)
        return out

    def selected_half(self, cid: int) -> int:
        raw = self.m("fs_sel").lookup(U32.pack(cid))
        return U32.unpack(raw)[0] & 1 if raw else 0

    def maglev_slot(self, cid: int, slot: int, half: int | None = None) -> int:
        half = self.selected_half(cid) if half is None else half
        raw = self.m("fs_maglev").lookup(U32.pack((cid * 2 + half) * self.M + slot))
        return U32.unpack(raw)[0] if raw else EMPTY

    # -- writing --

    def set_ports(self, slots: dict[int, int], roles: dict[int, int]) -> None:
        """slots: devmap slot -> ifindex; roles: ifindex -> PORT_SERVER | PORT_ROUTER."""
        sync_map(self.m("fs_ports"), {U32.pack(s): U32.pack(i) for s, i in slots.items()})
        sync_map(self.m("fs_port_role"), {U32.pack(i): U32.pack(r) for i, r in roles.items()})

    def set_self_macs(self, macs: list[str]) -> None:
        sync_map(self.m("fs_self"), {mac_key(m): U32.pack(1) for m in macs})

    def set_clusters(self, clusters: dict[int, tuple[str, str, int]]) -> None:
        """{id: (cluster ip, vmac, mode)}."""
        sync_map(self.m("fs_vip"), {mac_key(vmac): CLUSTER.pack(ip4(ip), cid, mode, 0)
                                    for cid, (ip, vmac, mode) in clusters.items()})
        sync_map(self.m("fs_vip_ip"), {ip4(ip): VIP_ARP.pack(mac_bytes(vmac), 0, cid, 0)
                                       for cid, (ip, vmac, mode) in clusters.items()})

    def set_server(self, e: ServerEntry) -> None:
        self.m("fs_servers").update(U32.pack(e.sid), SERVER.pack(mac_bytes(e.mac), 0, e.slot, int(e.up), e.cluster, 0))

    def clear_server(self, sid: int) -> None:
        self.m("fs_servers").update(U32.pack(sid), bytes(SERVER.size))

    def set_server_sources(self, sources: dict[tuple[str, str], int]) -> None:
        """{(cluster ip, server mac): server id}: attributes outbound frames to a server."""
        sync_map(self.m("fs_srv_src"), {SRC_KEY.pack(ip4(ip), mac_bytes(mac), 0): U32.pack(sid)
                                        for (ip, mac), sid in sources.items()})

    def write_maglev(self, cid: int, table: array) -> int:
        """Writes `table` into cluster cid's idle half and makes it live; returns the new half."""
        if len(table) != self.M:
            raise ValueError(f"table has {len(table)} slots, the program expects {self.M}")
        half = 1 - self.selected_half(cid)
        base = (cid * 2 + half) * self.M
        keys = array("I", range(base, base + self.M))
        if keys.itemsize != 4 or table.itemsize != 4:
            raise RuntimeError("array('I') is not 32-bit on this platform")
        self.m("fs_maglev").update_batch(keys.tobytes(), table.tobytes())
        self.m("fs_sel").update(U32.pack(cid), U32.pack(half))
        return half

    def set_routers(self, routers: dict[str, tuple[int, bool, str | None, int, int, int]]) -> None:
        """{router mac: (id, up, cover mac, cover slot, cover id, pool id)}."""
        desired = {}
        for mac, (rid, up, cover, slot, cover_id, pool) in routers.items():
            desired[mac_key(mac)] = ROUTER.pack(rid, int(up), mac_bytes(cover) if cover else bytes(6),
                                                1 if cover else 0, slot, cover_id, pool, 0)
        sync_map(self.m("fs_rtr"), desired)

    def set_router_ips(self, answers: dict[str, str]) -> None:
        """{router IP: MAC to answer servers with} (the router itself, or its cover while down)."""
        sync_map(self.m("fs_rtr_ip"), {ip4(ip): mac_key(mac) for ip, mac in answers.items()})

    def set_gateways(self, gateways: dict[str, tuple[int, list[str]]],
                     assign: dict[tuple[str, str], str]) -> None:
        """gateways: {gateway ip: (pool id, live router MACs)}; assign: {(gw ip, asker mac): router mac}."""
        desired = {}
        for ip, (pool, live) in gateways.items():
            live = live[:POOL_MAX]
            macs = [mac_key(m) for m in live] + [bytes(8)] * (POOL_MAX - len(live))
            desired[ip4(ip)] = GW.pack(len(live), pool, *macs)
        sync_map(self.m("fs_gw"), desired)
        sync_map(self.m("fs_gw_assign"), {GW_KEY.pack(ip4(ip), mac_bytes(srv), 0): mac_key(r)
                                          for (ip, srv), r in assign.items()})

    # -- counters --

    def _pair(self, name: str, idx: int) -> dict:
        h = self.m(name)
        pi, bi = read_counters(h, U32.pack(idx * 2))
        po, bo = read_counters(h, U32.pack(idx * 2 + 1))
        return {"in": {"packets": pi, "bytes": bi}, "out": {"packets": po, "bytes": bo}}

    def cluster_counters(self, cid: int) -> dict:
        return self._pair("fs_cl_cnt", cid)

    def server_counters(self, sid: int) -> dict:
        return self._pair("fs_srv_cnt", sid)

    def router_counters(self, rid: int) -> dict:
        return self._pair("fs_rtr_cnt", rid)

    def stats(self) -> dict[str, dict[str, int]]:
        h = self.m("fs_stats")
        out = {}
        for i, name in enumerate(STATS):
            p, b = read_counters(h, U32.pack(i))
            out[name] = {"packets": p, "bytes": b}
        return out

    def ct_lookup(self, key: bytes) -> tuple[int, int] | None:
        raw = self.m("fs_ct").lookup(key)
        return CT_VAL.unpack(raw) if raw else None
