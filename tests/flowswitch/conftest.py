"""Fixtures shared by the flow-switch tests (the harness lives in fs_harness.py)."""
from fs_harness import compiled, fs  # noqa: F401  (pytest finds fixtures by name)
