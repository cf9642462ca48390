"""The dashboard's HTTP server: the page, its JSON API, the event stream and the operations.

It listens on 127.0.0.1 only. ``/`` and ``/canaries/<namespace>/<name>`` serve the page
(plain HTML, CSS and JS shipped in ``static/``; the Content-Security-Policy lets it load
nothing from anywhere but the dashboard itself); the page reads ``/api/v1/...``:

- ``GET /api/v1/info``: scope, version, whether operations are allowed
- ``GET /api/v1/canaries`` and ``GET /api/v1/canaries/<namespace>/<name>``: the views
  (``views.canary_view``) as the watches last saw the objects; the API server is not asked
- ``GET /api/v1/events``: Server-Sent Events (``pushing``)
- ``POST /api/v1/canaries/<namespace>/<name>/<operation>``: promote, promote-full, pause,
  resume, abort, retry; exactly what ``kubectl canary <operation>`` does (``requesting``),
  with the checks of ``guard``; 403 unless the dashboard runs with ``--allow-actions``.

The Kubernetes client blocks, so watches run in threads (``following``) and operations in
the default executor; the event loop only serves HTTP and fans changes out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.resources
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_sse import sse_response

from routeshift import __version__
from routeshift.plugin import errors, requesting, streaming
from routeshift.plugin.cluster import Cluster
from routeshift.plugin.dashboard import board, following, guard, pushing, views

HOST = "127.0.0.1"
# start() waits this long for the first list of each watch, so the first page is not an empty one.
FIRST_LIST_SECONDS = 10.0
DEFAULT_PORT = 3100  # Argo Rollouts' dashboard port, so muscle memory works
ASSETS = {"dashboard.js": "application/javascript", "dashboard.css": "text/css", "favicon.svg": "image/svg+xml"}
SECURITY_HEADERS = {
    # Nothing from outside the dashboard: no CDN, no inline script, no framing (clickjacking the buttons).
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the command line decides."""

    port: int = DEFAULT_PORT
    all_namespaces: bool = False
    allow_actions: bool = False


class Dashboard:
    """One running dashboard: bound socket, watches, open event streams. ``start`` then ``stop``."""

    def __init__(self, cluster: Cluster, settings: Settings):
        self.cluster = cluster
        self.settings = settings
        self.board = board.Board(namespace=None if settings.all_namespaces else cluster.namespace)
        self.hub = pushing.Hub()
        self.guard = guard.Guard(port=0)
        self._token = guard.new_token() if settings.allow_actions else None
        self._runner: web.AppRunner | None = None
        self._following: following.Following | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assets = _load_assets()
        self._listed: dict[str, asyncio.Event] = {}

    @property
    def url(self) -> str:
        """What a person opens: with actions allowed, the token rides in the fragment (never sent to a server)."""
        base = f"http://{HOST}:{self.guard.port}/"
        return f"{base}#token={self._token}" if self._token else base

    async def start(self) -> str:
        """Bind, start both watches and return the URL once each has listed (or failed) once."""
        self._loop = asyncio.get_running_loop()
        self._listed = {watch: asyncio.Event() for watch in (following.CANARIES, following.ROUTES)}
        app = web.Application(middlewares=[self._check_host])
        app.add_routes([
            web.get("/", self._page), web.get("/canaries/{namespace}/{name}", self._page),
            web.get("/static/{asset}", self._asset),
            web.get("/api/v1/info", self._info), web.get("/api/v1/canaries", self._list),
            web.get("/api/v1/canaries/{namespace}/{name}", self._detail),
            web.get("/api/v1/events", self._events),
            web.post("/api/v1/canaries/{namespace}/{name}/{operation}", self._operate),
        ])
        app.on_shutdown.append(self._close_streams)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, self.settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise errors.UsageError(f"cannot listen on {HOST}:{self.settings.port}: {error.strerror or error}; "
                                    "pick another --port (0: any free port)") from error
        port = self._runner.addresses[0][1]
        self.guard = guard.Guard(port=port, token=self._token)
        self._following = following.Following(self.cluster, all_namespaces=self.settings.all_namespaces,
                                               deliver=self._deliver_threadsafe).start()
        try:
            async with asyncio.timeout(FIRST_LIST_SECONDS):
                for listed in self._listed.values():
                    await listed.wait()
        except TimeoutError:
            pass  # a slow API server: serve what arrives; the page fills in as the watches deliver
        return self.url

    async def stop(self) -> None:
        if self._following is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._following.stop)
            self._following = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ watches -> board -> pages

    def _deliver_threadsafe(self, watch: str, snapshot: streaming.Snapshot) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._apply, watch, snapshot)

    def _apply(self, watch: str, snapshot: streaming.Snapshot) -> None:
        self._listed[watch].set()
        events: list[pushing.Event] = []
        error = snapshot.error
        if error is not None:
            # The snapshot's objects are the last good ones (or none, when a list failed): keep ours.
            if watch == following.ROUTES and snapshot.final:
                events += pushing.change_events(self.board.routes_unavailable(f"cannot watch HTTPRoutes: {error}"))
            suffix = "" if snapshot.final else "; retrying"
            if self.board.set_problem(watch, f"{error}{suffix}"):
                events.append(pushing.problems_event(self.board.problems))
        else:
            changes = (self.board.replace_canaries(snapshot.objects) if watch == following.CANARIES
                       else self.board.replace_routes(snapshot.objects))
            events += pushing.change_events(changes)
            if self.board.set_problem(watch, None):
                events.append(pushing.problems_event(self.board.problems))
        if events:
            self.hub.publish(events)

    async def _close_streams(self, app: web.Application) -> None:
        self.hub.close()

    # ------------------------------------------------------------------ handlers

    @web.middleware
    async def _check_host(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        refused = self.guard.check_request(request.headers)
        if refused is not None:
            response: web.StreamResponse = _error(refused.status, refused.message)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as error:
                response = _error(error.status, error.reason)
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._assets["index.html"], content_type="text/html", charset="utf-8")

    async def _asset(self, request: web.Request) -> web.Response:
        name = request.match_info["asset"]
        if name not in ASSETS:
            raise web.HTTPNotFound(reason=f"no asset {name}")
        return web.Response(body=self._assets[name], content_type=ASSETS[name])

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({
            "version": __version__, "namespace": self.board.namespace, "allNamespaces": self.board.namespace is None,
            "server": self.cluster.server, "actionsAllowed": self.guard.actions_allowed,
            "operations": [operation.value for operation in views.OPERATIONS], "tokenHeader": guard.TOKEN_HEADER})

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response({"items": self.board.items(), "problems": self.board.problems})

    async def _detail(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        view = self.board.get(namespace, name)
        if view is None:
            return _error(404, f"canary {namespace}/{name} not found (or not in the dashboard's scope)")
        return web.json_response(view)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        async with sse_response(request, headers=SECURITY_HEADERS) as stream:
            first = pushing.snapshot_event(self.board.items(), dict(self.board.problems))
            try:
                async for event, data in self.hub.subscribe(first):
                    if not stream.is_connected():
                        break
                    await stream.send(data, event=event)
            except ConnectionResetError:
                pass  # the page was closed or reloaded: it reconnects (and gets a snapshot) by itself
        return stream

    async def _operate(self, request: web.Request) -> web.Response:
        refused = self.guard.check_action(request.headers)
        if refused is not None:
            return _error(refused.status, refused.message)
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        try:
            operation = requesting.Operation(request.match_info["operation"])
        except ValueError:
            operation = None
        if operation not in views.OPERATIONS:
            offered = ", ".join(o.value for o in views.OPERATIONS)
            return _error(404, f"unknown operation {request.match_info['operation']!r}: use one of {offered}")
        if self.board.get(namespace, name) is None:
            return _error(404, f"canary {namespace}/{name} not found (or not in the dashboard's scope)")
        scoped = Cluster(self.cluster.api_client, namespace, source=self.cluster.source)
        try:
            change = await asyncio.get_running_loop().run_in_executor(None, requesting.request, scoped, name,
                                                                      operation)
        except errors.NotApplicable as error:
            return _error(409, str(error))
        except errors.ClusterError as error:
            status = error.status if error.status in (404, 409) else 502
            return _error(status, str(error))
        except errors.PluginError as error:
            return _error(400, str(error))
        return web.json_response({
            "namespace": namespace, "name": name, "operation": change.operation, "changed": change.patch is not None,
            "patch": change.patch, "fields": [{"path": p, "before": b, "after": a} for p, b, a in change.fields],
            "expectation": change.expectation})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


def _load_assets() -> dict[str, bytes]:
    static = importlib.resources.files(__package__) / "static"
    return {name: (static / name).read_bytes() for name in ("index.html", *ASSETS)}


def serve(cluster: Cluster, settings: Settings, *, announce: Callable[[Dashboard], None]) -> int:
    """Run until Ctrl-C or SIGTERM; ``announce`` is called once the socket is bound (prints the URL).

    One list first, in the foreground: a missing CRD, a refused login or an unreachable
    cluster ends the command with the usual one-line error instead of a page that stays empty.
    """
    cluster.list_with_version(name=None, all_namespaces=settings.all_namespaces)
    return asyncio.run(_serve(cluster, settings, announce))


async def _serve(cluster: Cluster, settings: Settings, announce: Callable[[Dashboard], None]) -> int:
    dashboard = Dashboard(cluster, settings)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await dashboard.start()
    try:
        announce(dashboard)
        await stopping.wait()
    finally:
        await dashboard.stop()
    return 0

