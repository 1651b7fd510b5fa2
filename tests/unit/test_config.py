"""Agent configuration: valid files load; every error names the file, the key and the reason."""
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from hitless.config.agent import load_agent_config, parse_agent_config
from hitless.errors import ConfigError

GOOD = {
    "node": "hl-sw1",
    "log": {"format": "json", "level": "debug"},
    "dataplane": {"xdp_mode": "generic"},
    "forwarder": {"interfaces": ["p1", "p2"],
                  "rules": [{"dst_mac": "02:AA:00:00:00:01", "new_dst_mac": "02:00:00:00:0b:01", "egress": "p2"}]},
}


def write(tmp_path, data, name="agent.yml"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_good_config_loads_with_defaults(tmp_path):
    cfg = load_agent_config(write(tmp_path, GOOD))
    assert cfg.node == "hl-sw1"
    assert cfg.control_socket == "/run/hitless/hl-sw1.sock"
    assert cfg.dataplane.pin_dir("hl-sw1") == "/sys/fs/bpf/hitless/hl-sw1"
    assert cfg.log.format == "json"
    rule = cfg.roles["forwarder"].rules[0]
    assert rule.dst_mac == "02:aa:00:00:00:01"  # normalised
    assert cfg.roles["forwarder"].interfaces == ("p1", "p2")


@pytest.mark.parametrize("mutate, key, reason", [
    (lambda d: d.pop("node"), "node", "required key is missing"),
    (lambda d: d.update(node="bad name!"), "node", "must be 1-32 characters"),
    (lambda d: d.update(colour="blue"), "colour", "unknown key"),
    (lambda d: d["dataplane"].update(xdp_mode="turbo"), "dataplane.xdp_mode", "must be one of"),
    (lambda d: d["log"].update(format="xml"), "log.format", "must be one of"),
    (lambda d: d.update(metrics={"listen": "0.0.0.0:9100"}), "metrics.listen", "not a wildcard"),
    (lambda d: d.update(metrics={"listen": "10.0.0.1"}), "metrics.listen", "ADDRESS:PORT"),
    (lambda d: d["forwarder"].update(interfaces=[]), "forwarder.interfaces", "at least one"),
    (lambda d: d["forwarder"].update(interfaces=["p1", "p1"]), "forwarder.interfaces", "twice"),
    (lambda d: d["forwarder"]["rules"].append(dict(d["forwarder"]["rules"][0])),
     "forwarder.rules[1].dst_mac", "already has a rule"),
    (lambda d: d["forwarder"]["rules"][0].update(new_dst_mac="zz:00"), "forwarder.rules[0].new_dst_mac",
     "not a MAC address"),
    (lambda d: d["forwarder"]["rules"][0].pop("egress"), "forwarder.rules[0].egress", "required key"),
])
def test_errors_name_file_key_and_reason(tmp_path, mutate, key, reason):
    import copy

    data = copy.deepcopy(GOOD)
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    assert err.value.file == str(path)
    assert err.value.key == key
    assert reason in err.value.reason
    assert str(path) in str(err.value) and key in str(err.value)


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, "node: x\nlog: [unclosed\n")
    with pytest.raises(ConfigError) as err:
        load_agent_config(path)
    assert err.value.file == str(path) and "line" in err.value.reason


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_agent_config(tmp_path / "nope.yml")
    assert "cannot read" in err.value.reason


def test_validate_command_exit_codes(tmp_path):
    good = write(tmp_path, GOOD, "good.yml")
    bad = write(tmp_path, {**GOOD, "dataplane": {"xdp_mode": "turbo"}}, "bad.yml")
    ok = subprocess.run([sys.executable, "-m", "hitless", "validate", str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "ok" in ok.stdout
    ko = subprocess.run([sys.executable, "-m", "hitless", "validate", str(bad)], capture_output=True, text=True)
    assert ko.returncode == 2
    assert f"{bad}: dataplane.xdp_mode: must be one of" in ko.stderr
    assert "Traceback" not in ko.stderr


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["node", "log", "control", "dataplane", "metrics", "forwarder", "x"]),
                       yaml_values, max_size=6))
def test_fuzzed_configs_only_raise_config_error(data):
    try:
        parse_agent_config(data, "fuzz.yml")
    except ConfigError as exc:
        assert exc.file == "fuzz.yml" and exc.reason
