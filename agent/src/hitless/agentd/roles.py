"""Which class serves which configuration section. Adding a role is one line here."""
from __future__ import annotations

import importlib

ROLE_SERVICES = {
    "forwarder": "hitless.dataplane.forwarder:ForwarderService",
    "gateway": "hitless.gateway.service:GatewayService",
    "flowswitch": "hitless.flowswitch.service:FlowSwitchService",
}


def service_class(role: str):
    module, cls = ROLE_SERVICES[role].split(":")
    return getattr(importlib.import_module(module), cls)
