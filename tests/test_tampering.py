"""Each kind of state corruption the checkers claim to catch is flagged within one step.

A healthy run is stopped just before an event that a live node handles; that node's state is
corrupted directly, and one step is taken. The incremental checkers must report the broken
invariant at that very step, and the oracle (tests/oracle.py) must agree that the state is
unsafe."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from oracle import oracle_for

from engines.core.chain import Block, block_hash
from engines.core.node import Proposal
from engines.core.sim import Simulator


def healthy(algo: str) -> Simulator:
    """Five nodes that committed `set a 1`, `set b 2` and `del a` everywhere."""
    sim = Simulator(algo, 5, seed=1)
    sim.run_until(lambda: sim.leader() is not None, time_limit=3000)
    for value in ("set a 1", "set b 2", "del a"):
        sim.propose(value, sim.leader())
        sim.run(200)
    assert all(node.sm.kv == {"b": "2"} for node in sim.nodes.values())
    return sim


def stop_before(sim: Simulator, leader: bool | None = None):
    """Advance to just before an event that a live node handles (a leader, a follower, or
    either), and return that node."""
    while True:
        event = sim.step()
        sim.step_back()  # restores the world: read the node afterwards
        node = sim.nodes.get(event.node)
        if event.kind in ("deliver", "timer") and leader in (None, node.is_leader):
            return node
        sim.step()


def flagged(sim: Simulator, invariant: str) -> None:
    sim.step()
    assert sim.violation is not None, "not flagged"
    assert sim.violation.invariant == invariant, str(sim.violation)
    assert sim.violation.step == sim.step_count
    assert oracle_for(sim).check(sim) is not None


# --- Raft: the committed prefix -----------------------------------------------------------------
def raft_follower() -> tuple[Simulator, object]:
    sim = healthy("raft")
    node = stop_before(sim, leader=False)
    assert node.commit_index >= 3
    return sim, node


def test_a_follower_truncated_below_its_commit_index_is_flagged():
    sim, node = raft_follower()
    node.persistent.log.truncate(node.commit_index)
    flagged(sim, "Committed Prefix")


def test_a_committed_entry_replaced_in_place_is_flagged():
    sim, node = raft_follower()
    log = node.persistent.log
    log[2] = log[2]._replace(value="set b 666")
    flagged(sim, "Committed Prefix")


def test_committed_entries_overwritten_by_a_stale_leaders_entries_are_flagged():
    sim, node = raft_follower()
    log = node.persistent.log
    stale = [log[i]._replace(term=0, value=f"stale {i}") for i in range(2, len(log))]
    log.truncate(2)
    log.extend(stale)  # as long as before: only the entries changed
    flagged(sim, "Committed Prefix")


def test_a_leader_replacing_its_own_entry_is_flagged():
    sim = healthy("raft")
    log = stop_before(sim, leader=True).persistent.log
    log[len(log) - 1] = log[-1]._replace(value="set b 666")
    flagged(sim, "Leader Append-Only")


# --- both: the chain and the store -------------------------------------------------------------
def seed_hash_without_data(block: Block) -> str:
    text = f"{block.index}{block.timestamp}{block.prev_hash}"
    return hashlib.sha256(text.encode()).hexdigest()


CHAIN_TAMPERING = {
    "stale hash": lambda b: replace(b, data="set b 666"),
    "hash not covering the data": lambda b: replace(
        b, data="set b 666", hash=seed_hash_without_data(b)
    ),
    "broken link": lambda b: Block.make(b.index, b.timestamp, b.data, "0" * 64),
    "wrong index": lambda b: Block.make(b.index + 1, b.timestamp, b.data, b.prev_hash),
}


@pytest.mark.parametrize("algo", ["raft", "paxos"])
@pytest.mark.parametrize("kind", sorted(CHAIN_TAMPERING))
def test_a_tampered_block_is_flagged(algo, kind):
    sim = healthy(algo)
    chain = stop_before(sim).sm.chain
    chain[2] = CHAIN_TAMPERING[kind](chain[2])
    flagged(sim, "Chain Validity")


KV_TAMPERING = {
    "a del ignored": lambda kv: kv.update(a="1"),
    "a set under the wrong key": lambda kv: kv.update(c=kv.pop("b")),
    "a set lost": lambda kv: kv.pop("b"),
    "a value changed": lambda kv: kv.update(b="666"),
    "the store cleared": lambda kv: kv.clear(),
    "a key dropped behind the store's back": lambda kv: dict.pop(kv, "b"),  # not in `written`
}


@pytest.mark.parametrize("algo", ["raft", "paxos"])
@pytest.mark.parametrize("kind", sorted(KV_TAMPERING))
def test_a_tampered_store_is_flagged(algo, kind):
    sim = healthy(algo)
    KV_TAMPERING[kind](stop_before(sim).sm.kv)
    flagged(sim, "KV Replay")


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_a_store_swapped_for_an_empty_one_is_flagged(algo):
    sim = healthy(algo)
    node = stop_before(sim)
    node.sm.kv = type(node.sm.kv)()
    flagged(sim, "KV Replay")


# --- Paxos: chosen and learned values ----------------------------------------------------------
FORGED = Proposal("p99", "set b 666", 0, 1)


def test_swapping_the_accepted_value_of_a_chosen_slot_is_flagged():
    sim = healthy("paxos")
    accepted = stop_before(sim).persistent.accepted
    ballot, _ = accepted[2]
    accepted[2] = (ballot, FORGED)
    flagged(sim, "chosen values never change")


def test_swapping_the_learned_value_of_an_applied_slot_is_flagged():
    sim = healthy("paxos")
    node = stop_before(sim)
    assert node.applied >= 2
    node.chosen[2] = FORGED
    flagged(sim, "learned values were chosen")


def test_the_block_hash_is_the_seed_format():
    """The one definition the checkers verify blocks with covers every field."""
    fields = (3, "40ms", "set a 1", "ab" * 32)
    expected = hashlib.sha256("".join(map(str, fields)).encode()).hexdigest()
    assert block_hash(*fields) == expected
