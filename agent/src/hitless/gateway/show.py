"""`hitless show gateway` as text: per group its state, AVG and standby, timers, weighting,
tracking, the forwarders with their owners and states, peers, counters, recent events.
(The CLI calls `format_table` with the dict GatewayService.show returns.)"""
from __future__ import annotations


def _who(x: dict | None) -> str:
    if not x:
        return "unknown"
    return "local" if x.get("local") else f"{x['ip']} ({x['mac']}, priority {x.get('priority', '?')})"


def _ms(v) -> str:
    if v is None:
        return "-"
    return f"{v:.1f} s" if v >= 1 else f"{v * 1000:.0f} ms"


def _dur(ms: int) -> str:
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms} ms"


def format_group(g: dict) -> list[str]:
    t = g["timers"]
    w = g["weighting"]
    out = [
        f"{g['interface']} - Group {g['group']}",
        f"  State is {g['state'].capitalize()} (for {_ms(g['since_s'])})"
        + ("  [shutting down]" if g.get("shutting_down") else ""),
        f"  Virtual IP address is {g['vip']}",
        f"  Hello time {_dur(t['hello_ms'])}, hold time {_dur(t['hold_ms'])}",
        f"  Redirect time {_dur(t['redirect_ms'])}, forwarder timeout {_dur(t['timeout_ms'])}",
        f"  Preemption {'enabled' if g['preempt'] else 'disabled'}",
        f"  Active is {_who(g['avg'])}",
        f"  Standby is {_who(g['standby'])}",
        f"  Priority {g['priority']}",
        f"  Weighting {w['current']} (maximum {w['maximum']}, thresholds: lower {w['lower']}, upper {w['upper']})"
        + ("" if w["forwarding"] else "  [below lower threshold: not forwarding]"),
    ]
    for tr in g.get("tracking", []):
        out.append(f"    Track {tr['kind']} {tr['target']} state {'Up' if tr['up'] else 'Down'} "
                   f"decrement {tr['decrement']}")
    out.append(f"  Load balancing: {g['load_balancing']}; authentication: {g['authentication']}")
    out.append(f"  Forwarder preemption {'enabled' if g['forwarder_preempt'] else 'disabled'}, "
               f"min delay {_dur(g['forwarder_preempt_delay_ms'])}")
    out.append(f"  There are {len(g['forwarders'])} forwarders")
    hdr = f"    {'Fwd':<4}{'VMAC':<19}{'State':<8}{'Owner':<17}{'Active':<17}{'Pri':>4}{'Wgt':>5}" \
          f"{'Clients':>8}  {'Redirect':<9}{'Timeout':<9}{'XDP pkts':>9}"
    out.append(hdr)
    for f in g["forwarders"]:
        owner = f["owner_ip"] or f["owner_mac"]
        if not f["owner_alive"]:
            owner += " (down)"
        redirect = "expired" if f["redirected"] else _ms(f["redirect_in_s"])
        xdp = f.get("xdp", {}).get("packets", "-")
        out.append(f"    {f['number']:<4}{f['vmac']:<19}{f['state']:<8}{owner:<17}{(f['active_ip'] or '-'):<17}"
                   f"{f['priority']:>4}{f['weight']:>5}{f['clients']:>8}  {redirect:<9}{_ms(f['timeout_in_s']):<9}"
                   f"{xdp:>9}")
    if g.get("peers"):
        out.append("  Peers:")
        for p in g["peers"]:
            out.append(f"    {p['ip']:<16}{p['mac']:<19}{p['state']:<8} priority {p['priority']:<4}"
                       f"expires in {_ms(p['expires_in_s'])}")
    c = g["counters"]
    out.append("  Counters: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    if g.get("events"):
        out.append("  Recent events:")
        for e in g["events"][-8:]:
            out.append(f"    {_ms(e['age_s'])} ago: {e['text']}")
    return out


def format_table(d: dict) -> str:
    lines = [f"Gateway (GLBP) on {d.get('node', '?')}"]
    for g in d.get("groups", []):
        lines += format_group(g)
    c = d.get("counters", {})
    lines.append("Receive/transmit: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))
    dp = d.get("dataplane")
    if dp:
        prog = dp["program"]
        lines.append(f"XDP program {prog['name']} id {prog['prog_id']} on "
                     + ", ".join(f"{i} ({m})" for i, m in prog["interfaces"].items()))
        lines.append("  accepted VMACs: " + (", ".join(
            f"{v['vmac']}{' (adopted)' if v['adopted'] else ''} {v['packets']} pkts" for v in dp["vmacs"]) or "none"))
        lines.append("  " + ", ".join(f"{k} {v['packets']}" for k, v in dp["counters"].items()))
    return "\n".join(lines)


# The name the gateway brief uses; the CLI looks for `format_table`.
format_gateway_table = format_table
