"""Log compaction (the paper's section 7): snapshots, InstallSnapshot, restarts from a
snapshot, the checks through snapshots, and step back over compacted logs."""

from __future__ import annotations

import pytest
from test_raft import deliver, fake, leader, make, notes, only, run_checks, sends

from engines.core.chain import StateMachine
from engines.core.sim import Simulator
from engines.lab.bench import under_load
from engines.raft.config import Configuration
from engines.raft.invariants import RaftInvariants
from engines.raft.messages import AppendEntries, AppendReply, Entry, InstallSnapshot
from engines.raft.snapshot import Snapshot

EVERY = {"snapshot_every": 5}


def snapshot_of(values: int, index: int, term: int = 1) -> Snapshot:
    """A leader's snapshot at `index`, after `values` applied client values."""
    sm = StateMachine()
    for i in range(1, values + 1):
        sm.apply(f"p{i}", f"set k{i} v{i}", i)
    return Snapshot.take(sm, index, term, Configuration.of([1, 2, 3]))


def compacted(seed: int = 1, steps: int = 3000) -> Simulator:
    sim = Simulator("raft", 3, seed, EVERY)
    under_load(sim, steps)
    return sim


# --- taking snapshots --------------------------------------------------------------------------
def test_each_node_compacts_once_the_applied_part_passes_the_threshold():
    sim = compacted()
    assert sim.violation is None
    for node in sim.nodes.values():
        snap, log = node.persistent.snapshot, node.persistent.log
        assert snap is not None and log.base == snap.index
        assert node.commit_index - log.base < 5  # applied entries since the snapshot
        assert log[log.base].term == snap.term and len(log) - 1 == node.last_index
        with pytest.raises(IndexError):
            log[log.base - 1]  # the entries up through the snapshot are gone


def test_a_snapshot_holds_the_state_machine_the_chain_head_and_the_configuration():
    sim = Simulator("raft", 3, 1, EVERY)
    under_load(sim, 600)
    node = sim.nodes[1]
    snap = node.persistent.snapshot
    assert snap.config.voters == (1, 2, 3)
    assert snap.head_hash == node.sm.chain[snap.height].hash
    rebuilt = snap.state_machine()
    assert rebuilt.height == snap.height and rebuilt.head_hash == snap.head_hash
    assert dict(rebuilt.kv) == snap.kv


def test_a_snapshot_of_no_ops_only_holds_the_genesis_block():
    sim = Simulator("raft", 3, 1, {"snapshot_every": 1})
    sim.run(1000)  # the leader's no-op commits: a snapshot at index 1, chain height 0
    snaps = [n.persistent.snapshot for n in sim.nodes.values()]
    assert sim.violation is None and all(s is not None and s.height == 0 for s in snaps)


def test_compaction_is_off_by_default():
    sim = Simulator("raft", 3, 1)
    under_load(sim, 1500)
    assert all(n.persistent.snapshot is None and n.persistent.log.base == 0
               for n in sim.nodes.values())  # fmt: skip


# --- InstallSnapshot: the leader -----------------------------------------------------------------
def test_the_leader_sends_its_snapshot_when_the_next_entry_is_compacted():
    node = leader(term=2, log_terms=(1, 1, 1, 1))
    snap = snapshot_of(4, 4)
    node.persistent.snapshot = snap
    node.persistent.log.compact(4, 1)
    node.next_index[2] = 3
    node.send_append(2)
    assert only(node.take_effects(), InstallSnapshot) == InstallSnapshot(2, snap)


def test_a_snapshot_reply_moves_the_followers_progress():
    from engines.raft.messages import SnapshotReply

    node = leader(term=2, log_terms=(1, 1, 1, 1))
    effects = deliver(node, 2, SnapshotReply(2, 4))
    assert (node.match_index[2], node.next_index[2]) == (4, 5)
    assert only(effects, AppendEntries).prev_index == 4  # the rest follows: the no-op at 5


# --- InstallSnapshot: the follower -------------------------------------------------------------
def test_a_follower_keeps_the_entries_past_a_matching_snapshot_point():
    node = make(term=1, log_terms=(1, 1, 1, 1, 1, 1))
    effects = deliver(node, 2, InstallSnapshot(1, snapshot_of(4, 4)))
    log = node.persistent.log
    assert (log.base, len(log) - 1, node.commit_index) == (4, 6, 4)
    assert [e.value for e in log[5:]] == ["v5", "v6"]  # indexes 5 and 6 stay
    assert node.sm.height == 4 and node.sm.kv["k4"] == "v4"
    assert "keeps the 2 entries after it" in " ".join(notes(effects))


def test_a_follower_discards_its_log_when_the_snapshot_point_conflicts():
    node = make(term=2, log_terms=(1, 2, 2, 2))
    deliver(node, 2, InstallSnapshot(2, snapshot_of(3, 3, term=1)))
    log = node.persistent.log
    assert (log.base, len(log) - 1, log[3].term) == (3, 3, 1)


def test_a_snapshot_older_than_the_commit_index_is_ignored():
    node = make(term=1, log_terms=(1, 1, 1, 1, 1, 1))
    node.commit_to(6)
    effects = deliver(node, 2, InstallSnapshot(1, snapshot_of(4, 4)))
    assert node.persistent.snapshot is None and len(node.persistent.log) == 7
    assert node.sm.height == 6
    assert any("ignores n2's snapshot at index 4" in text for text in notes(effects, "reject"))
    assert sends(effects)[0][1].index == 4  # the reply names the snapshot it answers


def test_the_snapshot_truncates_bug_installs_a_stale_snapshot():
    node = make(term=1, log_terms=(1, 1, 1, 1, 1, 1), bug="snapshot_truncates")
    node.commit_to(6)
    deliver(node, 2, InstallSnapshot(1, snapshot_of(4, 4)))
    assert (node.persistent.log.base, len(node.persistent.log), node.commit_index) == (4, 5, 4)


def test_append_entries_reaching_back_into_the_snapshot_is_taken_past_it():
    node = make(term=1)
    deliver(node, 2, InstallSnapshot(1, snapshot_of(4, 4)))
    entries = tuple(Entry(1, f"v{i}", f"p{i}", i) for i in range(3, 7))  # indexes 3..6
    reply = only(deliver(node, 2, AppendEntries(1, 2, 1, entries, 4)), AppendReply)
    assert reply.success and reply.index == 6
    assert [e.value for e in node.persistent.log[5:]] == ["v5", "v6"]


# --- restarts ----------------------------------------------------------------------------------
def test_a_restarted_node_rebuilds_from_its_snapshot_plus_its_log():
    sim = compacted(steps=1500)
    snap = sim.nodes[2].persistent.snapshot
    sim.crash(2)
    sim.restart(2)
    node = sim.nodes[2]
    assert node.commit_index == snap.index and node.sm.head_hash == snap.head_hash
    under_load(sim, 1500)
    assert sim.violation is None
    heads = {n.sm.head_hash for n in sim.nodes.values()}
    assert node.sm.height >= snap.height and len(heads) <= 2  # caught up (within a commit)


def test_a_follower_far_behind_catches_up_by_snapshot():
    sim = Simulator("raft", 3, 2, EVERY)
    under_load(sim, 500)
    behind = next(i for i in sim.node_ids if i != sim.leader())
    sim.crash(behind)
    under_load(sim, 1500)
    sim.restart(behind)
    under_load(sim, 1500)
    sent = sum(n for (kind, _, dst), n in sim.messages_sent().items()
               if kind == "InstallSnapshot" and dst == behind)  # fmt: skip
    assert sim.violation is None and sent >= 1
    assert sim.nodes[behind].persistent.snapshot is not None


# --- the checks, through snapshots ---------------------------------------------------------------
def with_snapshot(node, snap: Snapshot):
    node.persistent.snapshot = snap
    node.persistent.log.compact(snap.index, snap.term)
    node.commit_index = snap.index
    node.sm = snap.state_machine()
    return node


A = [Entry(1, f"set k{i} v{i}", f"p{i}", i) for i in range(1, 5)]


def test_a_snapshot_point_no_log_held_breaks_log_matching():
    checker = RaftInvariants()
    assert run_checks(checker, fake(1, "follower", 1, A, commit=4)) is None
    node = with_snapshot(fake(2, "follower", 3, [Entry(3)] * 4), snapshot_of(4, 4, term=3))
    violation = run_checks(checker, node)
    assert violation.invariant == "Log Matching"
    assert "snapshot ends at index 4 term 3, an entry no log held" in violation.explanation


def test_a_snapshot_of_an_uncommitted_point_breaks_state_machine_safety():
    checker = RaftInvariants()
    assert run_checks(checker, fake(1, "follower", 1, A, commit=2)) is None
    node = with_snapshot(fake(2, "follower", 1, A), snapshot_of(4, 4))
    violation = run_checks(checker, node)
    assert violation.invariant == "State Machine Safety"
    assert "snapshot ends at index 4 term 1, not committed" in violation.explanation


def test_a_node_that_drops_committed_entries_breaks_committed_prefix():
    checker = RaftInvariants()
    node = fake(1, "follower", 1, A, commit=4)
    assert run_checks(checker, node) is None
    node.persistent.log.truncate(3)
    node.commit_index = 2
    violation = run_checks(checker, node)
    assert violation.invariant == "Committed Prefix"
    assert "n1 removed 'set k3 v3' (p3, term 1), committed at index 3" in violation.explanation


# --- step back ---------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2])
def test_step_back_over_compactions_is_exact(seed):
    sim = compacted(seed, steps=2500)
    digests = {}
    for _ in range(6):
        under_load(sim, 150)
        digests[sim.step_count] = sim.digest()
    for step in sorted(digests, reverse=True):
        sim.goto(step)
        assert sim.digest() == digests[step]
    sim.goto(max(digests))
    assert sim.digest() == digests[max(digests)]


def test_a_checkpoint_shares_the_snapshots_chain():
    """A snapshot holds its chain by reference: checkpoints stay the size of a few windows
    of log, however long the chain grows."""
    sim = compacted(steps=2000)
    early = len(sim.checkpoints[max(sim.checkpoints)].data)
    under_load(sim, 8000)
    late = len(sim.checkpoints[max(sim.checkpoints)].data)
    assert late < 2 * early


def test_a_trace_of_a_compacted_run_replays_exactly(tmp_path):
    from engines.lab.trace import load_trace, save_trace

    sim = compacted(steps=2000)
    replayed = load_trace(save_trace(sim, tmp_path / "compacted.json"))
    assert replayed.config["snapshot_every"] == 5
    assert replayed.step_count == sim.step_count and replayed.digest() == sim.digest()


def test_an_install_snapshot_of_an_older_term_is_refused_with_our_term():
    """Figure 13: "Reply immediately if term < currentTerm": the deposed leader learns the
    newer term from the reply and steps down (without it, it would resend forever)."""
    from engines.raft.messages import SnapshotReply

    node = make(term=5)
    effects = deliver(node, 2, InstallSnapshot(3, snapshot_of(4, 4)))
    assert only(effects, SnapshotReply) == SnapshotReply(5, 0)
    assert node.persistent.snapshot is None
    old = leader(term=3)
    deliver(old, 2, SnapshotReply(5, 0))
    assert old.role == "follower" and old.persistent.term == 5
