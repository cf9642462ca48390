"""GRPCRoute (gateway.networking.k8s.io/v1): attachment, the routing table, gRPC status codes.

Pure decisions only; :mod:`gateway_proxy.http2` carries the requests they route.
"""
