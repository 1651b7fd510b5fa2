"""Prometheus view of the gateway role, read at scrape time: per group the VG state, the
weight, each forwarder's state and the engine counters; per VMAC the XDP packet counts."""
from __future__ import annotations

from hitless.wire import glbp


class GatewayCollector:
    def __init__(self, svc):
        self.svc = svc

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        vg = GaugeMetricFamily("hitless_gateway_vg_state", "Virtual gateway state (GLBP value: 4 listen, "
                               "8 speak, 16 standby, 32 active)", labels=["interface", "group"])
        avg = GaugeMetricFamily("hitless_gateway_is_avg", "1 when this member is the AVG", labels=["interface", "group"])
        w = GaugeMetricFamily("hitless_gateway_weight", "Current GLBP weight", labels=["interface", "group"])
        vf = GaugeMetricFamily("hitless_gateway_forwarder_state", "Virtual forwarder state (4 listen, 32 active)",
                               labels=["interface", "group", "forwarder", "vmac"])
        ev = CounterMetricFamily("hitless_gateway_events", "Protocol counters", labels=["interface", "group", "counter"])
        pk = CounterMetricFamily("hitless_gateway_vmac_packets", "Packets accepted by XDP per VMAC", labels=["vmac"])
        for g in self.svc.groups:
            e, labels = g.engine, [g.cfg.interface, str(g.cfg.group)]
            vg.add_metric(labels, int(e.vg.state))
            avg.add_metric(labels, 1 if e.is_avg() else 0)
            w.add_metric(labels, e.weight)
            for n, f in sorted(e.fwds.items()):
                vf.add_metric(labels + [str(n), glbp.mac_text(f.vmac)], int(f.state))
            for k, v in {**e.counters, **g.counters}.items():
                ev.add_metric(labels + [k], v)
        if self.svc.table is not None:
            for v in sorted(self.svc.table.installed):
                pk.add_metric([glbp.mac_text(v)], self.svc.table.vmac_counters(v)["packets"])
        yield from (vg, avg, w, vf, ev, pk)
