"""Raft, one rule at a time: nodes driven directly through their handlers, or through the
simulator where timing is the point. Each test names the rule of the paper it pins down."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from engines.core.chain import StateMachine
from engines.core.node import CancelTimer, Note, Proposal, Send, SetTimer
from engines.core.shared import SharedList
from engines.core.sim import Simulator
from engines.raft.config import Configuration, Configurations
from engines.raft.invariants import RaftInvariants
from engines.raft.messages import (
    AppendEntries,
    AppendReply,
    Entry,
    Forward,
    PreVote,
    PreVoteReply,
    RequestVote,
    TimeoutNow,
    VoteReply,
)
from engines.raft.node import DEFAULT_CONFIG, MAX_BATCH, RaftNode
from engines.raft.snapshot import RaftLog


# --- helpers ------------------------------------------------------------------------------------
def make(node_id: int = 1, n: int = 3, term: int = 0, log_terms=(), **config) -> RaftNode:
    """A booted node whose log holds client entries of the given terms (indexes 1..)."""
    node = RaftNode(node_id, list(range(1, n + 1)), DEFAULT_CONFIG | config, random.Random(0))
    node.persistent.term = term
    for i, t in enumerate(log_terms, start=1):
        node.persistent.log.append(Entry(t, f"v{i}", f"p{i}", i))
    node.start(0)
    node.take_effects()
    return node


def leader(node_id: int = 1, n: int = 3, term: int = 1, log_terms=(), **config) -> RaftNode:
    node = make(node_id, n, term, log_terms, **config)
    node.persistent.voted_for = node_id
    node.become_leader(0)
    node.take_effects()
    return node


def deliver(node: RaftNode, src: int, msg, now: int = 10) -> list:
    node.on_message(now, src, msg)
    return node.take_effects()


def sends(effects, kind=None) -> list:
    return [(e.dst, e.msg) for e in effects if type(e) is Send and kind in (None, type(e.msg))]


def only(effects, kind):
    (pair,) = sends(effects, kind)
    return pair[1]


def notes(effects, tone: str | None = None) -> list[str]:
    return [e.text for e in effects if type(e) is Note and tone in (None, e.tone)]


def terms(node: RaftNode) -> list[int]:
    return [e.term for e in node.persistent.log][1:]


def elect(sim: Simulator) -> int:
    sim.run_until(lambda: sim.leader() is not None, time_limit=sim.now + 3000)
    return sim.leader()


def proposal(value: str = "x", pid: str = "p9") -> Proposal:
    return Proposal(pid, value, 5, 1)


# --- timers and roles ---------------------------------------------------------------------------
def test_start_sets_a_randomized_election_timer_in_range():
    node = RaftNode(1, [1, 2, 3], dict(DEFAULT_CONFIG), random.Random(0))
    node.start(0)
    (timer,) = node.take_effects()
    assert timer == SetTimer("election", node.election_timeout)
    assert 150 <= node.election_timeout <= 300
    timeouts = set()
    for seed in range(20):
        other = RaftNode(1, [1, 2, 3], dict(DEFAULT_CONFIG), random.Random(seed))
        other.start(0)
        timeouts.add(other.election_timeout)
    assert len(timeouts) > 5


def test_election_timeout_and_heartbeat_come_from_config():
    node = make(election_timeout_min=40, election_timeout_max=40, heartbeat=7)
    assert node.election_timeout == 40
    lead = leader(heartbeat=7)
    lead.on_timer(50, "heartbeat")
    assert SetTimer("heartbeat", 7) in lead.take_effects()


def test_timeout_starts_an_election():
    node = make(log_terms=(1, 1), term=1)
    node.on_timer(200, "election")
    effects = node.take_effects()
    assert node.role == "candidate"
    assert node.persistent.term == 2 and node.persistent.voted_for == 1
    assert sends(effects, RequestVote) == [(2, RequestVote(2, 2, 1)), (3, RequestVote(2, 2, 1))]
    assert "n1 became CANDIDATE in term 2" in notes(effects, "role")
    assert SetTimer("election", node.election_timeout) in effects


def test_candidate_with_a_majority_becomes_leader_and_appends_a_noop():
    node = make(n=5, log_terms=(1,), term=1)
    node.on_timer(200, "election")
    node.take_effects()
    deliver(node, 2, VoteReply(2, True))
    assert node.role == "candidate"
    deliver(node, 3, VoteReply(2, False))
    assert node.role == "candidate"
    effects = deliver(node, 4, VoteReply(2, True))
    assert node.role == "leader" and node.leader == 1
    assert node.persistent.log[-1] == Entry(2)  # the no-op of the new term
    assert (
        "n1 became LEADER in term 2 with votes from n1, n2, n4 (3 of 5, a majority is 3, §5.2)"
        in notes(effects, "role")
    )
    assert CancelTimer("election") in effects and SetTimer("heartbeat", 50) in effects
    appends = sends(effects, AppendEntries)
    assert [dst for dst, _ in appends] == [2, 3, 4, 5]
    assert appends[0][1] == AppendEntries(2, 1, 1, (Entry(2),), 0)


def test_duplicate_votes_are_counted_once():
    node = make(n=5)
    node.on_timer(200, "election")
    node.take_effects()
    for _ in range(3):
        deliver(node, 2, VoteReply(1, True))
    assert node.role == "candidate"


def test_split_vote_times_out_into_a_new_term():
    node = make()
    node.on_timer(200, "election")
    deliver(node, 2, VoteReply(1, False))
    node.on_timer(500, "election")
    effects = node.take_effects()
    assert node.persistent.term == 2 and node.role == "candidate"
    assert "n1 starts a new election in term 2: no leader won the last one (§5.2)" in notes(
        effects, "role"
    )


# --- RequestVote --------------------------------------------------------------------------------
def test_vote_granted_once_per_term_and_persisted():
    node = make(term=1, log_terms=(1,))
    reply = only(deliver(node, 2, RequestVote(2, 1, 1)), VoteReply)
    assert reply == VoteReply(2, True)
    assert node.persistent.term == 2 and node.persistent.voted_for == 2
    assert only(deliver(node, 3, RequestVote(2, 5, 2)), VoteReply) == VoteReply(2, False)
    assert only(deliver(node, 2, RequestVote(2, 1, 1)), VoteReply) == VoteReply(2, True)


def test_granting_a_vote_resets_the_election_timer():
    node = make()
    effects = deliver(node, 2, RequestVote(1, 0, 0))
    assert SetTimer("election", node.election_timeout) in effects


def test_a_refused_vote_request_with_a_higher_term_does_not_restart_the_timer():
    node = make(term=2, log_terms=(1, 2, 2))
    effects = deliver(node, 2, RequestVote(3, 1, 1))  # a candidate whose log is behind
    assert node.persistent.term == 3 and node.role == "follower"  # the term is adopted
    assert not [e for e in effects if type(e) is SetTimer]


def test_a_leader_stepping_down_starts_an_election_timer():
    node = leader(term=2)
    effects = deliver(node, 3, RequestVote(4, 0, 0))
    assert SetTimer("election", node.election_timeout) in effects


def test_the_current_leaders_append_entries_restarts_the_timer():
    node = make(term=2)
    deliver(node, 2, AppendEntries(2, 0, 0, (), 0))
    effects = deliver(node, 2, AppendEntries(2, 0, 0, (), 0))
    assert SetTimer("election", node.election_timeout) in effects


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_stale_candidates_do_not_hold_off_the_node_that_can_win(seed):
    """Two followers miss an entry, then the leader crashes as they come back and campaign:
    their vote requests carry higher terms but leave the up-to-date nodes' timers as they
    were, and one of those wins."""
    from engines.lab.bench import ELECTION_LIMIT_MS, known_leader

    sim = Simulator("raft", 5, seed)
    lead = elect(sim)
    stale = [i for i in sim.node_ids if i != lead][:2]
    for node in stale:
        sim.crash(node)
    sim.propose("set k v", lead)
    sim.run(200)
    sim.crash(lead)
    for node in stale:
        sim.restart(node)
        sim.campaign(node)  # at once, with a higher term and a log that is behind
    refused = 0
    while known_leader(sim) is None and sim.now < ELECTION_LIMIT_MS:
        before = {i: sim.timer_deadline(i, "election") for i in sim.nodes}
        event = sim.step()
        if event.kind == "deliver" and any(n.kind == "vote_refused" for n in event.notes):
            refused += 1
            assert sim.timer_deadline(event.node, "election") == before[event.node]
    assert refused and known_leader(sim) not in stale and sim.violation is None


@pytest.mark.parametrize(
    ("last_index", "last_term", "granted"),
    [(3, 2, True), (9, 2, True), (2, 2, False), (9, 1, False), (1, 3, True)],
)
def test_vote_requires_an_up_to_date_log(last_index, last_term, granted):
    node = make(term=2, log_terms=(1, 2, 2))
    reply = only(deliver(node, 2, RequestVote(3, last_index, last_term)), VoteReply)
    assert reply == VoteReply(3, granted)
    assert node.persistent.voted_for == (2 if granted else None)
    assert node.persistent.term == 3  # the higher term is adopted either way


def test_vote_request_from_an_older_term_is_refused_with_our_term():
    node = make(term=5)
    assert only(deliver(node, 2, RequestVote(4, 9, 4)), VoteReply) == VoteReply(5, False)
    assert node.persistent.voted_for is None and node.persistent.term == 5


def test_higher_term_makes_a_leader_step_down():
    node = leader(term=2)
    effects = deliver(node, 3, RequestVote(4, 0, 0))
    assert node.role == "follower" and node.persistent.term == 4 and node.leader is None
    assert CancelTimer("heartbeat") in effects
    assert (
        "n1 became FOLLOWER in term 4: n3's RequestVote carries term 4 > its term 2, and a "
        "higher term makes any node a follower (§5.1)"
    ) in notes(effects, "role")
    assert only(effects, VoteReply) == VoteReply(4, False)  # our log is longer (the no-op)


def test_higher_term_reply_makes_a_candidate_step_down():
    node = make()
    node.on_timer(200, "election")
    node.take_effects()
    deliver(node, 2, VoteReply(7, False))
    assert node.role == "follower" and node.persistent.term == 7


def test_stale_replies_are_ignored():
    node = make(n=3, term=3)
    node.on_timer(200, "election")
    node.take_effects()
    assert deliver(node, 2, VoteReply(3, True)) == []  # granted, but for the old term
    assert node.role == "candidate"
    lead = leader(term=5)
    assert deliver(lead, 2, AppendReply(4, True, 9)) == []
    assert lead.match_index[2] == 0


# --- AppendEntries: the follower ----------------------------------------------------------------
def test_append_entries_from_an_older_term_is_refused():
    node = make(term=3, log_terms=(1, 2))
    reply = only(deliver(node, 2, AppendEntries(2, 2, 2, (Entry(2, "z"),), 2)), AppendReply)
    assert reply == AppendReply(3, False, 2)
    assert terms(node) == [1, 2] and node.commit_index == 0 and node.leader is None


def test_append_entries_beyond_our_log_is_refused_with_our_length():
    node = make(term=2, log_terms=(1, 1))
    reply = only(deliver(node, 2, AppendEntries(2, 5, 2, (), 0)), AppendReply)
    assert reply == AppendReply(2, False, 5, 0, 3)
    assert node.leader == 2  # but the leader is known and the timer reset


def test_append_entries_with_a_prev_term_mismatch_names_the_conflicting_term():
    node = make(term=3, log_terms=(1, 2, 2, 2))
    reply = only(deliver(node, 3, AppendEntries(3, 4, 3, (), 0)), AppendReply)
    assert reply == AppendReply(3, False, 4, 2, 2)  # our term at 4 is 2, which starts at 2
    assert terms(node) == [1, 2, 2, 2]


def test_append_entries_appends_and_answers_with_the_match_index():
    node = make(term=1, log_terms=(1,))
    entries = (Entry(1, "a", "p2", 3), Entry(1, "b", "p3", 4))
    reply = only(deliver(node, 2, AppendEntries(1, 1, 1, entries, 0)), AppendReply)
    assert reply == AppendReply(1, True, 3)
    assert list(node.persistent.log)[2:] == list(entries)


def test_conflicting_suffix_is_truncated():
    node = make(term=3, log_terms=(1, 2, 2, 2))
    new = (Entry(3, "c", "p7", 9),)
    reply = only(deliver(node, 3, AppendEntries(3, 1, 1, new, 0)), AppendReply)
    assert reply == AppendReply(3, True, 2)
    assert terms(node) == [1, 3]


def test_an_old_or_duplicate_append_does_not_cut_newer_entries():
    node = make(term=1, log_terms=(1, 1, 1))
    first_two = tuple(node.persistent.log[1:3])
    reply = only(deliver(node, 2, AppendEntries(1, 0, 0, first_two, 0)), AppendReply)
    assert reply == AppendReply(1, True, 2)
    assert terms(node) == [1, 1, 1]


def test_follower_commits_up_to_the_leader_commit_but_not_past_what_matched():
    node = make(term=2, log_terms=(1, 1, 1, 9))  # a stale entry at 4 the leader may not hold
    effects = deliver(node, 2, AppendEntries(2, 2, 1, (), 4))
    assert only(effects, AppendReply) == AppendReply(2, True, 2)
    assert node.commit_index == 2
    assert [b.data for b in node.sm.chain[1:]] == ["v1", "v2"]


def test_candidate_of_the_same_term_yields_to_the_leader():
    node = make(term=1)
    node.on_timer(200, "election")
    node.take_effects()
    effects = deliver(node, 3, AppendEntries(2, 0, 0, (), 0))
    assert node.role == "follower" and node.leader == 3
    assert only(effects, AppendReply).success


def test_noops_are_committed_but_are_not_blocks():
    node = make(term=2)
    entries = (Entry(1), Entry(1, "a", "p1", 3), Entry(2))
    deliver(node, 2, AppendEntries(2, 0, 0, entries, 3))
    assert node.commit_index == 3
    assert node.sm.height == 1 and node.sm.chain[1].data == "a"
    assert node.sm.chain[1].timestamp == "3ms"


# --- AppendEntries: the leader ------------------------------------------------------------------
def test_leader_tracks_match_and_next_and_sends_what_is_missing():
    node = leader(term=1)
    node.on_propose(20, proposal("a", "p1"))
    node.on_propose(21, proposal("b", "p2"))
    node.take_effects()
    effects = deliver(node, 2, AppendReply(1, True, 1))  # acked only the no-op
    assert node.match_index[2] == 1 and node.next_index[2] == 2
    msg = only(effects, AppendEntries)
    assert (msg.prev_index, msg.prev_term, len(msg.entries)) == (1, 1, 2)
    assert deliver(node, 2, AppendReply(1, True, 1)) == []  # a duplicate ack does nothing


def test_proposal_is_sent_at_once_only_to_followers_with_nothing_in_flight():
    node = leader(term=1)
    deliver(node, 2, AppendReply(1, True, 1))
    node.on_propose(20, proposal())
    effects = node.take_effects()
    assert [dst for dst, _ in sends(effects, AppendEntries)] == [2]
    node.on_timer(70, "heartbeat")
    heartbeat = dict(sends(node.take_effects(), AppendEntries))
    assert len(heartbeat[3].entries) == 2  # the heartbeat resends what 3 never acked


def test_fast_backoff_skips_a_term_the_leader_does_not_have():
    node = leader(term=4, log_terms=(1, 1, 2, 2, 2))
    effects = deliver(node, 2, AppendReply(4, False, 5, 3, 3))  # follower: term 3 from 3
    assert node.next_index[2] == 3
    msg = only(effects, AppendEntries)
    assert (msg.prev_index, msg.prev_term) == (2, 1)
    assert terms(node)[2:] == [msg.entries[i].term for i in range(4)]


def test_fast_backoff_resends_after_the_leaders_last_entry_of_the_conflicting_term():
    node = leader(term=4, log_terms=(1, 1, 2, 2, 2))
    deliver(node, 2, AppendReply(4, False, 5, 1, 1))  # follower: term 1 from 1 up to 5
    assert node.next_index[2] == 3


def test_fast_backoff_to_a_shorter_log_and_stale_rejections():
    node = leader(term=4, log_terms=(1, 1, 2, 2, 2))
    deliver(node, 2, AppendReply(4, False, 5, 0, 2))  # follower holds only index 1
    assert node.next_index[2] == 2
    assert deliver(node, 2, AppendReply(4, False, 5, 0, 2)) == []  # stale: not our prev now
    assert node.next_index[2] == 2


def test_fast_backoff_converges_in_few_round_trips():
    """An old leader holding a long uncommitted tail of its term is fixed in a round trip or
    two after it rejoins, not one round trip per entry."""
    sim = Simulator("raft", 3, seed=4)
    sim.run_until(lambda: sim.leader() is not None, time_limit=2000)
    old = sim.leader()
    sim.isolate(old)
    for k in range(40):
        sim.propose(f"stale {k}", old)
    sim.run_until(lambda: sim.leader() not in (None, old), time_limit=3000)
    for k in range(30):
        sim.propose(f"v{k}", sim.leader())
    sim.run(300)
    sim.heal()
    start = len(sim.events)
    sim.run(600)
    rejects = [
        e
        for e in sim.events[start:]
        if e.kind == "deliver" and type(e.msg) is AppendReply and not e.msg.success
    ]
    assert 1 <= len(rejects) <= 3
    assert [b.data for b in sim.nodes[old].sm.chain[1:]] == [f"v{k}" for k in range(30)]
    assert sim.violation is None


def test_figure8_rule_commits_an_old_term_entry_only_under_one_of_the_current_term():
    node = leader(n=5, term=4, log_terms=(1, 2))  # index 3 is the no-op of term 4
    deliver(node, 2, AppendReply(4, True, 2))
    effects = deliver(node, 3, AppendReply(4, True, 2))
    assert node.commit_index == 0  # index 2 (term 2) is on 3 of 5 nodes, yet not committed
    assert notes(effects, "commit") == []
    effects = deliver(node, 2, AppendReply(4, True, 3))
    assert node.commit_index == 0  # the no-op of term 4 is on 2 of 5 only
    effects = deliver(node, 3, AppendReply(4, True, 3))
    assert node.commit_index == 3
    assert notes(effects, "commit") == [
        "n1 commits up to index 3 in term 4: it is on a majority and of the current term "
        "(§5.3, §5.4.2)"
    ]
    assert [b.data for b in node.sm.chain[1:]] == ["v1", "v2"]


def test_figure8_bug_counts_old_term_replicas():
    node = leader(n=5, term=4, log_terms=(1, 2), bug="figure8")
    assert terms(node) == [1, 2]  # no no-op under this bug
    deliver(node, 2, AppendReply(4, True, 2))
    deliver(node, 3, AppendReply(4, True, 2))
    assert node.commit_index == 2


def test_new_leader_commits_nothing_until_a_majority_acks():
    node = leader(n=3, term=2, log_terms=(1,))
    assert node.commit_index == 0
    deliver(node, 2, AppendReply(2, True, 2))
    assert node.commit_index == 2 and node.sm.height == 1


# --- proposals ----------------------------------------------------------------------------------
def test_leader_appends_a_proposal():
    node = leader(term=3)
    node.on_propose(20, Proposal("p1", "set x 1", 20, 1))
    node.take_effects()
    assert node.persistent.log[-1] == Entry(3, "set x 1", "p1", 20)


def test_follower_forwards_a_proposal_to_the_leader_it_knows():
    node = make(term=1)
    deliver(node, 3, AppendEntries(1, 0, 0, (), 0))
    node.on_propose(20, proposal())
    effects = node.take_effects()
    assert sends(effects, Forward) == [(3, Forward(proposal()))]
    assert notes(effects, "info") == ["n1 forwards p9 to leader n3"]
    lead = leader(node_id=3, term=1)
    deliver(lead, 1, Forward(proposal()))
    assert lead.persistent.log[-1].pid == "p9"


def test_proposal_without_a_leader_is_rejected_with_a_note():
    node = make()
    node.on_propose(20, proposal("set x 1", "p4"))
    effects = node.take_effects()
    assert sends(effects) == []
    assert notes(effects, "reject") == ["n1 knows no leader: proposal p4 'set x 1' rejected"]


def test_forward_to_a_node_that_no_longer_leads_is_rejected():
    node = make(term=2)
    effects = deliver(node, 2, Forward(proposal()))
    assert notes(effects, "reject") == [
        "n1 is not the leader (forwarded by n2): proposal p9 'x' rejected"
    ]
    assert len(node.persistent.log) == 1


# --- PreVote ------------------------------------------------------------------------------------
def test_prevote_asks_first_without_raising_the_term():
    node = make(term=3, log_terms=(3,), prevote=True)
    node.on_timer(200, "election")
    effects = node.take_effects()
    assert node.persistent.term == 3 and node.persistent.voted_for is None
    assert node.role == "precandidate"
    assert node.describe()["votes"] == [1] and node.describe()["majority"] == 2  # its tally
    assert sends(effects, PreVote) == [(2, PreVote(4, 1, 3)), (3, PreVote(4, 1, 3))]
    effects = deliver(node, 2, PreVoteReply(4, True))
    assert node.persistent.term == 4 and node.role == "candidate"
    assert sends(effects, RequestVote)[0][1] == RequestVote(4, 1, 3)


def test_prevote_granted_without_changing_the_voters_term_or_vote():
    node = make(term=3, log_terms=(3,), prevote=True)
    reply = only(deliver(node, 2, PreVote(4, 1, 3)), PreVoteReply)
    assert reply == PreVoteReply(4, True)
    assert node.persistent.term == 3 and node.persistent.voted_for is None


def test_prevote_denied_for_a_stale_log_or_while_the_leader_is_alive():
    node = make(term=3, log_terms=(3, 3), prevote=True)
    assert only(deliver(node, 2, PreVote(4, 1, 3)), PreVoteReply) == PreVoteReply(3, False)
    deliver(node, 3, AppendEntries(3, 2, 3, (), 0), now=100)
    reply = only(deliver(node, 2, PreVote(4, 2, 3), now=120), PreVoteReply)
    assert reply == PreVoteReply(3, False)  # heard from leader n3 20 ms ago
    reply = only(deliver(node, 2, PreVote(4, 2, 3), now=100 + 150), PreVoteReply)
    assert reply == PreVoteReply(4, True)  # a whole minimum election timeout later


def test_prevote_denial_from_a_higher_term_makes_the_precandidate_follow():
    node = make(term=3, prevote=True)
    node.on_timer(200, "election")
    node.take_effects()
    deliver(node, 2, PreVoteReply(6, False))
    assert node.role == "follower" and node.persistent.term == 6


def test_campaign_skips_prevote_and_forces_the_election():
    node = make(term=3, prevote=True)
    effects = (node.on_campaign(10), node.take_effects())[1]
    assert node.persistent.term == 4 and node.role == "candidate"
    assert sends(effects, RequestVote)[0][1] == RequestVote(4, 0, 0, True)


def test_campaign_on_a_leader_only_notes_it():
    node = leader(term=2)
    node.on_campaign(10)
    assert notes(node.take_effects(), "info") == ["n1 already leads term 2"]
    assert node.persistent.term == 2


def test_prevote_keeps_an_isolated_nodes_term_still():
    for prevote, grows in ((True, False), (False, True)):
        sim = Simulator("raft", 3, seed=2, config={"prevote": prevote})
        elect(sim)
        follower = next(i for i in sim.node_ids if i != sim.leader())
        before = sim.nodes[follower].persistent.term
        sim.isolate(follower)
        sim.run(2000)
        assert (sim.nodes[follower].persistent.term > before) is grows


# --- CheckQuorum --------------------------------------------------------------------------------
def test_checkquorum_steps_down_a_leader_that_lost_its_majority():
    for checkquorum in (True, False):
        sim = Simulator("raft", 5, seed=3, config={"checkquorum": checkquorum})
        elect(sim)
        old = sim.leader()
        sim.isolate(old)
        sim.run(1000)
        assert (sim.nodes[old].role == "leader") is not checkquorum
        assert sim.violation is None


def test_checkquorum_lease_ignores_disruptive_vote_requests():
    node = make(term=2, checkquorum=True)
    deliver(node, 3, AppendEntries(2, 0, 0, (), 0), now=100)
    assert sends(deliver(node, 2, RequestVote(3, 5, 2), now=120)) == []  # refused with a note
    assert node.persistent.term == 2
    reply = only(deliver(node, 2, RequestVote(3, 5, 2, force=True), now=130), VoteReply)
    assert reply == VoteReply(3, True)  # a forced campaign (transfer) still counts


def test_checkquorum_leader_stays_while_followers_answer():
    node = leader(term=1, checkquorum=True)
    node.heard_at = {2: 0, 3: 0}
    node.election_timeout = 200
    deliver(node, 2, AppendReply(1, True, 1), now=150)
    node.on_timer(300, "heartbeat")
    assert node.role == "leader"
    node.on_timer(400, "heartbeat")
    effects = node.take_effects()
    assert node.role == "follower"
    assert (
        "n1 became FOLLOWER in term 1: it lost contact with a majority "
        "(CheckQuorum, dissertation 6.2)"
    ) in notes(effects, "role")


# --- leader transfer ----------------------------------------------------------------------------
def test_transfer_sends_timeout_now_once_the_target_is_caught_up():
    node = leader(term=2)
    node.transfer_leadership(10, 2)
    assert sends(node.take_effects(), TimeoutNow) == []
    node.on_propose(12, proposal())
    assert "is handing leadership to n2" in notes(node.take_effects(), "reject")[0]
    effects = deliver(node, 2, AppendReply(2, True, 1))
    assert sends(effects, TimeoutNow) == [(2, TimeoutNow(2))]


def test_timeout_now_starts_a_forced_election():
    node = make(term=2, checkquorum=True)
    effects = deliver(node, 1, TimeoutNow(2))
    assert node.persistent.term == 3 and node.role == "candidate"
    assert sends(effects, RequestVote)[0][1].force


def test_campaign_takes_over_even_with_prevote_and_checkquorum():
    """The user-facing transfer: an up-to-date follower ordered to campaign wins at once,
    although the leader is alive and every follower holds a lease."""
    sim = Simulator("raft", 5, seed=1, config={"checkquorum": True, "prevote": True})
    sim.run_until(lambda: sim.leader() is not None, time_limit=2000)
    sim.propose("set x 1", sim.leader())
    sim.run(100)
    old = sim.leader()
    target = next(i for i in sim.node_ids if i != old)
    sim.campaign(target)
    sim.run(100)
    assert sim.leader() == target and sim.nodes[old].role == "follower"
    assert sim.violation is None


# --- persistence across crashes -----------------------------------------------------------------
def test_restart_keeps_term_vote_and_log_and_loses_the_rest():
    sim = Simulator("raft", 3, seed=5)
    sim.run_until(lambda: sim.leader() is not None, time_limit=2000)
    lead = sim.leader()
    sim.propose("set x 1", lead)
    sim.run(200)
    node = next(i for i in sim.node_ids if i != lead)
    before = sim.nodes[node].persistent
    term, vote, log = before.term, before.voted_for, list(before.log)
    sim.crash(node)
    sim.restart(node)
    after = sim.nodes[node]
    assert (after.persistent.term, after.persistent.voted_for) == (term, vote)
    assert list(after.persistent.log) == log
    assert after.commit_index == 0 and after.sm.height == 0 and after.role == "follower"
    sim.run(200)
    assert sim.nodes[node].sm.kv == {"x": "1"}


def test_restarted_voter_does_not_vote_twice_in_a_term():
    node = make(term=1)
    deliver(node, 2, RequestVote(2, 0, 0))
    restarted = RaftNode(1, [1, 2, 3], dict(DEFAULT_CONFIG), random.Random(1), node.persistent)
    restarted.start(0)
    restarted.take_effects()
    assert only(deliver(restarted, 3, RequestVote(2, 0, 0)), VoteReply) == VoteReply(2, False)


def test_forget_vote_bug_votes_twice():
    node = make(term=1, bug="forget_vote")
    deliver(node, 2, RequestVote(2, 0, 0))
    config = DEFAULT_CONFIG | {"bug": "forget_vote"}
    restarted = RaftNode(1, [1, 2, 3], config, random.Random(1), node.persistent)
    restarted.start(0)
    assert only(deliver(restarted, 3, RequestVote(2, 0, 0)), VoteReply) == VoteReply(2, True)


# --- the view -----------------------------------------------------------------------------------
def test_describe_has_the_keys_the_ui_reads():
    node = leader(term=2, log_terms=(1,))
    node.on_propose(20, Proposal("p5", "set y 2", 20, 1))
    state = node.describe()
    assert set(state) == {
        "role",
        "term",
        "voted_for",
        "commit_index",
        "leader",
        "log",
        "match_index",
        "votes",
        "majority",
        "election_timeout",
        "snapshot",
        "config",
    }
    assert state["log"] == [[1, 1, "v1", "p1"], [2, 2, None, None], [3, 2, "set y 2", "p5"]]
    assert state["match_index"] == {2: 0, 3: 0}
    assert (state["role"], state["term"], state["voted_for"], state["leader"]) == (
        "leader",
        2,
        1,
        1,
    )
    assert make().describe()["match_index"] == {}
    assert node.rank() == (2,)


def test_describe_recent_shows_the_last_entries_without_a_scan(monkeypatch):
    node = leader(term=2, log_terms=(1, 1, 2, 2, 2))
    full = node.describe()
    monkeypatch.setattr(SharedList, "__iter__", None)  # a scan of the log would fail now
    assert node.describe(recent=2) == full | {"log": full["log"][-2:]}
    assert node.describe(recent=2)["log"][0][0] == 5  # entries keep their log index
    assert node.describe(recent=100) == full
    assert node.describe(recent=0)["log"] == []


# --- the checkers catch broken states -----------------------------------------------------------
def fake(node_id, role="follower", term=1, log=(), commit=0, vote=None):
    """A stand-in node with the attributes the checkers read."""
    entries = RaftLog(SharedList([Entry(0), *log]))
    sm = StateMachine()
    persistent = SimpleNamespace(term=term, voted_for=vote, log=entries, snapshot=None)
    configs = Configurations(Configuration.of([1, 2, 3]), entries)
    return SimpleNamespace(
        id=node_id,
        role=role,
        persistent=persistent,
        commit_index=commit,
        sm=sm,
        configs=configs,
        votes=set(),
        match_index={},
    )


def run_checks(checker, node, step=1):
    sim = SimpleNamespace(world=SimpleNamespace(nodes={node.id: node}))
    return checker.check(sim, SimpleNamespace(kind="deliver", node=node.id, step=step))


A, B = Entry(1, "a", "p1", 0), Entry(1, "b", "p2", 0)


def test_checker_election_safety():
    checker = RaftInvariants()
    assert run_checks(checker, fake(1, "leader", 3)) is None
    violation = run_checks(checker, fake(2, "leader", 3), step=7)
    assert violation.invariant == "Election Safety" and violation.step == 7
    assert "n1 and n2 both became leader in term 3" in violation.explanation


def test_checker_leader_append_only():
    checker = RaftInvariants()
    node = fake(1, "leader", 1, [A, B])
    assert run_checks(checker, node) is None
    node.persistent.log.truncate(2)
    violation = run_checks(checker, node)
    assert violation.invariant == "Leader Append-Only"


def test_checker_log_matching():
    checker = RaftInvariants()
    assert run_checks(checker, fake(1, log=[A])) is None
    violation = run_checks(checker, fake(2, log=[B]))
    assert violation.invariant == "Log Matching"
    assert "index 1 term 1" in violation.explanation


def test_checker_log_matching_sees_different_histories_under_one_entry():
    checker = RaftInvariants()
    c = Entry(2, "c", "p3", 0)
    assert run_checks(checker, fake(1, log=[A, c])) is None
    violation = run_checks(checker, fake(2, log=[Entry(1, "z", "p9", 0), c]))
    assert violation.invariant == "Log Matching"


def test_checker_state_machine_safety():
    checker = RaftInvariants()
    one, two = fake(1, log=[A], commit=1), fake(2, log=[Entry(2, "b", "p2", 0)], commit=1)
    assert run_checks(checker, one) is None
    violation = run_checks(checker, two)
    assert violation.invariant in ("Log Matching", "State Machine Safety")
    checker = RaftInvariants()
    checker.checks = [c for c in checker.checks if c.name == "State Machine Safety"]
    run_checks(checker, one)
    violation = run_checks(checker, two)
    assert violation.invariant == "State Machine Safety"
    assert "index 1: n1 committed 'a'" in violation.explanation


def test_checker_leader_completeness():
    checker = RaftInvariants()
    assert run_checks(checker, fake(1, term=1, log=[A], commit=1)) is None
    violation = run_checks(checker, fake(2, "leader", term=2))
    assert violation.invariant == "Leader Completeness"
    assert "n2 leads term 2 without 'a'" in violation.explanation


def test_checker_persistence():
    checker = RaftInvariants()
    node = fake(1, term=3, vote=2)
    assert run_checks(checker, node) is None
    node.persistent.voted_for = None
    assert run_checks(checker, node) is None
    node.persistent.voted_for = 3
    violation = run_checks(checker, node)
    assert violation.invariant == "Persistence"
    assert "voted for n2 and then for n3 in term 3" in violation.explanation
    node.persistent.term = 2
    assert run_checks(RaftInvariants(), node) is None
    checker = RaftInvariants()
    run_checks(checker, fake(1, term=3))
    assert "went back from 3 to 2" in run_checks(checker, fake(1, term=2)).explanation


# --- whole runs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [3, 5, 7])
def test_cluster_elects_one_leader_and_commits_everywhere(n):
    sim = Simulator("raft", n, seed=n)
    sim.run_until(lambda: sim.leader() is not None, time_limit=3000)
    lead = sim.leader()
    for k in range(5):
        sim.propose(f"set k{k} {k}", lead)
    sim.run(500)
    heads = {sim.nodes[i].sm.head_hash for i in sim.node_ids}
    assert len(heads) == 1 and sim.nodes[1].sm.height == 5
    assert sim.violation is None


def test_same_seed_same_run():
    digests = []
    for _ in range(2):
        sim = Simulator("raft", 5, seed=9)
        sim.run(500)
        sim.propose("x", sim.leader() or 1)
        sim.run(500)
        digests.append(sim.digest())
    assert digests[0] == digests[1]


def test_step_back_is_exact():
    sim = Simulator("raft", 5, seed=2)
    sim.run(400)
    sim.propose("set a 1", sim.leader())
    sim.run(600)
    target = sim.step_count // 2
    sim.goto(target)
    middle = sim.digest()
    sim.goto(sim.max_step)
    sim.goto(target)
    assert sim.digest() == middle


def test_a_duplicated_forward_is_appended_once():
    lead = leader(node_id=3, term=1)
    for _ in range(2):
        deliver(lead, 1, Forward(proposal()))
    assert [e.pid for e in lead.persistent.log].count("p9") == 1


def test_a_far_behind_follower_catches_up_in_batches_and_the_leader_counts_them():
    """5.3 with etcd's size limit: 150 entries behind, a follower is sent MAX_BATCH at a time."""
    sim = Simulator("raft", 3, 1)
    sim.run_until(lambda: sim.leader() is not None, time_limit=5_000)
    leader = sim.leader()
    behind = next(i for i in sim.node_ids if i != leader)
    sim.isolate(behind)
    for i in range(150):
        sim.propose(f"data {i}", leader)
    sim.run(1_000)
    sim.heal()
    sim.run(2_000)
    assert sim.height(behind) == 150 and sim.nodes[behind].log_length() > MAX_BATCH
    assert sum(n.batch_limited for n in sim.nodes.values()) > 0
