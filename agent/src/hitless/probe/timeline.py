"""Draws a probe report's timeline (packets received per 10 ms bucket) as a PNG.

matplotlib is imported here only, with the Agg backend, so the probe runs on hosts
without a display and without matplotlib unless a picture is asked for.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitless.probe.report import ProbeReport


def render_png(report: "ProbeReport", path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bucket_s = report.bucket_ms / 1000.0
    xs = [i * bucket_s for i in range(len(report.timeline))]
    fig, ax = plt.subplots(figsize=(10, 3.2), dpi=100)
    try:
        ax.step(xs, report.timeline, where="post", linewidth=1.0, color="tab:blue", zorder=3,
                label=f"received per {report.bucket_ms} ms")
        if report.rate_pps:
            expected = report.rate_pps * bucket_s
            ax.axhline(expected, color="tab:green", linestyle=":", linewidth=1.2, zorder=2,
                       label=f"expected ({expected:g})")
        if report.longest_gap_ms > 0:
            start = report.longest_gap_start_s
            ax.axvspan(start, start + report.longest_gap_ms / 1000.0, color="tab:red",
                       alpha=0.25, zorder=1, label=f"longest gap {report.longest_gap_ms:.1f} ms")
        ax.set_xlabel("time since sender start (s)")
        ax.set_ylabel("packets")
        ax.set_ylim(bottom=0)
        ax.set_title(f"probe {report.run_id:#010x}: sent {report.sent}, lost {report.lost}, "
                     f"dup {report.duplicated}, reord {report.reordered}, "
                     f"outage {report.outage_ms:.1f} ms", fontsize=9)
        ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
