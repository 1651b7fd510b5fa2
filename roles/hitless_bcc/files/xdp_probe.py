#!/usr/bin/python3
"""Proves on the target that bcc can compile and the kernel can load an XDP program.

Prints one JSON object, {"available": bool, "reason": str, "kernel": str}, and always exits 0:
the role turns an unavailable XDP into a clear message (or a failure when XDP is required).
Nothing is attached or pinned; the program is released when this process exits.
"""
import json
import os
import platform
import sys
import tempfile

PROG = r"""
int hitless_probe(struct xdp_md *ctx) { return XDP_PASS; }
"""


def probe(bpffs):
    kernel = platform.release()
    try:
        from bcc import BPF  # Debian python3-bpfcc, system interpreter
    except ImportError as exc:
        return False, f"bcc is not importable by /usr/bin/python3 ({exc}); install python3-bpfcc"
    build = f"/lib/modules/{kernel}/build"
    if not os.path.isdir(build):
        return False, (f"no kernel headers for the running kernel {kernel}: {build} is missing; "
                       "install linux-headers and link them there")
    mounts = open("/proc/mounts").read().split("\n")
    if not any(len(f) > 2 and f[1] == bpffs and f[2] == "bpf" for f in (m.split() for m in mounts)):
        return False, f"no BPF filesystem mounted at {bpffs}; pinned maps need it"
    # bcc prints compiler diagnostics on fd 2; keep them for the reason instead.
    # A file, not a pipe: a long diagnostic can never block the compiler.
    saved = os.dup(2)
    diag_file = tempfile.TemporaryFile()
    os.dup2(diag_file.fileno(), 2)
    try:
        b = BPF(text=PROG)
        b.load_func("hitless_probe", BPF.XDP)
        b.cleanup()
        return True, f"bcc compiled and the kernel loaded an XDP program (kernel {kernel})"
    except Exception as exc:  # bcc raises plain Exception on compile/load failure
        os.dup2(saved, 2)
        diag_file.seek(0)
        lines = diag_file.read(65536).decode(errors="replace").strip().splitlines()
        diag = [ln.strip() for ln in lines if "error" in ln][:3] or lines[-3:]
        detail = " | ".join([str(exc)] + diag)
        return False, f"bcc could not compile or load an XDP program on kernel {kernel}: {detail}"
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        diag_file.close()


def main():
    bpffs = sys.argv[1] if len(sys.argv) > 1 else "/sys/fs/bpf"
    ok, reason = probe(bpffs)
    print(json.dumps({"available": ok, "reason": reason, "kernel": platform.release()}))


if __name__ == "__main__":
    main()
