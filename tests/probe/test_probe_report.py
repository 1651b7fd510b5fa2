"""Probe report logic on synthetic arrival sequences: loss, duplicates, reordering, gaps."""
import json

from hypothesis import given, settings, strategies as st

from hitless.probe.report import FORMAT, ProbeReport, analyse

MS = 1_000_000


def evenly(seqs, spacing_ns=100_000, start=0):
    """Arrival times for seqs arriving one after another, `spacing_ns` apart."""
    return [start + i * spacing_ns for i in range(len(seqs))]


def test_in_order_without_loss():
    seqs = list(range(1000))
    r = analyse(seqs, evenly(seqs), sent=1000, rate_pps=10_000)
    assert (r.sent, r.received, r.lost, r.duplicated, r.reordered) == (1000, 1000, 0, 0, 0)
    assert r.longest_gap_ms == 0.1
    assert r.outage_ms == 0.0
    assert r.lost_ranges == [] and r.hitless


def test_lost_range_gives_count_ranges_outage_and_gap():
    seqs = [s for s in range(10_000) if not 4000 <= s < 4500]
    arrivals = [s * 100_000 for s in seqs]  # arrival at the packet's schedule: a 50 ms hole
    r = analyse(seqs, arrivals, sent=10_000, rate_pps=10_000)
    assert (r.received, r.lost) == (9500, 500)
    assert r.lost_ranges == [[4000, 4499]]
    assert r.outage_ms == 50.0
    assert abs(r.longest_gap_ms - 50.1) < 1e-9
    assert r.longest_gap_after_seq == 3999
    assert abs(r.longest_gap_start_s - 0.3999) < 1e-9


def test_loss_at_the_end_counts_from_the_sent_total():
    seqs = list(range(90))
    r = analyse(seqs, evenly(seqs), sent=100, rate_pps=1000)
    assert r.lost == 10 and r.lost_ranges == [[90, 99]] and r.outage_ms == 10.0


def test_duplicates_are_counted_once_as_received():
    seqs = [0, 1, 1, 2, 2, 2, 3]
    r = analyse(seqs, evenly(seqs), sent=4, rate_pps=1000)
    assert (r.received, r.duplicated, r.lost, r.reordered) == (4, 3, 0, 0)


def test_reordered_packets_are_those_below_the_highest_seen():
    r = analyse([0, 2, 1, 3], evenly([0] * 4), sent=4, rate_pps=1000)
    assert (r.reordered, r.lost, r.duplicated) == (1, 0, 0)
    r = analyse([0, 1, 5, 2, 3, 4, 6], evenly([0] * 7), sent=7, rate_pps=1000)
    assert r.reordered == 3
    # A late duplicate of an old packet is a duplicate, not a reordering.
    r = analyse([0, 1, 2, 1], evenly([0] * 4), sent=3, rate_pps=1000)
    assert (r.reordered, r.duplicated) == (0, 1)


def test_numbers_beyond_sent_are_ignored_and_counted():
    r = analyse([0, 1, 7, 2], evenly([0] * 4), sent=3, rate_pps=1000)
    assert (r.received, r.lost, r.out_of_range) == (3, 0, 1)


def test_unknown_sent_is_a_lower_bound_until_the_sender_says():
    seqs = [0, 1, 3]
    r = analyse(seqs, evenly(seqs), rate_pps=1000)
    assert not r.sent_known and r.sent == 4 and r.lost == 1
    r2 = r.with_sender(10, 1000, send_errors=2)
    assert r2.sent_known and (r2.sent, r2.lost, r2.send_errors) == (10, 7, 2)
    assert r2.outage_ms == 7.0
    assert r2.lost_ranges == [[2, 2], [4, 9]]
    assert r.with_sender(4).lost_ranges == [[2, 2]]


def test_longest_gap_is_between_consecutive_arrivals():
    arrivals = [0, 1 * MS, 2 * MS, 40 * MS, 41 * MS, 43 * MS]
    r = analyse(list(range(6)), arrivals, sent=6, rate_pps=1000)
    assert r.longest_gap_ms == 38.0 and r.longest_gap_after_seq == 2


def test_timeline_buckets_count_arrivals_per_10ms_and_show_trailing_silence():
    arrivals = [0, 1 * MS, 9 * MS, 10 * MS, 25 * MS]
    r = analyse(list(range(5)), arrivals, sent=10, rate_pps=200, origin_ns=0)
    # 10 packets at 200 pps are scheduled over 50 ms: buckets to 50 ms, empty at the end
    assert r.timeline[:3] == [3, 1, 1]
    assert len(r.timeline) == 6 and sum(r.timeline) == 5 and r.timeline[3:] == [0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-20 * MS, max_value=200 * MS), max_size=300),
       st.integers(min_value=0, max_value=40_000))
def test_timeline_fast_path_matches_the_plain_count(arrivals, rate):
    arrivals.sort()  # in order: analyse takes the bisection path
    r = analyse(list(range(len(arrivals))), arrivals, sent=len(arrivals), rate_pps=rate,
                origin_ns=0)
    span = max(max(arrivals, default=0), len(arrivals) * 10**9 // rate if rate else 0)
    size = max(0, span) // (10 * MS) + 1
    plain = [0] * size
    for t in arrivals:
        plain[min(size - 1, max(0, t // (10 * MS)))] += 1
    assert r.timeline == (plain if (arrivals or rate) else [])


def test_origin_is_estimated_from_send_times():
    # packets 0..4 lost; packet 5 sent at 5 ms (sender start 0) arriving at 6 ms
    seqs = [5, 6, 7]
    sends = [5 * MS, 6 * MS, 7 * MS]
    arrivals = [s + MS for s in sends]
    r = analyse(seqs, arrivals, sent=8, rate_pps=1000, send_ns=sends)
    assert r.timeline[0] == 3  # all within the first 10 ms since the sender's start
    assert r.latency_ms == {"min": 1.0, "avg": 1.0, "p99": 1.0, "max": 1.0}


def test_empty_run_reports_everything_lost():
    r = analyse([], [], sent=100, rate_pps=1000)
    assert (r.received, r.lost, r.longest_gap_ms) == (0, 100, 0.0)
    assert r.lost_ranges == [[0, 99]] and r.outage_ms == 100.0


def test_lost_ranges_are_capped():
    seqs = list(range(0, 400, 2))
    r = analyse(seqs, evenly(seqs), sent=400, rate_pps=1000)
    assert r.lost == 200 and len(r.lost_ranges) == 50 and r.lost_ranges_truncated


def test_json_round_trip_and_keys(tmp_path):
    seqs = [0, 2, 1, 1]
    r = analyse(seqs, evenly(seqs), sent=5, rate_pps=1000, run_id=0xABCD)
    data = json.loads(r.to_json())
    for key in ("sent", "received", "lost", "duplicated", "reordered", "longest_gap_ms",
                "outage_ms", "rate_pps", "timeline", "bucket_ms", "run_id"):
        assert key in data
    assert data["format"] == FORMAT
    path = tmp_path / "r.json"
    r.write_json(str(path))
    assert ProbeReport.read_json(str(path)) == r


def test_table_names_every_figure():
    seqs = [0, 2, 1, 1]
    table = analyse(seqs, evenly(seqs), sent=5, rate_pps=1000).with_sender(
        5, max_lag_ms=1.5).table()
    for label in ("sent", "received", "lost", "duplicated", "reordered", "longest gap",
                  "outage", "lost seqs", "sender worst lag"):
        assert label in table
    assert "LOSS" in table


def test_png_timeline_is_written(tmp_path):
    seqs = [s for s in range(2000) if not 500 <= s < 700]
    r = analyse(seqs, [s * 100_000 for s in seqs], sent=2000, rate_pps=10_000)
    path = tmp_path / "t.png"
    r.timeline_png(str(path))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def brute_force(seqs, sent):
    seen, highest, reordered, dups = set(), -1, 0, 0
    for s in seqs:
        if s >= sent:
            continue
        if s in seen:
            dups += 1
            continue
        seen.add(s)
        if s < highest:
            reordered += 1
        highest = max(highest, s)
    return len(seen), dups, reordered


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), max_size=120),
       st.integers(min_value=0, max_value=60))
def test_invariants_against_brute_force(seqs, sent):
    r = analyse(seqs, evenly(seqs), sent=sent, rate_pps=1000)
    received, dups, reordered = brute_force(seqs, sent)
    assert (r.received, r.duplicated, r.reordered) == (received, dups, reordered)
    assert r.received + r.lost == r.sent == sent
    assert r.out_of_range == sum(1 for s in seqs if s >= sent)
    assert sum(r.timeline) == len(seqs)
    lost = sorted(set(range(sent)) - set(seqs))
    expanded = [s for a, b in r.lost_ranges for s in range(a, b + 1)]
    assert expanded == lost[:len(expanded)]
    assert r.lost_ranges_truncated == (len(expanded) < len(lost))
