"""Bounded polling for tests, benchmarks and lab tooling: wait for a condition, never sleep
blindly. Every wait has a deadline, and a timeout names what was awaited."""
from __future__ import annotations

import time
from typing import Any, Callable

from hitless.errors import LabError


class PollTimeout(LabError, TimeoutError):
    """A polled condition did not hold before its deadline."""


def wait_for(pred: Callable[[], Any], timeout: float, what: str = "condition", step: float = 0.05,
             detail: Callable[[], str] | None = None) -> Any:
    """Calls `pred` every `step` seconds until it returns something truthy, and returns that.

    At the deadline raises PollTimeout with `what`, the last value seen and, if given,
    `detail()` (e.g. a log tail) so a failure explains itself.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(step)
    extra = f"\n{detail()}" if detail else ""
    raise PollTimeout(f"timed out after {timeout} s waiting for {what} (last: {last!r}){extra}")
