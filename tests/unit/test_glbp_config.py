"""The gateway: section: defaults, units, and every rejection naming file, key and reason."""
from __future__ import annotations

import pytest

from hitless.config.schema import Section
from hitless.errors import ConfigError
from hitless.gateway.config import Track, parse_config


def parse(group: dict, **extra):
    g = {"group": 1, "interface": "eth0", "vip": "10.0.0.1"}
    g.update(group)
    return parse_config(Section({"groups": [g], **extra}, "agent.yml", "gateway")).groups[0]


def test_defaults_are_ciscos():
    g = parse({})
    assert (g.priority, g.preempt, g.hello_ms, g.hold_ms, g.redirect_ms, g.timeout_ms) == \
        (100, False, 3000, 10000, 600_000, 14_400_000)
    assert g.forwarder_preempt and g.forwarder_preempt_delay_ms == 30_000
    assert (g.load_balancing, g.weight_max, g.weight_lower, g.weight_upper) == ("round-robin", 100, 1, 100)
    assert g.auth_type == "none"


def test_timers_in_ms_or_s():
    g = parse({"timers": {"hello": "50ms", "hold": 150, "redirect": "2s", "timeout": "1m"}})
    assert (g.hello_ms, g.hold_ms, g.redirect_ms, g.timeout_ms) == (50, 150, 2000, 60000)


def test_full_group():
    g = parse({"priority": 200, "preempt": True, "preempt_delay": "5s", "load_balancing": "weighted",
               "weighting": {"maximum": 120, "lower": 40, "upper": 90},
               "track": [{"interface": "up0", "decrement": 50}, {"route": "10.9.0.7/24"}],
               "authentication": {"type": "md5", "key": "k"}})
    assert g.preempt_delay_ms == 5000 and g.weight_lower == 40
    assert g.track == (Track("interface", "up0", 50), Track("route", "10.9.0.0/24", 10))
    assert (g.auth_type, g.auth_key) == ("md5", "k")


@pytest.mark.parametrize("group, key, reason", [
    ({"timers": {"redirect": "5s", "timeout": "5s"}}, "gateway.groups[0].timers.timeout", "longer than redirect"),
    ({"timers": {"redirect": "5s", "timeout": "4s"}}, "gateway.groups[0].timers.timeout", "longer than redirect"),
    ({"timers": {"hello": "1s", "hold": "1s"}}, "gateway.groups[0].timers.hold", "longer than hello"),
    ({"group": 1024}, "gateway.groups[0].group", "0..1023"),
    ({"priority": 0}, "gateway.groups[0].priority", "1..255"),
    ({"priority": 256}, "gateway.groups[0].priority", "1..255"),
    ({"vip": "224.0.0.1"}, "gateway.groups[0].vip", "unicast"),
    ({"vip": "nope"}, "gateway.groups[0].vip", "IPv4"),
    ({"load_balancing": "random"}, "gateway.groups[0].load_balancing", "one of"),
    ({"weighting": {"maximum": 255}}, "gateway.groups[0].weighting.maximum", "1..254"),
    ({"weighting": {"lower": 80, "upper": 60}}, "gateway.groups[0].weighting.lower", ""),
    ({"track": [{"decrement": 5}]}, "gateway.groups[0].track[0].interface", "exactly one"),
    ({"track": [{"route": "x"}]}, "gateway.groups[0].track[0].route", "prefix"),
    ({"authentication": {"type": "md5"}}, "gateway.groups[0].authentication.key", "missing"),
    ({"authentication": {"type": "text", "key": "x" * 17}}, "gateway.groups[0].authentication.key", "too long"),
    ({"bogus": 1}, "gateway.groups[0].bogus", "unknown key"),
])
def test_rejections_name_the_key(group, key, reason):
    with pytest.raises(ConfigError) as e:
        parse(group)
    assert e.value.file == "agent.yml" and e.value.key == key and reason in e.value.reason


def test_duplicate_group_on_an_interface():
    g = {"group": 1, "interface": "eth0", "vip": "10.0.0.1"}
    with pytest.raises(ConfigError, match=r"groups\[1\].group: group 1 on eth0 is already groups\[0\]"):
        parse_config(Section({"groups": [g, dict(g)]}, "agent.yml", "gateway"))


def test_whole_agent_file_goes_through_the_registered_parser():
    from hitless.config.agent import parse_agent_config

    cfg = parse_agent_config({"node": "lab-r1", "gateway": {"groups": [
        {"group": 3, "interface": "eth0", "vip": "10.0.0.1"}]}}, "agent.yml")
    assert cfg.roles["gateway"].groups[0].group == 3
