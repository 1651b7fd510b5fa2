"""XDP data plane: bcc loader, pinned maps, BPF syscalls and the BPF C sources."""
