"""API errors the emulator answers with, shaped like the real API server's ``Status`` objects.

Clients branch on the HTTP code *and* on ``reason`` (kopf maps 409/422/404 to its own
exception types, kubectl prints ``message``), so every failure the emulator produces is one
of these, never a bare 500 with a traceback.

Exception tree (all are :class:`kmock.KubernetesError`, so kmock renders them too)::

    ApiError                      any Status-shaped failure; ``reason`` is the Kubernetes reason
     ├── 400 BadRequest           malformed body, bad selector, name/namespace mismatch
     ├── 404 NotFound             unknown resource, namespace or object
     ├── 405 MethodNotAllowed     verb not served for that URL
     ├── 409 AlreadyExists        create of an existing name
     ├── 409 Conflict             stale resourceVersion / uid precondition
     ├── 410 Expired              watch resumed from a compacted resourceVersion
     ├── 415 UnsupportedMediaType patch type not accepted for that resource
     ├── 422 Invalid              failed JSON-patch ``test``, schema violations, missing name
     └── injected                 whatever :mod:`routeshift.emulator.faults` was told to return
"""

from __future__ import annotations

from typing import Any

import attrs
import kmock

from routeshift.emulator import registry

# Reason strings of the real API server for the codes fault injection may be asked for.
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


@attrs.frozen
class ApiError(kmock.KubernetesError):
    """A failure rendered as a ``v1/Status``; ``details`` is the Status ``details`` stanza."""

    headers: dict[str, str] = attrs.field(factory=dict)

    def status_object(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message or "",
            "reason": self.reason or REASONS.get(self.status, ""),
            "code": self.status,
        }
        if self.details:
            status["details"] = self.details
        return status


def _details(info: registry.ResourceType | None, name: str | None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if info is not None:
        details["group"] = info.group
        details["kind"] = info.plural
    details.update(extra)
    return details


def _qualified(info: registry.ResourceType) -> str:
    return f"{info.plural}.{info.group}" if info.group else info.plural


def resource_not_found() -> ApiError:
    return ApiError(status=404, reason="NotFound", message="the server could not find the requested resource")


def not_found(info: registry.ResourceType, name: str) -> ApiError:
    return ApiError(status=404, reason="NotFound", message=f'{_qualified(info)} "{name}" not found',
                    details=_details(info, name))


def namespace_not_found(namespace: str) -> ApiError:
    return ApiError(status=404, reason="NotFound", message=f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"})


def already_exists(info: registry.ResourceType, name: str) -> ApiError:
    return ApiError(status=409, reason="AlreadyExists", message=f'{_qualified(info)} "{name}" already exists',
                    details=_details(info, name))


def conflict(info: registry.ResourceType, name: str, why: str) -> ApiError:
    message = (f'Operation cannot be fulfilled on {_qualified(info)} "{name}": {why}')
    return ApiError(status=409, reason="Conflict", message=message, details=_details(info, name))


def stale(info: registry.ResourceType, name: str) -> ApiError:
    return conflict(info, name, "the object has been modified; "
                                "please apply your changes to the latest version and try again")


def invalid(info: registry.ResourceType | None, name: str | None, message: str,
            causes: list[dict[str, str]] | None = None) -> ApiError:
    kind = info.kind if info is not None else "Object"
    details = _details(info, name)
    if info is not None:
        details["kind"] = info.kind
    if causes:
        details["causes"] = causes
    return ApiError(status=422, reason="Invalid", message=f'{kind} "{name or ""}" is invalid: {message}',
                    details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(status=400, reason="BadRequest", message=message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(status=405, reason="MethodNotAllowed", message=message)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(status=415, reason="UnsupportedMediaType",
                    message=f'the body of the request was in an unknown format - accepted media types include: '
                            f'application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml '
                            f'(got "{content_type}")')


def expired(resource_version: int, oldest: int) -> ApiError:
    return ApiError(status=410, reason="Expired",
                    message=f"too old resource version: {resource_version} ({oldest})")


def injected(status: int, message: str | None, reason: str | None, retry_after: float | None) -> ApiError:
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
    details = {"retryAfterSeconds": int(retry_after)} if retry_after is not None else None
    return ApiError(status=status, reason=reason or REASONS.get(status, "InternalError"),
                    message=message or f"injected fault: HTTP {status}", details=details, headers=headers)
