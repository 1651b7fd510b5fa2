/* Flow switch (seed 004): one cluster IP served by many servers, balanced by rewriting only the
 * destination MAC of inbound frames. Attached to every switch port; the bridge does the rest.
 *
 * Per frame, in this order:
 *  1. ARP (answered here with XDP_TX, so ARP keeps working while the agent restarts):
 *     - a server port asks for a router pool's gateway IP -> reply with the MAC of the router
 *       the agent assigned to that server (fs_gw_assign), else a hash over the live routers;
 *     - a server port asks for one router's own IP -> reply with that router's MAC, or its
 *       cover's while it is down (fs_rtr_ip). This also lets a server answer an on-link
 *       router from the cluster IP: its "who-has router tell <cluster IP>" must not reach
 *       the routers (it would teach them the server's MAC for the cluster IP);
 *     - anyone outside the server ports asks for a cluster IP -> reply with the virtual MAC;
 *     - any other ARP naming a cluster IP (server replies, probes, gratuitous) is dropped, so
 *       servers never see ARP for the cluster IP and routers never hear the servers' answers.
 *       Exception: a reply addressed to the switch's own MAC (fs_self) is the agent's ARP
 *       health check and is passed up.
 *  2. IPv4 to a cluster's virtual MAC -> pick a server and rewrite the destination MAC only,
 *     then bpf_redirect_map out the server's port. The IP header onward is not touched.
 *     The choice: connection table (LRU) hit on a healthy server, else the cluster's Maglev
 *     table (double-buffered; fs_sel says which half is live). Key: 5-tuple for TCP/UDP/SCTP,
 *     L3 (saddr, daddr, proto) for everything else. A first fragment records its server in
 *     fs_frag so the later fragments (no ports) follow it; a non-first fragment without a
 *     record falls back to the L3 key.
 *  3. Anything else passes to the bridge unchanged, except frames to a failed router's MAC,
 *     which are rewritten to the covering live router (fs_rtr.cover) and redirected.
 * Counters (per CPU): per cluster, per server and per router, packets and bytes, in and out.
 */
#include "hitless.h"

#ifndef FS_MAGLEV_M
#define FS_MAGLEV_M 65537
#endif
#ifndef FS_CT_SIZE
#define FS_CT_SIZE 262144
#endif
#define FS_MAX_CLUSTERS 16
#define FS_MAX_SERVERS 256
#define FS_MAX_ROUTERS 64
#define FS_POOL_MAX 16
#define FS_EMPTY 0xFFFFFFFFu
#define FS_PROBES 4

#define FS_MODE_BALANCE 0
#define FS_MODE_AVAILABILITY 1
#define FS_PORT_SERVER 1
#define FS_PORT_ROUTER 2

#define ETH_P_ARP_BE 0x0608 /* htons(ETH_P_ARP) on little-endian */
#define ETH_P_IP_BE 0x0008

struct fs_cluster {           /* fs_vip: virtual MAC -> cluster */
    u32 ip;                   /* cluster IP, network byte order */
    u32 id;                   /* 0..FS_MAX_CLUSTERS-1 */
    u32 mode;                 /* FS_MODE_* */
    u32 flags;
};

struct fs_vip_arp {           /* fs_vip_ip: cluster IP -> virtual MAC (proxy ARP) */
    u8 vmac[ETH_ALEN];
    u16 pad;
    u32 id;
    u32 pad2;
};

struct fs_server {            /* fs_servers[id] */
    u8 mac[ETH_ALEN];
    u16 pad;
    u32 port;                 /* devmap slot in fs_ports */
    u32 up;
    u32 cluster;
    u32 pad2;
};

struct fs_flow {              /* fs_ct key */
    u32 saddr;
    u32 daddr;
    u16 sport;
    u16 dport;
    u8 proto;
    u8 pad[3];
};

struct fs_ct_val {
    u32 server;
    u32 cluster;
};

struct fs_frag_key {
    u32 saddr;
    u32 daddr;
    u16 id;
    u8 proto;
    u8 pad;
    u32 pad2;
};

struct fs_src_key {           /* fs_srv_src: (cluster IP, server MAC) -> server id, for out counters */
    u32 ip;
    u8 mac[ETH_ALEN];
    u16 pad;
};

struct fs_router {            /* fs_rtr: router MAC -> state */
    u32 id;
    u32 up;
    u8 cover_mac[ETH_ALEN];
    u16 has_cover;
    u32 cover_slot;
    u32 cover_id;
    u32 pool;
    u32 pad;
};

struct fs_gw {                /* fs_gw: gateway IP -> live routers (fallback for unknown askers) */
    u32 n;
    u32 pool;
    struct hl_mac_key live[FS_POOL_MAX];
};

struct fs_gw_key {            /* fs_gw_assign: (gateway IP, asker MAC) -> router MAC */
    u32 ip;
    u8 mac[ETH_ALEN];
    u16 pad;
};

struct fs_arp {
    __be16 htype;
    __be16 ptype;
    u8 hlen;
    u8 plen;
    __be16 op;
    u8 sha[ETH_ALEN];
    __be32 spa;
    u8 tha[ETH_ALEN];
    __be32 tpa;
} __attribute__((packed));

enum fs_stat {
    FS_RX = 0, FS_INBOUND, FS_NO_SERVER, FS_VIP_BAD_IP, FS_CT_HIT, FS_CT_NEW, FS_CT_RESELECT,
    FS_FRAG_HIT, FS_FRAG_L3, FS_ARP_PROXY, FS_ARP_GW, FS_ARP_ISOLATED, FS_ARP_SELF, FS_RTR_REWRITE,
    FS_PASS, FS_NO_PORT, FS_NSTATS
};

HL_MAP("hash", struct hl_mac_key, struct fs_cluster, fs_vip, FS_MAX_CLUSTERS);
HL_MAP("hash", u32, struct fs_vip_arp, fs_vip_ip, FS_MAX_CLUSTERS);
HL_MAP("array", u32, u32, fs_sel, FS_MAX_CLUSTERS);
HL_MAP("array", u32, u32, fs_maglev, FS_MAX_CLUSTERS * 2 * FS_MAGLEV_M);
HL_MAP("array", u32, struct fs_server, fs_servers, FS_MAX_SERVERS);
HL_MAP("hash", u32, u32, fs_port_role, 64);
HL_MAP("lru_hash", struct fs_flow, struct fs_ct_val, fs_ct, FS_CT_SIZE);
HL_MAP("lru_hash", struct fs_frag_key, u32, fs_frag, 16384);
HL_MAP("hash", struct fs_src_key, u32, fs_srv_src, FS_MAX_SERVERS);
HL_MAP("hash", struct hl_mac_key, struct fs_router, fs_rtr, FS_MAX_ROUTERS);
HL_MAP("hash", u32, struct fs_gw, fs_gw, FS_MAX_ROUTERS);
HL_MAP("hash", struct fs_gw_key, struct hl_mac_key, fs_gw_assign, 4096);
HL_MAP("hash", struct hl_mac_key, u32, fs_self, 8);
HL_MAP("hash", u32, struct hl_mac_key, fs_rtr_ip, FS_MAX_ROUTERS);
HL_MAP("percpu_array", u32, struct hl_counters, fs_cl_cnt, FS_MAX_CLUSTERS * 2);
HL_MAP("percpu_array", u32, struct hl_counters, fs_srv_cnt, FS_MAX_SERVERS * 2);
HL_MAP("percpu_array", u32, struct hl_counters, fs_rtr_cnt, FS_MAX_ROUTERS * 2);
HL_MAP("percpu_array", u32, struct hl_counters, fs_stats, FS_NSTATS);
HL_DEVMAP(fs_ports, 64);

static __always_inline void fs_stat(u32 idx, u64 bytes)
{
    hl_count(fs_stats.lookup(&idx), bytes);
}

/* dir 0 = in (towards the switch's client side: to a server / from a router), 1 = out. */
static __always_inline void fs_count_cluster(u32 id, u32 dir, u64 bytes)
{
    u32 idx = id * 2 + dir;
    hl_count(fs_cl_cnt.lookup(&idx), bytes);
}

static __always_inline void fs_count_server(u32 id, u32 dir, u64 bytes)
{
    u32 idx = id * 2 + dir;
    hl_count(fs_srv_cnt.lookup(&idx), bytes);
}

static __always_inline void fs_count_router(u32 id, u32 dir, u64 bytes)
{
    u32 idx = id * 2 + dir;
    hl_count(fs_rtr_cnt.lookup(&idx), bytes);
}

/* murmur3-style mixing: cheap and well spread over a prime modulus. */
static __always_inline u32 fs_mix(u32 h, u32 k)
{
    k *= 0xcc9e2d51;
    k = (k << 15) | (k >> 17);
    k *= 0x1b873593;
    h ^= k;
    h = (h << 13) | (h >> 19);
    return h * 5 + 0xe6546b64;
}

static __always_inline u32 fs_hash(const struct fs_flow *f)
{
    u32 h = 0x5eed0004;
    h = fs_mix(h, f->saddr);
    h = fs_mix(h, f->daddr);
    h = fs_mix(h, ((u32)f->sport << 16) | f->dport);
    h = fs_mix(h, f->proto);
    h ^= h >> 16;
    h *= 0x85ebca6b;
    h ^= h >> 13;
    h *= 0xc2b2ae35;
    h ^= h >> 16;
    return h;
}

/* FNV-1a of a MAC; mirrored by hitless.flowswitch.routers.fallback_index. */
static __always_inline u32 fs_fnv_mac(const u8 *mac)
{
    u32 h = 0x811c9dc5;
#pragma unroll
    for (int i = 0; i < ETH_ALEN; i++) {
        h ^= mac[i];
        h *= 0x01000193;
    }
    return h;
}

static __always_inline struct fs_server *fs_server_up(u32 sid, u32 cid)
{
    if (sid >= FS_MAX_SERVERS)
        return 0;
    struct fs_server *s = fs_servers.lookup(&sid);
    if (!s || !s->up || s->cluster != cid)
        return 0;
    return s;
}

/* The Maglev slot for hash h in the live half of cluster cid's table; on a down server (the
 * short window between a failure and the agent's table swap) probe the next few slots. */
static __always_inline u32 fs_maglev_pick(u32 cid, u32 h)
{
    u32 *sel = fs_sel.lookup(&cid);
    u32 half = sel ? (*sel & 1) : 0;
    u32 slot = h % FS_MAGLEV_M;
    u32 base = (cid * 2 + half) * FS_MAGLEV_M;
#pragma unroll
    for (int i = 0; i < FS_PROBES; i++) {
        u32 idx = base + slot;
        u32 *sid = fs_maglev.lookup(&idx);
        if (!sid || *sid == FS_EMPTY)
            return FS_EMPTY;
        if (fs_server_up(*sid, cid))
            return *sid;
        slot = slot + 1 == FS_MAGLEV_M ? 0 : slot + 1;
    }
    return FS_EMPTY;
}

static __always_inline int fs_arp_reply(struct ethhdr *eth, struct fs_arp *arp, const u8 *answer_mac)
{
    __be32 asked = arp->tpa;
    __be32 asker = arp->spa;
    hl_mac_copy(eth->h_dest, arp->sha);
    hl_mac_copy(eth->h_source, answer_mac);
    arp->op = bpf_htons(2);
    hl_mac_copy(arp->tha, arp->sha);
    arp->tpa = asker;
    hl_mac_copy(arp->sha, answer_mac);
    arp->spa = asked;
    return XDP_TX;
}

static __always_inline int fs_handle_arp(struct xdp_md *ctx, struct ethhdr *eth, void *data_end, u64 len)
{
    struct fs_arp *arp = (void *)(eth + 1);
    if ((void *)(arp + 1) > data_end)
        return XDP_PASS;
    if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(0x0800) || arp->hlen != 6 || arp->plen != 4)
        return XDP_PASS;
    u32 ifindex = ctx->ingress_ifindex;
    u32 *rolep = fs_port_role.lookup(&ifindex);
    u32 role = rolep ? *rolep : 0;
    int request = arp->op == bpf_htons(1);
    __be32 tpa = arp->tpa;
    __be32 spa = arp->spa;

    /* A server asks for its gateway: answer with its assigned pool router. */
    if (role == FS_PORT_SERVER && request) {
        u32 gwip = tpa;
        struct fs_gw *gw = fs_gw.lookup(&gwip);
        if (gw) {
            struct fs_gw_key gk = {};
            gk.ip = tpa;
            hl_mac_copy(gk.mac, arp->sha);
            struct hl_mac_key *r = fs_gw_assign.lookup(&gk);
            if (!r) {
                u32 n = gw->n;
                if (n == 0 || n > FS_POOL_MAX) {
                    fs_stat(FS_ARP_ISOLATED, len);
                    return XDP_DROP; /* no live router: say nothing rather than leak the request */
                }
                /* The mask is a no-op (n <= FS_POOL_MAX, a power of two) that shows the
                 * verifier the index is bounded; the empty asm stops clang from proving it
                 * redundant and dropping it. */
                u32 i = fs_fnv_mac(arp->sha) % n;
                asm volatile("" : "+r"(i));
                i &= FS_POOL_MAX - 1;
                r = &gw->live[i];
            }
            u8 mac[ETH_ALEN];
            hl_mac_copy(mac, r->mac);
            fs_stat(FS_ARP_GW, len);
            return fs_arp_reply(eth, arp, mac);
        }
    }

    if (role == FS_PORT_SERVER && request) {
        u32 rip = tpa;
        struct hl_mac_key *rm = fs_rtr_ip.lookup(&rip);
        if (rm) {
            u8 mac[ETH_ALEN];
            hl_mac_copy(mac, rm->mac);
            fs_stat(FS_ARP_GW, len);
            return fs_arp_reply(eth, arp, mac);
        }
    }

    u32 tkey = tpa, skey = spa;
    struct fs_vip_arp *vt = fs_vip_ip.lookup(&tkey);
    /* Nested, not `!vt && !vs`: clang would OR the two pointers, which the verifier refuses. */
    if (!vt) {
        if (!fs_vip_ip.lookup(&skey))
            return XDP_PASS;
    }
    /* Proxy ARP: a request for a cluster IP from outside the cluster (not a probe or
     * gratuitous announcement, which carry spa 0 or spa == tpa). */
    if (vt && request && role != FS_PORT_SERVER && spa != 0 && spa != tpa) {
        u8 vmac[ETH_ALEN];
        hl_mac_copy(vmac, vt->vmac);
        fs_stat(FS_ARP_PROXY, len);
        return fs_arp_reply(eth, arp, vmac);
    }
    /* The agent's own ARP health check: a server's reply unicast to the switch. */
    if (role == FS_PORT_SERVER && !request) {
        struct hl_mac_key me = {};
        hl_mac_copy(me.mac, eth->h_dest);
        if (fs_self.lookup(&me)) {
            fs_stat(FS_ARP_SELF, len);
            return XDP_PASS;
        }
    }
    fs_stat(FS_ARP_ISOLATED, len);
    return XDP_DROP;
}

static __always_inline int fs_inbound(struct ethhdr *eth, struct fs_cluster *cl, void *data_end, u64 len)
{
    struct iphdr *ip = (void *)(eth + 1);
    if (eth->h_proto != ETH_P_IP_BE || (void *)(ip + 1) > data_end || ip->version != 4 || ip->ihl < 5) {
        fs_stat(FS_VIP_BAD_IP, len);
        return XDP_DROP; /* a frame to the virtual MAC that is not IPv4 for us: nobody to bridge it to */
    }
    if (ip->daddr != cl->ip) {
        fs_stat(FS_VIP_BAD_IP, len);
        return XDP_DROP;
    }
    u32 cid = cl->id;
    if (cid >= FS_MAX_CLUSTERS)
        return XDP_DROP;

    struct fs_flow key = {};
    key.saddr = ip->saddr;
    key.daddr = ip->daddr;
    key.proto = ip->protocol;
    u16 frag = bpf_ntohs(ip->frag_off);
    u16 offset = frag & 0x1fff;
    int more = frag & 0x2000;
    u32 sid = FS_EMPTY;
    struct fs_frag_key fk = {};
    fk.saddr = ip->saddr;
    fk.daddr = ip->daddr;
    fk.id = ip->id;
    fk.proto = ip->protocol;

    if (offset != 0) {
        /* A later fragment has no ports: follow its first fragment, else the L3 key. */
        u32 *fs = fs_frag.lookup(&fk);
        if (fs && fs_server_up(*fs, cid)) {
            sid = *fs;
            fs_stat(FS_FRAG_HIT, len);
        } else {
            fs_stat(FS_FRAG_L3, len);
        }
    } else if (key.proto == IPPROTO_TCP || key.proto == IPPROTO_UDP || key.proto == 132 /* SCTP */) {
        u32 ihl = (ip->ihl & 0xf) * 4;
        u16 *ports = (void *)ip + ihl;
        if ((void *)(ports + 2) <= data_end) {
            key.sport = ports[0];
            key.dport = ports[1];
        }
    }

    struct fs_server *srv = 0;
    if (sid == FS_EMPTY) {
        if (cl->mode == FS_MODE_AVAILABILITY) {
            /* All traffic to the primary: the agent fills the whole table with it. No
             * connection table, so a restored old primary never gets flows back. */
            sid = fs_maglev_pick(cid, fs_hash(&key));
        } else {
            struct fs_ct_val *ct = fs_ct.lookup(&key);
            if (ct && fs_server_up(ct->server, cid)) {
                sid = ct->server;
                fs_stat(FS_CT_HIT, len);
            } else {
                sid = fs_maglev_pick(cid, fs_hash(&key));
                if (sid != FS_EMPTY) {
                    struct fs_ct_val v = {.server = sid, .cluster = cid};
                    fs_ct.update(&key, &v);
                    fs_stat(ct ? FS_CT_RESELECT : FS_CT_NEW, len);
                }
            }
        }
    }
    srv = fs_server_up(sid, cid);
    if (!srv) {
        fs_stat(FS_NO_SERVER, len);
        return XDP_DROP;
    }
    if (more && offset == 0)
        fs_frag.update(&fk, &sid);

    hl_mac_copy(eth->h_dest, srv->mac);
    int verdict = fs_ports.redirect_map(srv->port, XDP_DROP);
    if (verdict != XDP_REDIRECT) {
        fs_stat(FS_NO_PORT, len);
        return verdict;
    }
    fs_stat(FS_INBOUND, len);
    fs_count_cluster(cid, 0, len);
    fs_count_server(sid, 0, len);
    return XDP_REDIRECT;
}

int xdp_flowswitch(struct xdp_md *ctx)
{
    void *data_end;
    u64 len;
    struct ethhdr *eth = hl_eth(ctx, &data_end, &len);

    if (!eth)
        return XDP_PASS;
    fs_stat(FS_RX, len);

    if (eth->h_proto == ETH_P_ARP_BE)
        return fs_handle_arp(ctx, eth, data_end, len);

    /* A router's frames (mostly inbound to a cluster) count as that router's "in". */
    struct hl_mac_key src = {};
    hl_mac_copy(src.mac, eth->h_source);
    struct fs_router *rs = fs_rtr.lookup(&src);
    if (rs)
        fs_count_router(rs->id, 0, len);

    struct hl_mac_key dst = {};
    hl_mac_copy(dst.mac, eth->h_dest);
    struct fs_cluster *cl = fs_vip.lookup(&dst);
    if (cl)
        return fs_inbound(eth, cl, data_end, len);

    /* Plain path: count, and cover for a failed router. */
    if (eth->h_proto == ETH_P_IP_BE) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) <= data_end) {
            struct fs_src_key sk = {};
            sk.ip = ip->saddr;
            hl_mac_copy(sk.mac, eth->h_source);
            u32 *sid = fs_srv_src.lookup(&sk);
            if (sid) {
                struct fs_server *s = fs_servers.lookup(sid);
                if (s) {
                    fs_count_server(*sid, 1, len);
                    fs_count_cluster(s->cluster, 1, len);
                }
            }
        }
    }
    struct fs_router *rd = fs_rtr.lookup(&dst);
    if (rd) {
        if (!rd->up && rd->has_cover) {
            hl_mac_copy(eth->h_dest, rd->cover_mac);
            int verdict = fs_ports.redirect_map(rd->cover_slot, XDP_DROP);
            if (verdict != XDP_REDIRECT) {
                fs_stat(FS_NO_PORT, len);
                return verdict;
            }
            fs_count_router(rd->cover_id, 1, len);
            fs_stat(FS_RTR_REWRITE, len);
            return XDP_REDIRECT;
        }
        fs_count_router(rd->id, 1, len);
    }
    fs_stat(FS_PASS, len);
    return XDP_PASS;
}
