"""An oracle for the safety checkers: a from-scratch check of a simulator's whole state.

Written apart from `engines/*/invariants.py` and `engines/core/statecheck.py`, and sharing no
code with them or with `engines/core/chain.py`: it recomputes block hashes with hashlib from the
seed's format and replays key-value commands with its own parser. Each call looks at every
node, up or down, whole; between calls it remembers only what the properties are about
(leaders by term, terms and votes, committed entries, chosen values, promises), so it is slow
and simple where the incremental checkers are fast and clever. `check` answers the first
problem it finds, or None.
"""

from __future__ import annotations

import hashlib
from typing import Any

GENESIS_FIELDS = (0, "0ms", "Genesis Block", "")


def seed_hash(index: int, timestamp: str, data: str, prev: str) -> str:
    """The seed example's block hash: sha256(str(Index) + Timestamp + Data + PreviousHash)."""
    return hashlib.sha256((str(index) + timestamp + data + prev).encode()).hexdigest()


def replay(chain: Any) -> dict[str, str]:
    store: dict[str, str] = {}
    for block in list(chain)[1:]:
        words = block.data.split(maxsplit=2)
        if len(words) == 3 and words[0] == "set":
            store[words[1]] = words[2]
        elif len(words) == 2 and words[0] == "del" and words[1] in store:
            del store[words[1]]
    return store


def chain_problem(node_id: int, sm: Any) -> str | None:
    chain = list(sm.chain)
    genesis = chain[0]
    if (genesis.index, genesis.timestamp, genesis.data, genesis.prev_hash) != GENESIS_FIELDS:
        return f"n{node_id}: chain does not start at the genesis block"
    for i, block in enumerate(chain):
        prev = chain[i - 1].hash if i else ""
        if block.index != i or block.prev_hash != prev:
            return f"n{node_id}: block {i} is not linked"
        if block.hash != seed_hash(block.index, block.timestamp, block.data, block.prev_hash):
            return f"n{node_id}: block {i} has a wrong hash"
    if dict(sm.kv) != replay(chain):
        return f"n{node_id}: store {dict(sm.kv)} is not its chain replayed"
    return None


def chains_agree(sims_nodes: dict[int, Any]) -> str | None:
    chains = {i: [b.hash for b in n.sm.chain] for i, n in sims_nodes.items()}
    for a, ca in chains.items():
        for b, cb in chains.items():
            short = min(len(ca), len(cb))
            if ca[:short] != cb[:short]:
                return f"chains of n{a} and n{b} diverge"
    return None


class RaftOracle:
    def __init__(self) -> None:
        self.leaders: dict[int, int] = {}  # term -> leader
        self.terms: dict[int, int] = {}  # node -> term
        self.votes: dict[tuple[int, int], int] = {}  # (node, term) -> candidate
        self.committed: list[Any] = []  # entry at index i + 1
        self.commit_terms: list[int] = []  # the term in which it was first seen committed

    def check(self, sim: Any) -> str | None:
        w = sim.world
        states = {i: (w.nodes[i].persistent if i in w.nodes else w.down[i]) for i in w.node_ids}
        for check in (self.persistence, self.log_matching):
            problem = check(states)
            if problem:
                return problem
        for check in (self.leaders_and_completeness, self.commits, chains_agree):
            problem = check(w.nodes)
            if problem:
                return problem
        for node_id, node in w.nodes.items():
            problem = chain_problem(node_id, node.sm)
            if problem:
                return problem
        return None

    def persistence(self, states: dict[int, Any]) -> str | None:
        for i, p in states.items():
            if p.term < self.terms.get(i, 0):
                return f"n{i}: term went back"
            self.terms[i] = p.term
            vote = p.voted_for
            if vote is not None and self.votes.setdefault((i, p.term), vote) != vote:
                return f"n{i}: two votes in term {p.term}"
        return None

    def log_matching(self, states: dict[int, Any]) -> str | None:
        prefixes: dict[tuple[int, int], int] = {}  # (index, term) -> digest of the prefix
        for i, p in states.items():
            digest = 0
            for index, entry in enumerate(list(p.log)):
                digest = hash((digest, entry.term, entry.value, entry.pid))
                if prefixes.setdefault((index, entry.term), digest) != digest:
                    return f"n{i}: logs differ below index {index} term {entry.term}"
        return None

    def leaders_and_completeness(self, nodes: dict[int, Any]) -> str | None:
        for i, node in nodes.items():
            if node.role != "leader":
                continue
            term = node.persistent.term
            if self.leaders.setdefault(term, i) != i:
                return f"two leaders in term {term}"
            log = list(node.persistent.log)
            for index, entry in enumerate(self.committed, start=1):
                if self.commit_terms[index - 1] < term and (
                    index >= len(log) or log[index] != entry
                ):
                    return f"leader n{i} of term {term} lacks committed index {index}"
        return None

    def commits(self, nodes: dict[int, Any]) -> str | None:
        for i, node in nodes.items():
            log = list(node.persistent.log)
            if node.commit_index >= len(log):
                return f"n{i}: commit index beyond its log"
            for index in range(1, node.commit_index + 1):
                if index <= len(self.committed):
                    if log[index] != self.committed[index - 1]:
                        return f"n{i}: committed index {index} differs"
                else:
                    self.committed.append(log[index])
                    self.commit_terms.append(node.persistent.term)
        return None


class PaxosOracle:
    def __init__(self, n: int) -> None:
        self.majority = n // 2 + 1
        self.chosen: dict[int, tuple[Any, str | None]] = {}  # slot -> (ballot, proposal id)
        self.promised: dict[int, Any] = {}

    def check(self, sim: Any) -> str | None:
        w = sim.world
        states = {i: (w.nodes[i].persistent if i in w.nodes else w.down[i]) for i in w.node_ids}
        for check in (self.promises, self.choices, self.accepted_keep_chosen):
            problem = check(states)
            if problem:
                return problem
        for check in (self.learned, chains_agree, applied_once):
            problem = check(w.nodes)
            if problem:
                return problem
        for node_id, node in w.nodes.items():
            problem = chain_problem(node_id, node.sm)
            if problem:
                return problem
        return None

    def promises(self, states: dict[int, Any]) -> str | None:
        for i, p in states.items():
            if p.promised < self.promised.get(i, (0, 0)):
                return f"n{i}: promise went back"
            self.promised[i] = p.promised
            if any(ballot > p.promised for ballot, _ in p.accepted.values()):
                return f"n{i}: accepted above its promise"
        return None

    def choices(self, states: dict[int, Any]) -> str | None:
        votes: dict[tuple[int, Any, str | None], int] = {}
        for p in states.values():
            for slot, (ballot, value) in p.accepted.items():
                key = (slot, ballot, value and value.id)
                votes[key] = votes.get(key, 0) + 1
        for (slot, ballot, pid), count in sorted(votes.items(), key=str):
            if count < self.majority:
                continue
            first = self.chosen.setdefault(slot, (ballot, pid))
            if first[1] != pid:
                return f"slot {slot}: two values chosen"
        return None

    def accepted_keep_chosen(self, states: dict[int, Any]) -> str | None:
        for i, p in states.items():
            for slot, (ballot, value) in p.accepted.items():
                chosen = self.chosen.get(slot)
                if chosen and ballot >= chosen[0] and (value and value.id) != chosen[1]:
                    return f"n{i}: slot {slot} accepted another value above the chosen ballot"
        return None

    def learned(self, nodes: dict[int, Any]) -> str | None:
        for i, node in nodes.items():
            for slot, value in node.chosen.items():
                chosen = self.chosen.get(slot)
                if chosen is not None and chosen[1] != (value and value.id):
                    return f"n{i}: learned another value than the chosen one in slot {slot}"
        return None


def applied_once(nodes: dict[int, Any]) -> str | None:
    for i, node in nodes.items():
        ids = list(node.sm.applied_ids)
        if len(ids) != len(set(ids)):
            return f"n{i}: a value applied twice"
    return None


def oracle_for(sim: Any) -> RaftOracle | PaxosOracle:
    return RaftOracle() if sim.protocol.name == "raft" else PaxosOracle(len(sim.node_ids))
