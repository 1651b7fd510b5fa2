/* GLBP gateway data plane: accept frames addressed to the virtual MACs this member
 * forwards (the VMACs it owns, or covers for a failed member) and hand them to the kernel's
 * routing, by rewriting the destination MAC to the interface's own MAC and passing them on.
 *
 * Taking a VMAC over or giving it up is one update of gw_vmacs: no interface flaps and no
 * address is reconfigured. Everything else passes untouched: ARP (answered by the agent's
 * AF_PACKET responder, which needs to see the VMAC a refresh was sent to), GLBP hellos,
 * and frames to VMACs we do not forward (the kernel drops those as not ours).
 *
 * Maps (all pinned):
 *   gw_vmacs       VMAC -> {MAC to rewrite to, ifindex it is accepted on (0: any)}
 *   gw_vmac_stats  per-CPU counters per VMAC (created by the agent with the entry)
 *   gw_stats       per-CPU counters indexed by enum gw_stat
 */
#include "hitless.h"

struct gw_vmac {
    u8 rewrite[ETH_ALEN];
    u16 pad;
    u32 ifindex;
    u32 flags;
};

enum gw_stat { GW_RX = 0, GW_ACCEPTED = 1, GW_PASSED = 2, GW_WRONG_IF = 3, GW_NSTATS = 4 };

HL_MAP("hash", struct hl_mac_key, struct gw_vmac, gw_vmacs, 256);
HL_MAP("percpu_hash", struct hl_mac_key, struct hl_counters, gw_vmac_stats, 256);
HL_MAP("percpu_array", u32, struct hl_counters, gw_stats, GW_NSTATS);

static __always_inline void gw_count(u32 idx, u64 bytes)
{
    hl_count(gw_stats.lookup(&idx), bytes);
}

int xdp_gateway(struct xdp_md *ctx)
{
    void *data_end;
    u64 len;
    struct ethhdr *eth = hl_eth(ctx, &data_end, &len);

    if (!eth)
        return XDP_PASS;
    gw_count(GW_RX, len);
    if (eth->h_proto != htons(ETH_P_IP)) {
        gw_count(GW_PASSED, len);
        return XDP_PASS;
    }
    struct hl_mac_key key = {};
    hl_mac_copy(key.mac, eth->h_dest);
    struct gw_vmac *v = gw_vmacs.lookup(&key);
    if (!v) {
        gw_count(GW_PASSED, len);
        return XDP_PASS;
    }
    if (v->ifindex && v->ifindex != ctx->ingress_ifindex) {
        gw_count(GW_WRONG_IF, len);
        return XDP_PASS;
    }
    hl_mac_copy(eth->h_dest, v->rewrite);
    gw_count(GW_ACCEPTED, len);
    hl_count(gw_vmac_stats.lookup(&key), len);
    return XDP_PASS;
}
