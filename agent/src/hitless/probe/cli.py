"""`hitless probe send|receive|run|report`: the traffic probe from the command line.

    hitless probe receive --bind IP --port 7000 --duration S [--expect-count N] --out R.json
    hitless probe send --dst IP --port 7000 --rate 10000 (--count N | --duration S)
                       [--src IP] [--mode udp|raw --iface IF --dst-mac MAC]
    hitless probe run --from NODE --to NODE --dst IP [--lab PREFIX] --rate 10000
                      (--count N | --duration S) --report out.json --png out.png [--max-lost N]
    hitless probe report R.json [--png out.png]

`send` and `receive` run in the current network namespace (wrap them in
`ip netns exec` / `nsenter`); `run` starts both inside the lab nodes' namespaces
(`{lab}-{node}`) and prints the report table. With `--events`, `send`/`receive`
print JSON lines (ready/started/first/done) for the process driving them
(hitless.probe.run) instead of human text. `run` exits 1 when more than --max-lost
packets were lost, so a playbook can use it as a hitlessness check.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys

from hitless.errors import HitlessError


def _int(text: str) -> int:
    return int(text, 0)  # accepts 0x... for run ids


def _add_send_args(p: argparse.ArgumentParser, *, dst_flag: str = "--dst") -> None:
    p.add_argument(dst_flag, dest="dst", required=True, help="destination IPv4 address")
    p.add_argument("--src", help="source IPv4 address (required in raw mode)")
    p.add_argument("--port", type=int, default=7000, help="destination UDP port (7000)")
    p.add_argument("--sport", type=int, default=0, help="source UDP port (any; raw: 40000)")
    p.add_argument("--rate", type=int, default=10_000, help="packets per second (10000)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--count", type=int, help="packets to send")
    how.add_argument("--duration", type=float, help="seconds to send")
    p.add_argument("--mode", choices=["udp", "raw"], default="udp",
                   help="udp: UDP socket; raw: prebuilt Ethernet frame on an AF_PACKET socket")
    p.add_argument("--iface", help="raw mode: interface to send on")
    p.add_argument("--dst-mac", help="raw mode: destination MAC (e.g. a GLBP VMAC)")
    p.add_argument("--payload-size", type=int, default=None, help="UDP payload bytes (>= 24)")
    p.add_argument("--run-id", type=_int, help="run id (random by default)")


def register(subparsers) -> None:
    parser = subparsers.add_parser("probe", help="traffic probe: send, receive, run, report",
                                   description=__doc__.splitlines()[0])
    _fill(parser)


def _fill(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="probe_command", metavar="SUBCOMMAND")
    sub.required = True

    p = sub.add_parser("receive", help="receive probe packets and write the report")
    p.add_argument("--bind", default="0.0.0.0", help="address to bind (0.0.0.0)")
    p.add_argument("--port", type=int, default=7000)
    p.add_argument("--duration", type=float, default=60.0,
                   help="longest expected run in seconds; the receiver stops by "
                        "duration + grace at the latest (60)")
    p.add_argument("--grace", type=float, default=2.0)
    p.add_argument("--expect-count", type=int, help="stop once this many packets arrived; "
                   "also the sent count if the END marker never arrives")
    p.add_argument("--run-id", type=_int, help="accept only this run (default: the first seen)")
    p.add_argument("--out", help="write the report JSON here")
    p.add_argument("--png", help="write the timeline PNG here")
    p.add_argument("--samples", help="write every arrival (seq, arrival_ns, send_ns) as CSV")
    p.add_argument("--events", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_receive)

    p = sub.add_parser("send", help="send numbered packets at a fixed rate")
    _add_send_args(p)
    p.add_argument("--max-duration", type=float, default=3600.0,
                   help="cap when neither --count nor --duration is given (3600 s)")
    p.add_argument("--events", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("run", help="receiver and sender inside lab nodes, then the report")
    p.add_argument("--from", dest="src_node", required=True, help="sending node (or netns)")
    p.add_argument("--to", dest="dst_node", required=True, help="receiving node (or netns)")
    p.add_argument("--lab", help="lab prefix: namespaces are PREFIX-NODE")
    _add_send_args(p)
    p.add_argument("--bind", default="0.0.0.0", help="receiver bind address (0.0.0.0)")
    p.add_argument("--report", help="write the report JSON here")
    p.add_argument("--png", help="write the timeline PNG here")
    p.add_argument("--json", action="store_true", help="print the report JSON, not the table")
    p.add_argument("--max-lost", type=int, help="exit 1 when more packets than this were lost")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="print a saved report; optionally draw its timeline")
    p.add_argument("file")
    p.add_argument("--png", help="write the timeline PNG here")
    p.add_argument("--json", action="store_true", help="print JSON, not the table")
    p.set_defaults(func=cmd_report)


class _StopFlag:
    """Set by SIGTERM/SIGINT so loops finish cleanly (the sender still sends END)."""

    def __init__(self) -> None:
        self.set = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, _sig, _frame) -> None:
        self.set = True

    def __call__(self) -> bool:
        return self.set


def _event(name: str, **fields) -> None:
    print(json.dumps({"event": name, **fields}), flush=True)


def cmd_receive(args) -> int:
    from hitless.probe.receiver import Receiver, ReceiverConfig

    stop = _StopFlag()
    rx = Receiver(ReceiverConfig(bind=args.bind, port=args.port, duration=args.duration,
                                 grace=args.grace, expect_count=args.expect_count,
                                 run_id=args.run_id))
    rx.open()
    if args.events:
        _event("ready", bind=args.bind, port=args.port, rcvbuf=rx.rcvbuf)
        on_first = lambda seq: _event("first", seq=seq)  # noqa: E731
    else:
        print(f"probe: receiving on {args.bind}:{args.port} (socket buffer {rx.rcvbuf} B)",
              file=sys.stderr, flush=True)
        on_first = None
    report = rx.run(stop, on_first)
    if args.out:
        report.write_json(args.out)
    if args.png:
        report.timeline_png(args.png)
    if args.samples:
        rx.write_samples(args.samples)
    if args.events:
        _event("done", out=args.out, received=report.received, end_seen=report.end_seen)
    else:
        print(report.table())
    return 0


def cmd_send(args) -> int:
    from hitless.probe import sender

    stop = _StopFlag()
    cfg = sender.SenderConfig(
        dst=args.dst, port=args.port, rate=args.rate, count=args.count, duration=args.duration,
        src=args.src, sport=args.sport, mode=args.mode, iface=args.iface, dst_mac=args.dst_mac,
        run_id=args.run_id, max_duration=args.max_duration,
        **({"payload_size": args.payload_size} if args.payload_size else {}))
    try:
        cfg.total()
    except ValueError as exc:
        raise HitlessError(f"probe send: {exc}") from exc
    sender.pin_low_timer_slack()
    on_start = (lambda run_id, t0: _event("started", run_id=run_id, t0_ns=t0)) \
        if args.events else None
    try:
        result = sender.send(cfg, stop, on_start)
    except ValueError as exc:
        raise HitlessError(f"probe send: {exc}") from exc
    if args.events:
        _event("done", **result.to_dict())
    else:
        print(f"probe: sent {result.sent} packets (run {result.run_id:#010x}) in "
              f"{result.elapsed_s:.3f} s, {result.send_errors} send errors, "
              f"worst lag {result.max_lag_ms:.2f} ms")
    return 0


def cmd_run(args) -> int:
    from hitless.probe.run import ProbeRun

    count, duration = args.count, args.duration
    if count is None and duration is None:
        duration = 10.0
    probe = ProbeRun(args.src_node, args.dst_node, lab=args.lab, dst_ip=args.dst, src_ip=args.src,
                     port=args.port, sport=args.sport, rate=args.rate, count=count,
                     duration=duration, mode=args.mode, iface=args.iface, dst_mac=args.dst_mac,
                     bind=args.bind, payload_size=args.payload_size)
    if args.run_id is not None:
        probe.run_id = args.run_id
    stop = _StopFlag()
    with probe:
        # The sender stops by itself; Ctrl-C / SIGTERM ends it early (END is still sent).
        while not stop() and not probe.sender.join(0.2):
            pass
        report = probe.stop()
    return _emit(report, args)


def cmd_report(args) -> int:
    from hitless.probe.report import ProbeReport

    try:
        report = ProbeReport.read_json(args.file)
    except (OSError, ValueError, TypeError) as exc:
        raise HitlessError(f"probe report: {args.file}: {exc}") from exc
    args.report = None
    args.max_lost = None
    return _emit(report, args)


def _emit(report, args) -> int:
    if getattr(args, "report", None):
        report.write_json(args.report)
    if args.png:
        report.timeline_png(args.png)
    print(report.to_json() if args.json else report.table())
    if args.max_lost is not None and report.lost > args.max_lost:
        print(f"probe: {report.lost} lost > budget {args.max_lost}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    parser = argparse.ArgumentParser(prog="hitless probe", description=__doc__.splitlines()[0])
    _fill(parser)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HitlessError as exc:
        print(f"hitless: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
