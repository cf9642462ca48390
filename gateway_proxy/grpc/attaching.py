"""Which GRPCRoutes attach to which listeners, and which route wins a hostname both kinds claim.

A GRPCRoute attaches by the HTTPRoute's rules (parentRefs, allowedRoutes, hostname
intersection: :mod:`gateway_proxy.attachment`), on HTTP and HTTPS listeners whose allowedRoutes
kinds admit it. The spec then forbids one hostname on one listener to be served by both kinds:
when an HTTPRoute and a GRPCRoute on the same listener share a hostname, exactly one is
accepted, the oldest, then the first by "{namespace}/{name}"; the other is rejected on that
listener (``Accepted: False``, ``NotAllowedByListeners``) and not served there.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway_proxy import attachment, resources as r

GRPC_KIND = (r.GATEWAY_GROUP, "GRPCRoute")
REJECTED_REASON = "NotAllowedByListeners"


@dataclass(frozen=True)
class Settled:
    """The attachments of both kinds that are served, and the ones a hostname clash rejected."""

    http: tuple[attachment.Attachment, ...]
    grpc: tuple[attachment.Attachment, ...]
    rejected: tuple[attachment.Attachment, ...]


def grpc_attachments(config: attachment.Config) -> list[attachment.Attachment]:
    """Every (listener, GRPCRoute) pair the spec admits, in a stable order."""
    labels = attachment.namespace_labels(config)
    out = []
    for gateway in config.gateways:
        for listener in gateway.listeners:
            if listener.protocol not in attachment.SERVED_PROTOCOLS:
                continue
            for route in config.grpc_routes:
                if not attachment._referenced(gateway, listener, route):
                    continue
                if not attachment.allows(gateway, listener, route, labels, GRPC_KIND):
                    continue
                hostnames = attachment.intersect(listener.hostname, route.hostnames)
                if hostnames:
                    out.append(attachment.Attachment(gateway, listener, route, hostnames))
    return out


def _listener_key(item: attachment.Attachment) -> tuple:
    return (item.gateway.meta.namespace, item.gateway.meta.name, item.listener.name)


def _seniority(item: attachment.Attachment) -> tuple:
    return (item.route.meta.created, f"{item.route.meta.namespace}/{item.route.meta.name}")


def _overlap(first: tuple[str | None, ...], second: tuple[str | None, ...]) -> bool:
    """Whether two effective hostname sets accept a common host (None: the listener accepts any)."""
    for one in first:
        for other in second:
            if one is None or other is None or one == other:
                return True
            if one.startswith("*.") and attachment._wildcard_covers(one, other.lstrip("*.")):
                return True
            if other.startswith("*.") and attachment._wildcard_covers(other, one.lstrip("*.")):
                return True
    return False


def settle(config: attachment.Config) -> Settled:
    """Attachments of both kinds with the spec's HTTPRoute/GRPCRoute hostname clashes decided."""
    http = attachment.attachments(config)
    grpc = grpc_attachments(config) if config.grpc_routes else []
    if not grpc or not http:
        return Settled(tuple(http), tuple(grpc), ())
    by_listener: dict[tuple, list[attachment.Attachment]] = {}
    for item in http:
        by_listener.setdefault(_listener_key(item), []).append(item)
    losers: set[int] = set()
    for item in grpc:
        for other in by_listener.get(_listener_key(item), ()):
            if id(other) in losers or id(item) in losers or not _overlap(item.hostnames, other.hostnames):
                continue
            losers.add(id(item) if _seniority(other) < _seniority(item) else id(other))
    return Settled(tuple(i for i in http if id(i) not in losers), tuple(i for i in grpc if id(i) not in losers),
                   tuple(i for i in http + grpc if id(i) in losers))
