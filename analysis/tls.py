"""httpx's default certificate verification, built once per process and shared by every client.

httpx builds an SSL context and loads the CA bundle for every client it creates: 47 ms of CPU
each on this machine, far more than the query the client is made for. The controller builds a
metrics provider for every analysis interval of every Canary and calls each webhook with a
client of its own, so at 100 Canaries with a 5 s interval building contexts alone would take a
whole core, and a failed analysis was acted on seconds late. A context is read-only once built,
so all of them share this one.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def default_context() -> ssl.SSLContext:
    """What ``verify=True`` means to httpx (the certifi bundle), built on first use."""
    return httpx.create_ssl_context()
