"""Traffic probes: numbered packets at a fixed rate, and the loss report."""
