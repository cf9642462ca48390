"""TLS termination for HTTPS listeners, with certificates from ``kubernetes.io/tls`` Secrets.

Which certificate serves which hostname is a pure decision (:func:`certificates`): each HTTPS
listener's first usable certificateRef, keyed by the listener's hostname. A Secret in another
namespace needs a ReferenceGrant from Gateways of the listener's namespace, as the spec asks.
:class:`CertificateStore` turns the PEM pairs into SSL contexts once per distinct pair and picks
one per handshake from the SNI name (exact, then the longest wildcard, then a listener without
hostname), so a reload swaps certificates without restarting the socket. ALPN offers ``h2``
only for names a GRPCRoute serves (:meth:`CertificateStore.offer_h2`), ``http/1.1`` otherwise.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile

from gateway_proxy import resources as r
from gateway_proxy.attachment import Config

TLS_SECRET = "kubernetes.io/tls"


def _granted(config: Config, gateway: r.Gateway, namespace: str, name: str) -> bool:
    for grant in config.grants:
        if grant.meta.namespace != namespace:
            continue
        source = any(group == r.GATEWAY_GROUP and kind == "Gateway" and ns == gateway.meta.namespace
                     for group, kind, ns in grant.sources)
        target = any(group in ("", "core") and kind == "Secret" and target_name in (None, name)
                     for group, kind, target_name in grant.targets)
        if source and target:
            return True
    return False


def certificates(config: Config) -> tuple[tuple[str | None, bytes, bytes], ...]:
    """(listener hostname or None, certificate PEM, key PEM) for every HTTPS listener that has one."""
    secrets = {(s.meta.namespace, s.meta.name): s for s in config.secrets}
    out: dict[str | None, tuple[bytes, bytes]] = {}
    for gateway in config.gateways:
        for listener in gateway.listeners:
            if listener.protocol != "HTTPS" or listener.hostname in out:
                continue
            for namespace, name in listener.certificate_refs:
                if namespace != gateway.meta.namespace and not _granted(config, gateway, namespace, name):
                    continue
                secret = secrets.get((namespace, name))
                if secret is None or secret.type != TLS_SECRET:
                    continue
                data = dict(secret.data)
                if data.get("tls.crt") and data.get("tls.key"):
                    out[listener.hostname] = (data["tls.crt"], data["tls.key"])
                    break
    return tuple((hostname, cert, key) for hostname, (cert, key) in out.items())


HTTP1_ONLY = ("http/1.1",)
# Offered only for server names a GRPCRoute serves (CertificateStore.offer_h2).
WITH_H2 = ("h2", "http/1.1")


def _context(cert: bytes, key: bytes, protocols: tuple[str, ...] = HTTP1_ONLY) -> ssl.SSLContext:
    """An SSL server context from PEM bytes; the files exist only while OpenSSL reads them."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_alpn_protocols(list(protocols))
    with tempfile.TemporaryDirectory(prefix="gateway-proxy-tls-") as directory:
        cert_path, key_path = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
        for path, data in ((cert_path, cert), (key_path, key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
        context.load_cert_chain(cert_path, key_path)
    return context


class CertificateStore:
    """SSL contexts by listener hostname, swapped whole on ``update``."""

    def __init__(self):
        self._by_host: dict[str | None, ssl.SSLContext] = {}
        self._cache: dict[str, ssl.SSLContext] = {}
        self.errors: dict[str, str] = {}
        # ALPN h2 for the server names GRPCRoutes serve: a predicate, and the h2 twin of each context.
        self._h2_names = None
        self._h2_twins: dict[int, ssl.SSLContext] = {}
        self._pairs: dict[int, tuple[bytes, bytes]] = {}

    def update(self, pairs) -> None:
        by_host: dict[str | None, ssl.SSLContext] = {}
        cache: dict[str, ssl.SSLContext] = {}
        errors: dict[str, str] = {}
        for hostname, cert, key in pairs:
            digest = hashlib.sha256(cert + b"\0" + key).hexdigest()
            context = cache.get(digest) or self._cache.get(digest)
            if context is None:
                try:
                    context = _context(cert, key)
                except (ssl.SSLError, ValueError) as error:
                    errors[hostname or "*"] = f"unusable certificate: {error}"
                    continue
            cache[digest] = context
            by_host[hostname] = context
            self._pairs[id(context)] = (cert, key)
        self._by_host, self._cache, self.errors = by_host, cache, errors
        live = {id(context) for context in cache.values()}
        self._pairs = {key: pair for key, pair in self._pairs.items() if key in live}
        self._h2_twins = {key: twin for key, twin in self._h2_twins.items() if key in live}

    def offer_h2(self, serves_grpc) -> None:
        """Offer ``h2`` by ALPN to the server names ``serves_grpc`` accepts (None: to none)."""
        self._h2_names = serves_grpc

    def _with_h2(self, context: ssl.SSLContext) -> ssl.SSLContext:
        twin = self._h2_twins.get(id(context))
        if twin is None:
            pair = self._pairs.get(id(context))
            if pair is None:
                return context
            twin = self._h2_twins[id(context)] = _context(*pair, WITH_H2)
        return twin

    def __bool__(self) -> bool:
        return bool(self._by_host)

    def context_for(self, server_name: str | None) -> ssl.SSLContext | None:
        by_host = self._by_host
        if server_name:
            name = server_name.lower().rstrip(".")
            found = by_host.get(name)
            if found is not None:
                return found
            dot = name.find(".")
            while dot >= 0:
                found = by_host.get("*" + name[dot:])
                if found is not None:
                    return found
                dot = name.find(".", dot + 1)
        found = by_host.get(None)
        if found is None and by_host:
            found = next(iter(by_host.values()))
        return found

    def server_context(self) -> ssl.SSLContext:
        """The context a TLS socket is created with; SNI switches each handshake to the right one."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])

        def choose(ssl_object, server_name, _context):
            chosen = self.context_for(server_name)
            if chosen is None:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            h2_names = self._h2_names
            if h2_names is not None and h2_names(server_name):
                chosen = self._with_h2(chosen)
            ssl_object.context = chosen
            return None

        context.sni_callback = choose
        return context
