"""kopf's watch streams are decoded by orjson, with the stdlib for what orjson refuses."""

from __future__ import annotations

import importlib
import json
import math

import pytest

from rollouts import operator

CANARY_LINE = json.dumps({"type": "MODIFIED", "object": {
    "apiVersion": "routeshift.dev/v1alpha1", "kind": "Canary",
    "metadata": {"name": "web", "namespace": "default", "resourceVersion": "42", "generation": 3},
    "spec": {"routeRef": {"name": "web"}, "analysis": {"interval": "5s", "threshold": 2.5}},
    "status": {"phase": "Progressing", "message": "weight 10% — dwelling", "weights": {"canary": 10},
               "decisions": [{"at": "2026-12-07T14:00:00Z", "what": "step", "ok": True, "why": None}]},
}}, ensure_ascii=False)


def kopf_api():
    return importlib.import_module("kopf._cogs.clients.api")


def test_the_installed_kopf_decodes_its_watch_lines_with_orjson():
    operator.build_registry()
    assert operator.decode_watches_with_orjson(), "kopf no longer decodes watch lines with the stdlib json module"
    assert isinstance(kopf_api().json, operator._WatchJson)


def test_a_watch_line_decodes_to_the_same_objects_as_with_the_stdlib():
    operator.build_registry()
    assert kopf_api().json.loads(CANARY_LINE) == json.loads(CANARY_LINE)
    assert kopf_api().json.loads(CANARY_LINE.encode()) == json.loads(CANARY_LINE)


def test_what_orjson_refuses_is_decoded_or_refused_by_the_stdlib():
    operator.build_registry()
    assert math.isnan(kopf_api().json.loads('{"object": {"spec": {"ratio": NaN}}}')["object"]["spec"]["ratio"])
    with pytest.raises(json.JSONDecodeError, match="Expecting"):
        kopf_api().json.loads('{"object": ')


def test_64_bit_integers_keep_their_value():
    operator.build_registry()
    line = '{"object": {"metadata": {"generation": 9223372036854775807}, "spec": {"min": -9223372036854775808}}}'
    assert kopf_api().json.loads(line) == json.loads(line)


def test_other_uses_of_kopfs_json_still_reach_the_stdlib():
    operator.build_registry()
    assert kopf_api().json.dumps({"a": 1}) == json.dumps({"a": 1})
    assert kopf_api().json.JSONDecodeError is json.JSONDecodeError
