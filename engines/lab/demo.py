"""The seed example, for real: commit three values on a simulated cluster and print the chain.

The seed's toy appended three blocks to a shared list. Here a cluster runs the real protocol:
the demo waits for a leader, proposes each value and waits until every node has applied it
before proposing the next, then prints the committed chain in the seed's format (one stanza a
block) and which nodes hold identical chains. It uses only the Simulator API, so it works for
any registered algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engines.core.chain import Block, chain_is_valid
from engines.core.sim import Simulator

VALUES = (
    "First distributed system data",
    "Second distributed system data",
    "Third distributed system data",
)
LEADER_WAIT_MS = 5_000  # simulated time allowed for an election
COMMIT_WAIT_MS = 1_000  # before a value is proposed again to whoever leads then
ATTEMPTS = 5


@dataclass
class DemoResult:
    lines: list[str] = field(default_factory=list)
    chain: list[Block] = field(default_factory=list)  # the committed chain, genesis first
    groups: list[list[int]] = field(default_factory=list)  # nodes with identical chains
    ok: bool = False


def demo(algo: str = "raft", nodes: int = 5, seed: int = 1) -> DemoResult:
    sim = Simulator(algo, nodes, seed, keep_events=False)
    result = DemoResult()
    say = result.lines.append
    leader = _wait_for_leader(sim)
    if leader is None:
        say(f"{algo}: no leader after {LEADER_WAIT_MS} ms of simulated time")
    else:
        say(f"{algo}, {nodes} nodes, seed {seed}: n{leader} leads at {sim.now} ms")
    for value in VALUES:
        if not _commit(sim, value):
            say(f"{value!r} was not committed on every node; stopping")
            return _finish(sim, result)
        say(f"{value!r} committed on all {nodes} nodes at {sim.now} ms")
    result.ok = sim.violation is None
    return _finish(sim, result)


def run_demo(algo: str = "raft", nodes: int = 5, seed: int = 1) -> list[str]:
    """The lines the CLI prints."""
    return demo(algo, nodes, seed).lines


def _wait_for_leader(sim: Simulator) -> int | None:
    sim.run_until(lambda: sim.leader() is not None, time_limit=sim.now + LEADER_WAIT_MS)
    return sim.leader()


def _everywhere(sim: Simulator, value: str) -> bool:
    return all(sm is not None and sm.chain[-1].data == value for sm in _machines(sim))


def _machines(sim: Simulator) -> list:
    return [sim.state_machine(i) for i in sim.node_ids]


def _commit(sim: Simulator, value: str) -> bool:
    """Propose to the leader (or the first node, which may start one) until all nodes apply."""
    for _ in range(ATTEMPTS):
        sim.propose(value, _wait_for_leader(sim) or sim.node_ids[0])
        sim.run_until(
            lambda: _everywhere(sim, value) or sim.violation is not None,
            time_limit=sim.now + COMMIT_WAIT_MS,
        )
        if _everywhere(sim, value):
            return True
    return False


def _finish(sim: Simulator, result: DemoResult) -> DemoResult:
    say = result.lines.append
    by_head: dict[str, list[int]] = {}
    for node_id in sim.node_ids:
        sm = sim.state_machine(node_id)
        by_head.setdefault(sm.head_hash if sm else "down", []).append(node_id)
    result.groups = sorted(by_head.values(), key=lambda g: (-len(g), g))
    longest = max((sm for sm in _machines(sim) if sm), key=lambda sm: sm.height, default=None)
    result.chain = list(longest.chain) if longest else []
    say("")
    for block in result.chain:
        say(block.format())  # ends with a newline: the blank line between stanzas
    names = " ".join(f"n{i}" for i in result.groups[0])
    if len(result.groups) == 1:
        say(f"All {len(sim.node_ids)} nodes hold identical chains: {names}")
    else:
        others = "; ".join(" ".join(f"n{i}" for i in g) for g in result.groups[1:])
        say(f"Identical chains: {names}; different: {others}")
    if chain_is_valid(result.chain):
        say("Chain valid: every hash recomputes from its fields and links to its predecessor")
    else:
        say("Chain INVALID: a hash does not recompute or does not link")
        result.ok = False
    if sim.violation:
        say(f"Safety violation: {sim.violation}")
    return result
