"""hitless: keeps L2/L3 services forwarding through failures and upgrades.

The agent plays three roles (supervisor, GLBP gateway, flow switch) over an XDP data
plane loaded through bcc. Python is the control plane only.
"""
__version__ = "0.1.0"
