"""The emulator's fast CRD validator (fastjsonschema) never accepts what jsonschema rejects.

The fast one only decides whether jsonschema must be asked for the problems, so a body it
accepts is stored unchecked: a false "valid" would let an invalid object in. (The other way
round only costs time: fastjsonschema also checks ``format: date-time``, which jsonschema
leaves alone, and jsonschema then accepts the body.) Each case is a real Canary body (the
examples, and a status the controller's model writes) and every mutation of one leaf of it
to a value of another type or out of range.
"""

from __future__ import annotations

import copy
import datetime
import pathlib

import fastjsonschema
import pytest
import yaml

from rollouts import crd, model
from routeshift.emulator import crds

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPLACEMENTS = ("bogus", -1, 10**12, 2.5, True, None, [], {}, [1], {"x": 1}, "")


def schema_of(definition: dict) -> dict:
    return definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def example_bodies(kind: str) -> list[dict]:
    found = []
    for path in sorted(ROOT.glob("examples/*/*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == kind:
                found.append({key: value for key, value in doc.items() if key not in ("apiVersion", "kind", "metadata")})
    return found


def with_status(body: dict) -> dict:
    status = model.CanaryStatus(
        phase=model.Phase.PROGRESSING, release="v2", step=1, observed_generation=3, message="holding",
        conditions=[model.Condition(type="Ready", status=model.ConditionStatus.TRUE, reason="Valid")],
        weights=model.Weights(stable=90, canary=10),
        decisions=[model.DecisionRecord(time=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc),
                                        phase=model.Phase.PROGRESSING, step=1, weight=10, reason="dwelling")])
    dumped = model.dump_status(status)
    return {**body, "status": {key: value for key, value in dumped.items() if value is not None}}


def leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    if path:
        yield path


def replaced(body: dict, path: tuple, value) -> dict:
    mutated = copy.deepcopy(body)
    target = mutated
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return mutated


def verdicts(schema: dict, body: dict) -> tuple[bool, bool]:
    validator, fast = crds._validator(schema)
    try:
        fast(body)
        fast_ok = True
    except fastjsonschema.JsonSchemaException:
        fast_ok = False
    return fast_ok, not list(validator.iter_errors(body))


CASES = [(crd.canary_crd(), body) for body in example_bodies("Canary")]
CASES += [(crd.canary_crd(), with_status(body)) for body in example_bodies("Canary")[:2]]


@pytest.mark.parametrize("definition, body", CASES)
def test_the_fast_validator_accepts_no_mutation_jsonschema_rejects(definition, body):
    schema = schema_of(definition)
    assert verdicts(schema, body) == (True, True)
    disagreements = []
    rejected = 0
    for path in leaves(body):
        for value in REPLACEMENTS:
            fast_ok, slow_ok = verdicts(schema, replaced(body, path, value))
            rejected += not slow_ok
            if fast_ok and not slow_ok:
                disagreements.append((path, value))
    assert disagreements == []
    assert rejected > 0, "the mutations must include invalid bodies, or this test shows nothing"
