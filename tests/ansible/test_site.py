"""site.yml on a real lab: the default topology's containers, with a prefix of its own.

One converge installs the agent from a wheelhouse built here, then the tests check that every
agent runs and answers as its node, that a second run and a check-mode run change nothing,
that the launcher brings a killed agent back onto the same XDP program, and that a bad
configuration never reaches a running agent.
"""
from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import time

import pytest

from ansiblerun import REPO, VENV_BIN, ansible_env, explain, playbook, recap
from hitless.lab import Lab, cleanup

pytestmark = [pytest.mark.lab, pytest.mark.container]

AGENTS = ["sw1", "sw2", "r1", "r2"]


class SiteLab:
    def __init__(self, prefix: str, source, wheelhouse):
        self.prefix = prefix
        self.source = source
        self.env = ansible_env(HITLESS_LAB_PREFIX=prefix)
        self.vars = ["-e", f"hitless_agent_source={source}", "-e", f"hitless_agent_wheelhouse={wheelhouse}"]

    def site(self, *args: str) -> subprocess.CompletedProcess:
        return playbook(["-i", str(REPO / "inventory" / "lab"), str(REPO / "site.yml"), *self.vars, *args],
                        env=self.env)

    def ssh(self, node: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
        cp = subprocess.run([str(VENV_BIN / "hitless"), "lab", "ssh", "--prefix", self.prefix, node, "--", command],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if check:
            assert cp.returncode == 0, f"{node}: {command}: {cp.stderr}"
        return cp

    def status(self, node: str) -> dict:
        return json.loads(self.ssh(node, "hitless show status --json").stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The default lab under a fresh prefix, converged once; always torn down."""
    prefix = "ta" + secrets.token_hex(3)
    src = tmp_path_factory.mktemp("agent-src") / "agent"
    shutil.copytree(REPO / "agent", src, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", "*.egg-info", "build", "dist"))
    topo = Lab.load("default", prefix=prefix)
    try:
        topo.up()
        site = SiteLab(prefix, src, tmp_path_factory.mktemp("wheelhouse"))
        site.first = site.site()
        yield site
    finally:
        cleanup.teardown(prefix, sorted(topo.nodes))


def test_converge_runs_every_agent_as_its_lab_node(lab):
    assert lab.first.returncode == 0, explain(lab.first)
    rc = recap(lab.first.stdout)
    assert sorted(rc) == sorted(AGENTS)
    assert all(r["failed"] == 0 and r["unreachable"] == 0 and r["changed"] > 0 for r in rc.values())
    for node in AGENTS:
        st = lab.status(node)
        assert st["node"] == f"{lab.prefix}-{node}"
        assert lab.ssh(node, "hitless-agentctl status").stdout.startswith("running")
        # Installed as a bank with its own virtualenv; the command points through "current".
        bank = lab.ssh(node, "readlink -f /usr/local/bin/hitless").stdout.strip()
        assert bank.startswith("/opt/hitless/0.") and bank.endswith("/bin/hitless")
        assert lab.ssh(node, "cat /opt/hitless/current/.hitless-build").stdout.strip() in bank
    # The switches run the XDP forwarder on their four ports.
    progs = lab.status("sw1")["dataplane"]["programs"]
    assert set(progs["l2fwd"]["interfaces"]) == {"p1", "p2", "p3", "p4"}


def test_second_run_changes_nothing(lab):
    cp = lab.site()
    assert cp.returncode == 0, explain(cp)
    rc = recap(cp.stdout)
    assert sorted(rc) == sorted(AGENTS)
    assert {h: r["changed"] for h, r in rc.items()} == {h: 0 for h in AGENTS}, explain(cp)


def test_check_mode_changes_nothing_and_still_checks_status(lab):
    pids = {n: lab.status(n)["pid"] for n in AGENTS}
    cp = lab.site("--check", "--diff")
    assert cp.returncode == 0, explain(cp)
    assert {h: r["changed"] for h, r in recap(cp.stdout).items()} == {h: 0 for h in AGENTS}, explain(cp)
    assert "Report the agent's status" in cp.stdout
    assert {n: lab.status(n)["pid"] for n in AGENTS} == pids


def test_killed_agent_is_restarted_and_adopts_its_xdp_program(lab):
    before = lab.status("sw2")
    prog_id = before["dataplane"]["programs"]["l2fwd"]["prog_id"]
    lab.ssh("sw2", "kill -9 $(cat /run/hitless/agent.pid)")
    deadline = time.monotonic() + 60
    after = None
    while time.monotonic() < deadline:
        cp = lab.ssh("sw2", "hitless show status --json", check=False)
        if cp.returncode == 0 and json.loads(cp.stdout)["pid"] != before["pid"]:
            after = json.loads(cp.stdout)
            break
        time.sleep(0.5)
    assert after is not None, "the launcher did not bring the agent back within 60 s"
    l2fwd = after["dataplane"]["programs"]["l2fwd"]
    assert l2fwd["adopted"] is True and l2fwd["prog_id"] == prog_id
    # The restart is the launcher's doing; the next run has nothing to repair.
    cp = lab.site("--limit", "sw2")
    assert cp.returncode == 0 and recap(cp.stdout)["sw2"]["changed"] == 0, explain(cp)


def test_agent_orphaned_by_a_killed_supervisor_is_replaced_by_the_next_run(lab):
    before = lab.status("sw1")
    lab.ssh("sw1", "kill -9 $(cat /run/hitless/agentctl.pid)")
    cp = lab.ssh("sw1", "hitless-agentctl status", check=False)
    assert cp.returncode == 3 and cp.stdout.startswith("unsupervised"), cp.stdout
    cp = lab.site("--limit", "sw1")
    assert cp.returncode == 0, explain(cp)
    assert recap(cp.stdout)["sw1"]["changed"] == 1, explain(cp)  # only "Start the agent"
    after = lab.status("sw1")
    assert after["pid"] != before["pid"]
    assert after["dataplane"]["programs"]["l2fwd"]["adopted"] is True
    assert after["dataplane"]["programs"]["l2fwd"]["prog_id"] == before["dataplane"]["programs"]["l2fwd"]["prog_id"]
    # Exactly one agent process: the orphan was stopped, not left beside the new one.
    assert lab.ssh("sw1", "pgrep -c -f 'hitless agent --config'").stdout.strip() == "1"


def test_stopped_agent_is_started_by_the_next_run(lab):
    lab.ssh("r1", "hitless-agentctl stop")
    assert lab.ssh("r1", "hitless-agentctl status", check=False).returncode == 3
    cp = lab.site("--limit", "r1")
    assert cp.returncode == 0, explain(cp)
    assert recap(cp.stdout)["r1"]["changed"] == 1, explain(cp)  # only "Start the agent"
    assert lab.status("r1")["node"] == f"{lab.prefix}-r1"


def test_bad_configuration_fails_before_it_reaches_the_agent(lab):
    before = lab.ssh("sw1", "cat /etc/hitless/agent.yml").stdout
    pid = lab.status("sw1")["pid"]
    cp = lab.site("--limit", "sw1", "-e", '{"hitless_agent_forwarder": {"interfaces": ["p1", "p1"]}}')
    assert cp.returncode != 0
    assert "lists an interface twice" in cp.stdout, explain(cp)
    assert lab.ssh("sw1", "cat /etc/hitless/agent.yml").stdout == before
    assert lab.status("sw1")["pid"] == pid


def verify(lab: SiteLab, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return playbook([str(REPO / "playbooks" / "verify.yml"), "-e", f"hitless_verify_report_dir={tmp_path}",
                     "-e", "hitless_verify_duration=2", *args], env=lab.env)


def test_verify_probes_pass_through_the_deployed_lab(lab, tmp_path):
    cp = verify(lab, tmp_path)
    assert cp.returncode == 0, explain(cp)
    for name in ("lan-h1-h2", "gw-h1-s1", "gw-h2-s2"):
        report = json.loads((tmp_path / f"{name}.json").read_text())
        assert report["sent"] == 20000 and report["lost"] == 0, name
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_verify_fails_when_a_probe_loses_packets(lab, tmp_path):
    # h2 drops every tenth probe packet (an nft rule in the test lab's own namespace).
    ns = f"{lab.prefix}-h2"
    nft = ["ip", "netns", "exec", ns, "nft"]
    subprocess.run([*nft, "add table inet hlloss"], check=True)
    try:
        subprocess.run([*nft, "add chain inet hlloss in { type filter hook input priority 0 ; }"], check=True)
        subprocess.run([*nft, "add rule inet hlloss in udp dport 7000 numgen inc mod 10 == 0 drop"], check=True)
        probes = '{"hitless_verify_probes": [{"name": "lossy", "src": "h1", "dst_node": "h2", "dst": "10.0.1.12"}]}'
        cp = verify(lab, tmp_path, "-e", probes)
        assert cp.returncode != 0
        lost = json.loads((tmp_path / "lossy.json").read_text())["lost"]
        assert 1000 <= lost <= 3000
        assert f"lossy: lost {lost} packets, budget 0" in cp.stdout, explain(cp)
        # The same loss within a larger budget passes.
        cp = verify(lab, tmp_path, "-e", probes, "-e", "hitless_verify_max_lost=5000")
        assert cp.returncode == 0, explain(cp)
    finally:
        subprocess.run([*nft, "delete table inet hlloss"], check=False)


def test_verify_fails_when_a_probe_cannot_run(lab, tmp_path):
    # Nothing in the lab has 10.0.1.99: the probe reports that no packet arrived at all.
    probes = '{"hitless_verify_probes": [{"name": "void", "src": "h1", "dst_node": "h2", "dst": "10.0.1.99"}]}'
    cp = verify(lab, tmp_path, "-e", probes)
    assert cp.returncode != 0
    assert "void: the probe did not run" in cp.stdout, explain(cp)


def site_sh(lab: SiteLab, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "scripts" / "site.sh"), *lab.vars, *args], cwd=REPO,
                          env=lab.env, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)


def test_site_sh_prints_every_agent_and_fails_when_one_is_down(lab):
    cp = site_sh(lab)
    assert cp.returncode == 0, explain(cp)
    table = cp.stdout.split("site: agent status", 1)[1].splitlines()
    for node in AGENTS:
        line = next(ln for ln in table if ln.startswith(f"{node} "))
        assert f"{lab.prefix}-{node}" in line and " running " in line
    assert "site: all 4 lab agents are running" in cp.stdout
    # An inventory that wants r2's agent stopped converges fine, but the job is not done.
    cp = site_sh(lab, "--limit", "r2", "-e", "hitless_agent_state=stopped")
    assert cp.returncode == 1, explain(cp)
    table = cp.stdout.split("site: agent status", 1)[1].splitlines()
    assert any(ln.startswith("r2 ") and " DOWN " in ln for ln in table), explain(cp)
    assert "1 of 4 agents are not running: r2" in cp.stderr
    cp = site_sh(lab)
    assert cp.returncode == 0, explain(cp)


def build_variant(lab: SiteLab, tmp_path, name: str, edit) -> str:
    """A copy of the converged source with one edit: a different build of the same release."""
    src = tmp_path / name / "agent"
    shutil.copytree(lab.source, src)
    edit(src / "src" / "hitless")
    return str(src)


def upgrade(lab: SiteLab, source: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return playbook([str(REPO / "playbooks" / "upgrade.yml"), *lab.vars, "-e", f"hitless_agent_source={source}",
                     "-e", f"hitless_upgrade_report_dir={tmp_path}", "-e", "hitless_upgrade_probe_duration=90",
                     *args], env=lab.env)


def running_bank(lab: SiteLab, node: str) -> str:
    pid = lab.status(node)["pid"]
    return lab.ssh(node, f"tr '\\0' ' ' < /proc/{pid}/cmdline").stdout.split()[0].rsplit("/bin/", 1)[0]


def test_upgrade_with_a_broken_build_rolls_back_and_stops(lab, tmp_path):
    def crash_on_start(pkg):
        f = pkg / "cli" / "agent_cmd.py"
        f.write_text(f.read_text().replace("def run(args) -> int:\n",
                                           "def run(args) -> int:\n    raise SystemExit('broken build')\n"))
    before = {n: (running_bank(lab, n), lab.status(n)) for n in AGENTS}
    source = build_variant(lab, tmp_path, "broken", crash_on_start)
    cp = upgrade(lab, source, tmp_path, "-e", "hitless_agent_status_timeout=10", "-e", "hitless_upgrade_probe_duration=40")
    assert cp.returncode != 0
    first = AGENTS[0]
    assert f"the upgrade stopped at {first}" in cp.stdout and "rolled back" in cp.stdout, explain(cp)
    # The roll back is measured by the probes too, and lost nothing.
    report = json.loads((tmp_path / "upgrade-h1-s1.json").read_text())
    assert report["received"] > 0 and report["lost"] == 0
    for n in AGENTS:
        bank, st = before[n]
        assert running_bank(lab, n) == bank
        assert lab.ssh(n, "readlink /opt/hitless/current").stdout.strip() == bank
        now = lab.status(n)
        assert {k: p["prog_id"] for k, p in now["dataplane"]["programs"].items()} == \
               {k: p["prog_id"] for k, p in st["dataplane"]["programs"].items()}
        # Only the first node was touched: the rest kept their agent process.
        assert (now["pid"] == st["pid"]) == (n != first)


def test_staged_upgrade_is_hitless_and_keeps_every_xdp_program(lab, tmp_path):
    source = build_variant(lab, tmp_path, "next", lambda pkg: (pkg / "__init__.py").write_text(
        (pkg / "__init__.py").read_text() + "# the next build\n"))
    before = {n: lab.status(n) for n in AGENTS}
    cp = upgrade(lab, source, tmp_path)
    assert cp.returncode == 0, explain(cp)
    report = json.loads((tmp_path / "upgrade-h1-s1.json").read_text())
    assert report["sent"] == 900000 and report["lost"] == 0, report
    for n in AGENTS:
        new_bank = lab.ssh(n, "readlink /opt/hitless/current").stdout.strip()
        assert running_bank(lab, n) == new_bank != ""
        now = lab.status(n)
        assert now["pid"] != before[n]["pid"]
        assert {k: (p["prog_id"], p["adopted"]) for k, p in now["dataplane"]["programs"].items()} == \
               {k: (p["prog_id"], True) for k, p in before[n]["dataplane"]["programs"].items()}
