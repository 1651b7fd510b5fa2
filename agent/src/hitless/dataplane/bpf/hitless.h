/* Shared definitions for hitless XDP programs.
 *
 * Every map is declared with HL_MAP so it is pinned under HL_PIN_DIR (set by the loader to
 * /sys/fs/bpf/hitless/<node>): bcc creates and pins it on first load and re-uses the pinned
 * map on every later load, which is what keeps state across agent restarts and upgrades.
 */
#ifndef HITLESS_H
#define HITLESS_H

#include <uapi/linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>

#ifndef HL_PIN_DIR
#error "HL_PIN_DIR must be defined by the loader (-DHL_PIN_DIR=\"...\")"
#endif

#define HL_MAP(_type, _key, _val, _name, _max) \
    BPF_TABLE_PINNED(_type, _key, _val, _name, _max, HL_PIN_DIR "/" #_name)

/* A pinned devmap (port slot -> ifindex) with bcc's `.redirect_map(slot, fallback)` method. */
#define HL_DEVMAP(_name, _max) \
    BPF_XDP_REDIRECT_MAP("devmap:" HL_PIN_DIR "/" #_name, u32, _name, _max)

/* Packets and bytes, kept per CPU so the fast path never contends on a cache line. */
struct hl_counters {
    u64 packets;
    u64 bytes;
};

static __always_inline void hl_count(struct hl_counters *c, u64 bytes)
{
    if (c) {
        c->packets += 1;
        c->bytes += bytes;
    }
}

static __always_inline int hl_mac_eq(const u8 *a, const u8 *b)
{
    return ((const u32 *)a)[0] == ((const u32 *)b)[0] &&
           ((const u16 *)a)[2] == ((const u16 *)b)[2];
}

static __always_inline void hl_mac_copy(u8 *dst, const u8 *src)
{
    __builtin_memcpy(dst, src, ETH_ALEN);
}

/* The frame's Ethernet header, its end and its length; NULL when the frame is shorter than
 * an Ethernet header. Every program starts here. */
static __always_inline struct ethhdr *hl_eth(struct xdp_md *ctx, void **data_end, u64 *len)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;

    *data_end = end;
    *len = end - data;
    if (data + sizeof(struct ethhdr) > end)
        return NULL;
    return data;
}

/* A MAC address as a map key: 6 bytes padded to 8 so keys are aligned and memcmp-safe. */
struct hl_mac_key {
    u8 mac[ETH_ALEN];
    u16 pad;
};

#endif
