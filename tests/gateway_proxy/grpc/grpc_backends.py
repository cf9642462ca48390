"""Real gRPC servers and clients (grpcio) for the GRPCRoute tests, without protoc.

Each backend serves three services with raw-bytes handlers (``routeshift.test.Echo``,
``.Other``, ``.Third``), each with the methods ``Call`` and ``Get`` (answer JSON naming the
backend, the service, the method and the metadata received, with a trailer), ``Fail`` (ends
with UNAVAILABLE and a message) and ``Stream`` (a server stream of numbered messages). Servers bind 127.0.0.1 on a free
port and are stopped by the fixture that made them.
"""

from __future__ import annotations

import json
from concurrent import futures

import grpc

SERVICES = ("routeshift.test.Echo", "routeshift.test.Other", "routeshift.test.Third")


class Backend:
    """A named gRPC server on a free loopback port."""

    def __init__(self, name: str):
        self.name = name
        self.calls: list[dict] = []
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        handlers = []
        for service in SERVICES:
            handlers.append(grpc.method_handlers_generic_handler(service, {
                "Call": grpc.unary_unary_rpc_method_handler(self._call(service, "Call")),
                "Get": grpc.unary_unary_rpc_method_handler(self._call(service, "Get")),
                "Fail": grpc.unary_unary_rpc_method_handler(self._fail),
                "Stream": grpc.unary_stream_rpc_method_handler(self._stream),
            }))
        self.server.add_generic_rpc_handlers(tuple(handlers))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _call(self, service: str, method: str):
        def answer(request: bytes, context) -> bytes:
            metadata = {key: value for key, value in context.invocation_metadata()}
            record = {"backend": self.name, "service": service, "method": method, "metadata": metadata,
                      "request": request.decode()}
            self.calls.append(record)
            context.set_trailing_metadata((("x-served-by", self.name),))
            return json.dumps(record).encode()
        return answer

    def _fail(self, request: bytes, context) -> bytes:
        context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.name} was told to fail")

    def _stream(self, request: bytes, context):
        for number in range(int(request or b"3")):
            yield f"{self.name}:{number}".encode() * 2000  # bigger than one frame, several windows

    def stop(self) -> None:
        self.server.stop(grace=None)


class Client:
    """A grpcio channel to the proxy, naming ``authority`` as the host the call is for."""

    def __init__(self, port: int, authority: str = "grpc.example.com", tls_root: bytes | None = None):
        options = [("grpc.default_authority", authority), ("grpc.enable_retries", 0)]
        if tls_root is None:
            self.channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=options)
        else:
            options.append(("grpc.ssl_target_name_override", authority))
            self.channel = grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(tls_root),
                                               options=options)

    def call(self, path: str, payload: bytes = b"hi", metadata=(), timeout: float = 10.0):
        """(answer as dict, trailing metadata dict) of a unary call; grpc.RpcError when it fails."""
        method = self.channel.unary_unary(path)
        answer, call = method.with_call(payload, metadata=tuple(metadata), timeout=timeout)
        return json.loads(answer), dict(call.trailing_metadata() or ())

    def backend(self, path: str = "/routeshift.test.Echo/Call", metadata=()) -> str:
        """The backend that answered, or the gRPC status name when the call failed."""
        try:
            return self.call(path, metadata=metadata)[0]["backend"]
        except grpc.RpcError as error:
            return error.code().name

    def stream(self, path: str, count: int, timeout: float = 10.0) -> list[bytes]:
        return list(self.channel.unary_stream(path)(str(count).encode(), timeout=timeout))

    def close(self) -> None:
        self.channel.close()
