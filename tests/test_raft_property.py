"""Property test: random proposals and faults on 3 to 7 nodes, with or without log
compaction, never break a Raft invariant (checked after every step), and once the faults
stop, the network heals and every node is up again, every node commits a final value within a
bounded simulated time."""

from __future__ import annotations

from fault_ops import op, run_faults_then_stop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    ops = draw(st.lists(op(n, 3), min_size=10, max_size=40))
    return n, draw(st.integers(1, 10**6)), config, ops


def everyone_applied(sim: Simulator, value: str) -> bool:
    return all(any(b.data == value for b in sim.nodes[i].sm.chain[-8:]) for i in sim.node_ids)


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
    assert len({sim.nodes[i].sm.head_hash for i in sim.node_ids}) == 1
