/* Traffic generator for benchmarks: run through BPF_PROG_TEST_RUN in live-frames mode, every
 * frame is transmitted out of the interface it is "received" on. No maps, no state. */
#include <uapi/linux/bpf.h>

int xdp_trafficgen(struct xdp_md *ctx)
{
    return XDP_TX;
}
