"""The JSONPath subset of CRD printer columns and kubectl's age format, as the server renders them."""

import pytest

from routeshift.emulator import tables

OBJ = {"metadata": {"name": "c"},
       "status": {"weight": 20, "conditions": [{"type": "Ready", "status": "True"},
                                               {"type": "Promoted", "status": "False"}]},
       "spec": {"steps": [{"weight": 5}, {"weight": 10}], "odd.key": "x"}}


@pytest.mark.parametrize("path, expected", [
    (".status.weight", [20]),
    (".spec.steps[1].weight", [10]),
    (".spec.steps[*].weight", [5, 10]),
    (".status.conditions[?(@.type==\"Ready\")].status", ["True"]),
    (".status.conditions[?(@.type=='Promoted')].status", ["False"]),
    (".spec['odd.key']", ["x"]),
    (".status.missing", []),
    (".spec.steps[7].weight", []),
])
def test_jsonpath_subset(path, expected):
    assert tables.jsonpath(OBJ, path) == expected


@pytest.mark.parametrize("seconds, shown", [
    (5, "5s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
    (3 * 86400 + 3600, "3d1h"), (20 * 86400, "20d"), (800 * 86400, "2y70d"),
])
def test_human_duration_matches_kubectl(seconds, shown):
    assert tables.human_duration(seconds) == shown


def test_wants_reads_the_as_parameter_of_any_media_range():
    assert tables.wants("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "Table")
    assert not tables.wants("application/json", "Table")
