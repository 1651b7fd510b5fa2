"""The namespace lab: topologies of hosts, routers, switches and servers on one machine."""
