/* Traffic sink for benchmarks: counts and drops every frame, so the receiving end costs the
 * same whatever forwarded the frame to it. */
#include "hitless.h"

HL_MAP("percpu_array", u32, struct hl_counters, sink_stats, 1);

int xdp_sink(struct xdp_md *ctx)
{
    u32 idx = 0;
    hl_count(sink_stats.lookup(&idx), (u64)(ctx->data_end - ctx->data));
    return XDP_DROP;
}
