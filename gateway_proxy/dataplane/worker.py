"""Python's side of the C data plane: start and stop a worker's C loop, feed it tables, read its counters.

Why it exists: the C event loop (:mod:`gateway_proxy.dataplane.loop`) serves requests without the
GIL, but configuration, reloads, Kubernetes mode, admin and metrics exposition stay Python. This
module is the seam. :class:`CDataPlane` owns one loop thread per process (``--workers N`` gives N
processes, each on its own SO_REUSEPORT socket) and is told of every table the runtime installs.

Not every table can be served by the loop. :func:`unsupported` names why one cannot (today:
GRPCRoutes, a retrying rule whose backendRefs carry their own RequestHeaderModifier, session
persistence in a build without OpenSSL's headers, and backends whose endpoints are host names the
loop would have to resolve; upgrades, WebSocket included, are tunnelled by the loop itself,
loop_tunnel.pxi, RequestMirror copies are sent by it, loop_mirror.pxi, CORS filters are answered
by it, loop_cors.pyx, retries are made by it, loop_retry.pxi, and sessions pinned by it,
loop_sessions.pyx); for such a table the loop stops accepting, ends its
keep-alive connections after their current answer, and the asyncio path (``runtime.client_side``)
accepts on the same socket until a table the loop can serve comes back. Each switch is logged in
one line with its reason, so a fallback is never silent. TLS listeners stay on the asyncio path: they have their own socket.

Counters are C arrays per label set (namespace, route, backend_namespace, backend); they are
folded into the same Prometheus children ``metrics.Metrics`` binds, before every scrape (a
registry hook) and once a second (worker processes have no scrape of their own).

A reload that changes backend weights and nothing else (what the controller does all day, see
:mod:`~gateway_proxy.dataplane.weight_changes`) does not rebuild the C table: the loop copies the
new weights into the table it serves (``Loop.reweigh``), rule and backend ids and their counter
blocks unchanged. Every other change builds and publishes a new table. Either way ``install``
returns once the loop has taken it, sleeping on an eventfd the loop rings, not polling.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import operator
import random
import socket
import threading

from gateway_proxy.dataplane import loop as c_loop
from gateway_proxy.dataplane import loop_plans, table as c_table, weight_changes
from gateway_proxy.http2 import accepting as http2_accepting

logger = logging.getLogger("gateway_proxy")

ACK_TIMEOUT = 1.0  # seconds a reload waits for the loop to take the new table or weights
SYNC_INTERVAL = 1.0


def _address_literal(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except OSError:
            continue
    return False


class Verdicts:
    """What :func:`unsupported` knows from the last table it passed: that table's rules, every one
    of which the loop can serve. The compile cache hands back the very same Rule objects for
    routes that did not change, so the next reload decides only the rules that are new objects
    (one route's, for a weight change) instead of walking 10,000."""

    __slots__ = ("rules",)

    def __init__(self):
        self.rules: tuple = ()


def unsupported(compiled, verdicts: Verdicts | None = None) -> str | None:
    """Why the C loop cannot serve ``compiled`` entirely, or None when it can; ``verdicts``,
    kept by the caller from one reload to the next, spares deciding rules decided before."""
    if compiled.grpc:
        # The C loop speaks HTTP/1.1 only; the asyncio path also accepts HTTP/2 (gateway_proxy.http2).
        rule = compiled.grpc.rules[0]
        return f"GRPCRoute {rule.namespace}/{rule.route} (HTTP/2 is served on the asyncio path only)"
    rules = compiled.rules
    known: set[int] = set()
    if verdicts is not None and len(verdicts.rules) == len(rules):
        # Rules in the same place as before are the same objects unless their route changed: the
        # others are found in C, not by a Python loop over the table.
        rules_to_decide = itertools.compress(rules, map(operator.is_not, verdicts.rules, rules))
    else:
        rules_to_decide = rules
        if verdicts is not None:
            known = set(map(id, verdicts.rules))  # alive while verdicts holds them: ids are theirs
    for rule in rules_to_decide:
        if id(rule) not in known:
            reason = _rule_unsupported(rule)
            if reason is not None:
                return reason
    if verdicts is not None:
        verdicts.rules = rules
    return None


def _rule_unsupported(rule) -> str | None:
    if rule.session is not None and not c_loop.serves_sessions():
        return (f"sessionPersistence in {rule.namespace}/{rule.route} (the C loop was built without OpenSSL's "
                "headers; it runs on the asyncio path)")
    if rule.retry is not None and any(backend.request_headers is not None for backend in rule.backends):
        # A retry to another backend rebuilds the request head with that backend's own filter
        # (exchange._next_attempt); the loop keeps only the head it sent first.
        return (f"retry with a backendRef RequestHeaderModifier in {rule.namespace}/{rule.route} "
                "(it runs on the asyncio path only)")
    for backend in rule.backends + rule.mirrors:
        for host, _ in backend.endpoints:
            if not _address_literal(host):
                return f"endpoint {host!r} of {backend.namespace}/{backend.name} is a name, not an address"
    return None


class CDataPlane:
    """One worker's C loop on ``sock``, with the asyncio path standing by for tables it cannot serve."""

    def __init__(self, runtime, sock: socket.socket):
        self.runtime = runtime
        self.sock = sock
        self.counters = loop_plans.Counters()
        self.blocks: dict[tuple[str, str, str, str], int] = {}
        self.seen: dict[int, tuple] = {}  # block index -> what was last folded into Prometheus
        unrouted = self._block(("", "", "", ""))
        self.loop = c_loop.Loop(sock.fileno(), runtime.header_timeout, self.counters, unrouted,
                                random.getrandbits(64))
        self.set_tunnel_idle_timeout(runtime.tunnel_idle_timeout)
        self.thread = threading.Thread(target=self.loop.run, name="routeshift-c-loop", daemon=True)
        self.plans: list = []  # published, oldest first; dropped once the loop retired them
        # The compiled table the loop's current table holds (its weights updated in place since),
        # and the loop's rule id of each of its Rule objects; None while the asyncio path serves.
        self.installed = None
        self.rule_ids: dict[int, int] = {}
        self.reweighs = 0  # in-place weight updates applied, for logs and tests
        self.verdicts = Verdicts()  # unsupported()'s, from one reload to the next
        self.serving_c: bool | None = None
        self.fallback = None  # the asyncio server while the loop cannot serve the table
        self.fallback_task = None
        self.reason: str | None = None
        self.overflow = 0
        self.syncer = None
        registry = runtime.metrics.registry
        if hasattr(registry, "before_collect"):
            registry.before_collect.append(self.sync_metrics)

    def set_tunnel_idle_timeout(self, seconds: float) -> None:
        """``--tunnel-idle-timeout`` for the loop's tunnels, as ``runtime.tunnel_idle_timeout`` is
        for the asyncio path's (the loop cannot read Python attributes)."""
        self.loop.set_tunnel_idle_timeout(seconds)

    # lifecycle
    def start(self) -> "CDataPlane":
        self.thread.start()
        if self.runtime.compiled is not None:
            self.install(self.runtime.compiled)
        else:
            # No table yet: the loop answers 503 as the asyncio path does (exchange.handle).
            self.loop.set_accepting(True)
            self.serving_c = True
        self.syncer = self.runtime.loop.create_task(self._sync_forever())
        return self

    def close(self) -> None:
        registry = self.runtime.metrics.registry
        if hasattr(registry, "before_collect") and self.sync_metrics in registry.before_collect:
            registry.before_collect.remove(self.sync_metrics)
        if self.syncer is not None:
            self.syncer.cancel()
        self.loop.stop()
        self.thread.join(10)
        if self.thread.is_alive():  # never free what a running thread may touch
            logger.error("gateway_proxy: the C loop did not stop within 10 s")
            _stuck.append(self)
        self.sync_metrics()
        self._stop_fallback()

    async def wait_closed(self) -> None:
        if self.fallback is not None:
            await self.fallback.wait_closed()

    # tables
    def _block(self, labels: tuple[str, str, str, str]) -> int:
        index = self.blocks.get(labels)
        if index is None:
            index = self.blocks[labels] = self.counters.add()
        return index

    def _plan(self, compiled) -> loop_plans.LoopPlan:
        table = c_table.RouteTable(compiled.table, compiled.tls_table)
        owner = {}
        for rule in table.rules:
            for backend in tuple(rule.backends) + tuple(rule.mirrors):
                owner[id(backend)] = rule
        backend_blocks = []
        for backend in table.backends:
            rule = owner[id(backend)]
            backend_blocks.append(self._block((rule.namespace, rule.route, backend.namespace, backend.name)))
        rule_blocks = [self._block((rule.namespace, rule.route, "", "")) for rule in table.rules]
        return loop_plans.LoopPlan(table, self.counters, backend_blocks, rule_blocks)

    def install(self, compiled) -> None:
        """Serve ``compiled``: with the C loop when it can, else with the asyncio path."""
        reason = unsupported(compiled, self.verdicts)
        if reason is None and self._reweigh(compiled):
            return
        plan = None
        if reason is None:
            try:
                plan = self._plan(compiled)
            except Exception as error:  # a table the C layout cannot hold must not stop serving
                reason = f"the C route table could not be built ({error!r})"
        if plan is not None:
            self.loop.publish(plan)
            self.plans.append(plan)
            self.installed = compiled
            self.rule_ids = {id(rule): number for number, rule in enumerate(plan.table.rules)}
            if not self.loop.await_current(plan, ACK_TIMEOUT):
                logger.warning("gateway_proxy: the C loop did not take the new table within %.1f s", ACK_TIMEOUT)
            self._prune()
            if self.serving_c is not True:
                self._stop_fallback()
                self.loop.set_accepting(True)
                logger.info("gateway_proxy: C data plane serving %s", self.sock.getsockname())
            self.serving_c = True
            self.reason = None
            return
        if reason != self.reason or self.serving_c is not False:
            logger.warning("gateway_proxy: C data plane cannot serve this table (%s); the asyncio path serves it",
                           reason)
        self.reason = reason
        self.installed = None
        self.rule_ids = {}
        if self.serving_c is not False:
            self.loop.set_accepting(False)
            self.loop.drain()
            self._start_fallback()
        self.serving_c = False

    def _reweigh(self, compiled) -> bool:
        """Serve ``compiled`` by updating the weights of the loop's current table in place, when
        that is all it changes; False when it needs a new table."""
        if not self.serving_c or self.installed is None or not self.plans or not self.loop.current_is(self.plans[-1]):
            return False
        pairs = weight_changes.weights_only(self.installed, compiled)
        if pairs is None:
            return False
        changes = []
        for old, new in pairs:
            number = self.rule_ids.get(id(old))
            # A rule no match reaches is not in the C table: its weights decide nothing there.
            if number is not None and weight_changes.reweighed(old, new):
                changes.append((number, new.total, tuple(zip([b.weight for b in new.backends], new.cumulative))))
        if changes:
            update = loop_plans.Reweighing(self.plans[-1], changes)
            if not self.loop.reweigh(update, ACK_TIMEOUT):
                if update.outcome == loop_plans.PENDING:  # taken, not confirmed: the loop may still read it
                    _stuck.append(update)
                return False
            self.reweighs += 1
            logger.info("gateway_proxy: weights of %d rules updated in place in the C data plane", len(changes))
        # From now on the loop's rule ids are reached from the new compile's Rule objects. Every
        # id popped belongs to a rule of self.installed, alive until the assignment below.
        numbers = [(new, self.rule_ids.pop(id(old), None)) for old, new in pairs]
        self.rule_ids.update((id(new), number) for new, number in numbers if number is not None)
        self.installed = compiled
        return True

    def _prune(self) -> None:
        """Drop the plans the loop is done with: retired ones, and ones it never took (a later
        plan was current before it looked)."""
        current = None
        for plan in reversed(self.plans):
            if self.loop.current_is(plan):
                current = plan
                break
        if current is None:
            return
        position = self.plans.index(current)
        self.plans = [plan for number, plan in enumerate(self.plans)
                      if number >= position or (plan.seen and not plan.retired)]

    def _start_fallback(self) -> None:
        runtime = self.runtime
        # HTTP/1.1 by runtime.client_side, and HTTP/2 while GRPCRoutes are served.
        protocol_factory = http2_accepting.protocol_factory(runtime)
        # A duplicate descriptor: closing the asyncio server must not close the loop's socket.
        shared = self.sock.dup()

        async def serve():
            self.fallback = await runtime.loop.create_server(protocol_factory, sock=shared)

        self.fallback_task = runtime.loop.create_task(serve())

    def _stop_fallback(self) -> None:
        if self.fallback_task is not None and not self.fallback_task.done():
            self.fallback_task.cancel()
        self.fallback_task = None
        if self.fallback is not None:
            self.fallback.close()

    # metrics
    def sync_metrics(self) -> None:
        """Fold what the C counters gained since the last call into the Prometheus children."""
        metrics = self.runtime.metrics
        overflow = 0
        for labels, index in self.blocks.items():
            codes, buckets, seconds, lost = self.counters.read(index)
            overflow += lost
            before = self.seen.get(index)
            if before is not None and before[0] == codes and before[1] == buckets:
                continue
            old_codes = dict(before[0]) if before is not None else {}
            old_buckets = before[1] if before is not None else (0,) * len(buckets)
            old_seconds = before[2] if before is not None else 0.0
            gained = {code: count - old_codes.get(code, 0) for code, count in codes if count != old_codes.get(code, 0)}
            bound = metrics.unrouted if labels == ("", "", "", "") else metrics.bind(*labels)
            bound.absorb(gained, [new - old for new, old in zip(buckets, old_buckets)], seconds - old_seconds)
            self.seen[index] = (codes, buckets, seconds)
        if overflow > self.overflow:
            logger.error("gateway_proxy: %d C data plane observations had no free status-code slot",
                         overflow - self.overflow)
            self.overflow = overflow

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            self.sync_metrics()
            self._prune()


_stuck: list = []  # loops that did not stop: kept referenced so their memory is never freed under them


def start(runtime, sock: socket.socket) -> CDataPlane:
    return CDataPlane(runtime, sock).start()
