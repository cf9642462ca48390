"""The plugin's view of phases must not drift from the state machine it predicts.

The plugin refuses operations outside the phases in which ``rollouts.machine`` would act
on them; if the controller gains or renames a phase, this fails instead of the plugin
silently refusing (or sending) the wrong operations.
"""

from rollouts import machine, model
from routeshift.plugin import canaries


def test_stepping_phases_are_the_machines():
    assert canaries.STEPPING == {phase.value for phase in machine._STEPPING}


def test_every_phase_is_known_to_the_plugin():
    known = canaries.STEPPING | canaries.IDLE | {"Initializing", "Finalising", "RollingBack", "Terminating"}
    assert known == {phase.value for phase in model.Phase}


def test_default_plan_matches_the_models():
    raw = {"metadata": {"name": "web"}, "spec": {}}
    assert canaries.Canary(raw).plan() == [f"{w}%" for w in model.DEFAULT_STEPS[:-1]] + ["promote 100%"]
