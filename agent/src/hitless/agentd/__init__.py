"""The agent daemon: one asyncio loop, role services and the control socket."""
