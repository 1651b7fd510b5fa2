"""Fixtures for lab tests: unique prefixes, and labs that are always taken down."""
from __future__ import annotations

import os
import secrets

import pytest

from hitless.lab import Lab
from hitless.lab import cleanup


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("lab tests build network namespaces and need root")


@pytest.fixture
def prefix() -> str:
    """A fresh lab prefix ("tl" + 6 hex digits), so parallel runs never collide."""
    return "tl" + secrets.token_hex(3)


@pytest.fixture
def make_lab():
    """make_lab(topology, prefix, **kw) -> Lab; every prefix handed out is torn down at the
    end, even when the test failed or its Lab object is gone (teardown is by prefix)."""
    _need_root()
    prefixes: list[tuple[str, list[str]]] = []

    def make(topology="pair", prefix=None, **kw) -> Lab:
        prefix = prefix or "tl" + secrets.token_hex(3)
        lab = Lab.from_dict(topology, prefix=prefix, **kw) if isinstance(topology, dict) \
            else Lab.load(topology, prefix=prefix, **kw)
        prefixes.append((lab.prefix, sorted(lab.nodes)))
        return lab

    try:
        yield make
    finally:
        errors = []
        for p, nodes in prefixes:
            try:
                cleanup.teardown(p, nodes)
            except Exception as exc:  # noqa: BLE001 - collect, then fail once
                errors.append(f"{p}: {exc}")
        assert not errors, errors
