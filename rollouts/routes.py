"""Route arithmetic: read what a route carries, and compute the smallest patch to change it.

The same for HTTPRoute and GRPCRoute: their rules hold backendRefs of one shape, both
accept a RequestMirror filter, header matches and ``sessionPersistence``; what a GRPCRoute
cannot say (query parameter matches) never reaches here (``route_kinds``).

The controller must never rewrite a user's route: it touches only the ``weight`` of the
stable and canary backendRefs in rules that reference both, plus rules, filters and
fields it adds itself and can recognise again (rules named ``routeshift-<canary>-<n>``, a
RequestMirror filter to the canary backend, and with ``stickySessions`` a
``sessionPersistence`` named ``routeshift-<canary>-<n>`` on the shifted rules; a rule
that already persists sessions its own way keeps it). Expressing that as an RFC 6902 JSON patch
whose first operation tests ``/metadata/resourceVersion`` means everything else in the
route survives byte for byte and a concurrent edit makes the write fail with a conflict
instead of being overwritten. Pure: dicts in, dicts out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from rollouts import actions, model
from rollouts.observations import Acceptance, RouteObservation
from rollouts.route_kinds import RouteKind

# Gateway API's default backendRef weight when the field is absent.
_DEFAULT_WEIGHT = 1


def owned_rule_prefix(owner: str) -> str:
    """Name prefix of the rules a Canary adds; a rule name is a DNS label of at most 63 chars."""
    return f"routeshift-{owner}"[:52].rstrip("-") + "-"


def _ref_key(ref: dict[str, Any], route_namespace: str) -> tuple[str, str] | None:
    if ref.get("group", "") not in ("", "core") or ref.get("kind", "Service") != "Service":
        return None
    return (ref.get("namespace") or route_namespace, ref.get("name", ""))


def _both_refs(rule: dict[str, Any], ns: str, stable: model.BackendRef, canary: model.BackendRef):
    """Indices of the stable and canary refs in a rule, or None unless it references both."""
    stable_key, canary_key = stable.key(ns), canary.key(ns)
    stable_at = [i for i, ref in enumerate(rule.get("backendRefs") or []) if _ref_key(ref, ns) == stable_key]
    canary_at = [i for i, ref in enumerate(rule.get("backendRefs") or []) if _ref_key(ref, ns) == canary_key]
    if stable_at and canary_at:
        return stable_at, canary_at
    return None


def _is_owned_mirror(flt: dict[str, Any], ns: str, canary: model.BackendRef) -> bool:
    if flt.get("type") != "RequestMirror":
        return False
    ref = (flt.get("requestMirror") or {}).get("backendRef") or {}
    return _ref_key(ref, ns) == canary.key(ns)


def _source_rules(route: dict[str, Any], stable: model.BackendRef, canary: model.BackendRef) -> Iterator[tuple[int, dict, tuple]]:
    ns = route["metadata"].get("namespace", "default")
    for index, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        refs = _both_refs(rule, ns, stable, canary)
        if refs is not None:
            yield index, rule, refs


def session_name(owner: str, ordinal: int) -> str:
    """The cookie name of the ``ordinal``-th shifted rule's sessions (GEP-1619 caps it at 128).

    One name per rule: the gateway scopes sessions to a rule, and two rules sharing a
    cookie name on one host would overwrite each other's cookie and re-pick each time.
    """
    return f"routeshift-{owner[:100]}-{ordinal}"


def _owned_session(rule: dict[str, Any], owner: str) -> bool:
    session = rule.get("sessionPersistence")
    name = session.get("sessionName") if isinstance(session, dict) else None
    return isinstance(name, str) and re.fullmatch(rf"routeshift-{re.escape(owner[:100])}-\d+", name) is not None


def _session(owner: str, ordinal: int) -> dict[str, Any]:
    return {"sessionName": session_name(owner, ordinal), "type": "Cookie"}


def _owned_rules(route: dict[str, Any], owner: str) -> list[tuple[int, dict]]:
    prefix = owned_rule_prefix(owner)
    rules = (route.get("spec") or {}).get("rules") or []
    return [(i, rule) for i, rule in enumerate(rules) if str(rule.get("name", "")).startswith(prefix)]


def acceptance(route: dict[str, Any]) -> tuple[Acceptance, str]:
    """Whether every parent accepted the route's current generation, and a one-line why."""
    generation = route["metadata"].get("generation")
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return Acceptance.UNREPORTED, "no parent has reported route status"
    worst, message = Acceptance.ACCEPTED, f"accepted by {len(parents)} parent(s) at generation {generation}"
    rank = {Acceptance.ACCEPTED: 0, Acceptance.UNREPORTED: 1, Acceptance.PENDING: 2, Acceptance.REJECTED: 3}
    for parent in parents:
        ref = parent.get("parentRef") or {}
        who = f"parent {ref.get('namespace', '') + '/' if ref.get('namespace') else ''}{ref.get('name', '?')}"
        accepted = next((c for c in parent.get("conditions") or [] if c.get("type") == "Accepted"), None)
        if accepted is None:
            state, why = Acceptance.UNREPORTED, f"{who} reports no Accepted condition"
        elif accepted.get("observedGeneration") is None:
            state, why = Acceptance.UNREPORTED, f"{who} omits observedGeneration"
            if accepted.get("status") != "True":
                state, why = Acceptance.REJECTED, f"{who} rejected the route: {accepted.get('reason', '')} {accepted.get('message', '')}".strip()
        elif generation is not None and accepted["observedGeneration"] < generation:
            state, why = Acceptance.PENDING, f"{who} has judged generation {accepted['observedGeneration']} of {generation}"
        elif accepted.get("status") != "True":
            state, why = Acceptance.REJECTED, f"{who} rejected the route: {accepted.get('reason', '')} {accepted.get('message', '')}".strip()
        else:
            continue
        if rank[state] > rank[worst]:
            worst, message = state, why
    return worst, message


def observe(route: dict[str, Any] | None, *, namespace: str, name: str, stable: model.BackendRef,
            canary: model.BackendRef, owner: str, kind: RouteKind = RouteKind.HTTP_ROUTE) -> RouteObservation:
    """What ``route`` carries for this Canary (``None`` when the route does not exist)."""
    if route is None:
        return RouteObservation(namespace=namespace, name=name, found=False, kind=kind)
    ns = route["metadata"].get("namespace", namespace)
    weights, mirrors, sessions, persistent = [], 0, 0, 0
    for _, rule, (stable_at, canary_at) in _source_rules(route, stable, canary):
        refs = rule["backendRefs"]
        # Several refs to the same Service in one rule add up, as the proxy would count them.
        weights.append((sum(refs[i].get("weight", _DEFAULT_WEIGHT) for i in stable_at),
                        sum(refs[i].get("weight", _DEFAULT_WEIGHT) for i in canary_at)))
        if any(_is_owned_mirror(f, ns, canary) for f in rule.get("filters") or []):
            mirrors += 1
        persistent += rule.get("sessionPersistence") is not None
        sessions += _owned_session(rule, owner)
    state, message = acceptance(route)
    return RouteObservation(
        namespace=namespace,
        name=name,
        generation=route["metadata"].get("generation"),
        rules=tuple(weights),
        match_rules=len(_owned_rules(route, owner)),
        mirrors=mirrors,
        acceptance=state,
        acceptance_message=message,
        kind=kind,
        sessions=sessions,
        persistent=persistent,
    )


def _cookie_header(cookie: model.CookieMatch) -> dict[str, str]:
    # Gateway API has no cookie match: a RegularExpression on the Cookie header does it.
    pattern = rf"(^|.*;\s*){re.escape(cookie.name)}={re.escape(cookie.value)}(;.*|$)"
    return {"name": "Cookie", "type": "RegularExpression", "value": pattern}


def _combine(match: dict[str, Any], extra: model.RequestMatch) -> dict[str, Any]:
    combined = copy.deepcopy(match)
    headers = list(combined.get("headers") or [])
    headers += [{"name": h.name, "type": h.type.value, "value": h.value} for h in extra.headers]
    headers += [_cookie_header(c) for c in extra.cookies]
    if headers:
        combined["headers"] = headers
    params = list(combined.get("queryParams") or [])
    params += [{"name": q.name, "type": q.type.value, "value": q.value} for q in extra.query_params]
    if params:
        combined["queryParams"] = params
    return combined


def _match_rules(route: dict[str, Any], action: actions.SetRouteWeights, owner: str) -> list[dict[str, Any]]:
    """The rules an A/B or preview match adds: one per source rule, same paths, canary only."""
    if action.match is None:
        return []
    ns = route["metadata"].get("namespace", action.namespace)
    added = []
    for n, (_, rule, (_, canary_at)) in enumerate(_source_rules(route, action.stable, action.canary)):
        canary_ref = copy.deepcopy(rule["backendRefs"][canary_at[0]])
        canary_ref["weight"] = 1
        new = {
            "name": f"{owned_rule_prefix(owner)}{n}",
            "matches": [_combine(m, action.match) for m in (rule.get("matches") or [{}])],
            "backendRefs": [canary_ref],
        }
        filters = [f for f in rule.get("filters") or [] if not _is_owned_mirror(f, ns, action.canary)]
        if filters:
            new["filters"] = copy.deepcopy(filters)
        if "timeouts" in rule:
            new["timeouts"] = copy.deepcopy(rule["timeouts"])
        added.append(new)
    return added


def _mirror_filter(canary: model.BackendRef) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": canary.name, "port": canary.port}
    if canary.namespace:
        ref["namespace"] = canary.namespace
    return {"type": "RequestMirror", "requestMirror": {"backendRef": ref}}


def patch(route: dict[str, Any], action: actions.SetRouteWeights, *, owner: str) -> list[dict[str, Any]]:
    """The JSON patch taking ``route`` to the action's traffic; ``[]`` when it already is there.

    Operation order matters because JSON patch applies them in sequence: weight and filter
    edits use the original rule indices, owned rules are removed from the highest index
    down, and new owned rules are appended at the end (Gateway API precedence is by match
    specificity, so their position does not change routing).
    """
    ns = route["metadata"].get("namespace", action.namespace)
    ops: list[dict[str, Any]] = []
    shifted = _source_rules(route, action.stable, action.canary)
    for ordinal, (index, rule, (stable_at, canary_at)) in enumerate(shifted):
        refs = rule["backendRefs"]
        for positions, weight in ((stable_at, action.stable_weight), (canary_at, action.canary_weight)):
            # Duplicate refs to one Service: the first carries the weight, the rest get 0.
            for n, ref_index in enumerate(positions):
                want = weight if n == 0 else 0
                if refs[ref_index].get("weight", _DEFAULT_WEIGHT) != want:
                    verb = "replace" if "weight" in refs[ref_index] else "add"
                    ops.append({"op": verb, "path": f"/spec/rules/{index}/backendRefs/{ref_index}/weight", "value": want})
        filters = rule.get("filters")
        owned = [i for i, f in enumerate(filters or []) if _is_owned_mirror(f, ns, action.canary)]
        if action.mirror and not owned:
            if filters is None:
                ops.append({"op": "add", "path": f"/spec/rules/{index}/filters", "value": [_mirror_filter(action.canary)]})
            else:
                ops.append({"op": "add", "path": f"/spec/rules/{index}/filters/-", "value": _mirror_filter(action.canary)})
        elif not action.mirror:
            for i in reversed(owned):
                ops.append({"op": "remove", "path": f"/spec/rules/{index}/filters/{i}"})
        if action.sticky and rule.get("sessionPersistence") is None:
            ops.append({"op": "add", "path": f"/spec/rules/{index}/sessionPersistence",
                        "value": _session(owner, ordinal)})
        elif not action.sticky and _owned_session(rule, owner):
            ops.append({"op": "remove", "path": f"/spec/rules/{index}/sessionPersistence"})
    existing = _owned_rules(route, owner)
    wanted = _match_rules(route, action, owner)
    if [rule for _, rule in existing] != wanted:
        for i, _ in reversed(existing):
            ops.append({"op": "remove", "path": f"/spec/rules/{i}"})
        for rule in wanted:
            ops.append({"op": "add", "path": "/spec/rules/-", "value": rule})
    if not ops:
        return []
    precondition = {"op": "test", "path": "/metadata/resourceVersion", "value": route["metadata"].get("resourceVersion")}
    return [precondition, *ops]


def apply(route: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply a patch made by :func:`patch` to a copy of ``route`` (for tests and dry runs).

    Supports exactly the operations :func:`patch` emits: test, add, replace, remove.
    """
    result = copy.deepcopy(route)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        parent = result
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if op["op"] == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op["value"]:
                raise ValueError(f"test failed at {op['path']}: {current!r} != {op['value']!r}")
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif isinstance(parent, list):
            if last == "-":
                parent.append(copy.deepcopy(op["value"]))
            elif op["op"] == "add":
                parent.insert(int(last), copy.deepcopy(op["value"]))
            else:
                parent[int(last)] = copy.deepcopy(op["value"])
        else:
            parent[last] = copy.deepcopy(op["value"])
    return result
