"""Health state machine (rise/fall/damping) and the monitor, driven by a fake clock."""
import asyncio

from hitless.flowswitch.config import DampingSpec, HealthSpec
from hitless.flowswitch.health import DOWN, UP, Damping, HealthMonitor, HealthState


def spec(**kw):
    base = dict(interval_ms=1000, timeout_ms=500, rise=2, fall=3, damping=None)
    base.update(kw)
    return HealthSpec(**base)


def feed(h, results, t0=0.0, step=1.0):
    out = []
    for i, ok in enumerate(results):
        out.append(h.observe(ok, t0 + i * step))
    return out


def test_rise_and_fall_counts():
    h = HealthState(spec())
    assert feed(h, [True, True]) == [None, UP]
    assert feed(h, [False, False, True, False, False, False], t0=10) == [None, None, None, None, None, DOWN]


def test_initial_up_for_adoption():
    h = HealthState(spec(), initial=UP)
    assert h.effective == UP
    assert feed(h, [False] * 3)[-1] == DOWN


def test_damping_suppresses_flapping_and_releases_after_decay():
    d = DampingSpec(half_life_ms=10_000, penalty=1000, suppress=2500, reuse=750, max_suppress_ms=600_000)
    h = HealthState(spec(rise=1, fall=1, damping=d), initial=UP)
    t = 0.0
    changes = []
    # flap up/down every second: after 3 downs the penalty passes 2500 and the server stays down
    for i in range(10):
        changes.append(h.observe(i % 2 == 1, t))
        t += 1.0
    assert h.raw == UP or h.raw == DOWN
    h.observe(True, t)
    assert h.raw == UP and h.effective == DOWN and h.suppressed
    downs = [c for c in changes if c == DOWN]
    assert len(downs) == 3  # not 5: flaps 4 and 5 never reached the data plane
    # penalty ~ >2500 must decay below 750: log2(2500/750) ~ 1.7 half-lives
    assert h.poll(t + 5) is None
    released = None
    for k in range(1, 120):
        released = h.poll(t + k)
        if released:
            break
    assert released == UP
    assert 15 <= k <= 40


def test_damping_max_suppress_caps_hold():
    d = DampingSpec(half_life_ms=1_000_000, penalty=1000, suppress=1000, reuse=10, max_suppress_ms=5000)
    dm = Damping(d)
    dm.flap(0.0)
    assert dm.suppressed(1.0)
    assert not dm.suppressed(5.1)


def test_no_damping_means_every_transition_reported():
    h = HealthState(spec(rise=1, fall=1), initial=UP)
    changes = [c for c in feed(h, [False, True] * 5) if c]
    assert len(changes) == 10


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    async def sleep(self, s):
        self.t += s
        await asyncio.sleep(0)


def test_monitor_reports_transitions_with_fake_clock():
    clock = FakeClock()
    seen = []
    results = iter([True, True, False, False, False, True])

    async def probe():
        return next(results)

    async def boom():
        raise RuntimeError("probe bug")

    async def main():
        m = HealthMonitor(lambda n, s: seen.append((n, s, clock())), clock=clock, sleep=clock.sleep)
        t = m.add("srv", spec(fall=3), probe)
        b = m.add("bad", spec(rise=1, fall=1), boom, initial=UP)
        for _ in range(6):
            await m.step(t)
        await m.step(b)
        return t, b

    t, b = asyncio.run(main())
    assert [(n, s) for n, s, _ in seen] == [("srv", UP), ("srv", DOWN), ("bad", DOWN)]
    assert t.probes == 6 and t.failures == 3 and b.failures == 1


def test_monitor_run_loop_respects_interval():
    clock = FakeClock()
    calls = []
    sleeps = []

    async def probe():
        calls.append(clock())
        clock.t += 0.05  # the probe itself takes 50 ms
        return True

    async def sleep(s):
        sleeps.append(round(s, 3))
        await asyncio.sleep(0)

    async def main():
        m = HealthMonitor(lambda n, s: None, clock=clock, sleep=sleep)
        m.add("x", spec(interval_ms=250), probe)
        m.start()
        for _ in range(50):
            await asyncio.sleep(0)
            if len(calls) >= 5:
                break
        await m.stop()

    asyncio.run(main())
    assert len(calls) >= 5
    # the probe loop sleeps interval minus the probe's own time; the damping poll sleeps 1 s
    assert set(sleeps) <= {0.2, 1.0} and sleeps.count(0.2) >= 4


def _fake_prober():
    import socket

    from hitless.flowswitch.health import ArpProber

    prober = ArpProber("unused")
    a, b = socket.socketpair()
    prober.sock, prober.mac = a, b"\x02" * 6  # probe() only sends; replies are injected by the test
    return prober, (a, b)


def test_probe_cancel_wins_when_reply_and_cancel_arrive_together():
    """Regression: with asyncio.wait_for (Python 3.11) a reply landing with the cancel
    swallowed the cancel, and the agent never stopped. The probe must end cancelled."""
    async def main():
        prober, socks = _fake_prober()
        try:
            task = asyncio.create_task(prober.probe("10.0.0.9", "02:00:00:00:00:09", 5.0))
            for _ in range(100):
                await asyncio.sleep(0)
                if prober.waiters:
                    break
            for fut in prober.waiters[(bytes.fromhex("020000000009"), "10.0.0.9")]:
                fut.set_result(True)
            task.cancel()  # same loop iteration as the reply
            try:
                await task
            except asyncio.CancelledError:
                return "cancelled"
            return "swallowed"
        finally:
            for s in socks:
                s.close()

    assert asyncio.run(main()) == "cancelled"


def test_monitor_stop_ends_a_task_that_swallows_one_cancel():
    swallowed = []

    async def stubborn():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            swallowed.append(1)  # a buggy probe: eats the first cancel
            await asyncio.sleep(10)
        return True

    async def main():
        m = HealthMonitor(lambda n, s: None)
        m.add("x", spec(), stubborn)
        m.start()
        await asyncio.sleep(0.01)
        async with asyncio.timeout(5):
            await m.stop()
        return m

    asyncio.run(main())
    assert swallowed == [1]
