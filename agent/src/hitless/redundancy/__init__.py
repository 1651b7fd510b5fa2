"""Supervisor redundancy: election, sync channel, replication and switchover."""
