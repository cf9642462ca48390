"""The loadtester's HTTP face: the webhook endpoint, ``/healthz`` and ``/metrics`` (aiohttp).

``POST /`` takes the controller's webhook payload (``analysis/webhooks.py``): the Canary's
``name`` and ``namespace`` say who asks, the hook's ``metadata`` what load to run. The
order of checks is the order of trust: signature (when a secret is configured), payload
shape, metadata and the server's bounds, allow-list, capacity; only then is anything sent.
Every answer is JSON whose ``summary`` is one line: the controller copies it into the
Canary's decision log, so a refusal reads there as plainly as a result.

Answers: 200 (started, joined, or a blocking run that passed), 400 bad payload or metadata,
401 bad signature, 403 target not allowed, 422 ``maxErrorRate`` exceeded (a final "no": the
controller does not retry a 4xx, so a failed smoke test is not run again at once), 429
too many runs (retried by the controller).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import httpx
import prometheus_client
from aiohttp import web

from analysis import webhooks
from routeshift.loadtester import allowlist, errors, runs, spec, stats
from routeshift.loadtester import metrics as metrics_module

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
FAILED_STATUS = 422


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the operator configured on the command line."""

    allow: allowlist.AllowList
    limits: spec.Limits = spec.Limits()
    max_running: int = 10
    secret: bytes | None = None  # HMAC key; when set, every hook call must be signed with it


def build_app(settings: Settings, *, metrics: metrics_module.Metrics | None = None) -> web.Application:
    metrics = metrics or metrics_module.Metrics()
    load_runs = runs.Runs(max_running=settings.max_running, metrics=metrics)
    app = web.Application(client_max_size=MAX_PAYLOAD_BYTES)

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            canary, load = admissible(settings, body, request.headers.get(webhooks.SIGNATURE_HEADER))
            admission = load_runs.admit(load, canary)
        except errors.LoadtesterError as error:
            metrics.hooks.labels(_ANSWERS[type(error)]).inc()
            logger.info("refused a hook call (%s): %s", error.status, error)
            return web.json_response({"summary": str(error), "error": str(error)}, status=error.status)
        if load.mode is spec.Mode.BLOCKING:
            await admission.run.finished()
        document, passed = reply(admission)
        metrics.hooks.labels(_answer(admission, load, passed)).inc()
        return web.json_response(document, status=200 if passed else FAILED_STATUS)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def serve_metrics(request: web.Request) -> web.Response:
        return web.Response(body=prometheus_client.generate_latest(metrics.registry),
                            headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def stop_runs(app: web.Application) -> None:
        await load_runs.close()

    app.router.add_post("/", hook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", serve_metrics)
    app.on_shutdown.append(stop_runs)
    return app


def admissible(settings: Settings, body: bytes, signature: str | None) -> tuple[tuple[str, str], spec.LoadSpec]:
    """(Canary namespace and name, its load spec) from one hook call, or the error to answer."""
    if settings.secret is not None and not (signature and webhooks.verify(body, settings.secret, signature)):
        raise errors.Unauthorized(f"{webhooks.SIGNATURE_HEADER} is missing or does not match the configured secret")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.BadRequest("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise errors.BadRequest("the body is not a JSON object")
    namespace, name = payload.get("namespace"), payload.get("name")
    if not (isinstance(namespace, str) and namespace and isinstance(name, str) and name):
        raise errors.BadRequest("the payload lacks the Canary's name and namespace")
    if not payload.get("metadata"):
        raise errors.BadRequest("metadata not found in the payload: it describes the load (url, rate, duration)")
    load = spec.parse(payload["metadata"], settings.limits)
    try:
        # The host httpx will connect to must be the host that was checked: two URL parsers
        # that disagree on an odd URL must not let the load slip past the allow-list.
        agreed = httpx.URL(load.url).host == load.host
    except httpx.InvalidURL:
        agreed = False
    if not agreed:
        raise errors.BadRequest(f"url {load.url!r} is ambiguous: its host does not parse the same everywhere")
    if not settings.allow.permits(load.host):
        raise errors.TargetRefused(f"target host {load.host!r} is not on this loadtester's allow-list "
                                   f"({settings.allow.describe()})")
    return (namespace, name), load


def reply(admission: runs.Admission) -> tuple[dict[str, Any], bool]:
    """The JSON answer about ``admission``'s run and whether it passes ``maxErrorRate``."""
    run = admission.run
    result = run.snapshot()
    # A call that starts a run is judged on the run that just ended: the last full window.
    # Judging the empty new run would let a background maxErrorRate never fail.
    window = admission.previous if admission.started and admission.previous is not None else result
    passed, why = stats.judge(window, run.spec.max_error_rate)
    document: dict[str, Any] = {
        "summary": headline(admission, result, passed, why),
        "canary": "/".join(run.canary),
        "state": "running" if run.running else "finished",
        "started": admission.started,
        "passed": passed,
        "judgement": why,
        "spec": run.spec.as_json(),
        "results": result.as_json(),
    }
    if admission.previous is not None:
        document["previous"] = admission.previous.as_json()
    return document, passed


def headline(admission: runs.Admission, result: stats.Results, passed: bool, why: str) -> str:
    """The one line the controller shows: what the run is doing and how it went so far."""
    run, load = admission.run, admission.run.spec
    if admission.started and result.sent == 0 and run.running:
        line = f"started {load.rate:g} req/s for {load.duration:g}s"
        if admission.previous is not None:
            line += f"; last run: {stats.summary(admission.previous)}"
        return line if passed else f"{line}; failed: {why}"
    state = f"running {result.elapsed:.0f}s/{load.duration:g}s" if run.running else f"finished {load.duration:g}s"
    line = f"{state}: {stats.summary(result)}"
    return line if passed else f"{line}; failed: {why}"


_ANSWERS = {errors.BadRequest: "bad_request", errors.Unauthorized: "unauthorized",
            errors.TargetRefused: "refused", errors.Busy: "busy"}


def _answer(admission: runs.Admission, load: spec.LoadSpec, passed: bool) -> str:
    if not passed:
        return "failed"
    if load.mode is spec.Mode.BLOCKING:
        return "passed"
    return "started" if admission.started else "joined"

