"""What one step changed on each node: the marks the node panels show until the next step.

A `Shot` is what a panel shows of a node at one step: whether it is up, its describe() (its
persistent state when crashed) over the recent window, and its last chain blocks.
`node_changes(before, after)` compares two shots of one node: the fields that changed (term,
role, vote, commit index...), the log entries or slots added or rewritten, the log entries
deleted (shown struck through for that step), and the chain blocks added. It is pure: the
tests call it on hand-made shots or on shots of a real simulator.

`ChangeTracker` keeps the shots of the last steps shown in one timeline, so the marks of step
N compare it with step N-1 whichever way the user arrived there.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, fields
from typing import Any

from engines.core.node import plain
from engines.core.sim import Simulator
from engines.raft.messages import log_row
from engines.raft.node import snapshot_point

RECENT = 16  # log entries or slots a shot holds: more than a panel shows
BLOCKS = 5  # chain blocks a shot holds
MARKED = (
    *("role", "term", "voted_for", "leader", "commit_index", "match_index", "votes"),
    *("promised", "ballot", "phase"),  # Paxos
)
KEEP = 4  # shots kept: the step shown, the one before it, and a few to step back into


def persisted(algo: str, persistent: Any, recent: int | None = None) -> dict[str, Any]:
    """What a crashed node keeps, under the keys its describe() uses: Raft's term, vote and
    log, Paxos' promise and accepted slots (other protocols: every field). With `recent`,
    only the last `recent` entries or slots (a whole history would cost every redraw)."""
    if persistent is None:
        return {}
    if algo == "raft":
        log = persistent.log
        first = log.first if recent is None else max(log.first, len(log) - recent)
        entries = [log_row(i, e) for i, e in enumerate(log[first:], first)]
        return {
            "term": persistent.term,
            "voted_for": persistent.voted_for,
            "log": entries,
            "snapshot": snapshot_point(persistent.snapshot),
        }
    if algo == "paxos":
        accepted = persistent.accepted
        slots = sorted(accepted.keys()) if recent is None else heapq.nlargest(recent, accepted)
        shown = {}
        for slot in sorted(slots):
            bal, value = accepted[slot]
            shown[slot] = [list(bal), value.value if value else None, value.id if value else None]
        return {"promised": list(persistent.promised), "accepted": shown}
    return {f.name: plain(getattr(persistent, f.name)) for f in fields(persistent)}


@dataclass(eq=True)
class Shot:
    """One node as its panel shows it at one step."""

    up: bool
    state: dict[str, Any] = field(default_factory=dict)
    chain: list[tuple[int, str, str]] = field(default_factory=list)  # (index, hash, prev_hash)

    @property
    def role(self) -> str:
        return self.state.get("role", "?") if self.up else "crashed"


def shot_of(sim: Simulator, node_id: int) -> Shot:
    if not sim.is_up(node_id):
        algo = sim.protocol.name
        return Shot(False, persisted(algo, sim.world.down[node_id], recent=RECENT))
    node = sim.nodes[node_id]
    # Only the window a panel can show: a full describe() costs the whole history.
    chain = [(b.index, b.hash, b.prev_hash) for b in node.sm.chain[-BLOCKS:]]
    return Shot(True, node.describe(recent=RECENT), chain)


def shots_of(sim: Simulator) -> dict[int, Shot]:
    return {node_id: shot_of(sim, node_id) for node_id in sim.node_ids}


@dataclass(frozen=True)
class NodeChanges:
    """What a step changed on one node. `entries`: log indices or Paxos slots added or
    rewritten; `deleted`: Raft log entries ([index, term, value, pid]) that are gone;
    `blocks`: chain block indices added."""

    fields: frozenset[str] = frozenset()
    entries: frozenset[int] = frozenset()
    deleted: tuple[tuple, ...] = ()
    blocks: frozenset[int] = frozenset()


UNCHANGED = NodeChanges()


def entries_of(state: dict[str, Any]) -> dict[int, tuple]:
    """A node's log entries or Paxos slots by index, each as what a panel shows of it."""
    if "log" in state:
        return {e[0]: tuple(e[1:]) for e in state["log"]}
    accepted = {int(k): v for k, v in state.get("accepted", {}).items()}
    chosen = {int(k): v for k, v in state.get("chosen", {}).items()}
    return {s: (accepted.get(s), chosen.get(s)) for s in accepted.keys() | chosen}


def node_changes(before: Shot | None, after: Shot) -> NodeChanges:
    """What changed from `before` to `after` (nothing when there is no before: step 0)."""
    if before is None:
        return UNCHANGED
    changed = {
        key
        for key in MARKED
        if key in before.state and key in after.state and before.state[key] != after.state[key]
    }
    if before.role != after.role:
        changed.add("role")
    old, new = entries_of(before.state), entries_of(after.state)
    # The shots hold a recent window: an index below the old window's start is not news.
    start = min(old, default=1)
    added = {i for i, entry in new.items() if i >= start and old.get(i) != entry}
    deleted = ()
    if "log" in before.state:
        # Entries up through a new snapshot point are compacted (section 7), not deleted.
        compacted = (after.state.get("snapshot") or [0])[0]
        last = max(new, default=compacted)
        gone = [i for i in old if i > compacted and ((i in new and new[i] != old[i]) or i > last)]
        deleted = tuple((i, *old[i]) for i in sorted(gone))
    return NodeChanges(frozenset(changed), frozenset(added), deleted, new_blocks(before, after))


def new_blocks(before: Shot, after: Shot) -> frozenset[int]:
    """Blocks of `after`'s window that `before` did not hold: beyond its last one, or another
    block at the same index."""
    old = {index: digest for index, digest, _ in before.chain}
    last = max(old, default=-1)
    return frozenset(
        index
        for index, digest, _ in after.chain
        if index > last or (index in old and old[index] != digest)
    )


class ChangeTracker:
    """The shots of the last steps shown in one timeline, by step. A fork (an action at an
    earlier step) makes the steps after it another story: `forget_after` drops them."""

    def __init__(self) -> None:
        self.sim: Simulator | None = None
        self.shots: dict[int, dict[int, Shot]] = {}

    def shoot(self, sim: Simulator) -> dict[int, Shot]:
        """The shots of the current step, taken once."""
        if sim is not self.sim:
            self.sim, self.shots = sim, {}
        step = sim.step_count
        shots = self.shots.get(step)
        if shots is None:
            shots = self.shots[step] = shots_of(sim)
            while len(self.shots) > KEEP:  # the farthest from here go first
                del self.shots[max(self.shots, key=lambda s: abs(s - step))]
        return shots

    def knows(self, sim: Simulator, step: int) -> bool:
        return sim is self.sim and step in self.shots

    def forget_after(self, step: int) -> None:
        self.shots = {s: shots for s, shots in self.shots.items() if s <= step}

    def changes(self, sim: Simulator) -> dict[int, NodeChanges]:
        """What the current step changed on each node: against the step before it, or while
        that was never shown (autoplay skips frames), against the latest earlier step shown."""
        after = self.shoot(sim)
        earlier = [s for s in self.shots if s < sim.step_count]
        if not earlier:
            return {}
        before = self.shots[max(earlier)]
        return {n: node_changes(before.get(n), shot) for n, shot in after.items()}
