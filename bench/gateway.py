"""Benchmark: what a gateway failure costs hosts, GLBP (hitless) against keepalived VRRPv3.

One lab (tests/gateway/topology.yml: 3 gateway routers r1-r3, 4 hosts, 1 server), one run,
alternating rounds so machine drift hits every candidate alike. In each round a probe sends
10,000 numbered packets/s from a host through its gateway to the server, and the scenario
happens under it:

  avf_kill         GLBP, hello 50 ms / hold 150 ms. The router r3 crashes while forwarding
                   the probe's VMAC: `kill -9` of its agent and, in the same shell command,
                   its LAN port frozen (nftables netdev ingress+egress drop: a hung box whose
                   link stays up, so the switch keeps sending it the VMAC's frames). A
                   secondary (the AVG) takes the VMAC over after the hold time.
  keepalived_kill  keepalived 2.2.7, VRRPv3, advert 0.05 s (its minimum useful setting),
                   use_vmac (hosts need no ARP change: the best keepalived can do); the
                   master r1 crashes the same way: `kill -9` of keepalived, port frozen.
  *_linkdown       the same two crashes with the LAN link going down instead of freezing
                   (secondary figures, see the note printed with them).
  planned          GLBP: SIGTERM to r2's agent while it forwards the probe's VMAC: it resigns
                   and hands the VMAC over make-before-break. Must lose nothing.
  avg_kill         GLBP: `kill -9` of the AVG r1's agent alone (its XDP data plane stays):
                   the standby takes the AVG role and the VMAC over. Must lose nothing.

The outage is RFC 6412's loss-derived figure (lost / rate). Prints a table and writes
bench/results/gateway.json (avf_kill_outage_ms, keepalived_kill_outage_ms and their ratio,
planned_shutdown_lost, avg_kill_lost; medians and every run).

Both protocols use the same priorities (r1 150, r2 120, r3 100) and detect a dead peer after
3 missed hellos/adverts; VRRP adds its skew time ((256 - priority) / 256 of an advert).

Run: `.venv/bin/python bench/gateway.py [--rounds R] [--other-rounds R2] [--seconds S]`
(root; about 7 minutes with the defaults).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from common import VENV_PY, summary, table, write_json  # noqa: E402

from hitless.dataplane.bpfsys import MapHandle  # noqa: E402
from hitless.lab import Lab  # noqa: E402
from hitless.lab.agents import LabAgent  # noqa: E402
from hitless.probe import background  # noqa: E402
from hitless.wire import glbp  # noqa: E402
from hitless.lab.poll import PollTimeout, wait_for  # noqa: E402

PREFIX = "bgw"
TOPOLOGY = ROOT / "tests" / "gateway" / "topology.yml"
VIP, KA_VIP, SERVER = "10.31.1.1", "10.31.1.254", "10.31.2.10"
ROUTERS = {"r1": 150, "r2": 120, "r3": 100}
HELLO_MS, HOLD_MS = 50, 150
RATE = 10_000
KA_DIR = Path(f"/run/hitless-lab/{PREFIX}/keepalived")


def vmac(n: int) -> str:
    return glbp.mac_text(glbp.vmac(1, n))




class Bench:
    def __init__(self, lab: Lab, seconds: float):
        self.lab, self.seconds = lab, seconds
        self.agents: dict[str, LabAgent] = {}
        self.ka: dict[str, subprocess.Popen] = {}

    # --- common -------------------------------------------------------------------
    def sh(self, node: str, cmd: str, check: bool = False) -> str:
        return self.lab.run(node, cmd, check=check).stdout

    def probe(self, host: str):
        return background(host, "srv", lab=self.lab.prefix, dst_ip=SERVER, rate=RATE,
                          count=int(RATE * self.seconds))

    def clean(self) -> None:
        """Back to a neutral lab: no agent, no keepalived, links up, no VIP state."""
        for a in self.agents.values():
            with contextlib.suppress(Exception):
                a.kill()
        self.agents.clear()
        for p in self.ka.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                p.wait(timeout=10)
        self.ka.clear()
        for r in ROUTERS:
            self.sh(r, "nft delete table netdev hlfreeze 2>/dev/null; "
                       "ip link set dev eth0 up; ip link set dev eth1 up; ip link del vrrp51 2>/dev/null; "
                       f"ip addr del {VIP}/32 dev lo 2>/dev/null; ip neigh del {VIP} dev eth0 2>/dev/null; "
                       "ip link set dev eth0 xdpgeneric off 2>/dev/null; true")
            pin = Path(self.lab.pin_root(r)) / "gw_vmacs"
            if pin.exists():
                with MapHandle.from_pin(str(pin)) as m:
                    m.clear()
        for h in ("h1", "h2", "h3", "h4"):
            self.sh(h, f"ip neigh del {VIP} dev eth0 2>/dev/null; ip neigh del {KA_VIP} dev eth0 2>/dev/null; "
                       f"ip neigh flush dev eth0; ip route replace default via {VIP}")
        time.sleep(0.3)

    def warm(self) -> None:
        for r in ROUTERS:
            self.sh(r, f"ping -c 1 -W 1 {SERVER}")

    # --- GLBP ---------------------------------------------------------------------
    def glbp_up(self) -> None:
        for r, prio in ROUTERS.items():
            roles = {"gateway": {"groups": [{
                "group": 1, "interface": "eth0", "vip": VIP, "priority": prio,
                "timers": {"hello": f"{HELLO_MS}ms", "hold": f"{HOLD_MS}ms"}}]}}
            a = LabAgent(self.lab, r, roles, extra={"log": {"format": "text", "level": "info",
                                                            "file": f"/run/hitless-lab/{PREFIX}/agents/{r}.log"}})
            a.write_config()
            a.proc = self.lab.popen(r, [VENV_PY, "-m", "hitless", "agent", "--config", str(a.config_path)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.agents[r] = a
        for a in self.agents.values():
            a.wait_ready(120)

        def converged():
            gs = {r: a.show("gateway")["groups"][0] for r, a in self.agents.items()}
            states = sorted(g["state"] for g in gs.values())
            owned = all(any(f["state"] == "active" and f["owner_alive"] and f["owner_ip"] == a.show("gateway")["interfaces"]["eth0"]["ip"]
                            for f in g["forwarders"]) for g, a in zip(gs.values(), self.agents.values()))
            return gs["r1"]["state"] == "active" and states == ["active", "listen", "standby"] and owned
        try:
            wait_for(converged, 20, "the GLBP group to converge")
        except PollTimeout:
            for r, a in self.agents.items():
                print(r, a.show("gateway")["groups"][0]["state"], a.log_tail(15), file=sys.stderr)
            raise
        self.warm()

    def glbp_compile(self) -> None:
        for r in ROUTERS:
            a = LabAgent(self.lab, r, {"gateway": {"groups": [{"group": 1, "interface": "eth0", "vip": VIP}]}})
            a.start(180)
            a.stop()

    def owned(self, r: str) -> str:
        mac = self.agents[r].show("gateway")["interfaces"]["eth0"]["mac"]
        return next(f["vmac"] for f in self.agents[r].show("gateway")["groups"][0]["forwarders"]
                    if f["owner_mac"] == mac)

    def accepting(self, r: str) -> set[str]:
        return {v["vmac"] for v in self.agents[r].show("gateway")["dataplane"]["vmacs"]}

    def crash(self, router: str, pids: list, how: str) -> None:
        """kill -9 and, in the same command, the port frozen or the link down."""
        if how == "freeze":
            cut = ("nft -f - <<'EOF'\ntable netdev hlfreeze {\n"
                   " chain i { type filter hook ingress device \"eth0\" priority -500; policy drop; }\n"
                   " chain o { type filter hook egress device \"eth0\" priority -500; policy drop; }\n}\nEOF")
        else:
            cut = "ip link set dev eth0 down"
        self.sh(router, f"kill -9 {' '.join(map(str, pids))}; {cut}", check=True)

    def pin_host(self, host: str, mac: str, gw_ip: str = VIP) -> None:
        self.sh(host, f"ip neigh replace {gw_ip} lladdr {mac} dev eth0 nud permanent", check=True)

    def glbp_round(self, scenario: str) -> dict:
        self.clean()
        self.glbp_up()
        victim, host = {"avf_kill": ("r3", "h3"), "avf_kill_linkdown": ("r3", "h3"), "planned": ("r2", "h2"),
                        "avg_kill": ("r1", "h1")}[scenario]
        vm = self.owned(victim)
        self.pin_host(host, vm)
        with self.probe(host) as p:
            time.sleep(1.0)
            a = self.agents[victim]
            if scenario.startswith("avf_kill"):
                self.crash(victim, [a.proc.pid], "link" if scenario.endswith("linkdown") else "freeze")
            elif scenario == "avg_kill":
                self.sh(victim, f"kill -9 {a.proc.pid}", check=True)
            else:
                a.proc.send_signal(signal.SIGTERM)
            a.proc.wait(timeout=30)
            rep = p.wait()   # no polling of the agents while they work: it would cost them CPU
        others = [r for r in ROUTERS if r != victim]
        wait_for(lambda: any(vm in self.accepting(r) for r in others), 10, f"{vm} to be taken over")
        return {"lost": rep.lost, "outage_ms": rep.outage_ms, "longest_gap_ms": rep.longest_gap_ms,
                "sent": rep.sent, "received": rep.received, "duplicated": rep.duplicated, "vmac": vm}

    # --- keepalived ---------------------------------------------------------------
    def ka_conf(self, r: str) -> Path:
        d = KA_DIR / r
        d.mkdir(parents=True, exist_ok=True)
        conf = d / "keepalived.conf"
        conf.write_text(f"""global_defs {{
    router_id {r}
    vrrp_version 3
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 3
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority {ROUTERS[r]}
    advert_int 0.05
    use_vmac vrrp51
    virtual_ipaddress {{
        {KA_VIP}/24
    }}
}}
""")
        return conf

    def ka_up(self) -> None:
        for r in ROUTERS:
            conf = self.ka_conf(r)
            d = conf.parent
            self.ka[r] = self.lab.popen(
                r, ["keepalived", "--dont-fork", "--log-console", "--vrrp", "-f", str(conf),
                    "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid"), "-c", str(d / "checkers.pid")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        def master_r1():
            out = self.sh("r1", "ip -o -4 addr show dev vrrp51 2>/dev/null")
            return KA_VIP in out
        wait_for(master_r1, 20, "keepalived r1 to become master")
        time.sleep(1.0)   # backups settled (their master-down timers running)
        self.warm()

    def ka_round(self, how: str) -> dict:
        self.clean()
        self.ka_up()
        host = "h1"
        self.sh(host, f"ip route replace default via {KA_VIP}", check=True)
        with self.probe(host) as p:
            time.sleep(1.0)
            pids = self.sh("r1", f"cat {KA_DIR}/r1/keepalived.pid {KA_DIR}/r1/vrrp.pid 2>/dev/null").split()
            self.crash("r1", pids, how)
            rep = p.wait()
        wait_for(lambda: KA_VIP in self.sh("r2", "ip -o -4 addr show dev vrrp51 2>/dev/null"), 10,
                 "keepalived r2 to take over")
        return {"lost": rep.lost, "outage_ms": rep.outage_ms, "longest_gap_ms": rep.longest_gap_ms,
                "sent": rep.sent, "received": rep.received, "duplicated": rep.duplicated}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=9,
                    help="rounds of the crash comparison (GLBP vs keepalived, hung port)")
    ap.add_argument("--other-rounds", type=int, default=3,
                    help="rounds of the planned shutdown, the AVG kill and the link-down variants")
    ap.add_argument("--seconds", type=float, default=3.0, help="probe length per round")
    ap.add_argument("--no-linkdown", action="store_true", help="skip the link-down variants")
    args = ap.parse_args()
    names = ["avf_kill", "keepalived_kill", "planned", "avg_kill"]
    if not args.no_linkdown:
        names += ["avf_kill_linkdown", "keepalived_kill_linkdown"]
    runs: dict[str, list[dict]] = {k: [] for k in names}
    lab = Lab.load(TOPOLOGY, prefix=PREFIX)
    with lab.running():
        b = Bench(lab, args.seconds)
        try:
            b.clean()
            # compile and pin the gateway program once per router, outside the measured rounds
            b.glbp_compile()
            for i in range(args.rounds):
                for name in runs:
                    if name not in ("avf_kill", "keepalived_kill") and i >= args.other_rounds:
                        continue
                    if name.startswith("keepalived"):
                        res = b.ka_round("link" if name.endswith("linkdown") else "freeze")
                    else:
                        res = b.glbp_round(name)
                    runs[name].append(res)
                    print(f"round {i + 1}/{args.rounds} {name:16s} lost {res['lost']:6d}  "
                          f"outage {res['outage_ms']:8.1f} ms  longest gap {res['longest_gap_ms']:8.1f} ms  "
                          f"duplicated {res['duplicated']}", flush=True)
        finally:
            b.clean()

    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    avf, ka = med("avf_kill", "outage_ms"), med("keepalived_kill", "outage_ms")
    rows = []
    labels = {"avf_kill": f"GLBP AVF crash, hung port (hello {HELLO_MS} / hold {HOLD_MS} ms)",
              "keepalived_kill": "keepalived VRRPv3 master crash, hung port (advert 50 ms)",
              "avf_kill_linkdown": "GLBP AVF crash, link down",
              "keepalived_kill_linkdown": "keepalived master crash, link down",
              "planned": "GLBP planned AVF shutdown (SIGTERM)",
              "avg_kill": "GLBP AVG agent kill -9 (data plane stays)"}
    for name, rs in runs.items():
        if not rs:
            continue
        out = [r["outage_ms"] for r in rs]
        rows.append([labels[name], float(statistics.median(out)), float(min(out)), float(max(out)),
                     max(r["lost"] for r in rs), float(statistics.median(r["longest_gap_ms"] for r in rs)),
                     max(r["duplicated"] for r in rs)])
    print()
    print(table(f"Gateway failover at {RATE:,} packets/s, {args.rounds} crash rounds, {args.other_rounds} of the "
                f"others (outage = lost / rate)",
                ["scenario", "outage ms (median)", "min", "max", "max lost", "longest gap ms (median)",
                 "max duplicated"], rows))
    if not args.no_linkdown:
        print("Link down: the bridge flushes the dead port's entries and floods the VMAC's frames; keepalived's\n"
              "backups keep their VMAC interface up and forward the flood (duplicates), GLBP secondaries\n"
              "accept a VMAC only once they take it over (after the hold time).")
    ratio = ka / avf if avf > 0 else None
    print(f"\nkeepalived outage / GLBP AVF outage = {ratio:.2f}" if ratio else "\nGLBP AVF outage was 0")
    doc = {
        "rate_pps": RATE, "rounds": args.rounds, "other_rounds": args.other_rounds, "probe_seconds": args.seconds,
        "priorities": dict(ROUTERS),
        "glbp_timers_ms": {"hello": HELLO_MS, "hold": HOLD_MS}, "keepalived_advert_s": 0.05,
        "avf_kill_outage_ms": avf, "keepalived_kill_outage_ms": ka, "ratio_keepalived_over_glbp": ratio,
        "glbp_beats_keepalived": avf < ka,
        "avf_kill_within_hold": max(r["outage_ms"] for r in runs["avf_kill"]) <= HOLD_MS,
        "planned_shutdown_lost": max(r["lost"] for r in runs["planned"]),
        "avg_kill_lost": max(r["lost"] for r in runs["avg_kill"]),
        "crash_model": "kill -9 of the daemon + LAN port frozen (nft netdev drop in and out), link up",
        "summary": {k: summary([r["outage_ms"] for r in v]) for k, v in runs.items()},
        "runs": runs,
    }
    path = write_json("gateway", doc)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
