"""Every protocol decision carries its reason: one test per sentence, each note produced by a
real engine step (a handler driven by hand, or a simulator run), checked for its kind, its
fields and its sentence."""

from __future__ import annotations

import random

from test_raft import make as raft  # a booted Raft node with a log of given terms

from engines.core.node import Note, Proposal
from engines.core.sim import Simulator
from engines.paxos.messages import Accepted, Nack, Prepare, Promise
from engines.paxos.node import PaxosNode, default_config
from engines.raft.messages import (
    AppendEntries,
    AppendReply,
    Entry,
    PreVote,
    RequestVote,
    VoteReply,
)
from engines.raft.node import RaftNode


# --- helpers ------------------------------------------------------------------------------------
def raft_leader(n: int = 3, term: int = 1, log_terms=()) -> RaftNode:
    node = raft(1, n, term, log_terms)
    node.persistent.voted_for = 1
    node.become_leader(0)
    node.take_effects()
    return node


def paxos(node_id: int = 1, n: int = 5) -> PaxosNode:
    node = PaxosNode(node_id, list(range(1, n + 1)), default_config, random.Random(node_id))
    node.start(0)
    node.take_effects()
    return node


def step(node, src: int, msg, now: int = 10) -> list[Note]:
    node.on_message(now, src, msg)
    return [e for e in node.take_effects() if type(e) is Note]


def the(notes: list[Note], kind: str) -> Note:
    (note,) = [n for n in notes if n.kind == kind]
    return note


# --- Raft: votes --------------------------------------------------------------------------------
def test_a_vote_granted_says_why():
    node = raft(2, term=1, log_terms=(1,))
    note = the(step(node, 1, RequestVote(2, 1, 1)), "vote_granted")
    assert (note.node, note.tone, note.fields) == (2, "info", {"candidate": 1, "term": 2})
    assert note.text == (
        "n2 votes for n1 in term 2: its first vote this term, and the candidate's log is at "
        "least as up to date (§5.2, §5.4.1)"
    )


def test_a_vote_refused_because_the_node_already_voted():
    node = raft(2, term=1)
    step(node, 3, RequestVote(2, 0, 0))
    note = the(step(node, 1, RequestVote(2, 0, 0)), "vote_refused")
    assert note.fields == {"candidate": 1, "term": 2, "reason": "voted", "voted_for": 3}
    assert note.tone == "reject"
    assert note.text == (
        "n2 refuses its vote to n1 in term 2: it already voted for n3 in term 2 "
        "(one vote per term, §5.2)"
    )
    candidate = raft(3, term=1)
    candidate.on_timer(200, "election")
    candidate.take_effects()
    note = the(step(candidate, 1, RequestVote(2, 0, 0)), "vote_refused")
    assert note.text.endswith("it already voted for itself in term 2 (one vote per term, §5.2)")


def test_a_vote_refused_because_the_candidates_log_is_behind():
    node = raft(3, n=5, term=2, log_terms=(1, 1, 2, 2))
    note = the(step(node, 1, RequestVote(3, 3, 1)), "vote_refused")
    assert note.fields == {
        "candidate": 1,
        "term": 3,
        "reason": "log_behind",
        "their_last": (1, 3),
        "our_last": (2, 4),
    }
    assert note.text == (
        "n3 refuses its vote to n1 in term 3: the candidate's log (last term 1, index 3) is "
        "less up to date than its own (last term 2, index 4) (§5.4.1)"
    )


def test_a_vote_refused_for_a_stale_term():
    node = raft(2, term=3)
    note = the(step(node, 1, RequestVote(2, 0, 0)), "vote_refused")
    assert note.fields == {"candidate": 1, "term": 2, "reason": "stale_term", "our_term": 3}
    assert (
        note.text == "n2 refuses its vote to n1 in term 2: term 2 is stale, it is in term 3 (§5.1)"
    )


def test_a_vote_refused_under_a_live_leaders_lease():
    node = raft(1, term=2, checkquorum=True)
    step(node, 3, AppendEntries(2, 0, 0, (), 0), now=100)
    note = the(step(node, 2, RequestVote(3, 5, 2), now=120), "vote_refused")
    assert note.fields == {"candidate": 2, "term": 3, "reason": "lease", "leader": 3}
    assert note.text == (
        "n1 refuses its vote to n2 in term 3: it heard from leader n3 less than an election "
        "timeout ago, and a live leader's lease stands (PreVote/CheckQuorum, dissertation 4.2.3)"
    )


def test_a_vote_refused_by_a_leader_holding_a_read_lease():
    node = raft(1, term=2, read="lease")
    node.become_leader(0)
    node.take_effects()
    note = the(step(node, 2, RequestVote(3, 5, 2)), "vote_refused")
    assert note.fields == {"candidate": 2, "term": 3, "reason": "lease", "leader": 1}
    assert note.text.endswith("it leads, and its lease stands (dissertation 4.2.3, 6.4.1)")


def test_a_prevote_refused_under_a_live_leaders_lease():
    node = raft(1, term=2, prevote=True)
    step(node, 3, AppendEntries(2, 0, 0, (), 0), now=100)
    note = the(step(node, 2, PreVote(3, 0, 0), now=120), "prevote_refused")
    assert note.fields == {"candidate": 2, "term": 3, "reason": "lease", "leader": 3}
    assert note.text.startswith("n1 refuses n2 a pre-vote for term 3: it heard from leader n3")


# --- Raft: replication --------------------------------------------------------------------------
def test_append_rejected_with_no_entry_at_prev_index():
    node = raft(2, term=1, log_terms=(1,))
    note = the(step(node, 1, AppendEntries(1, 3, 1, (), 0)), "append_rejected")
    assert note.fields == {"leader": 1, "reason": "missing", "prev_index": 3, "last_index": 1}
    assert note.text == (
        "n2 rejects n1's AppendEntries: it has no entry at prevLogIndex 3 (its log ends at 1), "
        "so the logs may differ before it (§5.3)"
    )


def test_append_rejected_when_the_term_at_prev_index_differs():
    node = raft(2, term=2, log_terms=(1, 1))
    note = the(step(node, 1, AppendEntries(2, 2, 2, (), 0)), "append_rejected")
    assert note.fields == {
        "leader": 1,
        "reason": "term_mismatch",
        "prev_index": 2,
        "prev_term": 2,
        "our_term": 1,
    }
    assert note.text == (
        "n2 rejects n1's AppendEntries: the entry at prevLogIndex 2 is of term 1, not 2 (§5.3)"
    )


def test_entries_deleted_name_the_conflict():
    node = raft(4, n=5, term=2, log_terms=(1, 1, 1, 1))
    note = the(step(node, 1, AppendEntries(2, 2, 1, (Entry(2),), 0)), "entries_deleted")
    assert note.fields == {"first": 3, "last": 4, "terms": [1], "leader_term": 2}
    assert note.text == (
        "n4 deleted entries 3-4 (term 1), which conflict with the leader's entry 3 of term 2 (§5.3)"
    )
    assert [e.term for e in node.persistent.log] == [0, 1, 1, 2]


def test_commit_advanced():
    node = raft_leader(term=2, log_terms=(1,))  # its no-op of term 2 is index 2
    note = the(step(node, 2, AppendReply(2, True, 2)), "commit")
    assert (note.tone, note.fields) == ("commit", {"index": 2, "term": 2})
    assert note.text == (
        "n1 commits up to index 2 in term 2: it is on a majority and of the current term "
        "(§5.3, §5.4.2)"
    )


def test_commit_held_back_by_the_figure_8_rule_once():
    node = raft_leader(n=5, term=4, log_terms=(1, 1, 2))  # its no-op of term 4 is index 4
    step(node, 2, AppendReply(4, True, 3))
    note = the(step(node, 3, AppendReply(4, True, 3)), "commit_held")
    assert note.fields == {"index": 3, "entry_term": 2, "term": 4}
    assert note.text == (
        "n1 holds back index 3: it is on a majority but is from term 2 < current term 4: not "
        "committed until an entry of term 4 is (§5.4.2, Figure 8)"
    )
    assert node.commit_index == 0
    assert step(node, 4, AppendReply(4, True, 3)) == []  # said once for that index
    step(node, 2, AppendReply(4, True, 4))
    assert the(step(node, 3, AppendReply(4, True, 4)), "commit").fields["index"] == 4


def test_stepping_down_on_a_higher_term_names_the_sender():
    node = raft_leader(term=2)
    note = the(step(node, 3, AppendEntries(3, 0, 0, (), 0)), "role")
    assert note.fields == {
        "role": "follower",
        "term": 3,
        "why": "higher_term",
        "src": 3,
        "msg": "AppendEntries",
        "old_term": 2,
    }
    assert note.text == (
        "n1 became FOLLOWER in term 3: n3's AppendEntries carries term 3 > its term 2, and a "
        "higher term makes any node a follower (§5.1)"
    )


def test_an_election_won_lists_the_votes():
    node = raft(1, n=5, term=1)
    node.on_timer(200, "election")
    node.take_effects()
    step(node, 2, VoteReply(2, True))
    notes = step(node, 4, VoteReply(2, True))
    note = the(notes, "role")
    assert note.fields == {
        "role": "leader",
        "term": 2,
        "why": "elected",
        "votes": [1, 2, 4],
        "cluster": 5,
        "majority": 3,
    }
    assert note.text == (
        "n1 became LEADER in term 2 with votes from n1, n2, n4 (3 of 5, a majority is 3, §5.2)"
    )


def test_the_figure_8_preset_refuses_votes_and_deletes_the_old_tail():
    """Through the simulator: in the paper's Figure 8 run, n2 refuses n5 for its log, and
    n2's x=2 of term 2 is replaced by n5's y=3 of term 3."""
    from engines.lab.script import PRESETS, run_file

    sim: Simulator = run_file(PRESETS / "raft" / "figure8_exact.scn").sim
    notes = [n for e in sim.events for n in e.notes]
    refused = [n for n in notes if n.kind == "vote_refused" and n.fields["reason"] == "log_behind"]
    assert any(n.node == 2 and n.fields["candidate"] == 5 for n in refused)
    deleted = [n for n in notes if n.kind == "entries_deleted" and n.node == 2]
    assert deleted[0].text == (
        "n2 deleted entry 2 (term 2), which conflicts with the leader's entry 2 of term 3 (§5.3)"
    )


# --- Paxos ------------------------------------------------------------------------------------
P1 = Proposal("p1", "set x 1", 10, 3)


def test_a_promise_gives_both_ballots():
    node = paxos(2)
    note = the(step(node, 1, Prepare((1, 1), 0)), "promise")
    assert note.fields == {"ballot": (1, 1), "promised": (0, 0)}
    assert note.text == "n2 promises ballot 1.1: it had promised no ballot yet (PMS phase 1b)"
    note = the(step(node, 3, Prepare((2, 3), 0)), "promise")
    assert note.text == "n2 promises ballot 2.3: it is not below its promise 1.1 (PMS phase 1b)"


def test_a_nack_gives_both_ballots():
    node = paxos(2)
    step(node, 3, Prepare((3, 2), 0))
    note = the(step(node, 1, Prepare((1, 1), 0)), "nack")
    assert note.fields == {"proposer": 1, "msg": "Prepare", "ballot": (1, 1), "promised": (3, 2)}
    assert note.tone == "reject"
    assert note.text == (
        "n2 refuses n1's Prepare of ballot 1.1: it promised the higher ballot 3.2 "
        "(PMS phases 1b and 2b)"
    )


def phase1(node: PaxosNode) -> None:
    node.on_campaign(0)
    node.take_effects()
    assert node.ballot == (1, 1)


def test_a_new_leader_adopts_the_highest_accepted_value_and_fills_holes():
    node = paxos(1)
    phase1(node)
    step(node, 2, Promise((1, 1), ((2, (0, 2), None),)))
    notes = step(node, 3, Promise((1, 1), ((2, (1, 3), P1),)))
    adopted = the(notes, "adopted")
    assert adopted.fields == {"slot": 2, "value": P1, "accepted_in": (1, 3), "acceptor": 3}
    assert adopted.text == (
        "slot 2 takes p1 'set x 1' accepted in ballot 1.3 by n3: the highest ballot among the "
        "promises (pmax, PMS phase 2a)"
    )
    hole = the(notes, "hole")
    assert hole.fields == {"slot": 1}
    assert hole.text == (
        "slot 1 is a hole, accepted by none of the promises: n1 fills it with a no-op "
        "(PMS, a new leader's gaps)"
    )
    leads = the(notes, "leads")
    assert leads.fields == {"ballot": (1, 1), "promises": [1, 2, 3]}
    assert (
        leads.text == "n1 leads with ballot 1.1: promises from n1, n2, n3, a majority (PMS phase 1)"
    )


def test_a_value_chosen_by_a_majority_in_a_ballot():
    node = paxos(1)
    phase1(node)
    step(node, 2, Promise((1, 1), ()))
    step(node, 3, Promise((1, 1), ()))
    node.on_propose(0, P1)
    node.take_effects()
    step(node, 2, Accepted((1, 1), 1))
    note = the(step(node, 3, Accepted((1, 1), 1)), "chosen")
    assert note.fields == {"slot": 1, "value": P1, "acceptors": [1, 2, 3], "ballot": (1, 1)}
    assert note.tone == "commit"
    assert (
        note.text
        == "slot 1 chosen: p1 'set x 1', accepted by a majority (n1, n2, n3) in ballot 1.1"
    )


def test_preemption_by_a_higher_ballot():
    node = paxos(1)
    phase1(node)
    note = the(step(node, 2, Nack((1, 1), (7, 3))), "preempted")
    assert note.fields == {"ballot": (1, 1), "higher": (7, 3)}
    assert note.text == "n1 preempted: ballot 1.1 < 7.3, and a higher ballot wins (PMMC)"
