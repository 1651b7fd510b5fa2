"""Fixtures for the GLBP lab tests: the lab (once per session, with the XDP program compiled
on every router) and `gw`, a fresh `Gateway` per test, reset before and after."""
from __future__ import annotations

import pytest

from gwlab import PREFIX, ROUTERS, TOPOLOGY, Gateway
from hitless.lab import Lab


@pytest.fixture(scope="session")
def gw_lab():
    lab = Lab.load(TOPOLOGY, prefix=PREFIX)
    try:
        lab.up()
        # Compile and attach the XDP program on every router once, so agents that tests
        # start "together" really start together (a cold compile takes seconds).
        g = Gateway(lab)
        for r in ROUTERS:
            g.start(r)
            g.agents[r].stop()
        g.reset()
        yield lab
    finally:
        lab.down()


@pytest.fixture()
def gw(gw_lab):
    g = Gateway(gw_lab)
    g.reset()
    try:
        yield g
    finally:
        g.reset()
