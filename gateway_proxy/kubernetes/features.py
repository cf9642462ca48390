"""The Gateway API conformance features this proxy implements, as its GatewayClass reports them.

``GatewayClass.status.supportedFeatures`` (Gateway API v1.2+: a list of ``{name: ...}`` sorted by
name) tells users and conformance tooling what they may rely on, so it lists only what the proxy
really does, under the upstream names (``sigs.k8s.io/gateway-api/pkg/features``). Each entry
says where it is implemented; ``tests/gateway_proxy/kubernetes/test_gateway_class_features.py``
names the test that shows it working, and fails when a feature is listed without one.

Deliberately left out, because the proxy does not do them (or not as the conformance test
expects): GatewayPort8080 and GatewayStaticAddresses (every listener is served on the one
``--listen`` socket, its port is logical, and ``spec.addresses`` is not honoured);
GatewayHTTPSListenerDetectMisdirectedRequests; HTTPRouteBackendProtocolH2C (HTTPRoutes are carried
over HTTP/1.1 to backends: a Service port with ``appProtocol: kubernetes.io/h2c`` behind an HTTPRoute
is an invalid backendRef, reported as ``ResolvedRefs: False, UnsupportedProtocol`` and answered 500,
as GEP-1911 asks; GRPCRoutes do speak h2c, see gateway_proxy.http2);
HTTPRouteDestinationPortMatching; HTTPRouteNamedRouteRule (rule names are
accepted but not used in status); TLSRoute and the mesh features. Retries and session
persistence are served (``retries``, ``sessions``) but are not claimed: the v1.4 list this module
follows has no name for them (``HTTPRouteRetry`` and its kin come in later upstream releases), and
a session whose backend reaches weight 0 is deliberately weighted afresh, which GEP-1619 does not do.
"""

from __future__ import annotations

SUPPORTED_FEATURES: tuple[str, ...] = tuple(sorted((
    # Core: the Gateway and HTTPRoute resources themselves (attachment.py, compiling.py, kube_status.py).
    "Gateway",
    "HTTPRoute",
    # Cross-namespace backendRefs and certificateRefs need a grant (attachment.Resolver.granted, tls._granted).
    "ReferenceGrant",
    # Requests for a hostname belong to the most specific listener only (_hotpath_py.route).
    "GatewayHTTPListenerIsolation",
    # parentRef.port selects listeners by port (attachment._referenced, kube_status._listener_named).
    "HTTPRouteParentRefPort",
    # Match conditions beyond path and headers (_hotpath_py.match_conditions).
    "HTTPRouteMethodMatching",
    "HTTPRouteQueryParamMatching",
    # ResponseHeaderModifier (_hotpath_py.response_head); RequestHeaderModifier on a backendRef,
    # merged with the rule's (compiling._merged, exchange.Exchange.begin).
    "HTTPRouteResponseHeaderModification",
    "HTTPRouteBackendRequestHeaderModification",
    # RequestRedirect: scheme, port (well-known port rules), path, and every statusCode the spec
    # allows (filters.location, resources._filters, exchange.handle).
    "HTTPRouteSchemeRedirect",
    "HTTPRoutePortRedirect",
    "HTTPRoutePathRedirect",
    "HTTPRoute303RedirectStatusCode",
    "HTTPRoute307RedirectStatusCode",
    "HTTPRoute308RedirectStatusCode",
    # URLRewrite of hostname and path (filters.rewrite_target, exchange.Exchange.begin).
    "HTTPRouteHostRewrite",
    "HTTPRoutePathRewrite",
    # RequestMirror, one or several per rule (mirroring.Mirror, exchange.Exchange.begin).
    "HTTPRouteRequestMirror",
    "HTTPRouteRequestMultipleMirrors",
    # RequestMirror percent and fraction, sampled per request (compiling._mirror_weight, exchange.Exchange.begin).
    "HTTPRouteRequestPercentageMirror",
    # timeouts.request and timeouts.backendRequest answer 504 (exchange.Exchange.begin).
    "HTTPRouteRequestTimeout",
    "HTTPRouteBackendTimeout",
    # The CORS filter: preflights answered by the proxy, fields added to actual responses (cors, exchange.handle).
    "HTTPRouteCORS",
    # Upgrades (WebSocket) are routed like requests and tunnelled after a 101, to any backend and
    # to a Service port with appProtocol kubernetes.io/ws (tunnel.Tunnel, exchange.Exchange.switched).
    "HTTPRouteBackendProtocolWebSocket",
    # GRPCRoute over h2c (prior knowledge) and h2 (ALPN), to h2c backends (gateway_proxy.http2,
    # gateway_proxy.grpc): method and header matching, precedence, weights, filters, mirroring.
    "GRPCRoute",
)))
