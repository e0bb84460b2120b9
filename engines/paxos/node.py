"""Multi-Paxos on the simulator: every node is proposer, acceptor and learner.

Sources: Lamport, "Paxos Made Simple"; van Renesse and Altinbuken, "Paxos Made Moderately
Complex". A ballot is (round, node id), compared as a tuple and shown as `round.node`.

Phase 1. A proposer picks a ballot above every one it has seen and sends Prepare(ballot, low)
to all acceptors, itself included; `low` is its chosen prefix, so the Prepare covers every open
slot above it. An acceptor promises when the ballot is not below its promise, persists the
promise, and answers Promise with its accepted (slot, ballot, value) above `low`. Otherwise it
answers Nack carrying its higher promise. A majority of promises makes the proposer leader.

Phase 2. For each open slot the new leader proposes the accepted value with the highest ballot
among the promises (pmax), or a no-op for a hole; then each client value in a fresh slot. An
acceptor accepts Accept(ballot, slot, value) when the ballot is not below its promise, persists
it and answers Accepted. A majority of Accepted in one ballot means the value is chosen: the
leader learns it and broadcasts Chosen. Every node applies chosen slots in slot order.

Stable leader. After phase 1 the leader sends only phase 2 messages until a higher ballot
preempts it (a Nack, or a higher Prepare, Accept or Heartbeat). It sends Heartbeat with its
chosen prefix; a node that lacks chosen slots asks with CatchUp and gets Chosen back. A node
that hears no heartbeat for a randomized timeout runs phase 1, so a fresh cluster elects a
leader without any client value. A preempted proposer backs off for a new random timeout.

Clients. The node a client asked keeps the proposal in `pending` until it is chosen in some
slot: the leader proposes it, another node forwards it to the leader it knows, a node that knows
no leader starts phase 1 at once. Once it has waited a whole retry tick (`retry`), it tries
again. A proposal chosen in two slots is applied once; the later slot counts as a no-op and is
shown as a duplicate.

Persistent: the promised ballot and the accepted (ballot, value) per slot (`PaxosPersistent`).
Everything else (role, proposer bookkeeping, chosen knowledge, the chain) is volatile and is
rebuilt after a restart by phase 1 and catch-up.

Timers: "leader" (an acceptor's leader timeout, also the back-off after a preemption),
"heartbeat" (the leader's period), "retry" (resend what is unanswered, retry pending values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines.core.chain import Command
from engines.core.node import Message, Node, Proposal, Request, Send, _effect
from engines.core.shared import SlotMap
from engines.paxos.messages import (
    ZERO,
    Accept,
    Accepted,
    Ballot,
    CatchUp,
    Chosen,
    Forward,
    Heartbeat,
    Nack,
    Prepare,
    Promise,
    proposal_number,
)
from engines.paxos.reasons import REASONS

_new = object.__new__  # a message made with no __init__ call, filled in by hand (hot)
CATCHUP_BATCH = 64  # chosen slots sent per CatchUp answer
_UNKNOWN = object()  # a slot not chosen yet (None is a chosen no-op)

BUGS = {
    "ignore_promise": "an acceptor accepts a ballot below the one it promised",
    "ignore_accepted": "a new leader ignores the values reported in promises (no pmax)",
    "forget_promise": "the promised ballot is not persisted: a restart forgets it",
    "stale_read": "any node answers a read from its own state, with no slot: a deposed leader "
    "or a lagging node returns an old value",
}


@dataclass(slots=True)  # pickled by every checkpoint: an instance dict would then slow it
class PaxosPersistent:
    """What an acceptor must remember across crashes."""

    promised: Ballot = ZERO
    accepted: SlotMap = field(default_factory=SlotMap)  # slot -> (ballot, value)


class PaxosNode(Node):
    REASONS = REASONS
    # Slotted, as Node is: attribute reads stay specialised slot reads.
    __slots__ = (
        "bug",
        "quorum",
        "phase",
        "ballot",
        "seen_round",
        "leader",
        "pending",
        "retry_armed",
        "waiting",
        "promises",
        "queue",
        "proposed",
        "accepts",
        "proposed_ids",
        "next_slot",
        "chosen",
        "top_chosen",
        "first_slot",
        "applied",
        "requests",
        "top_slot",
        "facts",
    )

    def __init__(self, node_id, peers, config, rng, persistent=None) -> None:
        super().__init__(node_id, peers, config, rng, persistent)
        self.bug = self.config.get("bug")  # read on every Accept: one attribute, no call
        if self.bug == "forget_promise":
            self.persistent.promised = ZERO
        self.quorum = self.majority  # read on every Accepted: an attribute, not a property
        self.role = "acceptor"
        self.phase = "idle"  # phase1 while preparing, phase2 while leading
        self.ballot: Ballot = ZERO  # own latest ballot
        self.seen_round = 0  # highest round of a ballot that preempted this node
        self.leader: int | None = None
        self.pending: dict[str, Proposal] = {}  # client proposals this node answers for
        self.retry_armed = False
        self.waiting: set[tuple] = set()  # what was unanswered at the last retry tick
        # proposer state, for self.ballot only
        self.promises: dict[int, tuple] = {}  # acceptor -> its Promise.accepted
        self.queue: dict[str, Proposal] = {}  # forwarded to us while in phase 1
        self.proposed: dict[int, Proposal | None] = {}  # slot -> value, not yet chosen
        self.accepts: dict[int, set[int]] = {}  # slot -> acceptors that accepted it
        self.proposed_ids: set[str] = set()  # proposed in self.ballot and not yet chosen
        self.next_slot = 1
        # learner state; what grows with history is in SlotMaps, which checkpoints share
        self.chosen = SlotMap()  # slot -> value
        self.top_chosen = 0  # the highest slot in `chosen`
        self.first_slot = SlotMap()  # proposal number -> the lowest slot it is chosen in
        self.applied = 0  # slots 1..applied are applied to self.sm
        self.requests: dict[str, Command] = {}  # client operations this node answers, by id
        # the highest slot accepted or chosen here, so a display can show the last few slots
        # without scanning them all (a restart scans the accepted slots once)
        self.top_slot = max(self.persistent.accepted, default=0)
        # What this node accepted and proposed while handling its latest input, for the
        # checkers: each input (on_message, on_timer, on_propose, on_request, on_campaign)
        # starts it afresh, when the one before left something in it. Most leave nothing:
        # then no new list is made, and no step pays for taking it.
        self.facts: list[tuple] = []

    def new_persistent(self) -> PaxosPersistent:
        return PaxosPersistent()

    def start(self, now: int) -> None:
        self._reset_leader_timer()

    # --- inputs ----------------------------------------------------------------------------
    def on_message(self, now: int, src: int, msg: Message) -> None:
        if self.facts:
            self.facts = []
        _HANDLERS[type(msg)](self, src, msg)

    def on_timer(self, now: int, name: str) -> None:
        if self.facts:
            self.facts = []
        if name == "leader":
            self._start_phase1("no heartbeat")
        elif name == "heartbeat":
            self._send_heartbeat()
        else:
            self._retry()

    def on_propose(self, now: int, proposal: Proposal) -> None:
        if self.facts:
            self.facts = []
        self.pending[proposal.id] = proposal
        self._arm_retry()
        self._push(proposal)

    def on_campaign(self, now: int) -> None:
        if self.facts:
            self.facts = []
        self._start_phase1("campaign")

    def on_request(self, now: int, request: Request) -> None:
        """A client operation, a read included, is a client value in a slot: it is answered
        once its slot is applied here, in slot order, so a read sees every earlier choice."""
        if self.facts:
            self.facts = []
        command = request.command
        if command.f == "get" and self.bug == "stale_read":
            self.reply(command, "ok", self.sm.kv.get(command.key))  # the bug: no slot
        elif self.role != "leader":
            self.redirect(command, self.leader)
        else:
            self.requests[request.proposal.id] = command
            self.on_propose(now, request.proposal)

    def rank(self) -> tuple:
        return self.ballot

    def log_length(self) -> int:
        return self.top_slot

    # --- delivery helpers ------------------------------------------------------------------
    def _to(self, dst: int, msg: Message) -> None:
        """Send, or handle at once when the destination is this node's own role."""
        if dst == self.id:
            _HANDLERS[type(msg)](self, dst, msg)
        else:
            self.send(dst, msg)

    def _to_all(self, msg: Message) -> None:
        self.broadcast(msg)
        _HANDLERS[type(msg)](self, self.id, msg)

    def _reset_leader_timer(self) -> None:
        self.set_timer(
            "leader",
            self.rng.randint(self.config["leader_timeout_min"], self.config["leader_timeout_max"]),
        )

    def _arm_retry(self) -> None:
        # Armed once and left alone, so a steady stream of work cannot keep postponing it.
        if not self.retry_armed:
            self.retry_armed = True
            self.set_timer("retry", self.config["retry"])

    # --- proposer: phase 1 -------------------------------------------------------------------
    def _start_phase1(self, reason: str) -> None:
        round_ = max(self.seen_round, self.persistent.promised[0]) + 1
        self.ballot = (round_, self.id)
        self.role, self.phase, self.leader = "proposer", "phase1", None
        self._forget_proposer_state()
        self.cancel_timer("leader")
        self.cancel_timer("heartbeat")
        self.note("phase1", ballot=self.ballot, why=reason)
        self._arm_retry()
        self._to_all(Prepare(self.ballot, self.applied))

    def _forget_proposer_state(self) -> None:
        self.promises = {}
        self.queue = {}
        self.proposed = {}
        self.accepts = {}
        self.proposed_ids = set()

    def _on_promise(self, src: int, msg: Promise) -> None:
        if self.phase != "phase1" or msg.ballot != self.ballot:
            return  # a late answer to an older ballot
        self.promises[src] = msg.accepted
        if len(self.promises) >= self.quorum:
            self._adopt()

    def _pmax(self) -> dict[int, tuple[Ballot, Proposal | None, int]]:
        """Per slot, the value accepted in the highest ballot among the promises: (that
        ballot, the value, an acceptor that reported it)."""
        best: dict[int, tuple[Ballot, Proposal | None, int]] = {}
        for acceptor, accepted in sorted(self.promises.items()):
            for slot, ballot, value in accepted:
                if slot not in best or ballot > best[slot][0]:
                    best[slot] = (ballot, value, acceptor)
        if self.bug == "ignore_accepted":
            return {}
        return best

    def _adopt(self) -> None:
        """Phase 1 succeeded: lead, re-propose what may have been chosen, fill holes."""
        self.role, self.phase, self.leader = "leader", "phase2", self.id
        self.note("leads", ballot=self.ballot, promises=sorted(self.promises))
        recovered = self._pmax()
        top = max([self.top_chosen, *recovered])
        self.next_slot = top + 1
        for slot in range(self.applied + 1, top + 1):
            if slot in self.chosen:
                continue
            if slot in recovered:
                ballot, value, acceptor = recovered[slot]
                self.note("adopted", slot=slot, value=value, accepted_in=ballot, acceptor=acceptor)
                self._propose(slot, value)
            else:
                self.note("hole", slot=slot)
                self._propose(slot, None)
        waiting = [*self.pending.values(), *self.queue.values()]
        self.queue = {}
        for proposal in waiting:
            self._propose_new(proposal)
        self._send_heartbeat()  # tell everyone at once, so their leader timers stop

    # --- proposer: phase 2 -------------------------------------------------------------------
    def _propose_new(self, proposal: Proposal) -> None:
        if proposal.id in self.proposed_ids or proposal_number(proposal.id) in self.first_slot:
            return
        slot = self.next_slot
        self.next_slot += 1
        self._propose(slot, proposal)

    def _propose(self, slot: int, value: Proposal | None) -> None:
        self.proposed[slot] = value
        self.accepts[slot] = set()
        if value is not None:
            self.proposed_ids.add(value.id)
        self.facts.append(("propose", slot, self.ballot, value))
        self._arm_retry()
        self._to_all(Accept(self.ballot, slot, value))

    def _on_accepted(self, src: int, msg: Accepted) -> None:
        if self.role != "leader" or msg.ballot != self.ballot:
            return
        voters = self.accepts.get(msg.slot)
        if voters is None:
            return  # already chosen
        voters.add(src)
        if len(voters) >= self.quorum:
            value = self.proposed[msg.slot]
            acceptors = sorted(voters)
            self.note("chosen", slot=msg.slot, value=value, acceptors=acceptors, ballot=msg.ballot)
            self.broadcast(Chosen(((msg.slot, value),)))
            self._learn(msg.slot, value)

    def _on_nack(self, src: int, msg: Nack) -> None:
        if self.role == "acceptor" or msg.ballot != self.ballot:
            return
        self._step_down(msg.promised)

    def _step_down(self, higher: Ballot) -> None:
        """A higher ballot exists: stop proposing and back off for a random time."""
        self.note("preempted", ballot=self.ballot, higher=higher)
        self.role, self.phase = "acceptor", "idle"
        self.seen_round = max(self.seen_round, higher[0])
        self.leader = higher[1] if higher[1] != self.id else None
        self._forget_proposer_state()
        self.cancel_timer("heartbeat")
        self._reset_leader_timer()

    def _defer(self, ballot: Ballot) -> None:
        """Someone else holds `ballot`, which passed our promise check."""
        if self.role != "acceptor" and ballot > self.ballot:
            self._step_down(ballot)

    def _send_heartbeat(self) -> None:
        self.broadcast(Heartbeat(self.ballot, self.applied))
        self.set_timer("heartbeat", self.config["heartbeat"])

    def _on_forward(self, src: int, msg: Forward) -> None:
        if self.role == "leader":
            self._propose_new(msg.proposal)
        elif self.role == "proposer":
            self.queue[msg.proposal.id] = msg.proposal
        # An acceptor drops it: the origin retries once it knows the leader.

    def _push(self, proposal: Proposal) -> None:
        """Move a pending client proposal toward a slot."""
        if self.role == "leader":
            self._propose_new(proposal)
        elif self.role == "proposer":
            pass  # proposed when phase 1 succeeds
        elif self.leader is not None:
            self.send(self.leader, Forward(proposal))
        else:
            self._start_phase1("no leader known")

    def _retry(self) -> None:
        """Resend what is still unanswered and push pending proposals again, but only what
        already waited at the previous tick, so nothing is retried moments after it was sent."""
        self.retry_armed = False
        overdue, self.waiting = self.waiting, set()
        if self.phase == "phase1":
            if ("prepare", self.ballot) in overdue:
                prepare = Prepare(self.ballot, self.applied)
                for peer in self.peers:
                    if peer not in self.promises:
                        self.send(peer, prepare)
            self.waiting.add(("prepare", self.ballot))
        for slot, value in self.proposed.items():
            if ("accept", slot) in overdue:
                accept = Accept(self.ballot, slot, value)
                for peer in self.peers:
                    if peer not in self.accepts[slot]:
                        self.send(peer, accept)
            self.waiting.add(("accept", slot))
        for proposal in list(self.pending.values()):
            if ("client", proposal.id) in overdue:
                self._push(proposal)
            self.waiting.add(("client", proposal.id))
        if self.waiting:
            self._arm_retry()

    # --- acceptor ----------------------------------------------------------------------------
    def _on_prepare(self, src: int, msg: Prepare) -> None:
        p = self.persistent
        if msg.ballot < p.promised:
            self._nack(src, msg)
            return
        self.note("promise", ballot=msg.ballot, promised=p.promised)
        p.promised = msg.ballot  # persisted before the promise leaves
        if src != self.id:
            self._defer(msg.ballot)
            self.leader = src  # presumably, so a client value is forwarded there
            self._reset_leader_timer()  # give it time to finish phase 1
        # The accepted slots above `low`: a Prepare comes with the proposer's chosen prefix,
        # most often close to the top, so look at the slots from there up to `top_slot`,
        # unless there are fewer accepted slots in all (a proposer that knows nothing yet).
        if self.top_slot - msg.low < len(p.accepted):
            above = [s for s in range(msg.low + 1, self.top_slot + 1) if s in p.accepted]
        else:
            above = sorted(s for s in p.accepted if s > msg.low)
        accepted = tuple((s, *p.accepted[s]) for s in above)
        self._to(src, Promise(msg.ballot, accepted))

    def _on_accept(self, src: int, msg: Accept) -> None:
        p = self.persistent
        ballot, slot, value = msg.ballot, msg.slot, msg.value
        if ballot is not p.promised:  # most often the very ballot promised: no compares
            if ballot < p.promised and self.bug != "ignore_promise":
                self._nack(src, msg)
                return
            if ballot > p.promised:
                p.promised = ballot
        p.accepted.put(slot, (ballot, value))
        if slot > self.top_slot:
            self.top_slot = slot
        self.facts.append(("accept", slot, ballot, value))
        if src == self.id:
            self._on_accepted(src, Accepted(ballot, slot))
            return
        if self.role != "acceptor":  # most Accepts reach an acceptor: no call to defer
            self._defer(ballot)
        if self.role == "acceptor":
            self.leader = src
        # send(src, Accepted(ballot, slot)), inlined, and the message made with no call to
        # its __init__: hot
        reply = _new(Accepted)
        reply.ballot, reply.slot = ballot, slot
        self.outbox.append(_effect(Send, (src, reply)))

    def _nack(self, src: int, msg: Prepare | Accept | Heartbeat) -> None:
        """Refuse a ballot below our promise, naming the higher one (PMS phases 1b, 2b)."""
        promised = self.persistent.promised
        self.note("nack", proposer=src, msg=msg.type_name, ballot=msg.ballot, promised=promised)
        self._to(src, Nack(msg.ballot, promised))

    def _on_heartbeat(self, src: int, msg: Heartbeat) -> None:
        if msg.ballot < self.persistent.promised:
            self._nack(src, msg)  # tell a stale leader to step down
            return
        self._defer(msg.ballot)
        if self.role == "acceptor":
            self.leader = src
            self._reset_leader_timer()
            if msg.chosen > self.applied:
                self.send(src, CatchUp(self.applied))

    # --- learner -----------------------------------------------------------------------------
    def _on_chosen(self, src: int, msg: Chosen) -> None:
        for slot, value in msg.entries:
            self._learn(slot, value)

    def _on_catchup(self, src: int, msg: CatchUp) -> None:
        end = min(self.applied, msg.have + CATCHUP_BATCH)
        if end - msg.have == CATCHUP_BATCH:
            self.batch_limited += 1
        if end > msg.have:
            entries = tuple((s, self.chosen[s]) for s in range(msg.have + 1, end + 1))
            self.send(src, Chosen(entries))

    def _learn(self, slot: int, value: Proposal | None) -> None:
        """`value` is chosen in `slot`: record it, and apply what is ready."""
        if not self.chosen.add(slot, value):
            return  # known already
        if slot > self.top_chosen:
            self.top_chosen = slot
            if slot > self.top_slot:
                self.top_slot = slot
        # The proposer's and the client's records are empty on most nodes: tested first.
        if self.accepts and self.accepts.pop(slot, None) is not None:
            del self.proposed[slot]
        repeats = False
        if value is not None:
            pid = value.id
            # Most values are chosen in one slot: `add` stores it as their first, in one call.
            number = proposal_number(pid)
            if not self.first_slot.add(number, slot):
                first = self.first_slot[number]
                repeats = first < slot  # as `_repeats` finds it, once this slot is applied
                if slot < first:
                    self.first_slot[number] = slot
            if self.proposed_ids:
                self.proposed_ids.discard(pid)  # first_slot answers for it from now on
            if self.pending:
                self.pending.pop(pid, None)
        if slot != self.applied + 1:
            return  # a gap below it still waits
        # Apply chosen slots in slot order, from this one, the slot after the applied ones,
        # up to the next gap, which waits until its slot is chosen. `repeats`: whether the
        # value was chosen in an earlier slot too (see `_repeats`).
        while True:
            self.applied += 1
            if value is None:
                pass  # a no-op
            elif repeats:
                self.note("repeat", slot=self.applied, proposal=value.id)
            else:
                self.sm.apply(value.id, value.value, value.proposed_at)
                if self.requests and value.id in self.requests:
                    self.answer_applied(self.requests.pop(value.id))
            if self.top_chosen <= self.applied:
                return  # most often: nothing chosen above waits, known without a look-up
            value = self.chosen.get(self.applied + 1, _UNKNOWN)
            if value is _UNKNOWN:
                return  # a gap
            repeats = value is not None and self._repeats(self.applied + 1, value)

    def _repeats(self, slot: int, value: Proposal) -> bool:
        """Whether an applied slot holds a value already chosen, and so applied, in an earlier
        slot. Every slot below an applied one is known, so the lowest known slot is the first."""
        return self.first_slot[proposal_number(value.id)] < slot

    # --- display -----------------------------------------------------------------------------
    def describe(self, recent: int | None = None) -> dict[str, Any]:
        p = self.persistent
        return {
            "role": self.role,
            "promised": list(p.promised),
            "ballot": list(self.ballot),
            "phase": self.phase,
            "leader": self.leader,
            "accepted": {
                slot: [list(b), v.value if v else None, v.id if v else None]
                for slot, (b, v) in self._shown(p.accepted, recent)
            },
            "chosen": {
                slot: [
                    v.value if v else None,
                    v.id if v else None,
                    v is not None and slot <= self.applied and self._repeats(slot, v),
                ]
                for slot, v in self._shown(self.chosen, recent)
            },
            "pending": [[q.id, q.value] for q in self.pending.values()],
            "applied": self.applied,
        }

    def _shown(self, table: SlotMap, recent: int | None) -> list[tuple[int, Any]]:
        """A slot table's (slot, value) pairs in slot order; with `recent`, only those among the
        last `recent` slots up to the highest known one, looked up without a scan."""
        if recent is None:
            return sorted(table.items())
        first = max(1, self.top_slot - recent + 1)
        return [(slot, table[slot]) for slot in range(first, self.top_slot + 1) if slot in table]


_HANDLERS = {
    Prepare: PaxosNode._on_prepare,
    Promise: PaxosNode._on_promise,
    Nack: PaxosNode._on_nack,
    Accept: PaxosNode._on_accept,
    Accepted: PaxosNode._on_accepted,
    Chosen: PaxosNode._on_chosen,
    Heartbeat: PaxosNode._on_heartbeat,
    CatchUp: PaxosNode._on_catchup,
    Forward: PaxosNode._on_forward,
}

default_config: dict[str, Any] = {
    "leader_timeout_min": 150,
    "leader_timeout_max": 300,
    "heartbeat": 50,
    "retry": 100,
    "bug": None,
}
