"""Build routing tables straight from Gateway API dicts, for hot-path tests without sockets."""

from __future__ import annotations

from gateway_proxy import compiling, loading
from gateway_proxy.attachment import Config

import gw_harness


def compile_documents(impl, documents):
    objects = []
    for number, document in enumerate(documents):
        parsed = loading.resources.parse(document, f"doc#{number}")
        if parsed is not None:
            objects.append(parsed)
    return compiling.compile_config(Config.of(objects), impl)


def world(impl, routes, gateways=None, services=("v1", "v2", "v3")):
    documents = list(gateways or [gw_harness.gateway()])
    for index, name in enumerate(services):
        documents.extend(gw_harness.service(name, 9000 + index))
    documents.extend(routes)
    return compile_documents(impl, documents)


def answer(impl, compiled, path="/", host="example.com", method="GET", query="", headers=None):
    """(route, rule index, first backend name) of the winning match, or None."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    match = impl.route(compiled.table, impl.normalize_host(host), method, path, query, lowered)
    if match is None:
        return None
    rule = match.rule
    return rule.route, rule.index, rule.backends[0].name if rule.backends else None
