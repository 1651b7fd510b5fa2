"""`hitless show flowswitch` as tables (the --json form prints the dict unchanged)."""
from __future__ import annotations


def _n(v: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.1f}{unit}"
    return str(v)


def _io(d: dict) -> list[str]:
    return [_n(d["in"]["packets"]), _n(d["in"]["bytes"]), _n(d["out"]["packets"]), _n(d["out"]["bytes"])]


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)] if rows else [len(h) for h in headers]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers), fmt.format(*("-" * w for w in widths))] + [fmt.format(*map(str, r)) for r in rows]


def format_table(d: dict) -> str:
    if not d.get("clusters"):
        return "flowswitch: not running" if not d.get("running") else "flowswitch: no clusters"
    out: list[str] = []
    for c in d["clusters"]:
        head = f"cluster {c['name']}  ip {c['ip']}  vmac {c['vmac']}  mode {c['mode']}"
        if c["mode"] == "availability":
            head += f"  primary {c['primary'] or '-'}  promotions {c['promotions']}"
        t = c["table"]
        head += f"  table {t['size']} (half {t['half']}, {t['rebuilds']} swaps)"
        out.append(head)
        out.append("  in " + " pkts/".join(_io(c)[:2]) + " bytes   out " + " pkts/".join(_io(c)[2:]) + " bytes")
        rows = []
        for s in c["servers"]:
            h = s.get("health") or {}
            state = s["state"] + (" (damped)" if h.get("suppressed") else "")
            if "availability" in s:
                state = f"{state} {s['availability']}"
            rows.append([s["name"], s["mac"], s["port"], state, s["capacity"], s["weight"],
                         f"{s['table_share'] * 100:.1f}%", *_io(s)])
        out += ["  " + line for line in _table(
            ["server", "mac", "port", "state", "cap", "weight", "share", "in-pkts", "in-bytes", "out-pkts", "out-bytes"],
            rows)]
        out.append("")
    for p in d.get("router_pools", []):
        out.append(f"router pool {p['name']}  gateway {p['gateway_ip']}  select {p['select']}")
        rows = [[r["name"], r["mac"], r["ip"], r["port"], r["state"], r["covered_by"] or "-", r["servers"], *_io(r)]
                for r in p["routers"]]
        out += ["  " + line for line in _table(
            ["router", "mac", "ip", "port", "state", "covered-by", "servers", "in-pkts", "in-bytes", "out-pkts",
             "out-bytes"], rows)]
        out.append("")
    stats = d.get("stats") or {}
    busy = [(k, v["packets"]) for k, v in stats.items() if v["packets"]]
    if busy:
        out.append("data plane: " + ", ".join(f"{k} {_n(v)}" for k, v in busy))
    return "\n".join(out).rstrip()
