"""HTTP/2 for gRPC calls: h2c with prior knowledge and h2 over TLS (ALPN) from clients, h2c to backends.

The HTTP/1.1 paths (asyncio in both builds, and the C data plane) stay as they are: a
connection is looked at only while the table holds GRPCRoutes, and handed to
:class:`server.ServerProtocol` when it opens with the HTTP/2 preface (or negotiated ``h2``).
The protocol work is the ``h2`` package's (hyper-h2, a sans-IO state machine); these modules
are the socket adapters around it and the per-call relay.
"""
