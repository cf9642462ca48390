"""gRPC status codes, and which of them count as the server failing a call.

A gRPC call answers HTTP 200 whatever happened; its outcome is the ``grpc-status``
trailer. So an HTTP success rate says nothing about a gRPC backend: the gRPC templates
judge the status code instead. Not every non-OK code is the server's fault: NotFound,
InvalidArgument or PermissionDenied are answers to the caller, and a canary that returns
them as correctly as stable must not be rolled back. The default failure set is the codes
that mean the server or something behind it broke: Unknown (an unhandled exception),
DeadlineExceeded, Internal, Unavailable, DataLoss. A metric may name another set (add
ResourceExhausted for a service that sheds load, say).

Names are the CamelCase of the Go and Java APIs (``codes.Unavailable``); the proxy's
metric carries the numeric code, as the trailer does.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class GrpcCode(str, enum.Enum):
    """A non-OK gRPC status code, by name."""

    CANCELLED = "Cancelled"
    UNKNOWN = "Unknown"
    INVALID_ARGUMENT = "InvalidArgument"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    NOT_FOUND = "NotFound"
    ALREADY_EXISTS = "AlreadyExists"
    PERMISSION_DENIED = "PermissionDenied"
    RESOURCE_EXHAUSTED = "ResourceExhausted"
    FAILED_PRECONDITION = "FailedPrecondition"
    ABORTED = "Aborted"
    OUT_OF_RANGE = "OutOfRange"
    UNIMPLEMENTED = "Unimplemented"
    INTERNAL = "Internal"
    UNAVAILABLE = "Unavailable"
    DATA_LOSS = "DataLoss"
    UNAUTHENTICATED = "Unauthenticated"


#: The wire value of each code (0 is OK).
NUMBERS = {code: number for number, code in enumerate(GrpcCode, start=1)}

#: Codes that mean the server failed the call, unless a metric names its own.
DEFAULT_FAILURES = (GrpcCode.UNKNOWN, GrpcCode.DEADLINE_EXCEEDED, GrpcCode.INTERNAL, GrpcCode.UNAVAILABLE,
                    GrpcCode.DATA_LOSS)


def label_regex(codes: Iterable[GrpcCode]) -> str:
    """A PromQL regex matching the numeric codes, in ascending order: ``2|4|13|14|15``."""
    return "|".join(str(n) for n in sorted({NUMBERS[GrpcCode(code)] for code in codes}))
