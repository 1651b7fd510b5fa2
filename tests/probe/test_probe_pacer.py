"""The sender's pacing schedule, driven by a synthetic clock (no sleeping)."""
import random

from hitless.probe.sender import Pacer, SenderConfig

S = 1_000_000_000


def test_due_follows_the_absolute_schedule():
    p = Pacer(rate=10_000, total=20_000, t0_ns=5 * S)
    assert p.due(5 * S - 1) == 0
    assert p.due(5 * S) == 1                    # packet 0 is due at t0
    assert p.due(5 * S + 1_000_000) == 11       # 1 ms later: packets 0..10
    assert p.due(5 * S + 2 * S) == 20_000       # capped at the total
    assert p.due_time(10_000) == 6 * S


def test_next_wake_is_the_next_tick_or_the_next_due_packet():
    p = Pacer(rate=10_000, total=100, t0_ns=0)
    assert p.next_wake(0, 1) == 1_000_000
    assert p.next_wake(1_500_000, 16) == 2_000_000
    slow = Pacer(rate=10, total=100, t0_ns=0)   # 100 ms between packets: sleep till due
    assert slow.next_wake(0, 1) == 100_000_000


def test_late_wakeups_do_not_drift():
    """Random oversleeping: nothing is sent early, lateness is bounded, the rate holds."""
    rng = random.Random(1)
    p = Pacer(rate=10_000, total=10**9, t0_ns=0)
    now, sent, batches, worst_late, last = 0, 0, [], 0, 0
    for _ in range(3000):
        last = now
        due = p.due(now)
        for seq in range(sent, due):
            assert p.due_time(seq) <= now            # never early
            worst_late = max(worst_late, now - p.due_time(seq))
        batches.append(due - sent)
        sent = due
        now = p.next_wake(now, sent) + rng.choice([0, 50_000, 200_000, 3_000_000])
    assert worst_late <= 3_000_000 + 1_000_000       # oversleep + one tick at most
    # no drift: however the wake-ups fell, the count is the absolute schedule's
    assert sent == last * 10_000 // S + 1 and last > 3 * S
    assert max(batches) >= 30                        # a 3 ms oversleep is caught up in one batch


def test_count_duration_and_cap():
    assert SenderConfig(dst="x", rate=10_000, count=5).total() == 5
    assert SenderConfig(dst="x", rate=10_000, duration=2).total() == 20_000
    assert SenderConfig(dst="x", rate=100, max_duration=3).total() == 300
