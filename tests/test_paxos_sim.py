"""Multi-Paxos on the simulator: elections, steady state, scenarios, checkers and bug switches."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from engines.core.node import Proposal
from engines.core.shared import SharedList
from engines.core.sim import Simulator, StepEvent
from engines.lab.bench import under_load
from engines.lab.fuzz import fuzz
from engines.lab.script import PRESETS, run_file
from engines.paxos.invariants import PaxosInvariants
from engines.paxos.node import BUGS, CATCHUP_BATCH

SCENARIOS = sorted((PRESETS / "paxos").glob("*.scn"))
P1 = Proposal("p1", "set x 1", 0, 1)
P2 = Proposal("p2", "set x 2", 0, 2)


def heights(sim: Simulator) -> dict[int, int]:
    return {i: n.sm.height for i, n in sim.nodes.items()}


@pytest.mark.parametrize("n", [3, 5, 7])
def test_a_fresh_cluster_elects_a_leader_without_any_proposal(n):
    sim = Simulator("paxos", n, seed=n)
    sim.run_until(lambda: sim.leader() is not None, time_limit=1000)
    leader = sim.nodes[sim.leader()]
    assert leader.phase == "phase2"
    sim.run(500)
    assert sim.leader() == leader.id  # heartbeats keep it
    assert all(node.leader == leader.id for node in sim.nodes.values())
    assert sim.violation is None


def test_a_stable_leaders_steady_state_uses_phase2_only():
    sim = Simulator("paxos", 5, seed=1)
    sim.run_until(lambda: sim.leader() is not None, time_limit=1000)
    sim.run(300)
    leader = sim.leader()
    start = len(sim.events)
    values = 20
    for i in range(values):
        sim.propose(f"set k {i}", leader)
        sim.run_until(lambda i=i: set(heights(sim).values()) == {i + 1}, time_limit=sim.now + 500)
    sent = Counter(e.msg.type_name for e in sim.events[start:] if e.msg and not e.msg.heartbeat)
    assert sim.leader() == leader and sim.violation is None
    assert not {"Prepare", "Promise", "Nack"} & set(sent)
    peers = 4
    assert sent["Accept"] == sent["Accepted"] == peers * values  # one round trip per value
    # Chosen goes to each peer once per value; now and then a heartbeat overtakes it and
    # the peer asks for the slot (CatchUp), which costs one more Chosen.
    assert sent["Chosen"] - peers * values == sent["CatchUp"] <= values // 4


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_passes(path):
    result = run_file(path)
    assert result.ok, [f"{o.line}: {o.text} ({o.observed})" for o in result.failures] + [
        str(result.error or result.sim.violation)
    ]


def test_every_canonical_scenario_ships():
    names = {p.stem for p in SCENARIOS}
    assert {
        "single_proposer",
        "minority_crashed",
        "majority_crashed",
        "dueling_proposers",
        "leader_crash_recovery",
        "holes",
        "partition",
        "lossy_network",
    } <= names


def chosen_notes(sim: Simulator) -> list[str]:
    return [n.text for e in sim.events for n in e.notes if n.kind == "chosen"]


def test_holes_scenario_chooses_slot_2_before_slot_1():
    result = run_file(Path(SCENARIOS[0]).parent / "holes.scn")
    assert [t.split(" chosen")[0] for t in chosen_notes(result.sim)] == ["slot 2", "slot 1"]


def test_dueling_scenario_shows_a_preemption():
    result = run_file(Path(SCENARIOS[0]).parent / "dueling_proposers.scn")
    assert any("preempted" in n.text for e in result.sim.events for n in e.notes)


def test_a_restarted_node_rebuilds_its_chain_from_the_leader():
    sim = Simulator("paxos", 5, seed=2)
    sim.run_until(lambda: sim.leader() is not None, time_limit=1000)
    follower = next(i for i in sim.node_ids if i != sim.leader())
    for i in range(5):
        sim.propose(f"set k{i} {i}", sim.leader())
    sim.run(500)
    before = sim.nodes[follower].sm.chain
    sim.crash(follower)
    sim.restart(follower)
    assert sim.nodes[follower].sm.height == 0
    sim.run(500)
    assert sim.nodes[follower].sm.chain == before
    assert sim.violation is None


def test_a_restarted_node_far_behind_catches_up_in_batches():
    """150 chosen slots: CatchUp answers of CATCHUP_BATCH, CATCHUP_BATCH, then the rest."""
    sim = Simulator("paxos", 3, seed=1)
    sim.run_until(lambda: sim.leader() is not None, time_limit=5_000)
    leader = sim.leader()
    behind = next(i for i in sim.node_ids if i != leader)
    sim.crash(behind)
    for i in range(150):
        sim.propose(f"data {i}", leader)
    sim.run(2_000)
    sim.restart(behind)
    sim.run(2_000)
    assert sim.height(behind) == 150 > 2 * CATCHUP_BATCH
    assert sim.nodes[leader].batch_limited == 2


def test_same_seed_same_run_and_step_back_is_exact():
    def scripted() -> Simulator:
        sim = Simulator("paxos", 5, seed=9)
        sim.set_network(drop=0.1, dup=0.1)
        sim.run(400)
        sim.propose("set a 1", 2)
        sim.crash(3)
        sim.run(300)
        sim.restart(3)
        sim.run(600)
        return sim

    one, two = scripted(), scripted()
    assert one.digest() == two.digest() and one.step_count == two.step_count
    end, digest = one.step_count, one.digest()
    one.goto(end // 3)
    middle = one.digest()
    one.goto(end)
    assert one.digest() == digest
    two.goto(end // 3)
    assert two.digest() == middle


def test_checkpoints_share_the_history_instead_of_copying_it():
    sim = Simulator("paxos", 5, seed=1)
    under_load(sim, 3000)
    early = len(sim.checkpoints[max(sim.checkpoints)].data)
    under_load(sim, 6000)
    assert sim.nodes[1].applied > 500
    assert len(sim.checkpoints[max(sim.checkpoints)].data) < early * 1.2
    end, digest = sim.step_count, sim.digest()
    sim.goto(end - 700)  # across checkpoints: copy-on-write kept each one exact
    middle = sim.digest()
    sim.goto(end)
    assert sim.digest() == digest and sim.violation is None
    sim.goto(end - 700)
    assert sim.digest() == middle


# --- checkers, fed by hand ------------------------------------------------------------------
class Bench:
    """A 3-node simulator whose nodes are edited by hand, and its checker."""

    def __init__(self) -> None:
        self.sim = Simulator("paxos", 3, seed=1, check=False)
        self.checker = PaxosInvariants(3)
        self.checker.proposals = SharedList([None, P1, P2])  # at their numbers
        self.step = 0

    def node(self, node_id: int):
        return self.sim.nodes[node_id]

    def facts(self, node_id: int, *facts: tuple):
        self.node(node_id).facts = list(facts)
        return self.check(node_id)

    def check(self, node_id: int):
        self.step += 1
        return self.checker.check(self.sim, StepEvent(self.step, 0, "deliver", node=node_id))


def accept(node, slot, ballot, value):
    node.persistent.promised = max(node.persistent.promised, ballot)
    return ("accept", slot, ballot, value)


def test_checker_accepts_a_normal_history():
    b = Bench()
    assert b.facts(1, ("propose", 1, (1, 1), P1), accept(b.node(1), 1, (1, 1), P1)) is None
    assert b.facts(2, accept(b.node(2), 1, (1, 1), P1)) is None
    assert b.checker.chosen == {1: ((1, 1), P1)}
    b.node(2)._learn(1, P1)
    assert b.check(2) is None


def test_checker_one_value_proposed_per_ballot():
    b = Bench()
    assert b.facts(1, ("propose", 4, (2, 1), P1)) is None
    found = b.facts(1, ("propose", 4, (2, 1), P2))
    assert found.invariant == "one value proposed per ballot"
    assert "slot 4" in found.explanation and "2.1" in found.explanation


def test_checker_one_value_accepted_per_ballot():
    b = Bench()
    assert b.facts(2, accept(b.node(2), 1, (1, 1), P1)) is None
    found = b.facts(2, accept(b.node(2), 1, (1, 1), P2))
    assert found.invariant == "one value accepted per ballot"
    assert "n2" in found.explanation and "1.1" in found.explanation


def test_checker_promise_covers_accepted():
    b = Bench()
    found = b.facts(3, ("accept", 1, (5, 1), P1))
    assert found.invariant == "promise covers accepted"
    assert "5.1" in found.explanation


def test_checker_one_value_chosen_per_slot():
    b = Bench()
    b.facts(1, accept(b.node(1), 1, (1, 1), P1))
    assert b.facts(2, accept(b.node(2), 1, (1, 1), P1)) is None
    b.facts(2, accept(b.node(2), 1, (2, 3), P2))
    found = b.facts(3, accept(b.node(3), 1, (2, 3), P2))
    assert found.invariant == "one value chosen per slot"
    assert "slot 1" in found.explanation and "1.1" in found.explanation
    assert "2.3" in found.explanation and f"step {b.step}" in str(found)


def test_checker_chosen_values_were_proposed():
    b = Bench()
    forged = Proposal("p1", "set x 666", 0, 1)
    b.facts(1, accept(b.node(1), 1, (1, 1), forged))
    found = b.facts(2, accept(b.node(2), 1, (1, 1), forged))
    assert found.invariant == "chosen values were proposed"


def test_checker_promise_never_decreases():
    b = Bench()
    b.node(1).persistent.promised = (3, 2)
    assert b.check(1) is None
    b.node(1).persistent.promised = (2, 2)
    found = b.check(1)
    assert found.invariant == "promise never decreases"
    assert "3.2" in found.explanation and "2.2" in found.explanation


def test_checker_learned_values_were_chosen():
    b = Bench()
    b.node(1)._learn(1, P1)
    found = b.check(1)
    assert found.invariant == "learned values were chosen"
    assert "slot 1" in found.explanation


def test_checker_chains_are_prefixes_and_values_apply_once():
    b = Bench()
    b.node(1).sm.apply("p1", "set x 1", 0)
    assert b.check(1) is None
    b.node(2).sm.apply("p2", "set x 2", 0)
    assert b.check(2).invariant == "chains are prefixes"
    b = Bench()
    b.node(1).sm.apply("p1", "set x 1", 0)
    b.node(1).sm.apply("p1", "set x 1", 0)
    found = b.check(1)
    assert found.invariant == "chains are prefixes" and "twice" in found.explanation


def test_checker_forgets_a_crashed_nodes_chain_but_not_its_promise():
    sim = Simulator("paxos", 3, seed=3)
    sim.run(500)
    sim.propose("set a 1", sim.leader())
    sim.run(300)
    follower = next(i for i in sim.node_ids if i != sim.leader())
    sim.crash(follower)
    sim.restart(follower)
    sim.run(300)
    assert sim.violation is None and sim.nodes[follower].sm.height == 1


# --- bug switches ---------------------------------------------------------------------------
def test_forget_promise_is_caught_at_the_restart():
    sim = Simulator("paxos", 3, seed=1, config={"bug": "forget_promise"})
    sim.run(500)
    sim.crash(1)
    sim.restart(1)
    assert sim.violation.invariant == "promise never decreases"
    assert sim.violation.step == sim.step_count


def test_ignore_accepted_loses_a_chosen_value():
    sim = Simulator("paxos", 5, seed=1, config={"bug": "ignore_accepted"})
    sim.campaign(1)
    sim.run(300)
    sim.isolate(2)
    sim.propose("set x 1", 1)  # chosen by n1, n3, n4, n5; n2 never hears of it
    sim.propose("set x 2", 2)  # n2 starts phase 1 alone
    sim.run(300)
    sim.heal()  # n2's retried Prepare wins, and it ignores slot 1's accepted value
    sim.run(1000)
    assert sim.violation.invariant == "chosen values never change"


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_fuzzer_catches_each_bug(bug):
    failures = (o.failure for o in fuzz("paxos", 100, 1, config={"bug": bug}) if o.failure)
    failure = next(failures, None)
    assert failure not in (None, "liveness"), f"{bug} not caught as a safety violation"
