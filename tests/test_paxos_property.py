"""Property test: random proposals and faults never break a Paxos invariant, and once the
faults stop every pending proposal is chosen exactly once within a bounded simulated time."""

from __future__ import annotations

from fault_ops import op, run_faults_then_stop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines.core.sim import Simulator

SETTLE_MS = 10_000  # the bound: simulated time for every pending value after the heal


@st.composite
def runs(draw) -> tuple[int, int, list[tuple]]:
    n = draw(st.integers(3, 7))
    return n, draw(st.integers(1, 10**6)), draw(st.lists(op(n, 2), min_size=10, max_size=40))


def everywhere(sim: Simulator, ids: set[str]) -> bool:
    chains = {tuple(node.sm.applied_ids) for node in sim.nodes.values()}
    return len(chains) == 1 and ids <= set(next(iter(chains)))


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(runs())
def test_random_faults_are_safe_and_pending_values_are_chosen_once(run):
    n, seed, ops = run
    sim = Simulator("paxos", n, seed, keep_events=False)
    run_faults_then_stop(sim, ops)
    pending = {pid for node in sim.nodes.values() for pid in node.pending}
    sim.run_until(lambda: everywhere(sim, pending), time_limit=sim.now + SETTLE_MS)
    assert sim.violation is None, str(sim.violation)
    assert everywhere(sim, pending), f"pending {sorted(pending)} not chosen everywhere"
    applied = next(iter(sim.nodes.values())).sm.applied_ids
    assert len(applied) == len(set(applied))  # each value applied exactly once
    assert all(not node.pending for node in sim.nodes.values())
