"""Flow-switch role: cluster IP balanced by XDP destination-MAC rewriting."""
