"""Property test: random proposals, faults and membership changes on 3 to 7 nodes, with or
without log compaction, never break a Raft invariant (checked after every step), and once the
faults stop, the network heals and every node is up again, every member commits a final value
within a bounded simulated time."""

from __future__ import annotations

import fault_ops
from fault_ops import op
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.core.actions import MEMBERSHIP
from engines.core.sim import Simulator

SETTLE_MS = 10_000  # the bound: simulated time for the final value to reach every node
RETRY_MS = 1_000  # a proposal to a leader that lost its post is asked again after this


@st.composite
def runs(draw) -> tuple:
    n = draw(st.integers(3, 7))
    config = {"prevote": draw(st.booleans()), "checkquorum": draw(st.booleans())}
    every = draw(st.sampled_from([None, 2, 5, 20]))  # log compaction, or none
    if every is not None:
        config["snapshot_every"] = every
    config["membership"] = draw(st.sampled_from(["single", "joint"]))
    ops = draw(st.lists(st.one_of(op(n, 3), membership_op()), min_size=10, max_size=40))
    return n, draw(st.integers(1, 10**6)), config, ops


def membership_op():
    """Add the next node, or promote or remove one (by position among the nodes there are)."""
    pick = st.integers(0, 8)
    return st.one_of(st.just(("add",)), st.tuples(st.sampled_from(["promote", "remove"]), pick))


def apply(sim: Simulator, fault: tuple, count: int) -> None:
    """A membership change goes to the leader (none: nothing happens); faults as usual."""
    kind, *args = fault
    if kind not in MEMBERSHIP:
        fault_ops.apply(sim, fault, count)
        return
    leader, ids = sim.leader(), sim.node_ids
    if leader is None or (kind == "add" and len(ids) == 9):
        return
    if kind == "add":
        sim.add(len(ids) + 1, leader)
    else:
        getattr(sim, kind)([ids[args[0] % len(ids)]], leader)


def run_faults_then_stop(sim: Simulator, ops: list[tuple]) -> None:
    for count, fault in enumerate(ops):
        apply(sim, fault, count)
        assert sim.violation is None, str(sim.violation)
    fault_ops.run_faults_then_stop(sim, [])


def everyone_applied(sim: Simulator, value: str) -> bool:
    """Every member of the leader's configuration applied it (a removed node never will)."""
    return all(any(b.data == value for b in sim.nodes[i].sm.chain[-8:]) for i in sim.members())


def commit_everywhere(sim: Simulator, value: str) -> bool:
    """Propose `value` to the leader, again if it is lost, until every node applied it."""
    deadline = sim.now + SETTLE_MS
    while sim.now < deadline and sim.violation is None:
        sim.run_until(lambda: sim.leader() is not None, time_limit=deadline)
        if sim.leader() is None:
            return False
        sim.propose(value, sim.leader())
        done = lambda: everyone_applied(sim, value) or sim.violation is not None  # noqa: E731
        sim.run_until(done, time_limit=min(deadline, sim.now + RETRY_MS))
        if everyone_applied(sim, value):
            return True
    return False


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(runs())
def test_random_faults_are_safe_and_the_cluster_recovers(run):
    n, seed, config, ops = run
    sim = Simulator("raft", n, seed, config, keep_events=False)
    run_faults_then_stop(sim, ops)
    assert commit_everywhere(sim, "final value"), "the final value did not reach every node"
    sim.run(1000)  # let stragglers (forwards still in flight) settle
    assert sim.violation is None, str(sim.violation)
    assert len({sim.nodes[i].sm.head_hash for i in sim.members()}) == 1
