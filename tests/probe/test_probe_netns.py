"""The probe end to end in real namespaces: 10,000 packets/s, exact loss accounting."""
import json
import subprocess
import sys
import time

import pytest

from hitless.probe import ProbeError, ProbeRun, background, run_sender, start_receiver
from hitless.probe.packet import NFT_SEQ_LOW32

pytestmark = pytest.mark.lab

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_udp_10k_pps_for_2s_loses_nothing(pair):
    with ProbeRun(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, src_ip=pair.src_ip,
                  rate=10_000, count=20_000) as p:
        report = p.wait()
    assert (report.sent, report.received, report.lost) == (20_000, 20_000, 0), report.table()
    assert (report.duplicated, report.reordered, report.send_errors) == (0, 0, 0)
    assert report.end_seen and report.outage_ms == 0.0
    assert p.send_result.elapsed_s >= 1.99  # paced, not blasted
    assert sum(report.timeline) == 20_000


def test_raw_mode_to_a_chosen_mac_loses_nothing(pair):
    with ProbeRun(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, src_ip=pair.src_ip,
                  rate=10_000, count=20_000, mode="raw", iface=pair.src_if,
                  dst_mac=pair.dst_mac) as p:
        report = p.wait()
    assert (report.sent, report.received, report.lost) == (20_000, 20_000, 0), report.table()
    assert report.duplicated == 0 and report.reordered == 0


def test_raw_mode_to_a_foreign_mac_is_all_lost(pair):
    # The veth peer drops unicast frames for another MAC: the probe must report it.
    with ProbeRun(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, src_ip=pair.src_ip,
                  rate=10_000, count=2_000, mode="raw", iface=pair.src_if,
                  dst_mac="02:7b:00:00:00:99", wait_flowing=None) as p:
        report = p.wait()
    assert (report.sent, report.received, report.lost) == (2_000, 0, 2_000)
    assert report.outage_ms == 200.0


def test_dropped_seq_range_is_counted_exactly(pair, nft):
    nft.add("udp", "dport", "7000", NFT_SEQ_LOW32, "5000-5999", "drop")
    with ProbeRun(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, rate=10_000, count=20_000) as p:
        report = p.wait()
    assert (report.sent, report.received, report.lost) == (20_000, 19_000, 1_000), report.table()
    assert report.lost_ranges == [[5000, 5999]]
    assert report.outage_ms == 100.0
    assert report.longest_gap_after_seq == 4999
    # 1000 packets at 10,000/s: the hole on the wire is 100 ms, give or take the
    # sender's own lateness (which the report states) and one 1 ms tick
    slack = report.sender_max_lag_ms + 1.5
    assert 100.0 - slack <= report.longest_gap_ms <= 100.0 + slack, report.table()
    assert report.duplicated == 0 and report.reordered == 0


def test_every_16th_packet_dropped(pair, nft):
    nft.add("udp", "dport", "7000", "@th,184,8", "&", "0x0f", "==", "0", "drop")
    with ProbeRun(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, rate=10_000, count=20_000) as p:
        report = p.wait()
    assert report.lost == 1_250 and report.received == 18_750, report.table()
    assert report.lost_ranges[:3] == [[0, 0], [16, 16], [32, 32]]
    assert report.lost_ranges_truncated and report.reordered == 0


def test_background_probe_sees_a_timed_outage(pair, nft, tmp_path):
    """The hitless-test pattern: probe in the background, break things, get the report."""
    with background(pair.src_ns, pair.dst_ns, dst_ip=pair.dst_ip, rate=10_000) as p:
        time.sleep(0.5)
        handle = nft.add("udp", "dport", "7000", "drop")
        time.sleep(0.3)
        nft.delete(handle)
        time.sleep(0.5)
    report = p.report()
    assert report.sent >= 10_000 and report.lost > 0, report.table()
    # one contiguous hole, about 300 ms long, seen both by loss and by the gap
    assert len(report.lost_ranges) == 1
    assert 250.0 <= report.outage_ms <= 1500.0
    assert 250.0 <= report.longest_gap_ms <= 1500.0
    assert abs(report.longest_gap_ms - report.outage_ms) < 20.0 + report.sender_max_lag_ms
    assert report.received + report.lost == report.sent
    png = tmp_path / "outage.png"
    report.timeline_png(str(png))
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    # the outage shows as empty 10 ms buckets in the timeline
    empty = sum(1 for n in report.timeline[10:-10] if n == 0)
    assert empty >= 20


def test_cli_run_writes_json_png_and_prints_the_table(pair, tmp_path):
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    proc = subprocess.run(
        [sys.executable, "-m", "hitless.probe.cli", "run", "--lab", pair.lab, "--from", "s",
         "--to", "r", "--dst", pair.dst_ip, "--rate", "10000", "--duration", "1",
         "--report", str(out), "--png", str(png), "--max-lost", "0"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "received" in proc.stdout and "HITLESS" in proc.stdout
    data = json.loads(out.read_text())
    assert (data["sent"], data["received"], data["lost"]) == (10_000, 10_000, 0)
    assert png.read_bytes()[:8] == PNG_SIGNATURE and png.stat().st_size > 1000
    # `report` re-reads the saved JSON
    again = subprocess.run([sys.executable, "-m", "hitless.probe.cli", "report", str(out),
                            "--json"], capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and json.loads(again.stdout)["received"] == 10_000


def test_cli_run_fails_over_the_loss_budget(pair, nft):
    nft.add("udp", "dport", "7000", NFT_SEQ_LOW32, "100-199", "drop")
    proc = subprocess.run(
        [sys.executable, "-m", "hitless.probe.cli", "run", "--lab", pair.lab, "--from", "s",
         "--to", "r", "--dst", pair.dst_ip, "--count", "2000", "--max-lost", "0", "--json"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["lost"] == 100


def test_separate_send_and_receive_commands(pair, tmp_path):
    out = tmp_path / "rx.json"
    rx = start_receiver(pair.dst_ns, pair.dst_ip, 7000, duration=10, out=str(out))
    try:
        result = run_sender(pair.src_ns, pair.dst_ip, 7000, rate=10_000, count=5_000)
        report = rx.result(timeout=15)
    finally:
        rx.close()
    assert result.sent == 5_000 and result.send_errors == 0
    assert report.end_seen and (report.sent, report.received, report.lost) == (5_000, 5_000, 0)
    assert report.run_id == result.run_id
    assert json.loads(out.read_text())["received"] == 5_000


def test_receiver_is_bounded_without_a_sender(pair):
    rx = start_receiver(pair.dst_ns, "0.0.0.0", 7001, duration=0.5, grace=0.5, expect_count=10)
    try:
        t0 = time.monotonic()
        report = rx.result(timeout=20)
        assert time.monotonic() - t0 < 10
    finally:
        rx.close()
    assert report.received == 0 and report.lost == 10 and not report.end_seen


def test_receiver_counts_garbage_and_other_runs_without_crashing(pair):
    rx = start_receiver(pair.dst_ns, "0.0.0.0", 7002, duration=10, run_id=1234)
    try:
        # from the sender's namespace: empty, junk, and a probe packet of run 999
        subprocess.run(["ip", "netns", "exec", pair.src_ns, sys.executable, "-c",
                        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
                        f"[s.sendto(d,('{pair.dst_ip}',7002)) for d in "
                        "(b'', b'junk', b'HLPR'+(999).to_bytes(4,'big')+bytes(16))]"],
                       check=True, timeout=30)
        run_sender(pair.src_ns, pair.dst_ip, 7002, rate=10_000, count=1_000, run_id=1234)
        report = rx.result(timeout=15)
    finally:
        rx.close()
    assert (report.received, report.lost) == (1_000, 0)
    assert report.malformed == 2 and report.foreign == 1


def test_start_fails_clearly_when_nothing_arrives(pair):
    with pytest.raises(ProbeError, match="no probe packet"):
        ProbeRun(pair.src_ns, pair.dst_ns, dst_ip="10.251.0.77", rate=1000,
                 wait_flowing=1.0).start()


def test_missing_namespace_is_a_probe_error():
    with pytest.raises(ProbeError, match="does not exist"):
        start_receiver("tprb-no-such-ns", "0.0.0.0", 7000, duration=1)


def test_plain_cli_receive_and_send_with_samples(pair, tmp_path):
    out, samples = tmp_path / "rx.json", tmp_path / "rx.csv"
    rx = subprocess.Popen(
        ["ip", "netns", "exec", pair.dst_ns, sys.executable, "-m", "hitless.probe.cli",
         "receive", "--bind", pair.dst_ip, "--port", "7003", "--duration", "20",
         "--out", str(out), "--samples", str(samples)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the receiver says on stderr when it listens
        assert "receiving on" in rx.stderr.readline()
        tx = subprocess.run(
            ["ip", "netns", "exec", pair.src_ns, sys.executable, "-m", "hitless.probe.cli",
             "send", "--src", pair.src_ip, "--dst", pair.dst_ip, "--port", "7003",
             "--rate", "10000", "--count", "3000"],
            capture_output=True, text=True, timeout=60)
        assert tx.returncode == 0 and "sent 3000 packets" in tx.stdout, tx.stderr
        stdout, _ = rx.communicate(timeout=30)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait()
    assert rx.returncode == 0 and "HITLESS" in stdout
    assert json.loads(out.read_text())["received"] == 3000
    rows = samples.read_text().splitlines()
    assert rows[0] == "seq,arrival_ns,send_ns" and len(rows) == 3001
    seq, arrival, sent = map(int, rows[1].split(","))
    assert seq == 0 and arrival > sent > 0
