"""Snapshot tests of the space-time diagram (d): a Raft election, a Paxos duel, a partition
followed by a heal, and nine nodes in a small terminal. Deterministic like test_snapshots: a
fixed seed, the engine driven directly, no autoplay. Refresh with
`uv run pytest tests/test_diagram_snapshots.py --snapshot-update` after looking at the report."""

from __future__ import annotations

from test_snapshots import SIZE, app_for, engine


def raft_election(sim) -> None:
    sim.run_until(lambda: sim.leader() is not None, max_steps=5000)
    sim.run(15)


def paxos_duel(sim) -> None:
    sim.run(1000)
    sim.propose("set x 1", sim.leader())
    sim.run(100)
    sim.campaign(3)
    sim.campaign(4)  # two proposers at once: P1a from both, NACKs, one preempted
    sim.run(60)


def partition_then_heal(sim) -> None:
    sim.run_until(lambda: sim.leader() is not None, max_steps=5000)
    sim.run(100)
    leader = sim.leader()
    others = [n for n in sim.node_ids if n != leader]
    sim.partition([[leader, others[0]], others[1:]])  # the leader in the minority
    sim.propose("set lost 1", leader)
    sim.run(300)
    sim.heal()
    sim.run(60)


def test_diagram_raft_election(snap_compare):
    assert snap_compare(
        app_for(), terminal_size=SIZE, run_before=engine(raft_election), press=["d"]
    )


def test_diagram_paxos_duel(snap_compare):
    app = app_for("paxos")
    assert snap_compare(app, terminal_size=SIZE, run_before=engine(paxos_duel), press=["d"])


def test_diagram_partition_then_heal(snap_compare):
    """Heartbeats hidden (f once) and a taller terminal, so the whole story fits: the cut, the
    drops, a new leader in the majority, the heal, and the old leader stepping down."""
    assert snap_compare(
        app_for(), terminal_size=(120, 52), run_before=engine(partition_then_heal), press=["d", "f"]
    )


def test_diagram_nine_nodes_small_terminal(snap_compare):
    assert snap_compare(
        app_for("raft", 9), terminal_size=(80, 24), run_before=engine(raft_election), press=["d"]
    )
