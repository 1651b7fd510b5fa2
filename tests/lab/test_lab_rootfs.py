"""Which mirror debootstrap uses: the one the host's apt is configured with (pure logic)."""
from __future__ import annotations

from hitless.lab import rootfs

DEB822 = """\
Types: deb
# a comment: URIs: http://wrong.example/
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm

Types: deb
URIs: http://mirror.example/debian http://second.example/debian
Suites: bookworm bookworm-updates
Components: main
"""


def test_mirror_from_deb822(tmp_path, monkeypatch):
    monkeypatch.delenv("HITLESS_LAB_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert rootfs.host_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path, monkeypatch):
    monkeypatch.delenv("HITLESS_LAB_MIRROR", raising=False)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb http://security.example/ bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://line.example/debian bookworm main contrib\n")
    assert rootfs.host_mirror(tmp_path) == "http://line.example/debian"


def test_mirror_fallback_and_override(tmp_path, monkeypatch):
    monkeypatch.delenv("HITLESS_LAB_MIRROR", raising=False)
    assert rootfs.host_mirror(tmp_path) == rootfs.FALLBACK_MIRROR
    monkeypatch.setenv("HITLESS_LAB_MIRROR", "http://override.example/debian")
    assert rootfs.host_mirror(tmp_path) == "http://override.example/debian"


def test_stamp_decides_readiness(tmp_path):
    assert not rootfs.is_ready(tmp_path)
    (tmp_path / rootfs.STAMP_NAME).write_text('{"suite": "bookworm", "include": "python3"}')
    assert not rootfs.is_ready(tmp_path)  # built with another package list
    (tmp_path / rootfs.STAMP_NAME).write_text(
        '{"suite": "bookworm", "include": "%s"}' % rootfs.INCLUDE)
    assert rootfs.is_ready(tmp_path)
