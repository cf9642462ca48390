"""The semantics of each REST verb: create, read, list, replace, patch, delete.

This is where the emulator behaves like an API server rather than a dict over HTTP:
preconditions (409 on a stale resourceVersion or uid), the status subresource split (the
main endpoint ignores ``.status``, ``/status`` ignores everything else), no new
resourceVersion for a write that changes nothing, ``dryRun`` computing the result without
committing it, finalizers (a delete only sets ``deletionTimestamp``; the object goes when the
last finalizer is removed), graceful deletion of Pods bound to a node whose kubelet runs
here (``deletionTimestamp`` set, the kubelet removes the Pod once its containers stopped),
owner references (dependents go with their owner; ``Orphan`` strips the reference), namespaces that must exist and take their contents with them,
and CRDs that become served resources. Everything is synchronous: a verb runs to completion
on the event loop without yielding, so it is atomic.
"""

from __future__ import annotations

import base64
import datetime
import json
import re
from typing import Any

from routeshift.emulator import crds, errors, jsondata, metadata, patching, paths, registry, selectors, store

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_GENERATE_ATTEMPTS = 8
_TERMINATING = "Terminating"
_DEFAULT_POD_GRACE = 30  # PodSpec.terminationGracePeriodSeconds when unset


def _name_of(obj: dict[str, Any]) -> str | None:
    return obj.get("metadata", {}).get("name")


class Operations:
    """The verbs over one store; every method takes a parsed :class:`paths.Target`."""

    def __init__(self, objects: store.Store, types: registry.Registry) -> None:
        self.store = objects
        self.types = types
        # Nodes whose kubelet finishes graceful Pod deletion (see routeshift.emulator.workloads);
        # Pods on other nodes, or unbound, are deleted at once as no kubelet would ever confirm.
        self.kubelet_nodes: set[str] = set()

    # ---------------------------------------------------------------- reads

    def read(self, target: paths.Target) -> dict[str, Any]:
        assert target.name is not None
        obj = self.store.get(target.rtype, target.namespace, target.name)
        if obj is None:
            raise errors.not_found(target.rtype, target.name)
        return obj

    def list(self, target: paths.Target, *, label_selector: str | None = None, field_selector: str | None = None,
             limit: int | None = None,
             continue_token: str | None = None) -> tuple[list[dict[str, Any]], str | None, int | None]:
        """Matching objects (one page), the continue token and the remaining count."""
        predicate = selectors.combined(label_selector, field_selector)
        items = [obj for obj in self.store.list(target.rtype, target.namespace) if predicate(obj)]
        if continue_token:
            start = self._decode_continue(continue_token)
            items = [obj for obj in items if self._sort_key(obj) > start]
        if limit and len(items) > limit:
            page, rest = items[:limit], items[limit:]
            token = base64.urlsafe_b64encode(json.dumps(list(self._sort_key(page[-1]))).encode()).decode()
            return page, token, len(rest)
        return items, None, None

    @staticmethod
    def _sort_key(obj: dict[str, Any]) -> tuple[str, str]:
        meta = obj.get("metadata", {})
        return (meta.get("namespace") or "", meta.get("name") or "")

    @staticmethod
    def _decode_continue(token: str) -> tuple[str, str]:
        try:
            namespace, name = json.loads(base64.urlsafe_b64decode(token.encode()))
            return (str(namespace), str(name))
        except (ValueError, TypeError) as error:
            raise errors.bad_request(f"invalid continue token: {token!r}") from error

    # ---------------------------------------------------------------- writes

    def create(self, target: paths.Target, body: Any, *, dry_run: bool = False,
               field_validation: str | None = None) -> tuple[dict[str, Any], list[str]]:
        rtype = target.rtype
        if target.name is not None or target.subresource is not None:
            raise errors.method_not_allowed()
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        if body.get("kind") not in (None, rtype.kind):
            raise errors.bad_request(f"the kind of the provided object ({body.get('kind')}) "
                                     f"does not match the resource ({rtype.kind})")
        meta = body.get("metadata") or {}
        namespace = self._namespace_for(target, meta)
        name = meta.get("name") or self._generate(rtype, namespace, meta.get("generateName"))
        self._check_name(rtype, name)
        if self.store.get(rtype, namespace, name) is not None:
            raise errors.already_exists(rtype, name)

        obj = metadata.prepare_create({**body, "apiVersion": rtype.group_version, "kind": rtype.kind},
                                      namespace=namespace if rtype.namespaced else None,
                                      keep_status=not rtype.has_status)
        obj["metadata"]["name"] = name
        obj, warnings = self._admit(rtype, obj, field_validation)
        if dry_run:
            return obj, warnings
        committed = self.store.create(rtype, obj)
        if crds.is_crd(rtype):
            self._serve_crd(committed)
        return committed, warnings

    def replace(self, target: paths.Target, body: Any, *, dry_run: bool = False,
                field_validation: str | None = None) -> tuple[dict[str, Any], list[str]]:
        if target.name is None:
            raise errors.method_not_allowed()
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        if _name_of(body) not in (None, target.name):
            raise errors.bad_request(f"the name of the object ({_name_of(body)}) "
                                     f"does not match the name on the URL ({target.name})")
        current = self.read(target)
        requested = (body.get("metadata") or {}).get("resourceVersion")
        if requested and requested != current["metadata"]["resourceVersion"]:
            raise errors.stale(target.rtype, target.name)
        return self._update(target, current, body, dry_run=dry_run, field_validation=field_validation)

    def patch(self, target: paths.Target, body: bytes, content_type: str | None, *, dry_run: bool = False,
              field_validation: str | None = None) -> tuple[dict[str, Any], list[str]]:
        if target.name is None:
            raise errors.method_not_allowed()
        current = self.store.get(target.rtype, target.namespace, target.name)
        if current is None:
            if patching.media_type(content_type) == patching.APPLY_PATCH and target.subresource is None:
                applied = patching.parse_body(body, patching.APPLY_PATCH)
                if not isinstance(applied, dict):
                    raise errors.bad_request("apply patch must be a YAML object")
                applied.setdefault("metadata", {})["name"] = target.name
                return self.create(paths.Target(target.rtype, target.namespace, None, None), applied,
                                   dry_run=dry_run, field_validation=field_validation)
            raise errors.not_found(target.rtype, target.name)
        patched = patching.apply(current, body, content_type, target.rtype, target.name)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        requested = (patched.get("metadata") or {}).get("resourceVersion")
        if requested is not None and requested != current["metadata"]["resourceVersion"]:
            raise errors.stale(target.rtype, target.name)
        return self._update(target, current, patched, dry_run=dry_run, field_validation=field_validation)

    def delete(self, target: paths.Target, options: dict[str, Any] | None, *, dry_run: bool = False) -> dict[str, Any]:
        if target.name is None or target.subresource is not None:
            raise errors.method_not_allowed()
        current = self.read(target)
        preconditions = (options or {}).get("preconditions") or {}
        meta = current["metadata"]
        if preconditions.get("resourceVersion") not in (None, meta["resourceVersion"]):
            raise errors.conflict(target.rtype, target.name,
                                  f"the ResourceVersion in the precondition ({preconditions['resourceVersion']}) "
                                  f"does not match the ResourceVersion in record ({meta['resourceVersion']}). "
                                  f"The object might have been modified")
        if preconditions.get("uid") not in (None, meta["uid"]):
            raise errors.conflict(target.rtype, target.name,
                                  f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                                  f"UID in object meta: {meta['uid']}")
        if dry_run:
            return current
        orphan = (options or {}).get("propagationPolicy") == "Orphan"
        grace = (options or {}).get("gracePeriodSeconds")
        return self._delete(target.rtype, current, orphan=orphan, grace=int(grace) if grace is not None else None)

    def delete_collection(self, target: paths.Target, *, label_selector: str | None, field_selector: str | None,
                          dry_run: bool = False) -> list[dict[str, Any]]:
        items, _, _ = self.list(target, label_selector=label_selector, field_selector=field_selector)
        if dry_run:
            return items
        return [self._delete(target.rtype, obj) for obj in items]

    # ---------------------------------------------------------------- internals

    def _namespace_for(self, target: paths.Target, meta: dict[str, Any]) -> str | None:
        if not target.rtype.namespaced:
            return None
        namespace = target.namespace or meta.get("namespace")
        if not namespace:
            raise errors.bad_request("a namespace must be given for a namespaced resource")
        if meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request("the namespace of the provided object does not match "
                                     "the namespace sent on the request")
        namespaces = self.types.lookup("", "v1", "namespaces")
        assert namespaces is not None
        found = self.store.get(namespaces, None, namespace)
        if found is None:
            raise errors.namespace_not_found(namespace)
        if found["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(status=403, reason="Forbidden",
                                  message=f"unable to create new content in namespace {namespace} "
                                          f"because it is being terminated")
        return namespace

    def _generate(self, rtype: registry.ResourceType, namespace: str | None, prefix: str | None) -> str:
        if not prefix:
            raise errors.invalid(rtype, "", "metadata.name: Required value: name or generateName is required")
        for _ in range(_GENERATE_ATTEMPTS):
            name = metadata.generate_name(prefix)
            if self.store.get(rtype, namespace, name) is None:
                return name
        raise errors.ApiError(status=409, reason="AlreadyExists",
                              message=f"could not generate a unique name for prefix {prefix!r}")

    @staticmethod
    def _check_name(rtype: registry.ResourceType, name: str) -> None:
        if len(name) > 253 or not _NAME.match(name):
            raise errors.invalid(rtype, name,
                                 f"metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain "
                                 f"must consist "
                                 f"of lower case alphanumeric characters, '-' or '.', and must start and end with an "
                                 f"alphanumeric character")

    def _admit(self, rtype: registry.ResourceType, obj: dict[str, Any],
               field_validation: str | None) -> tuple[dict[str, Any], list[str]]:
        """Type-specific checks and defaults before a write is committed."""
        if crds.is_crd(rtype):
            crds.check_definition(obj)
            obj["status"] = crds.established_status(obj)
            return obj, []
        if rtype.group == "" and rtype.plural == "namespaces" and not obj.get("metadata", {}).get("deletionTimestamp"):
            obj["status"] = {"phase": "Active"}
        if rtype.group == "" and rtype.plural == "secrets" and "stringData" in obj:
            # As the API server does: stringData is write-only, merged into data (it wins), never stored.
            string_data = obj.pop("stringData") or {}
            encoded = {key: base64.b64encode(str(value).encode("utf-8")).decode("ascii")
                       for key, value in string_data.items()}
            obj["data"] = {**(obj.get("data") or {}), **encoded}
        if not rtype.builtin:
            return crds.validate(rtype, obj, field_validation)
        return obj, []

    def _update(self, target: paths.Target, current: dict[str, Any], body: dict[str, Any], *, dry_run: bool,
                field_validation: str | None) -> tuple[dict[str, Any], list[str]]:
        rtype = target.rtype
        if target.subresource == "status":
            new = jsondata.copy(current)
            if "status" in body:
                new["status"] = jsondata.copy(body["status"])
            else:
                new.pop("status", None)
        else:
            new = jsondata.copy(body)
            if rtype.has_status:
                new.pop("status", None)
                if "status" in current:
                    new["status"] = jsondata.copy(current["status"])
        new["apiVersion"], new["kind"] = current.get("apiVersion", rtype.group_version), current.get("kind", rtype.kind)
        new = metadata.carry_over(current, new)
        old_finalizers = set(current["metadata"].get("finalizers") or [])
        new_finalizers = set(new["metadata"].get("finalizers") or [])
        if current["metadata"].get("deletionTimestamp") and new_finalizers - old_finalizers:
            raise errors.invalid(rtype, target.name,
                                 "metadata.finalizers: Forbidden: "
                                 "no new finalizers can be added if the object is being deleted")
        new, warnings = self._admit(rtype, new, field_validation)
        if metadata.same_content(current, new):
            return current, warnings
        if dry_run:
            return new, warnings
        if new["metadata"].get("deletionTimestamp") and not new_finalizers \
                and not new["metadata"].get("deletionGracePeriodSeconds"):
            return self._remove(rtype, new), warnings
        committed = self.store.update(rtype, new, current)
        if crds.is_crd(rtype):
            self._serve_crd(committed)
        return committed, warnings

    def _delete(self, rtype: registry.ResourceType, current: dict[str, Any], *, orphan: bool = False,
                grace: int | None = None) -> dict[str, Any]:
        meta = current["metadata"]
        pod_grace = self._pod_grace(rtype, current, grace)
        if pod_grace:
            return self._terminate_pod(rtype, current, pod_grace)
        is_namespace = rtype.group == "" and rtype.plural == "namespaces"
        if is_namespace:
            self._empty_namespace(meta["name"])
        if meta.get("finalizers") or (is_namespace and self._namespace_has_content(meta["name"])):
            if meta.get("deletionTimestamp"):
                if meta.get("deletionGracePeriodSeconds"):  # a terminated Pod now only waits for finalizers
                    marked = jsondata.copy(current)
                    marked["metadata"]["deletionGracePeriodSeconds"] = 0
                    return self.store.update(rtype, marked, current)
                return current
            marked = jsondata.copy(current)
            marked["metadata"]["deletionTimestamp"] = metadata.now()
            marked["metadata"]["deletionGracePeriodSeconds"] = 0
            if is_namespace:
                marked["status"] = {"phase": _TERMINATING}
            return self.store.update(rtype, marked, current)
        return self._remove(rtype, current, orphan=orphan)

    def _pod_grace(self, rtype: registry.ResourceType, pod: dict[str, Any], requested: int | None) -> int:
        """Seconds of graceful termination a Pod deletion gets (0: delete now), as the API server:
        only a Pod bound to a node (here: one whose kubelet runs) and not yet terminal gets any."""
        if rtype.group != "" or rtype.plural != "pods":
            return 0
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if spec.get("nodeName") not in self.kubelet_nodes or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        grace = requested if requested is not None else spec.get("terminationGracePeriodSeconds")
        grace = _DEFAULT_POD_GRACE if grace is None else int(grace)
        current = pod["metadata"].get("deletionGracePeriodSeconds")
        if pod["metadata"].get("deletionTimestamp") and (current is None or current == 0):
            return 0  # already past its grace period: finish the deletion
        return max(0, grace)

    def _terminate_pod(self, rtype: registry.ResourceType, pod: dict[str, Any], grace: int) -> dict[str, Any]:
        """Mark a Pod as terminating; a second delete can only shorten its grace period."""
        meta = pod["metadata"]
        current = meta.get("deletionGracePeriodSeconds")
        if meta.get("deletionTimestamp") and current is not None and current <= grace:
            return pod
        marked = jsondata.copy(pod)
        deadline = datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=grace)
        marked["metadata"]["deletionTimestamp"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
        marked["metadata"]["deletionGracePeriodSeconds"] = grace
        return self.store.update(rtype, marked, pod)

    def _remove(self, rtype: registry.ResourceType, obj: dict[str, Any], *, orphan: bool = False) -> dict[str, Any]:
        if crds.is_crd(rtype):
            self._unserve_crd(obj)
        final = self.store.remove(rtype, obj)
        if orphan:
            self._orphan_dependents(obj["metadata"]["uid"])
        else:
            self._collect_dependents(obj["metadata"]["uid"])
        namespace = obj["metadata"].get("namespace")
        if namespace:
            self._finish_namespace(namespace)
        return final

    def _collect_dependents(self, owner_uid: str) -> None:
        """The garbage collector's background propagation: objects owned only by the deleted
        owner are deleted (their finalizers respected); others just lose the dangling reference."""
        for rtype, listed in self.store.dependents(owner_uid):
            meta = listed["metadata"]
            obj = self.store.get(rtype, meta.get("namespace"), meta["name"])  # a nested collection may have run
            if obj is None or obj["metadata"]["uid"] != meta["uid"]:
                continue
            references = obj["metadata"].get("ownerReferences") or []
            if not any(reference.get("uid") == owner_uid for reference in references):
                continue
            remaining = [reference for reference in references if reference.get("uid") != owner_uid]
            if remaining:
                updated = jsondata.copy(obj)
                updated["metadata"]["ownerReferences"] = remaining
                self.store.update(rtype, updated, obj)
            else:
                self._delete(rtype, obj)

    def _orphan_dependents(self, owner_uid: str) -> None:
        """``propagationPolicy: Orphan``: dependents stay, without the reference to the deleted owner."""
        for rtype, obj in self.store.dependents(owner_uid):
            references = obj["metadata"].get("ownerReferences") or []
            updated = jsondata.copy(obj)
            remaining = [reference for reference in references if reference.get("uid") != owner_uid]
            if remaining:
                updated["metadata"]["ownerReferences"] = remaining
            else:
                updated["metadata"].pop("ownerReferences")
            self.store.update(rtype, updated, obj)

    def _namespaced_types(self) -> list[registry.ResourceType]:
        seen: dict[tuple[str, str], registry.ResourceType] = {}
        for rtype in self.types.all():
            if rtype.namespaced:
                seen.setdefault((rtype.group, rtype.plural), self.types.storage_of(rtype))
        return list(seen.values())

    def _namespace_has_content(self, namespace: str) -> bool:
        return any(self.store.list(rtype, namespace) for rtype in self._namespaced_types())

    def _empty_namespace(self, namespace: str) -> None:
        for rtype in self._namespaced_types():
            for obj in self.store.list(rtype, namespace):
                self._delete(rtype, obj)

    def _finish_namespace(self, namespace: str) -> None:
        """A terminating namespace goes away when its last object does (the namespace controller)."""
        namespaces = self.types.lookup("", "v1", "namespaces")
        assert namespaces is not None
        found = self.store.get(namespaces, None, namespace)
        if found and found["metadata"].get("deletionTimestamp") and not found["metadata"].get("finalizers"):
            if not self._namespace_has_content(namespace):
                self.store.remove(namespaces, found)

    def _serve_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        self.types.remove(spec["group"], spec["names"]["plural"])
        for rtype in crds.resource_types(crd):
            self.types.add(rtype)

    def _unserve_crd(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        served = [t for t in self.types.all() if t.group == spec["group"] and t.plural == spec["names"]["plural"]]
        if served:
            storage = self.types.storage_of(served[0])
            for obj in self.store.list(storage):
                self.store.remove(storage, obj)
        self.types.remove(spec["group"], spec["names"]["plural"])
