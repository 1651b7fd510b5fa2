"""`hitless validate` on flow-switch configurations: behaviour 3 through the real CLI."""
import copy
import subprocess
import sys

import pytest
import yaml

from fs_lab import flowswitch_config

GOOD = {"node": "fs-cli-test", "flowswitch": flowswitch_config()}


def validate(tmp_path, data):
    path = tmp_path / "agent.yml"
    path.write_text(yaml.safe_dump(data))
    return subprocess.run([sys.executable, "-m", "hitless", "validate", str(path)], capture_output=True,
                          text=True, timeout=60)


def test_valid_config_accepted(tmp_path):
    r = validate(tmp_path, GOOD)
    assert r.returncode == 0, r.stderr
    assert "flowswitch" in r.stdout


@pytest.mark.parametrize("mutate, key, reason", [
    (lambda d: d["flowswitch"]["clusters"][0]["servers"][1].update(port="p3"),
     "flowswitch.clusters[0].servers[1].port", "one server per port"),
    (lambda d: d["flowswitch"]["clusters"][0]["servers"][1].update(mac="02:00:00:30:00:11"),
     "flowswitch.clusters[0].servers[1].mac", "duplicate MAC"),
    (lambda d: d["flowswitch"]["clusters"][0]["servers"][1].update(name="s1"),
     "flowswitch.clusters[0].servers[1].name", "duplicate server name"),
    (lambda d: d["flowswitch"]["clusters"][1].update(name="web"),
     "flowswitch.clusters[1].name", "duplicate cluster name"),
    (lambda d: d["flowswitch"]["router_pools"][0]["routers"][1].update(mac="02:00:00:30:00:02"),
     "flowswitch.router_pools[0].routers[1].mac", "duplicate MAC"),
    (lambda d: d["flowswitch"].update(maglev_size=65536), "flowswitch.maglev_size", "prime"),
])
def test_invalid_configs_rejected_with_file_key_reason(tmp_path, mutate, key, reason):
    d = copy.deepcopy(GOOD)
    mutate(d)
    r = validate(tmp_path, d)
    assert r.returncode == 2
    assert f"agent.yml: {key}:" in r.stderr and reason in r.stderr, r.stderr
