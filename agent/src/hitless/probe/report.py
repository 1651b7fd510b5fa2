"""The probe report: statistics from (seq, arrival time) samples, table and JSON.

Definitions (what a test asserts on):
- sent: sequence numbers the sender issued (0 .. sent-1), whether or not the kernel
  accepted every one (`send_errors` says how many it refused);
- received: distinct sequence numbers in 0 .. sent-1 that arrived, so
  sent == received + lost always;
- lost: sent - received;
- duplicated: arrivals of a sequence number that had already arrived (extra copies);
- reordered: first arrivals whose number is below the highest number seen before them
  (RFC 4737's "reordered" packet);
- longest_gap_ms: the longest interval between the arrival times of two consecutive
  received packets;
- outage_ms: RFC 6412's loss-derived outage, lost / rate * 1000.

`analyse` is pure: it takes sequences and nanosecond timestamps, so it is unit-tested
with synthetic arrival sequences.
"""
from __future__ import annotations

import json
import operator
from array import array
from bisect import bisect_left
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Sequence

FORMAT = "hitless-probe-report/1"
BUCKET_MS = 10
MAX_LOST_RANGES = 50
ORIGIN_SAMPLE = 100_000      # arrivals used to estimate the sender's start
LATENCY_SAMPLE = 1_000_000   # arrivals sorted for the latency p99
_NS_PER_MS = 1_000_000


@dataclass
class ProbeReport:
    sent: int
    received: int
    lost: int
    duplicated: int
    reordered: int
    longest_gap_ms: float
    outage_ms: float
    rate_pps: int
    run_id: int = 0
    sent_known: bool = True          # False: `sent` is only max(seq)+1 (no END, no sender)
    end_seen: bool = False
    send_errors: int = 0
    sender_max_lag_ms: float | None = None  # worst sender lateness; explains gaps it caused
    out_of_range: int = 0            # arrivals with seq >= sent (not counted as received)
    malformed: int = 0               # datagrams on the port that were no probe packet
    foreign: int = 0                 # probe packets of another run id
    duration_s: float = 0.0          # first to last arrival
    longest_gap_start_s: float = 0.0  # offset of the gap's start from the timeline origin
    longest_gap_after_seq: int = -1  # seq of the last packet before the longest gap
    lost_ranges: list[list[int]] = field(default_factory=list)  # [first, last] inclusive
    lost_ranges_truncated: bool = False
    latency_ms: dict[str, float] = field(default_factory=dict)  # min/avg/p99/max
    bucket_ms: int = BUCKET_MS
    timeline: list[int] = field(default_factory=list)  # packets per bucket from origin

    # -- derived views -----------------------------------------------------------------
    @property
    def hitless(self) -> bool:
        return self.lost == 0

    def with_sender(self, sent: int, rate_pps: int | None = None, send_errors: int | None = None,
                    max_lag_ms: float | None = None) -> "ProbeReport":
        """The report with the sender's own figures (authoritative if END was lost)."""
        rate = rate_pps or self.rate_pps
        lost = max(0, sent - self.received)
        ranges, truncated = [list(r) for r in self.lost_ranges], self.lost_ranges_truncated
        if sent > self.sent and not truncated:  # the tail the receiver could not know about
            if ranges and ranges[-1][1] == self.sent - 1:
                ranges[-1][1] = sent - 1
            elif len(ranges) < MAX_LOST_RANGES:
                ranges.append([self.sent, sent - 1])
            else:
                truncated = True
        return replace(self, sent=sent, sent_known=True, lost=lost, rate_pps=rate,
                       lost_ranges=ranges, lost_ranges_truncated=truncated,
                       outage_ms=_outage_ms(lost, rate),
                       send_errors=self.send_errors if send_errors is None else send_errors,
                       sender_max_lag_ms=(self.sender_max_lag_ms if max_lag_ms is None
                                          else max_lag_ms))

    # -- output ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["format"] = FORMAT
        return data

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def write_json(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.write("\n")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ProbeReport":
        if data.get("format") != FORMAT:
            raise ValueError(f"not a probe report (format {data.get('format')!r})")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def read_json(cls, path: str) -> "ProbeReport":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    def table(self) -> str:
        sent = f"{self.sent}" + ("" if self.sent_known else " (lower bound: no END seen)")
        rows = [
            ("rate", f"{self.rate_pps} pps"),
            ("sent", sent),
            ("received", f"{self.received}"),
            ("lost", f"{self.lost}"),
            ("duplicated", f"{self.duplicated}"),
            ("reordered", f"{self.reordered}"),
            ("longest gap", f"{self.longest_gap_ms:.3f} ms"),
            ("outage (lost/rate)", f"{self.outage_ms:.3f} ms"),
        ]
        if self.sender_max_lag_ms is not None:
            rows.append(("sender worst lag", f"{self.sender_max_lag_ms:.3f} ms"))
        if self.send_errors:
            rows.append(("send errors", f"{self.send_errors}"))
        if self.out_of_range or self.malformed or self.foreign:
            rows.append(("ignored", f"{self.out_of_range} out-of-range, "
                                    f"{self.malformed} malformed, {self.foreign} other run"))
        if self.latency_ms:
            lat = self.latency_ms
            rows.append(("latency", f"min {lat['min']:.3f} / avg {lat['avg']:.3f} / "
                                    f"p99 {lat['p99']:.3f} / max {lat['max']:.3f} ms"))
        if self.lost_ranges:
            shown = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.lost_ranges[:5])
            more = " ..." if len(self.lost_ranges) > 5 or self.lost_ranges_truncated else ""
            rows.append(("lost seqs", shown + more))
        width = max(len(name) for name, _ in rows)
        head = f"probe run {self.run_id:#010x}: {'HITLESS' if self.hitless else 'LOSS'}"
        return "\n".join([head] + [f"  {name:<{width}}  {value}" for name, value in rows])

    def timeline_png(self, path: str) -> None:
        from hitless.probe.timeline import render_png

        render_png(self, path)


def _outage_ms(lost: int, rate: int) -> float:
    return lost / rate * 1000.0 if rate > 0 else 0.0


def analyse(seqs: Sequence[int], arrivals_ns: Sequence[int], *, sent: int | None = None,
            rate_pps: int = 0, send_ns: Sequence[int] | None = None, origin_ns: int | None = None,
            run_id: int = 0, end_seen: bool = False, bucket_ms: int = BUCKET_MS,
            malformed: int = 0, foreign: int = 0) -> ProbeReport:
    """Computes the report from per-arrival samples, in arrival order.

    `seqs[i]` arrived at `arrivals_ns[i]` (any one monotonic clock, ns). `sent` is the
    sender's count when known; otherwise max(seq)+1 stands in and `sent_known` is False.
    `send_ns[i]`, on the same clock, gives latency. `origin_ns` is where the timeline
    starts (the sender's start); by default it is estimated from the send times.
    """
    n = len(seqs)
    if len(arrivals_ns) != n or (send_ns is not None and len(send_ns) != n):
        raise ValueError("seqs, arrivals_ns and send_ns must have one entry per arrival")
    sent_known = sent is not None
    if sent is None:
        sent = (max(seqs) + 1) if n else 0

    seen: bytearray | set[int] = bytearray(sent) if sent <= 64_000_000 else set()
    received = duplicated = reordered = out_of_range = 0
    highest = -1
    for seq in seqs:
        if seq >= sent or seq < 0:
            out_of_range += 1
            continue
        if isinstance(seen, bytearray):
            dup = seen[seq]
            seen[seq] = 1
        else:
            dup = seq in seen
            seen.add(seq)
        if dup:
            duplicated += 1
            continue
        received += 1
        if seq < highest:
            reordered += 1
        else:
            highest = seq

    lost = sent - received
    lost_ranges, truncated = _lost_ranges(seen, sent, lost)

    gap_ns, gap_index, in_order = 0, -1, True
    if n > 1:
        # map/array keep this in C: runs are millions of packets long
        deltas = array("q", map(operator.sub, arrivals_ns[1:], arrivals_ns[:-1]))
        gap_ns = max(deltas)
        gap_index = deltas.index(gap_ns) if gap_ns > 0 else -1
        in_order = min(deltas) >= 0
        gap_ns = max(gap_ns, 0)

    if origin_ns is None and n:
        origin_ns = arrivals_ns[0]
        if send_ns is not None and rate_pps > 0:
            # The sender's start = send time of packet k minus k/rate; the earliest
            # estimate wins because a late send only ever makes it later.
            # The first packets suffice (and keep this cheap on long runs).
            est = min((s - seq * 1_000_000_000 // rate_pps
                       for s, seq in zip(send_ns[:ORIGIN_SAMPLE], seqs[:ORIGIN_SAMPLE])
                       if 0 <= seq < sent), default=origin_ns)
            origin_ns = min(origin_ns, est)
    timeline = _timeline(arrivals_ns, origin_ns or 0, bucket_ms, sent, rate_pps, in_order)

    latency: dict[str, float] = {}
    if send_ns is not None and n:
        lat = array("q", map(operator.sub, arrivals_ns, send_ns))
        # p99 from an evenly strided sample on long runs; min/avg/max are exact
        sample = sorted(lat[::max(1, n // LATENCY_SAMPLE)])
        latency = {"min": min(lat) / _NS_PER_MS, "avg": sum(lat) / n / _NS_PER_MS,
                   "p99": sample[min(len(sample) - 1, (len(sample) * 99) // 100)] / _NS_PER_MS,
                   "max": max(lat) / _NS_PER_MS}

    return ProbeReport(
        sent=sent, received=received, lost=lost, duplicated=duplicated, reordered=reordered,
        longest_gap_ms=gap_ns / _NS_PER_MS, outage_ms=_outage_ms(lost, rate_pps),
        rate_pps=rate_pps, run_id=run_id, sent_known=sent_known, end_seen=end_seen,
        out_of_range=out_of_range, malformed=malformed, foreign=foreign,
        duration_s=(arrivals_ns[-1] - arrivals_ns[0]) / 1e9 if n else 0.0,
        longest_gap_start_s=((arrivals_ns[gap_index] - origin_ns) / 1e9) if gap_index >= 0 else 0.0,
        longest_gap_after_seq=seqs[gap_index] if gap_index >= 0 else -1,
        lost_ranges=lost_ranges, lost_ranges_truncated=truncated, latency_ms=latency,
        bucket_ms=bucket_ms, timeline=timeline)


def _lost_ranges(seen, sent: int, lost: int) -> tuple[list[list[int]], bool]:
    if lost == 0:
        return [], False
    ranges: list[list[int]] = []
    if isinstance(seen, bytearray):
        # bytearray.find skips runs in C, so this is fast even for millions of packets.
        pos = seen.find(0)
        while pos != -1:
            end = seen.find(1, pos)
            end = sent if end == -1 else end
            if len(ranges) == MAX_LOST_RANGES:
                return ranges, True
            ranges.append([pos, end - 1])
            pos = seen.find(0, end)
        return ranges, False
    prev = -1
    for seq in sorted(seen):  # huge `sent` only: walk the received numbers instead
        if seq > prev + 1:
            if len(ranges) == MAX_LOST_RANGES:
                return ranges, True
            ranges.append([prev + 1, seq - 1])
        prev = seq
    if prev < sent - 1:
        if len(ranges) == MAX_LOST_RANGES:
            return ranges, True
        ranges.append([prev + 1, sent - 1])
    return ranges, False


def _timeline(arrivals_ns: Sequence[int], origin_ns: int, bucket_ms: int, sent: int,
              rate_pps: int, in_order: bool = False) -> list[int]:
    bucket_ns = bucket_ms * _NS_PER_MS
    span_ns = (arrivals_ns[-1] - origin_ns) if len(arrivals_ns) else 0
    if rate_pps > 0:
        # Extend to the sender's scheduled end so trailing loss shows as empty buckets.
        span_ns = max(span_ns, sent * 1_000_000_000 // rate_pps)
    if not (len(arrivals_ns) or rate_pps):
        return []
    size = max(0, span_ns) // bucket_ns + 1
    if in_order:
        # Sorted arrivals: one bisection per bucket boundary instead of a pass per packet.
        edges = [bisect_left(arrivals_ns, origin_ns + i * bucket_ns) for i in range(1, size)]
        edges = [0] + edges + [len(arrivals_ns)]
        return [edges[i + 1] - edges[i] for i in range(size)]
    buckets = [0] * size
    for t in arrivals_ns:
        buckets[min(size - 1, max(0, (t - origin_ns) // bucket_ns))] += 1
    return buckets
