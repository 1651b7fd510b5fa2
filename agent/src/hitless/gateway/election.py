"""Ranking rules shared by the gateway and forwarder elections.

A rank is (priority, IPv4 as an integer): the higher priority wins and the higher IP breaks
ties, as HSRP/GLBP do. Ranks are plain tuples so they compare with `>`/`max`.
"""
from __future__ import annotations

import ipaddress

# Virtual-forwarder priorities carried in the Req/Resp TLV. The owner (primary) always wins
# its own forwarder back; among secondaries the AVG is preferred (seed 003: the master
# tends a failed member's VMAC), then the standby AVG (so the AVG's successor also takes
# the AVG's VMAC, §3d-ii), then the others by weight. 0 means "not able to forward".
VF_PRIO_OWNER = 167
VF_PRIO_AVG = 166
VF_PRIO_STANDBY = 165
VF_PRIO_MAX_OTHER = 164

Rank = tuple[int, int]


def ip_int(ip: str) -> int:
    return int(ipaddress.IPv4Address(ip))


def rank(priority: int, ip: str) -> Rank:
    return (priority, ip_int(ip))


def best(ranks) -> Rank | None:
    ranks = list(ranks)
    return max(ranks) if ranks else None


def vf_priority(*, owner: bool, able: bool, vg_state: int, weight: int) -> int:
    """The forwarder priority a member advertises for one virtual forwarder."""
    from hitless.wire.glbp import VGState

    if not able:
        return 0
    if owner:
        return VF_PRIO_OWNER
    if vg_state == VGState.ACTIVE:
        return VF_PRIO_AVG
    if vg_state == VGState.STANDBY:
        return VF_PRIO_STANDBY
    return max(1, min(weight, VF_PRIO_MAX_OTHER))
