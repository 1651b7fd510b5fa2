"""testinfra checks of the hitless_bcc scenario: bcc, kernel headers and bpffs on every node."""
from __future__ import annotations


def test_bcc_is_importable_by_the_system_python(host):
    assert host.package("python3-bpfcc").is_installed
    assert host.run("/usr/bin/python3 -c 'import bcc'").rc == 0


def test_running_kernel_has_headers(host):
    kernel = host.check_output("uname -r")
    assert host.file(f"/lib/modules/{kernel}/build/include").is_directory


def test_bpffs_is_mounted(host):
    assert host.check_output("findmnt -n -o FSTYPE /sys/fs/bpf") == "bpf"
