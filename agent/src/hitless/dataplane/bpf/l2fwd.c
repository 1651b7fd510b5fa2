/* L2 forwarder: rewrite the destination MAC of matching frames and redirect them out of an
 * egress port, without the kernel stack. A frame whose destination MAC is not in
 * l2fwd_table passes to the stack (and so to the bridge) untouched.
 *
 * Maps (all pinned):
 *   l2fwd_table  dst MAC -> {new dst MAC, egress port slot}
 *   l2fwd_ports  devmap: port slot -> ifindex
 *   l2fwd_stats  per-CPU counters, indexed by enum l2fwd_stat
 */
#include "hitless.h"

struct l2fwd_entry {
    u8 new_dst[ETH_ALEN];
    u16 pad;
    u32 port;
    u32 flags;
};

enum l2fwd_stat { L2FWD_RX = 0, L2FWD_FORWARDED = 1, L2FWD_PASSED = 2, L2FWD_NO_PORT = 3, L2FWD_NSTATS = 4 };

HL_MAP("hash", struct hl_mac_key, struct l2fwd_entry, l2fwd_table, 4096);
HL_DEVMAP(l2fwd_ports, 256);
HL_MAP("percpu_array", u32, struct hl_counters, l2fwd_stats, L2FWD_NSTATS);

static __always_inline void l2fwd_count(u32 idx, u64 bytes)
{
    hl_count(l2fwd_stats.lookup(&idx), bytes);
}

int xdp_l2fwd(struct xdp_md *ctx)
{
    void *data_end;
    u64 len;
    struct ethhdr *eth = hl_eth(ctx, &data_end, &len);

    if (!eth)
        return XDP_PASS;
    l2fwd_count(L2FWD_RX, len);

    struct hl_mac_key key = {};
    hl_mac_copy(key.mac, eth->h_dest);
    struct l2fwd_entry *entry = l2fwd_table.lookup(&key);
    if (!entry) {
        l2fwd_count(L2FWD_PASSED, len);
        return XDP_PASS;
    }
    hl_mac_copy(eth->h_dest, entry->new_dst);
    /* XDP_DROP as the fallback: a rewritten frame whose port vanished must not be bridged
     * with a MAC that the rest of the segment does not expect. */
    int verdict = l2fwd_ports.redirect_map(entry->port, XDP_DROP);
    l2fwd_count(verdict == XDP_REDIRECT ? L2FWD_FORWARDED : L2FWD_NO_PORT, len);
    return verdict;
}
