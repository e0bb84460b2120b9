"""Multi-Paxos safety invariants, checked after every simulator step.

The checker reads only what the step changed: the facts the handling node recorded (values it
accepted or proposed while handling the event), its promise, the slots its accepted and learned
tables report written (whatever wrote them), and its chain. From the accept facts it rebuilds,
over the whole history, which value each slot has chosen: a value is chosen in a slot when a
majority of acceptors accepted it in one ballot.

Invariants:
- one value chosen per slot: no slot ever has two different values chosen;
- one value accepted per ballot: an acceptor accepts at most one value per ballot and slot;
- one value proposed per ballot: at most one value is proposed per ballot and slot;
- promise never decreases: an acceptor's promised ballot, crashes included;
- promise covers accepted: an acceptor's promise is at least every ballot it accepted;
- chosen values were proposed: a chosen value is a client's proposal, or a no-op;
- chosen values never change: once a value is chosen in a slot, every value accepted there in
  that ballot or a higher one is the same value ("Paxos Made Simple", P2a), checked when the
  value is chosen (on every acceptor) and whenever an acceptor's entry for the slot is written;
- learned values were chosen: a learner holds, in each slot, the value chosen there, and never
  replaces or drops it; it applies only what it learned;
- chains are prefixes: the applied chains are prefixes of each other, each value applied once;
- Chain Validity and KV Replay, shared with Raft (`engines.core.statecheck`).

Every table that grows with history is a SlotMap keyed by slot (or proposal number) or a
SharedList, so the simulator's checkpoints share it instead of copying it. Values stored in them
are immutable (tuples), because a checkpoint shares them too.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from engines.core.chain import GENESIS
from engines.core.node import Proposal
from engines.core.shared import DELETED, SharedList, SlotMap
from engines.core.statecheck import StateMachineCheck
from engines.core.violations import Violation
from engines.paxos.messages import ZERO, Ballot, proposal_number, show_ballot

RECENT_VOTES = 16  # keys in PaxosInvariants.recent_votes before they move into `votes`
RECENT_CHOSEN = 16  # slots in PaxosInvariants.recent_chosen


def _same(a: Proposal | None, b: Proposal | None) -> bool:
    """Whether two slot values are the same value (the same id, or both no-ops); most often
    they are the same object, which answers without a look at their ids."""
    return a is b or (a is not None and b is not None and a.id == b.id)


def _all_taken(table: SlotMap) -> list[tuple[int, Any]]:
    """A node's table on the checker's first look at it: all its slots are new."""
    table.take_written()  # which starts the recording
    return sorted(table.items())


def show_value(value: Proposal | None) -> str:
    return "a no-op" if value is None else f"{value.id} {value.value!r}"


class _LastSeen:
    """What the checker saw of one node when it last looked: one record, so a step reads it
    with one look-up."""

    __slots__ = ("promised", "length", "size")

    def __init__(self) -> None:
        self.promised: Ballot = ZERO  # its promise
        self.length = 1  # its chain's length: the genesis block
        self.size: int | None = None  # its store's size when its state machine was checked


class PaxosInvariants:
    names = (
        "one value proposed per ballot",
        "promise covers accepted",
        "one value accepted per ballot",
        "one value chosen per slot",
        "chosen values were proposed",
        "promise never decreases",
        "chosen values never change",
        "learned values were chosen",
        "chains are prefixes",
        StateMachineCheck.CHAIN,
        StateMachineCheck.KV,
    )
    # Pickled by every checkpoint: an instance dict would then slow every attribute look-up.
    __slots__ = (
        "majority",
        "proposals",
        "proposed",
        "votes",
        "recent_votes",
        "chosen",
        "top_chosen",
        "recent_chosen",
        "seen",
        "chain",
        "chain_ids",
        "state_machine",
    )

    def __init__(self, n: int) -> None:
        self.majority = n // 2 + 1
        self.proposals = SharedList([None])  # every client proposal, at its number
        self.proposed = SlotMap()  # slot -> ((ballot, value), ...): one value per ballot
        # slot -> ((ballot, ((acceptor, proposal id or None), ...)), ...)
        self.votes = SlotMap()
        # The votes of the latest (slot, ballot) keys, as acceptor -> proposal id, moved into
        # `votes` sixteen at a time: a key gets most of its votes within a few steps, so
        # `votes` is written about once a key, not once a vote. Kept small, as checkpoints
        # copy it.
        self.recent_votes: dict[tuple[int, Ballot], dict[int, str | None]] = {}
        self.chosen = SlotMap()  # slot -> (ballot, value), the first choice
        self.top_chosen = 0  # the highest slot in `chosen`
        # The choices of the latest RECENT_CHOSEN slots chosen, also in `chosen`: the learners
        # and the late acceptors of a slot come soon after its choice, and find it here with
        # no call. Kept small, as checkpoints copy it.
        self.recent_chosen: dict[int, tuple[Ballot, Any]] = {}
        self.seen: defaultdict[int, _LastSeen] = defaultdict(_LastSeen)  # node -> last look
        self.chain = SharedList([GENESIS])  # the longest chain applied anywhere
        self.chain_ids = SlotMap()  # proposal number -> True, for each value in that chain
        self.state_machine = StateMachineCheck()

    def check(self, sim: Any, event: Any) -> Violation | None:
        if event.kind == "drop":
            return None
        w = sim.world
        node = w.nodes.get(event.node)
        if node is None:
            if event.node is None and event.kind == "action":  # restart all, heal, partition
                for node in w.nodes.values():
                    found = self._check_node(node, event.step)
                    if found:
                        return found
            return None  # or crashed: its persistent state cannot change while it is down
        if node.facts:
            found = self._check_facts(w, node, event.step)
            if found:
                return found
        return self._check_node(node, event.step)

    def _record_proposals(self, w: Any) -> None:
        """The client values the simulator handed to nodes since the last look, numbered p1,
        p2, ... (a proposal to a down node is refused and gets no number). Looked for when a
        value is chosen, not at every step: a value is handed out before it can be chosen."""
        while len(self.proposals) <= w.proposals:
            self.proposals.append(w.issued[len(self.proposals) - 1])

    def _check_node(self, node: Any, step: int) -> Violation | None:
        """Look closer only at what changed since the node was last seen: most steps write one
        slot of one of its tables at most, and leave its promise alone. Hot (every step):
        the slots written are judged here, flat, and only a broken rule makes a call."""
        seen = self.seen[node.id]
        persistent = node.persistent
        if persistent.promised is not seen.promised:  # the same object while it is unchanged
            found = self._check_promise(node, seen, step)
            if found:
                return found
        # Each table's `written` tells whether it changed (True: never read), without a call,
        # and is taken by clearing it in place, without one either.
        written = persistent.accepted.written
        if written:
            # Chosen values never change, at the accepted slots written since the last look:
            # most are written before their choice, above every chosen slot.
            if written is True:
                entries = _all_taken(persistent.accepted)
            else:
                entries = sorted(written.items())
                written.clear()
            for slot, entry in entries:
                if slot <= self.top_chosen and entry is not DELETED:
                    chosen = self.recent_chosen.get(slot) or self.chosen.get(slot)
                    # Most often the chosen value object itself: no call to compare it.
                    if chosen and entry[1] is not chosen[1]:
                        found = self._keeps_chosen(node.id, slot, entry, chosen, step)
                        if found:
                            return found
        written = node.chosen.written
        if written:
            # Learned values were chosen, at the learned slots written since the last look.
            if written is True:
                entries = _all_taken(node.chosen)
            else:
                entries = sorted(written.items())
                written.clear()
            for slot, value in entries:
                chosen = self.recent_chosen.get(slot) or self.chosen.get(slot)
                if chosen is None or chosen[1] is not value:
                    found = self._learned_wrong(node.id, slot, value, chosen, step)
                    if found:
                        return found
        sm = node.sm
        chain = sm.chain
        length = len(chain)
        if length != seen.length:
            # Chains are prefixes: the blocks not seen yet match the longest chain applied
            # anywhere, or lengthen it with a value not in it yet.
            first = seen.length
            if length < first:
                first = 1  # restarted with an empty chain
            seen.length = length
            ref = self.chain
            for index in range(first, length):
                block = chain[index]
                if index < len(ref):
                    # Most often the very block object of the longest chain (Block.make).
                    if block is not ref[index] and block.hash != ref[index].hash:
                        return Violation(
                            "chains are prefixes",
                            step,
                            f"n{node.id} block {index} is {block.data!r}, "
                            f"another node's is {ref[index].data!r}",
                        )
                    continue
                pid = sm.applied_ids[index - 1]
                if not self.chain_ids.add(proposal_number(pid), True):
                    return Violation(
                        "chains are prefixes",
                        step,
                        f"n{node.id} applied {pid} twice (again as block {index})",
                    )
                ref.append(block)  # the node's own block object: stored once
        elif chain.changed_from is None and not sm.kv.written and len(sm.kv) == seen.size:
            return None  # what the state machine checks watch is unchanged: they find nothing
        seen.size = len(sm.kv)
        broken = self.state_machine.check(node)
        return Violation(broken[0], step, broken[1]) if broken else None

    # --- acceptors and proposers ---------------------------------------------------------
    def _check_facts(self, w: Any, node: Any, step: int) -> Violation | None:
        """The values the node proposed and accepted. An accept, a third of all steps, is
        judged here, with no call: its promise covers it, it is the acceptor's one value in
        its slot and ballot, and the vote that makes it chosen there checks the choice."""
        nid = node.id
        for kind, slot, ballot, value in node.facts:
            if kind == "propose":
                found = self._proposed(nid, slot, ballot, value, step)
                if found:
                    return found
                continue
            promised = node.persistent.promised
            if ballot > promised:
                return Violation(
                    "promise covers accepted",
                    step,
                    f"n{nid} accepted ballot {show_ballot(ballot)} in slot {slot} "
                    f"above its promise {show_ballot(promised)}",
                )
            pid = None if value is None else value.id  # unique in a run: it stands for the value
            key = (slot, ballot)
            recent = self.recent_votes
            votes = recent.get(key)
            fresh = votes is None
            if fresh:  # no vote here lately: none yet, or moved into `votes`
                votes = self._settled_votes(slot, ballot)
            if nid in votes:
                earlier = votes[nid]
                if earlier == pid:
                    continue  # accepted again: counted already
                return Violation(
                    "one value accepted per ballot",
                    step,
                    f"n{nid} accepted {earlier or 'a no-op'} and {show_value(value)} "
                    f"in slot {slot}, ballot {show_ballot(ballot)}",
                )
            votes[nid] = pid
            if fresh:
                recent[key] = votes
                if len(recent) > RECENT_VOTES:
                    self._settle_votes()
            # Chosen at the majority-th vote for the value; a vote past it finds what that one
            # found, and the run stopped at the first violation.
            if [*votes.values()].count(pid) == self.majority:
                found = self._choose(w, slot, ballot, value, step)
                if found:
                    return found
        return None

    def _settled_votes(self, slot: int, ballot: Ballot) -> dict[int, str | None]:
        """The votes in `slot` and `ballot` that moved into `votes` (most often none)."""
        for settled_ballot, votes in self.votes.get(slot, ()):
            if settled_ballot == ballot:
                return dict(votes)
        return {}

    def _proposed(self, nid: int, slot: int, ballot: Ballot, value: Any, step: int):
        proposals = self.proposed.get(slot, ())
        for earlier_ballot, earlier in proposals:
            if earlier_ballot == ballot:
                if _same(earlier, value):
                    return None
                return Violation(
                    "one value proposed per ballot",
                    step,
                    f"n{nid} proposed {show_value(earlier)} and {show_value(value)} "
                    f"in slot {slot}, ballot {show_ballot(ballot)}",
                )
        self.proposed[slot] = (*proposals, (ballot, value))  # a new tuple: checkpoints share
        return None

    def _settle_votes(self) -> None:
        for (slot, ballot), votes in self.recent_votes.items():
            settled = self.votes.get(slot, ())
            if settled:  # seldom: votes in another ballot, or in this one before
                settled = tuple(entry for entry in settled if entry[0] != ballot)
            # New tuples, immutable: checkpoints share `votes`.
            self.votes[slot] = (*settled, (ballot, tuple(votes.items())))
        self.recent_votes = {}

    def _choose(self, w: Any, slot: int, ballot: Ballot, value: Any, step: int):
        choice = (ballot, value)
        if self.chosen.add(slot, choice):  # most often: the first choice there
            earlier = choice
            self.top_chosen = max(self.top_chosen, slot)
            recent = self.recent_chosen
            recent[slot] = choice
            if len(recent) > RECENT_CHOSEN:
                del recent[next(iter(recent))]  # the one chosen first
            found = self._acceptors_keep(w, slot, earlier, step)
            if found:
                return found
        else:
            earlier = self.chosen[slot]
            if earlier[1] is value:
                return None  # chosen again, in another ballot: checked at its first choice
        if not _same(earlier[1], value):
            return Violation(
                "one value chosen per slot",
                step,
                f"slot {slot}: {show_value(earlier[1])} chosen in ballot "
                f"{show_ballot(earlier[0])}, then {show_value(value)} in ballot "
                f"{show_ballot(ballot)}",
            )
        if value is not None and not self._was_proposed(w, value):
            return Violation(
                "chosen values were proposed",
                step,
                f"slot {slot}: {show_value(value)} chosen in ballot {show_ballot(ballot)} "
                "was never proposed by a client",
            )
        return None

    def _was_proposed(self, w: Any, value: Proposal) -> bool:
        number = proposal_number(value.id)
        if number >= len(self.proposals):
            self._record_proposals(w)
        if not 0 < number < len(self.proposals):
            return False
        proposal = self.proposals[number]
        return proposal is value or proposal == value

    def _check_promise(self, node: Any, seen: _LastSeen, step: int) -> Violation | None:
        promised = node.persistent.promised
        earlier, seen.promised = seen.promised, promised
        if promised < earlier:
            return Violation(
                "promise never decreases",
                step,
                f"n{node.id} promised {show_ballot(earlier)}, now {show_ballot(promised)}",
            )
        return None

    def _acceptors_keep(self, w: Any, slot: int, chosen: tuple, step: int) -> Violation | None:
        """A value was just chosen in `slot`: no acceptor, up or down, holds another one there
        in that ballot or a higher one."""
        nodes, value = w.nodes, chosen[1]
        for nid in w.node_ids:
            node = nodes.get(nid)
            entry = (w.down[nid] if node is None else node.persistent).accepted.get(slot)
            # Most often the chosen value object itself: no call to compare it.
            if entry and entry[1] is not value:
                found = self._keeps_chosen(nid, slot, entry, chosen, step)
                if found:
                    return found
        return None

    def _keeps_chosen(
        self, nid: int, slot: int, entry: tuple, chosen: tuple, step: int
    ) -> Violation | None:
        """P2a: an accepted (ballot, value) at or above the chosen (ballot, value) in its slot
        holds the chosen value."""
        if entry[0] < chosen[0] or _same(entry[1], chosen[1]):
            return None
        return Violation(
            "chosen values never change",
            step,
            f"n{nid} holds {show_value(entry[1])} accepted in slot {slot}, ballot "
            f"{show_ballot(entry[0])}, where {show_value(chosen[1])} was chosen in ballot "
            f"{show_ballot(chosen[0])}",
        )

    # --- learners ------------------------------------------------------------------------
    def _learned_wrong(
        self, nid: int, slot: int, value: Any, chosen: tuple | None, step: int
    ) -> Violation | None:
        """A learned slot holds `value` (DELETED: dropped), and `chosen` was chosen there."""
        if value is DELETED:
            what = f"dropped the value it learned in slot {slot}"
        elif chosen is None or not _same(chosen[1], value):
            where = "nothing" if chosen is None else show_value(chosen[1])
            what = f"holds {show_value(value)} learned in slot {slot}, where {where} was chosen"
        else:
            return None
        return Violation("learned values were chosen", step, f"n{nid} {what}")


def make_checkers(n: int) -> list[PaxosInvariants]:
    return [PaxosInvariants(n)]
