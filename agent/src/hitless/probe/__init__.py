"""Traffic probes: numbered packets at a fixed rate, and the loss report (SPEC §6).

Modules: `packet` (wire format, scapy templates), `sender` (paced sending over UDP or
AF_PACKET), `receiver` (recording arrivals), `report` (statistics, table, JSON),
`timeline` (PNG), `run` (processes inside lab namespaces, the background pattern),
`cli` (`hitless probe ...`).

    from hitless.probe import background
    with background("h1", "h2", lab="lab1", dst_ip="10.0.0.2", rate=10_000) as p:
        ...  # the action under test
    report = p.report()
    assert report.lost == 0, report.table()
"""
from hitless.probe.report import ProbeReport, analyse
from hitless.probe.run import (ProbeError, ProbeRun, ReceiverHandle, SenderHandle, background,
                               netns_of, run_sender, start_receiver, start_sender)
from hitless.probe.sender import SendResult

__all__ = ["ProbeReport", "analyse", "ProbeError", "ProbeRun", "ReceiverHandle", "SenderHandle",
           "SendResult", "background", "netns_of", "run_sender", "start_receiver", "start_sender"]
