"""The C data plane of the gateway proxy (issue 13): the request path without Python objects.

The asyncio path (``downstream``, ``exchange``, ``upstream``) creates Python objects for every
request and tops out near half of nginx's throughput. This subpackage holds the request path in
C-level Cython instead: strict HTTP/1.1 parsing into spans of the receive buffer (``http1``),
the span vocabulary it shares with the route table (``spans.pxd``), and the per-worker event
loop built on them. Python keeps everything that is not per request. Without a C compiler, or
with ``ROUTESHIFT_NO_EXTENSIONS=1``, none of it is built and the pure build keeps serving on the
asyncio path, so nothing outside the compiled event loop may depend on these modules.
"""
