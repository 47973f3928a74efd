"""The cluster tests' harness: N real ``frontdesk serve`` processes on one PostgreSQL database,
each on its own port, ``/readyz`` awaited, any of them killable with SIGKILL. It lives in
``config.cluster_processes`` so that ``frontdesk bench cluster`` starts instances the same way."""

from config.cluster_processes import Cluster, Instance, free_port

__all__ = ["Cluster", "Instance", "free_port"]
