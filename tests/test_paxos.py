"""Unit tests for the Multi-Paxos node: each handler and rule, driven by hand (no simulator)."""

from __future__ import annotations

import random

import pytest

from engines.core.node import CancelTimer, Note, Proposal, Send, SetTimer
from engines.core.shared import SlotMap
from engines.paxos.messages import (
    Accept,
    Accepted,
    CatchUp,
    Chosen,
    Forward,
    Heartbeat,
    Nack,
    Prepare,
    Promise,
)
from engines.paxos.node import BUGS, CATCHUP_BATCH, PaxosNode, PaxosPersistent, default_config

P1 = Proposal("p1", "set x 1", 10, 1)
P2 = Proposal("p2", "set x 2", 20, 2)
P3 = Proposal("p3", "set y 3", 30, 3)


def make(node_id: int = 1, n: int = 5, persistent=None, **config) -> PaxosNode:
    node = PaxosNode(
        node_id, list(range(1, n + 1)), default_config | config, random.Random(node_id), persistent
    )
    node.start(0)
    node.take_effects()
    return node


def effects(node: PaxosNode):
    return node.take_effects()


def sends(out) -> list[tuple[int, object]]:
    return [(e.dst, e.msg) for e in out if isinstance(e, Send)]


def timers(out) -> dict[str, int]:
    return {e.name: e.delay for e in out if isinstance(e, SetTimer)}


def notes(out) -> list[str]:
    return [e.text for e in out if isinstance(e, Note)]


def deliver(node: PaxosNode, src: int, msg) -> list:
    node.on_message(0, src, msg)
    return effects(node)


def leader(node_id: int = 1, n: int = 5) -> PaxosNode:
    """A node that ran phase 1 with ballot 1.node_id and got promises from 2 and 3."""
    node = make(node_id, n)
    node.on_campaign(0)
    effects(node)
    others = [p for p in node.peers][: node.majority - 1]
    for peer in others:
        deliver(node, peer, Promise(node.ballot, ()))
    assert node.role == "leader"
    effects(node)
    return node


# --- start and phase 1 --------------------------------------------------------------------
def test_a_fresh_node_is_an_idle_acceptor_waiting_for_a_leader():
    node = PaxosNode(1, [1, 2, 3], default_config, random.Random(1))
    node.start(0)
    out = effects(node)
    assert node.role == "acceptor" and node.phase == "idle" and not node.is_leader
    delay = timers(out)["leader"]
    assert default_config["leader_timeout_min"] <= delay <= default_config["leader_timeout_max"]
    assert node.persistent == PaxosPersistent()


def test_campaign_starts_phase1_with_a_higher_ballot_and_promises_itself():
    node = make(2, persistent=PaxosPersistent(promised=(4, 5)))
    node.on_campaign(0)
    out = effects(node)
    assert node.ballot == (5, 2)
    assert node.role == "proposer" and node.phase == "phase1" and node.rank() == (5, 2)
    assert node.persistent.promised == (5, 2)
    assert sorted(dst for dst, m in sends(out) if isinstance(m, Prepare)) == [1, 3, 4, 5]
    assert node.promises == {2: ()}  # its own acceptor answered at once
    assert CancelTimer("leader") in out
    assert any("starts phase 1 with ballot 5.2" in t for t in notes(out))


def test_leader_timeout_runs_phase1():
    node = make(3)
    node.on_timer(0, "leader")
    out = effects(node)
    assert node.phase == "phase1" and node.ballot == (1, 3)
    assert len([m for _, m in sends(out) if isinstance(m, Prepare)]) == 4


def test_prepare_above_the_promise_is_promised_persisted_and_reports_accepted_slots():
    acc = PaxosPersistent(promised=(1, 1), accepted={1: ((1, 1), P1), 2: ((1, 1), None)})
    node = make(3, persistent=acc)
    out = deliver(node, 2, Prepare((2, 2), 1))
    assert node.persistent.promised == (2, 2)
    [(dst, promise)] = sends(out)
    assert dst == 2 and promise == Promise((2, 2), ((2, (1, 1), None),))  # slots above low only
    assert node.leader == 2 and "leader" in timers(out)


def test_prepare_below_the_promise_gets_a_nack_with_the_higher_ballot():
    node = make(3, persistent=PaxosPersistent(promised=(3, 1)))
    out = deliver(node, 2, Prepare((2, 2), 0))
    assert sends(out) == [(2, Nack((2, 2), (3, 1)))]
    assert node.persistent.promised == (3, 1)


def test_a_repeated_prepare_is_promised_again():
    node = make(3)
    deliver(node, 2, Prepare((2, 2), 0))
    out = deliver(node, 2, Prepare((2, 2), 0))
    assert sends(out) == [(2, Promise((2, 2), ()))]


def test_a_higher_prepare_preempts_a_leader():
    node = leader(1)
    out = deliver(node, 4, Prepare((2, 4), 0))
    assert node.role == "acceptor" and node.leader == 4
    assert CancelTimer("heartbeat") in out
    assert sends(out) == [(4, Promise((2, 4), ()))]


def test_stale_promises_are_ignored():
    node = make(1)
    node.on_campaign(0)
    effects(node)
    deliver(node, 2, Promise((0, 9), ()))
    assert node.promises.keys() == {1}


def test_pmax_picks_the_value_of_the_highest_ballot_and_fills_holes_with_noops():
    node = make(1)
    node.on_propose(0, P3)  # no leader known: phase 1 at once, P3 pending
    effects(node)
    assert node.phase == "phase1" and node.ballot == (1, 1)
    node.persistent.promised = node.ballot = (5, 1)  # pretend rounds went by
    node.promises = {1: ()}
    deliver(node, 2, Promise((5, 1), ((1, (2, 2), P1), (3, (1, 2), P2))))
    out = deliver(node, 3, Promise((5, 1), ((1, (4, 3), P2),)))
    assert node.role == "leader" and node.phase == "phase2" and node.leader == 1
    accepts = {m.slot: m.value for _, m in sends(out) if isinstance(m, Accept)}
    # slot 1: 4.3 beats 2.2; slot 2: a hole; slot 3: reported value; then the pending value
    assert accepts == {1: P2, 2: None, 3: P2, 4: P3}
    assert all(m.ballot == (5, 1) for _, m in sends(out) if isinstance(m, Accept))
    assert any(isinstance(m, Heartbeat) for _, m in sends(out))
    assert any("n1 leads with ballot 5.1" in t for t in notes(out))


def test_adoption_skips_slots_already_known_chosen():
    node = make(1)
    node.on_campaign(0)
    effects(node)
    deliver(node, 4, Chosen(((2, P1),)))
    deliver(node, 2, Promise((1, 1), ((2, (1, 3), P1),)))
    out = deliver(node, 3, Promise((1, 1), ()))
    accepts = {m.slot: m.value for _, m in sends(out) if isinstance(m, Accept)}
    assert accepts == {1: None}
    assert node.next_slot == 3


# --- phase 2 ------------------------------------------------------------------------------
def test_accept_at_or_above_the_promise_is_persisted_and_acknowledged():
    node = make(3, persistent=PaxosPersistent(promised=(2, 2)))
    out = deliver(node, 2, Accept((2, 2), 1, P1))
    assert node.persistent.accepted == {1: ((2, 2), P1)}
    assert sends(out) == [(2, Accepted((2, 2), 1))]
    out = deliver(node, 4, Accept((3, 4), 1, P2))  # a higher ballot also raises the promise
    assert node.persistent.accepted[1] == ((3, 4), P2)
    assert node.persistent.promised == (3, 4) and node.leader == 4


def test_accept_below_the_promise_gets_a_nack():
    node = make(3, persistent=PaxosPersistent(promised=(2, 2)))
    out = deliver(node, 1, Accept((1, 1), 1, P1))
    assert sends(out) == [(1, Nack((1, 1), (2, 2)))]
    assert node.persistent.accepted == {}


def test_a_leader_proposes_client_values_in_fresh_slots_with_phase2_only():
    node = leader(1)
    node.on_propose(0, P1)
    out = effects(node)
    msgs = [m for _, m in sends(out)]
    assert {type(m) for m in msgs} == {Accept}
    assert {m.slot for m in msgs} == {1} and len(msgs) == 4
    assert node.persistent.accepted[1] == ((1, 1), P1)  # its own acceptor accepted
    assert node.pending == {"p1": P1}


def test_a_majority_of_accepted_chooses_broadcasts_and_applies():
    node = leader(1)
    node.on_propose(0, P1)
    effects(node)
    deliver(node, 2, Accepted((1, 1), 1))
    assert node.chosen == {}
    out = deliver(node, 3, Accepted((1, 1), 1))
    assert node.chosen == {1: P1} and node.applied == 1
    assert node.sm.applied_ids == ["p1"] and node.sm.kv == {"x": "1"}
    assert node.pending == {} and node.proposed == {}
    assert sorted(dst for dst, m in sends(out) if m == Chosen(((1, P1),))) == [2, 3, 4, 5]
    assert deliver(node, 4, Accepted((1, 1), 1)) == []  # late answers change nothing


def test_a_chosen_value_is_not_proposed_again_and_the_proposer_forgets_its_id():
    node = leader(1)
    node.on_propose(0, P1)
    effects(node)
    deliver(node, 2, Accepted((1, 1), 1))
    deliver(node, 3, Accepted((1, 1), 1))
    assert node.proposed_ids == set()  # bounded: what is chosen is remembered by slot
    assert sends(deliver(node, 4, Forward(P1))) == []  # a late retry of a chosen value


def test_accepted_for_another_ballot_is_ignored():
    node = leader(1)
    node.on_propose(0, P1)
    effects(node)
    deliver(node, 2, Accepted((0, 2), 1))
    deliver(node, 3, Accepted((0, 2), 1))
    assert node.chosen == {}


def test_a_nack_preempts_and_the_next_ballot_is_above_it():
    node = leader(1)
    out = deliver(node, 2, Nack((1, 1), (7, 3)))
    assert node.role == "acceptor" and node.phase == "idle" and node.leader == 3
    assert "leader" in timers(out)  # randomized back-off before trying again
    assert any("preempted" in t for t in notes(out))
    node.on_campaign(0)
    assert node.ballot == (8, 1)


def test_a_nack_for_an_older_ballot_is_ignored():
    node = leader(1)
    deliver(node, 2, Nack((0, 1), (7, 3)))
    assert node.role == "leader"


def test_backoff_is_randomized_per_node():
    delays = set()
    for node_id in range(1, 6):
        node = leader(node_id)
        delays.add(timers(deliver(node, 9, Nack(node.ballot, (9, 9))))["leader"])
    assert len(delays) > 1


# --- heartbeats, forwarding, retries ------------------------------------------------------
def test_heartbeat_from_the_leader_resets_the_timer_and_asks_for_missing_slots():
    node = make(3)
    out = deliver(node, 1, Heartbeat((1, 1), 4))
    assert node.leader == 1 and "leader" in timers(out)
    assert sends(out) == [(1, CatchUp(0))]
    assert sends(deliver(node, 1, Heartbeat((1, 1), 0))) == []


def test_heartbeat_below_the_promise_tells_the_stale_leader_to_step_down():
    node = make(3, persistent=PaxosPersistent(promised=(2, 2)))
    out = deliver(node, 1, Heartbeat((1, 1), 0))
    assert sends(out) == [(1, Nack((1, 1), (2, 2)))]
    assert "leader" not in timers(out)
    old = leader(1)
    deliver(old, 3, Nack((1, 1), (2, 2)))
    assert old.role == "acceptor"


def test_a_higher_heartbeat_makes_a_leader_step_down():
    node = leader(1)
    deliver(node, 2, Heartbeat((3, 2), 0))
    assert node.role == "acceptor" and node.leader == 2
    node.on_campaign(0)
    assert node.ballot == (4, 1)  # above the ballot that preempted it


def test_catchup_is_answered_with_a_batch_of_chosen_slots():
    node = leader(1)
    for slot in range(1, CATCHUP_BATCH + 11):
        node._learn(slot, None)
    [(dst, reply)] = sends(deliver(node, 4, CatchUp(5)))
    assert dst == 4 and [s for s, _ in reply.entries] == list(range(6, CATCHUP_BATCH + 6))
    assert sends(deliver(node, 4, CatchUp(node.applied))) == []


def test_proposal_without_a_known_leader_starts_phase1_at_once():
    node = make(2)
    node.on_propose(0, P1)
    out = effects(node)
    assert node.phase == "phase1" and "retry" in timers(out)
    assert node.pending == {"p1": P1}


def test_proposal_to_a_follower_is_forwarded_to_the_known_leader():
    node = make(2)
    deliver(node, 4, Heartbeat((1, 4), 0))
    node.on_propose(0, P1)
    assert sends(effects(node)) == [(4, Forward(P1))]


def test_forwarded_proposals_are_proposed_by_a_leader_queued_by_a_proposer_dropped_else():
    node = leader(1)
    out = deliver(node, 3, Forward(P2))
    assert {m.value for _, m in sends(out) if isinstance(m, Accept)} == {P2}
    assert sends(deliver(node, 3, Forward(P2))) == []  # already proposed in this ballot
    proposer = make(2)
    proposer.on_campaign(0)
    effects(proposer)
    deliver(proposer, 3, Forward(P2))
    assert proposer.queue == {"p2": P2}
    deliver(proposer, 3, Promise(proposer.ballot, ()))
    out = deliver(proposer, 4, Promise(proposer.ballot, ()))
    assert {m.value for _, m in sends(out) if isinstance(m, Accept)} == {P2}
    assert sends(deliver(make(3), 4, Forward(P2))) == []


def test_retry_resends_unanswered_prepares():
    node = make(1)
    node.on_campaign(0)
    effects(node)
    deliver(node, 2, Promise(node.ballot, ()))
    node.on_timer(0, "retry")  # the first tick only notes what waits
    assert sends(effects(node)) == []
    node.on_timer(0, "retry")
    out = effects(node)
    assert sorted(dst for dst, m in sends(out) if isinstance(m, Prepare)) == [3, 4, 5]
    assert "retry" in timers(out)


def test_retry_resends_unacknowledged_accepts():
    node = leader(1)
    node.on_propose(0, P1)
    effects(node)
    deliver(node, 2, Accepted(node.ballot, 1))
    node.on_timer(0, "retry")
    node.on_timer(0, "retry")
    resent = sends(effects(node))
    assert sorted(dst for dst, m in resent if m == Accept((1, 1), 1, P1)) == [3, 4, 5]


def test_retry_forwards_pending_values_again_until_chosen():
    node = make(2)
    deliver(node, 4, Heartbeat((1, 4), 0))
    node.on_propose(0, P1)
    effects(node)
    node.on_timer(0, "retry")
    assert sends(effects(node)) == []  # just forwarded: not overdue yet
    node.on_timer(0, "retry")
    out = effects(node)
    assert sends(out) == [(4, Forward(P1))] and "retry" in timers(out)
    deliver(node, 4, Chosen(((1, P1),)))
    node.on_timer(0, "retry")
    assert node.pending == {} and effects(node) == []


def test_the_leader_is_idle_between_values_but_keeps_its_heartbeat():
    node = leader(1)
    node.on_timer(0, "heartbeat")
    out = effects(node)
    assert {type(m) for _, m in sends(out)} == {Heartbeat}
    assert timers(out) == {"heartbeat": default_config["heartbeat"]}


# --- learning -----------------------------------------------------------------------------
def test_holes_are_applied_only_in_slot_order():
    node = make(3)
    deliver(node, 1, Chosen(((2, P2), (3, None))))
    assert node.applied == 0 and node.sm.height == 0
    deliver(node, 1, Chosen(((1, P1),)))
    assert node.applied == 3 and node.sm.applied_ids == ["p1", "p2"]
    assert node.sm.kv == {"x": "2"}


def test_a_proposal_chosen_twice_is_applied_once_and_shown_as_a_duplicate():
    node = make(3)
    out = deliver(node, 1, Chosen(((1, P1), (2, P2), (3, P1))))
    assert node.sm.applied_ids == ["p1", "p2"] and node.applied == 3
    assert node.describe()["chosen"][3] == ["set x 1", "p1", True]
    assert node.describe()["chosen"][1] == ["set x 1", "p1", False]
    assert any("repeats p1" in t for t in notes(out))


def test_a_duplicate_learned_before_its_first_slot_is_still_the_later_one():
    node = make(3)
    deliver(node, 1, Chosen(((3, P1),)))
    out = deliver(node, 1, Chosen(((1, P1), (2, P2))))
    assert node.sm.applied_ids == ["p1", "p2"] and node.applied == 3
    assert [v[2] for v in node.describe()["chosen"].values()] == [False, False, True]
    assert any("slot 3 repeats p1" in t for t in notes(out))


def test_a_learned_chosen_value_is_never_replaced():
    node = make(3)
    deliver(node, 1, Chosen(((1, P1),)))
    deliver(node, 2, Chosen(((1, P2),)))
    assert node.chosen == {1: P1}


# --- persistence and display --------------------------------------------------------------
def test_restart_keeps_promise_and_accepted_and_forgets_the_rest():
    node = leader(1)
    node.on_propose(0, P1)
    deliver(node, 2, Accepted(node.ballot, 1))
    deliver(node, 3, Accepted(node.ballot, 1))
    restarted = make(1, persistent=node.persistent)
    assert restarted.persistent.promised == (1, 1)
    assert restarted.persistent.accepted == {1: ((1, 1), P1)}
    assert restarted.role == "acceptor" and restarted.chosen == {} and restarted.pending == {}
    assert restarted.sm.height == 0 and restarted.ballot == (0, 0)
    restarted.on_campaign(0)
    assert restarted.ballot == (2, 1)


def test_describe_has_the_keys_the_ui_reads():
    node = leader(1)
    node.on_propose(0, P1)
    node.on_propose(0, P2)
    deliver(node, 2, Accepted(node.ballot, 1))
    deliver(node, 3, Accepted(node.ballot, 1))
    deliver(node, 2, Accept((1, 1), 3, None))
    d = node.describe()
    assert set(d) == {
        "role",
        "promised",
        "ballot",
        "phase",
        "leader",
        "accepted",
        "chosen",
        "pending",
        "applied",
    }
    assert d["role"] == "leader" and d["phase"] == "phase2" and d["leader"] == 1
    assert d["promised"] == [1, 1] and d["ballot"] == [1, 1]
    assert d["accepted"] == {
        1: [[1, 1], "set x 1", "p1"],
        2: [[1, 1], "set x 2", "p2"],
        3: [[1, 1], None, None],
    }
    assert d["chosen"] == {1: ["set x 1", "p1", False]}
    assert d["pending"] == [["p2", "set x 2"]]
    assert d["applied"] == 1


def test_describe_recent_shows_the_last_slots_without_a_scan(monkeypatch):
    node = make(3)
    deliver(node, 1, Chosen(tuple((s, P1 if s == 1 else None) for s in range(1, 9))))
    deliver(node, 1, Chosen(((10, P2),)))  # slot 9 is a hole
    for slot in (2, 9, 11, 12):
        deliver(node, 1, Accept((1, 1), slot, P3))
    full = node.describe()
    monkeypatch.setattr(SlotMap, "items", None)  # a scan of a slot table would fail now
    recent = node.describe(recent=4)  # slots 9..12, the highest known being 12
    assert recent == full | {
        "accepted": {s: full["accepted"][s] for s in (9, 11, 12)},
        "chosen": {10: ["set x 2", "p2", False]},
    }
    assert node.describe(recent=100) == full
    assert node.describe(recent=0)["chosen"] == {}


def test_describe_recent_after_a_restart_starts_from_the_accepted_slots():
    node = make(3)
    for slot in range(1, 6):
        deliver(node, 1, Accept((1, 1), slot, P1))
    restarted = make(3, persistent=node.persistent)
    assert list(restarted.describe(recent=2)["accepted"]) == [4, 5]


def test_message_summaries_show_ballots_and_values():
    assert Accept((3, 2), 4, P1).summary() == "ballot=3.2, slot=4, value=p1 'set x 1'"
    assert Accept((3, 2), 4, None).summary() == "ballot=3.2, slot=4, value=no-op"
    assert Promise((1, 1), ((1, (1, 1), P1),)).summary() == "ballot=1.1, 1 accepted"
    assert Chosen(((4, P1),)).summary() == "slot 4=p1 'set x 1'"
    assert Chosen(((4, P1), (5, None), (7, P2))).summary() == "slots 4..7"


# --- bug switches -------------------------------------------------------------------------
def test_every_bug_is_documented():
    assert set(BUGS) == {"ignore_promise", "ignore_accepted", "forget_promise", "stale_read"}


def test_bug_ignore_promise_accepts_below_the_promise():
    node = make(3, persistent=PaxosPersistent(promised=(2, 2)), bug="ignore_promise")
    out = deliver(node, 1, Accept((1, 1), 1, P1))
    assert sends(out) == [(1, Accepted((1, 1), 1))]


def test_bug_ignore_accepted_skips_pmax():
    node = make(1, bug="ignore_accepted")
    node.on_campaign(0)
    deliver(node, 2, Promise((1, 1), ((1, (0, 2), P1),)))
    out = deliver(node, 3, Promise((1, 1), ()))
    assert node.role == "leader"
    assert not any(isinstance(m, Accept) for _, m in sends(out))


@pytest.mark.parametrize("bug", [None, "forget_promise"])
def test_bug_forget_promise_loses_the_promise_on_restart(bug):
    node = make(1, bug=bug)
    deliver(node, 2, Prepare((3, 2), 0))
    restarted = make(1, persistent=node.persistent, bug=bug)
    assert restarted.persistent.promised == ((0, 0) if bug else (3, 2))
