"""The namespace lab: topologies of hosts, routers, switches and servers on one machine.

`Lab` (lab.py) is the API; topology.py parses YAML, netns.py builds plain nodes,
container.py and rootfs.py run container nodes, cleanup.py removes a lab by prefix,
inventory.py renders the Ansible inventory and cli.py is `hitless lab`.
"""
from hitless.lab.lab import DEFAULT_PREFIX, Lab, packaged_topologies

__all__ = ["DEFAULT_PREFIX", "Lab", "packaged_topologies"]
