"""The table of user actions: every action round-trips through a script, a trace and the
fuzzer, and the simulator refuses what it cannot do before recording anything."""

import random

import pytest

from engines.core.actions import ACTIONS, Action, ActionError, checked
from engines.core.sim import Simulator
from engines.lab import fuzz
from engines.lab.script import parse
from engines.lab.trace import load_trace, save_trace


def elected() -> Simulator:
    sim = Simulator("raft", 5, 3)
    sim.run(1000)
    assert sim.leader() is not None
    return sim


def oldest_message(sim: Simulator) -> int:
    sim.run_until(lambda: bool(sim.in_flight()), time_limit=sim.now + 1000)
    return min(m.seq for m in sim.in_flight())


# One concrete example per action, for the cluster as it is when the example is taken.
EXAMPLES = {
    "propose": lambda sim: {"value": 'say "hi" \\ bye', "node": 2},
    "crash": lambda sim: {"node": 3},
    "restart": lambda sim: {"node": 3},
    "restart_all": lambda sim: {},
    "isolate": lambda sim: {"node": 4},
    "campaign": lambda sim: {"node": 5},
    "partition": lambda sim: {"groups": [[1, 2], [3, 4, 5]]},
    "heal": lambda sim: {},
    "cut": lambda sim: {"link": [1, 2], "oneway": True},
    "set_network": lambda sim: {
        "link": [2, 1],
        "oneway": True,
        "latency_min": 5,
        "latency_max": 300,
        "drop": 0.25,
        "dup": 0.5,
    },
    "hold": lambda sim: {"types": ["AppendEntries"], "src": 1, "dst": None},
    "release": lambda sim: {"types": ["AppendEntries"], "src": 1, "dst": None},
    "deliver": lambda sim: {"seq": oldest_message(sim)},
    "drop": lambda sim: {"seq": oldest_message(sim)},
    "duplicate": lambda sim: {"seq": oldest_message(sim)},
    "clients": lambda sim: {"count": 3, "keys": 2, "rate": 20},
    "client": lambda sim: {"client": 5, "f": "cas", "key": "x", "args": ["1", "2"], "node": 2},
    "drift": lambda sim: {"node": 4, "rate": 0.5},
    "wait": lambda sim: {"until": sim.now},
    "add": lambda sim: {"node": 6, "via": sim.leader()},
    "promote": lambda sim: {"nodes": [4], "via": sim.leader()},
    "remove": lambda sim: {"nodes": [5], "via": sim.leader()},
}


def test_every_action_in_the_table_has_an_example():
    assert set(EXAMPLES) == set(ACTIONS)


def test_every_action_round_trips_through_a_script_and_a_trace(tmp_path):
    sim = elected()
    taken = {}
    for kind, example in EXAMPLES.items():
        action = checked(Action(kind, example(sim)), sim.cluster)
        script = parse(f"algo raft\nnodes 5\n{action.script_line()}\n")
        (command,) = script.commands
        assert command.args == [action], action.script_line()
        taken[sim.act(action).step] = action
        sim.run(20)
    assert {step: sim.timeline[step] for step in taken} == taken
    replayed = load_trace(save_trace(sim, tmp_path / "every-action.json"))
    assert replayed.digest() == sim.digest()
    assert replayed.actions() == sim.actions()


def test_the_fuzzer_draws_every_weighted_action_and_the_simulator_accepts_its_draws():
    weighted = {kind for kind, spec in ACTIONS.items() if spec.fuzz_weight}
    assert weighted <= set(fuzz.OP_WEIGHTS)
    assert weighted >= {"cut", "set_network", "deliver", "drop", "duplicate", "hold"}
    drawn = set()
    for run in range(40):
        case = fuzz.generate("raft", 1, run, None, {})
        drawn |= {kind for kind, _ in case.ops}
    assert weighted <= drawn
    sim = elected()
    rng = random.Random(9)
    for kind in sorted(weighted):
        for k in range(10):
            plain = sim.resolve(Action(kind, ACTIONS[kind].draw(rng, sim.node_ids, k)))
            if plain is not None:
                checked(plain, sim.cluster)  # valid arguments: never an ActionError


@pytest.mark.parametrize(
    ("action", "problem"),
    [
        (Action("crash", {"node": 9}), "crash node: 9 is not a node"),
        (Action("explode"), "unknown action 'explode'"),
        (Action("propose", {"value": "x"}), "missing node"),
        (Action("partition", {"groups": [[1, 2], [2, 3]]}), "a node is in two groups"),
        (Action("cut", {"link": [1, 1]}), "two different nodes"),
        (Action("hold", {"types": ["Bogus"], "src": None, "dst": None}), "not a message type"),
        (Action("deliver", {"seq": 10**9}), "is not in flight"),
        (Action("release", {"types": [], "src": None, "dst": None}), "nothing is held"),
        (Action("set_network", {"latency_min": 500}), "latency range 500..20 is invalid"),
        (Action("wait", {"until": 0}), "cannot wait until 0 ms"),
    ],
)
def test_an_action_the_simulator_cannot_take_is_refused_before_recording(action, problem):
    sim = elected()
    before = (sim.step_count, sim.actions(), sim.digest())
    with pytest.raises(ActionError, match=problem):
        sim.act(action)
    assert (sim.step_count, sim.actions(), sim.digest()) == before


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"nodes": 1}, "node count 1 is out of range 3..9"),
        ({"nodes": 12}, "node count 12 is out of range"),
        ({"seed": -4}, "seed -4 must be a whole number"),
        ({"config": {"heartbeat": -5}}, "heartbeat=-5 is invalid"),
        ({"config": {"election_timeout_min": 400}}, "election_timeout range 400..300 is empty"),
        ({"config": {"bug": "ignore_promise"}}, "is a paxos bug, not a raft one"),
        ({"config": {"speed": 3}}, "unknown raft setting 'speed'"),
    ],
)
def test_the_simulator_refuses_a_cluster_it_cannot_run(arguments, problem):
    with pytest.raises(ValueError, match=problem):
        Simulator("raft", **({"nodes": 5} | arguments))
