"""The agent daemon's control socket: root-only, JSON, robust to bad requests; clean SIGTERM."""
import json
import os
import pathlib
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

from hitless.agentd.control import request
from hitless.lab.poll import wait_for




@pytest.fixture
def agent(tmp_path):
    # The socket lives outside pytest's 0700 tmp tree so a non-root peer can reach the file
    # itself in the test that opens its mode: the agent's own peer check must still refuse it.
    base = tempfile.mkdtemp(prefix="hl-ctl-")
    os.chmod(base, 0o755)
    sock = pathlib.Path(base) / "ctl" / "agent.sock"
    log = tmp_path / "agent.log"
    cfg = tmp_path / "agent.yml"
    cfg.write_text(f"node: ctltest\ncontrol: {{socket: {sock}}}\nlog: {{format: json, file: {log}}}\n")
    proc = subprocess.Popen([sys.executable, "-m", "hitless", "agent", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: sock.exists() or proc.poll() is not None, 20, "control socket")
        assert proc.poll() is None, proc.stdout.read().decode()
        yield proc, str(sock), log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(base, ignore_errors=True)


def test_show_status_over_the_socket(agent):
    proc, sock, _ = agent
    resp = request(sock, "show status")
    assert resp["ok"] is True
    assert resp["result"]["node"] == "ctltest"
    assert resp["result"]["pid"] == proc.pid


def test_socket_is_root_only(agent):
    _, sock, _ = agent
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o700
    assert os.stat(sock).st_uid == 0


def test_non_root_peer_is_refused_even_if_file_mode_is_opened(agent):
    _, sock, log = agent
    os.chmod(os.path.dirname(sock), 0o755)
    os.chmod(sock, 0o666)
    script = ("import os,socket; os.setgid(65534); os.setuid(65534); s=socket.socket(socket.AF_UNIX);"
              f"s.connect({sock!r})\n"
              "try:\n s.sendall(b'{\"cmd\": \"show status\"}\\n'); print(repr(s.recv(100)))\n"
              "except (BrokenPipeError, ConnectionResetError):\n print(repr(b''))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "b''"  # closed without an answer
    wait_for(lambda: "non-root peer" in log.read_text(), 20, "rejection log line")


@pytest.mark.parametrize("line", [b"not json\n", b"[1,2]\n", b'{"cmd": 5}\n', b'{"nocmd": 1}\n'])
def test_malformed_requests_get_an_error_and_the_agent_survives(agent, line):
    proc, sock, log = agent
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock)
        s.sendall(line)
        resp = json.loads(s.makefile().readline())
    assert resp["ok"] is False and "malformed" in resp["error"]
    assert request(sock, "ping")["result"] == {"pong": True}
    assert proc.poll() is None
    assert "malformed request" in log.read_text()


def test_unknown_command_lists_known_ones(agent):
    _, sock, _ = agent
    resp = request(sock, "reboot everything")
    assert resp["ok"] is False and "show status" in resp["error"]


def test_sigterm_stops_cleanly_and_logs_json(agent):
    proc, sock, log = agent
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    assert not os.path.exists(sock)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all({"ts", "level", "node", "msg"} <= r.keys() for r in records)
    assert any("data plane stays attached" in r["msg"] for r in records)


def test_show_command_prints_status(agent):
    _, sock, _ = agent
    out = subprocess.run([sys.executable, "-m", "hitless", "show", "status", "--json", "--socket", sock],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["node"] == "ctltest"
    text = subprocess.run([sys.executable, "-m", "hitless", "show", "status", "--socket", sock],
                          capture_output=True, text=True, timeout=30)
    assert "node" in text.stdout and "ctltest" in text.stdout


def test_show_without_agent_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hitless", "show", "status", "--socket", str(tmp_path / "x.sock")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert "agent not reachable" in out.stderr and "Traceback" not in out.stderr
