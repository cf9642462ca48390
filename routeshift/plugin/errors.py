"""What can go wrong in ``kubectl canary``, and the exit code each failure maps to.

Pipelines branch on exit codes, so they are part of the plugin's contract and live in one
place. Library errors (the Kubernetes client's ``ApiException``, urllib3 connection errors,
the config loader's ``ConfigException``) are wrapped here with their cause chained, so a
person sees one line saying what to do instead of a traceback.

Exception tree::

    PluginError                 exit 1: anything the user must act on
    ├── UsageError              exit 1: arguments that cannot work (bad weight, bad duration)
    ├── ConfigError             exit 1: no kubeconfig / context / in-cluster config
    ├── ClusterError            exit 1: the API answered with an error or could not be reached
    │   ├── NotFound            the Canary (or its CRD) does not exist
    │   └── Conflict            the object changed under us (409) more often than we retry
    ├── NotApplicable           exit 1: the operation makes no sense in the current phase
    └── LintFailed              exit 1: a manifest did not validate (messages already printed)

``wait`` has its own codes (0 success, 1 rollback/failure/abort, 2 timeout) in ``waiting``.
"""

from __future__ import annotations

import json

EXIT_OK = 0
EXIT_FAILURE = 1


class PluginError(Exception):
    """A failure to report as one line on stderr with a non-zero exit code."""

    exit_code = EXIT_FAILURE


class UsageError(PluginError):
    """An argument that cannot work, caught before talking to the cluster."""


class ConfigError(PluginError):
    """No way to reach a cluster: kubeconfig missing, unknown context, no in-cluster config."""


class ClusterError(PluginError):
    """The API server refused the request or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class NotFound(ClusterError):
    """The Canary, or the Canary resource type itself, does not exist."""


class Conflict(ClusterError):
    """The Canary kept changing between our read and our patch."""


class NotApplicable(PluginError):
    """The operation does not apply in the Canary's current phase; nothing was changed."""


class LintFailed(PluginError):
    """A manifest failed validation; the individual problems were printed already."""


def from_api_exception(error: Exception, *, what: str) -> ClusterError:
    """Turn a client ``ApiException`` into a ClusterError whose message reads well.

    ``what`` names the thing requested ("canary default/web") for the 404 message. A 404
    without the object's name in its details means the resource type is unknown: the CRD
    is not installed, which deserves its own hint.
    """
    status = getattr(error, "status", None)
    body = getattr(error, "body", None)
    message, details = _status_message(body)
    if status == 404:
        if details.get("name"):
            return NotFound(f"{what} not found", status=404)
        return NotFound(f"{what}: the server does not serve canaries.routeshift.dev; is the Routeshift CRD "
                        "installed? (kubectl apply -f crds/)", status=404)
    if status == 409:
        return Conflict(f"{what}: {message or 'conflict'}", status=409)
    if status in (401, 403):
        return ClusterError(f"{what}: access denied ({status}): {message}", status=status)
    reason = message or getattr(error, "reason", None) or "request failed"
    return ClusterError(f"{what}: {reason} (HTTP {status})", status=status)


def _status_message(body: object) -> tuple[str, dict]:
    """The ``message`` and ``details`` of a Kubernetes Status body, if it is one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.strip():
        return "", {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return body.strip()[:300], {}
    if not isinstance(parsed, dict):
        return "", {}
    return str(parsed.get("message") or ""), parsed.get("details") or {}
