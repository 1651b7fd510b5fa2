"""Runs probe senders and receivers as processes inside lab namespaces.

Each side is `python -m hitless.probe.cli send|receive --events ...` started under
`nsenter --net=/run/netns/<ns>`, so a socket lives in the node's namespace and each
side gets its own process (and core) instead of sharing one GIL. The processes report
progress as JSON lines on stdout ("ready", "started", "first", "done"); the receiver
writes its report JSON to a temporary file.

The main use is "probe in the background while I do something":

    with background("h1", "h2", lab="lab1", dst_ip="10.0.0.2", rate=10_000) as p:
        restart_the_agent()
    report = p.report()   # sender stopped, END sent, receiver drained
    assert report.lost == 0

Separately: `rx = start_receiver(ns, ...)`, `res = run_sender(ns, ...)`,
`rx.result().with_sender(res.sent, res.rate_pps, res.send_errors, res.max_lag_ms)`.

Every process is bounded: the sender by count/duration (or `max_duration`), the
receiver by its own deadline, and every wait here by a timeout; `close()` kills what
is left.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque

from hitless.errors import HitlessError
from hitless.probe.report import ProbeReport
from hitless.probe.sender import MAX_DURATION_S, SendResult, new_run_id

STARTUP_ALLOWANCE_S = 15.0  # python + scapy start-up inside the receiver's deadline
DEFAULT_MAX_DURATION_S = 600.0


class ProbeError(HitlessError):
    """A probe process failed, timed out, or saw no traffic at all."""


def netns_of(node: str | None, lab: str | None = None) -> str | None:
    """The namespace name of a node: `{lab}-{node}` with a lab prefix, else `node` itself."""
    if node is None:
        return None
    return f"{lab}-{node}" if lab else node


def _in_netns(netns: str | None, argv: list[str]) -> list[str]:
    if not netns:
        return argv
    path = netns if netns.startswith("/") else f"/run/netns/{netns}"
    if not os.path.exists(path):
        raise ProbeError(f"network namespace {netns!r} does not exist ({path})")
    return ["nsenter", f"--net={path}", "--"] + argv


class _Process:
    """A child process whose stdout lines are JSON events, read by a thread."""

    def __init__(self, argv: list[str], what: str):
        self.what = what
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.events: dict[str, dict] = {}
        self.stderr: deque[str] = deque(maxlen=40)
        self._cond = threading.Condition()
        self._threads = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._threads:
            t.start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self.events[event.get("event", "")] = event
                self._cond.notify_all()
        with self._cond:
            self.events.setdefault("eof", {})
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr.append(line.rstrip())

    def wait_event(self, name: str, timeout: float) -> dict:
        """The event's payload; ProbeError if the process ends or time runs out first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while name not in self.events:
                left = deadline - time.monotonic()
                if "eof" in self.events or left <= 0:
                    break
                self._cond.wait(min(left, 0.5))
            if name in self.events:
                return self.events[name]
        if "eof" in self.events:
            self.proc.wait(timeout=5)
        raise ProbeError(self._why(f"no {name!r} event within {timeout:g} s"))

    def _why(self, what: str) -> str:
        rc = self.proc.poll()
        tail = " | ".join(list(self.stderr)[-5:])
        state = f"exited with {rc}" if rc is not None else "still running"
        return f"probe {self.what}: {what} ({state}){': ' + tail if tail else ''}"

    def signal(self, sig: int) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Ends the process (TERM, then KILL) and reaps it. Safe to call twice."""
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for t in self._threads:
            t.join(timeout=2)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "hitless.probe.cli", *args, "--events"]


class ReceiverHandle:
    """A running receiver. `result()` waits for it to finish and returns its report."""

    def __init__(self, proc: _Process, out: str, tmpdir: str | None, bound_s: float):
        self._proc, self.out, self._tmpdir, self._bound_s = proc, out, tmpdir, bound_s
        self._started = time.monotonic()
        self._report: ProbeReport | None = None

    @property
    def ready(self) -> dict:
        return self._proc.events.get("ready", {})

    def wait_first(self, timeout: float) -> int:
        """Waits until the first probe packet has arrived; returns its seq."""
        return int(self._proc.wait_event("first", timeout)["seq"])

    def stop(self) -> None:
        """Asks the receiver to finish now (it still writes its report)."""
        self._proc.signal(signal.SIGTERM)

    def result(self, timeout: float | None = None) -> ProbeReport:
        if self._report is None:
            if timeout is None:
                timeout = max(1.0, self._bound_s - (time.monotonic() - self._started)) + 10
            try:
                self._proc.wait_event("done", timeout)
            except ProbeError:
                self.stop()  # past its own deadline: make it write what it has
                self._proc.wait_event("done", 10)
            self._proc.kill()
            self._report = ProbeReport.read_json(self.out)
        return self._report

    def close(self) -> None:
        self._proc.kill()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


class SenderHandle:
    """A running sender. `stop()` ends it early (it then sends END); `wait()` joins it."""

    def __init__(self, proc: _Process, bound_s: float):
        self._proc, self._bound_s = proc, bound_s
        self._started = time.monotonic()
        self._result: SendResult | None = None

    @property
    def run_id(self) -> int:
        return int(self._proc.events.get("started", {}).get("run_id", 0))

    def wait_started(self, timeout: float) -> dict:
        return self._proc.wait_event("started", timeout)

    def stop(self) -> None:
        self._proc.signal(signal.SIGTERM)

    def running(self) -> bool:
        return self._proc.running()

    def join(self, timeout: float) -> bool:
        """Waits up to `timeout` s for the sender process to end; True if it has."""
        try:
            self._proc.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def wait(self, timeout: float | None = None) -> SendResult:
        if self._result is None:
            if timeout is None:
                timeout = max(1.0, self._bound_s - (time.monotonic() - self._started)) + 15
            try:
                event = self._proc.wait_event("done", timeout)
            except ProbeError:
                self._proc.kill()
                raise
            self._proc.kill()
            self._result = SendResult(**{k: v for k, v in event.items() if k != "event"})
        return self._result

    def close(self) -> None:
        self._proc.kill()


def start_receiver(netns: str | None, bind: str = "0.0.0.0", port: int = 7000, *,
                   duration: float = 60.0, grace: float = 2.0, expect_count: int | None = None,
                   run_id: int | None = None, out: str | None = None,
                   ready_timeout: float = 20.0) -> ReceiverHandle:
    """Starts a receiver in `netns` (None: this namespace); returns once its port is bound."""
    tmpdir = None
    if out is None:
        tmpdir = tempfile.mkdtemp(prefix="hitless-probe-")
        out = os.path.join(tmpdir, "receive.json")
    args = ["receive", "--bind", bind, "--port", str(port), "--duration", f"{duration:g}",
            "--grace", f"{grace:g}", "--out", out]
    if expect_count is not None:
        args += ["--expect-count", str(expect_count)]
    if run_id is not None:
        args += ["--run-id", str(run_id)]
    try:
        proc = _Process(_in_netns(netns, _cli(*args)), f"receiver in {netns or 'this netns'}")
    except BaseException:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    handle = ReceiverHandle(proc, out, tmpdir, duration + grace)
    try:
        proc.wait_event("ready", ready_timeout)
    except BaseException:
        handle.close()
        raise
    return handle


def start_sender(netns: str | None, dst: str, port: int = 7000, *, rate: int = 10_000,
                 count: int | None = None, duration: float | None = None,
                 src: str | None = None, sport: int = 0, mode: str = "udp",
                 iface: str | None = None, dst_mac: str | None = None,
                 run_id: int | None = None, payload_size: int | None = None,
                 max_duration: float = MAX_DURATION_S,
                 start_timeout: float = 20.0) -> SenderHandle:
    """Starts a sender in `netns`; returns once its socket is open and packet 0 is due."""
    args = ["send", "--dst", dst, "--port", str(port), "--rate", str(rate), "--mode", mode,
            "--max-duration", f"{max_duration:g}"]
    for flag, value in (("--count", count), ("--duration", duration), ("--src", src),
                        ("--iface", iface), ("--dst-mac", dst_mac), ("--run-id", run_id),
                        ("--payload-size", payload_size)):
        if value is not None:
            args += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if sport:
        args += ["--sport", str(sport)]
    if count is not None:
        bound = count / rate
    else:
        bound = duration if duration is not None else max_duration
    proc = _Process(_in_netns(netns, _cli(*args)), f"sender in {netns or 'this netns'}")
    handle = SenderHandle(proc, bound)
    try:
        proc.wait_event("started", start_timeout)
    except BaseException:
        handle.close()
        raise
    return handle


def run_sender(netns: str | None, dst: str, port: int = 7000, **kwargs) -> SendResult:
    """Runs a sender to completion (see `start_sender` for the arguments)."""
    handle = start_sender(netns, dst, port, **kwargs)
    try:
        return handle.wait()
    finally:
        handle.close()


class ProbeRun:
    """One probe: a receiver in `dst`, a sender in `src`, and the merged report.

    `src`/`dst` are namespace names, or node names when `lab` (the lab prefix) is given.
    With neither `count` nor `duration` the sender runs until `stop()`/`report()` (at
    most `max_duration`). `wait_flowing` (s) makes `start()` return only once the first
    packet has reached the receiver, so the caller's action happens under traffic.
    """

    def __init__(self, src: str | None, dst: str | None, *, dst_ip: str, src_ip: str | None = None,
                 port: int = 7000, rate: int = 10_000, count: int | None = None,
                 duration: float | None = None, mode: str = "udp", iface: str | None = None,
                 dst_mac: str | None = None, lab: str | None = None, bind: str = "0.0.0.0",
                 sport: int = 0, payload_size: int | None = None,
                 max_duration: float = DEFAULT_MAX_DURATION_S, grace: float = 2.0,
                 wait_flowing: float | None = 5.0):
        self.src_ns, self.dst_ns = netns_of(src, lab), netns_of(dst, lab)
        self.dst_ip, self.src_ip, self.port, self.rate = dst_ip, src_ip, port, rate
        self.count, self.duration, self.max_duration = count, duration, max_duration
        self.mode, self.iface, self.dst_mac, self.bind = mode, iface, dst_mac, bind
        self.sport, self.payload_size, self.grace = sport, payload_size, grace
        self.wait_flowing = wait_flowing
        self.run_id = new_run_id()
        self.receiver: ReceiverHandle | None = None
        self.sender: SenderHandle | None = None
        self.send_result: SendResult | None = None
        self._report: ProbeReport | None = None

    def _send_seconds(self) -> float:
        if self.count is not None:
            return self.count / self.rate
        return self.duration if self.duration is not None else self.max_duration

    def start(self) -> "ProbeRun":
        if self.receiver is not None:
            raise ProbeError("probe already started")
        try:
            self.receiver = start_receiver(
                self.dst_ns, self.bind, self.port, run_id=self.run_id, grace=self.grace,
                duration=self._send_seconds() + STARTUP_ALLOWANCE_S)
            self.sender = start_sender(
                self.src_ns, self.dst_ip, self.port, rate=self.rate, count=self.count,
                duration=self.duration, src=self.src_ip, sport=self.sport, mode=self.mode,
                iface=self.iface, dst_mac=self.dst_mac, run_id=self.run_id,
                payload_size=self.payload_size, max_duration=self.max_duration)
            if self.wait_flowing:
                try:
                    self.receiver.wait_first(self.wait_flowing)
                except ProbeError as exc:
                    raise ProbeError(
                        f"no probe packet from {self.src_ns} reached {self.dst_ip}:{self.port} "
                        f"in {self.dst_ns} within {self.wait_flowing:g} s") from exc
        except BaseException:
            self.close()
            raise
        return self

    def stop(self) -> ProbeReport:
        """Stops the sender (if it is still going), drains the receiver, merges the report."""
        if self._report is not None:
            return self._report
        if self.receiver is None or self.sender is None:
            raise ProbeError("probe was not started")
        self.sender.stop()
        self.send_result = self.sender.wait(timeout=20)
        # END stops the receiver at once; then its analysis takes ~1 s per million packets
        report = self.receiver.result(timeout=self.grace + 15 + self.send_result.sent / 500_000)
        self._report = report.with_sender(self.send_result.sent, self.send_result.rate_pps,
                                          self.send_result.send_errors,
                                          self.send_result.max_lag_ms)
        return self._report

    def wait(self) -> ProbeReport:
        """Waits for a counted/timed run to finish by itself, then returns the report."""
        if self.sender is None:
            raise ProbeError("probe was not started")
        self.send_result = self.sender.wait()
        return self.stop()

    def report(self) -> ProbeReport:
        return self.stop()

    def close(self) -> None:
        for handle in (self.sender, self.receiver):
            if handle is not None:
                handle.close()

    def __enter__(self) -> "ProbeRun":
        return self.start() if self.receiver is None else self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._report is None and self.receiver is not None:
                try:
                    self.stop()
                except ProbeError:
                    if exc_type is None:
                        raise
        finally:
            self.close()


def background(src: str | None, dst: str | None, **kwargs) -> ProbeRun:
    """A started ProbeRun for `with background(...) as p: ...; p.report()`."""
    return ProbeRun(src, dst, **kwargs).start()
