"""GLBP timer values: configuration (milliseconds) to engine seconds and wire units.

Hello and hold travel in milliseconds (32 bits); redirect and timeout travel in whole
seconds (16 bits), so sub-second test values are rounded up on the wire only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hitless.gateway.config import GroupConfig


@dataclass(frozen=True)
class Timers:
    hello_s: float
    hold_s: float
    redirect_s: float
    timeout_s: float
    preempt_delay_s: float
    forwarder_preempt_delay_s: float

    @classmethod
    def of(cls, cfg: GroupConfig) -> "Timers":
        return cls(cfg.hello_ms / 1000, cfg.hold_ms / 1000, cfg.redirect_ms / 1000,
                   cfg.timeout_ms / 1000, cfg.preempt_delay_ms / 1000,
                   cfg.forwarder_preempt_delay_ms / 1000)


def wire_seconds(ms: int) -> int:
    """Milliseconds as the whole seconds a Hello TLV carries (rounded up, 16 bits)."""
    return min(65535, math.ceil(ms / 1000))


def earliest(*deadlines: float | None) -> float | None:
    """The soonest of the given deadlines, ignoring the ones not set."""
    live = [d for d in deadlines if d is not None]
    return min(live) if live else None
