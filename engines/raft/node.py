"""Raft (Ongaro and Ousterhout, "In Search of an Understandable Consensus Algorithm").

A sans-IO state machine driven by the simulator. The sections follow the paper's Figure 2:
- Persistent state (`RaftPersistent`): currentTerm, votedFor, log[]. `log[0]` is a sentinel of
  term 0, so entry i sits at `log[i]` and prevLogIndex 0 always matches.
- Rules for all servers: a message from an older term is stale; a newer term makes the node a
  follower of that term (`on_message`).
- Followers and candidates: the randomized election timer starts an election (5.2).
- RequestVote (5.2, 5.4.1): one vote per term, only for a log at least as up to date.
- Leaders: a no-op of the new term first (8), AppendEntries with the prevLogIndex/prevLogTerm
  check and conflict truncation (5.3), nextIndex backing off by whole terms (the optimisation
  at the end of 5.3), and the commit rule of 5.4.2 (Figure 8): only an entry of the current term
  is committed by counting replicas.
Extensions, each off by default: PreVote and CheckQuorum (Ongaro's dissertation, 9.6 and 6.2;
etcd-io/raft), leader transfer (dissertation 3.10) through `transfer_leadership`, and log
compaction (section 7: snapshots and InstallSnapshot; the value and the log that follows it
are in `engines.raft.snapshot`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines.core.chain import Command
from engines.core.node import Message, Node, Proposal, Request, Send, SetTimer, _effect, plain
from engines.raft.config import ConfigEntry, Configuration, Configurations
from engines.raft.messages import (
    AppendEntries,
    AppendReply,
    Entry,
    Forward,
    InstallSnapshot,
    PreVote,
    PreVoteReply,
    RequestVote,
    SnapshotReply,
    TimeoutNow,
    VoteReply,
    log_row,
)
from engines.raft.reasons import REASONS
from engines.raft.snapshot import RaftLog, Snapshot

# The most entries one AppendEntries carries, so that a far-behind follower catches up in
# bounded messages (etcd's MaxSizePerMsg plays this part).
MAX_BATCH = 64
# How many forwarded proposal ids a leader remembers, so that a Forward the network duplicated
# is not appended twice (copies arrive within one latency range of each other).
RECENT_FORWARDS = 64

BUGS = {
    "figure8": "a new leader appends no no-op and commits old-term entries by counting replicas "
    "(the paper's Figure 8)",
    "forget_vote": "votedFor is not persisted: a restarted node may vote twice in one term",
    "no_prevlog_check": "AppendEntries is accepted without the prevLogIndex/prevLogTerm check",
    "vote_any_log": "votes are granted without the up-to-date-log check",
    "accept_stale_append": "AppendEntries from an older term is accepted (no term check): a "
    "deposed leader's entries overwrite committed ones",
    "stale_read": "any node answers a read from its own state with no check: a deposed leader "
    "or a lagging follower returns an old value",
    "snapshot_truncates": "a follower installs every InstallSnapshot whole, even one older than "
    "its commit index: a stale snapshot discards newer, committed entries",
    "reconfig_before_commit": "a new leader changes the configuration before an entry of its "
    "term has committed (Ongaro's 2015 bug): two leaders in one term",
    "apply_config_on_commit": "a configuration is used only once it commits, not when appended: "
    "after back-to-back changes, two leaders in one term",
}
READ_PATHS = ("log", "index", "lease")
# Calling a class runs its __init__ in a C-level frame of its own (CPython 3.11 does not
# specialise that call): the AppendEntries and replies of the hot paths are made by _new and
# filled by __init__ called as a plain function (as the simulator makes its events), about
# 270 instructions a message less.
_new = object.__new__
_fill_append, _fill_reply = AppendEntries.__init__, AppendReply.__init__


@dataclass(slots=True)
class RaftPersistent:
    """What a node writes to stable storage before answering (Figure 2), and its latest
    snapshot (section 7), which the log follows. Slots: pickling a checkpoint would give an
    instance a dict of its own, and attribute reads would fall off the specialised path."""

    term: int = 0
    voted_for: int | None = None
    log: RaftLog = field(default_factory=RaftLog)  # of Entry; checkpoints share it
    snapshot: Snapshot | None = None


# --- the node -----------------------------------------------------------------------------------
class RaftNode(Node):
    REASONS = REASONS
    # Every attribute in a slot (Node's are in its own): a read is a specialised slot read, not
    # a dict lookup (instances with over 30 attributes share no keys).
    __slots__ = (
        *("timeout_min", "timeout_max", "heartbeat_ms", "prevote", "noop"),
        *("checkquorum", "bug", "snapshot_every", "leader", "leader_seen_at", "commit_index"),
        *("election_timeout", "votes", "next_index", "match_index", "heard_at", "held_back"),
        *("transfer_to", "transfer_since", "recent_forwards", "read_path", "lease_ms"),
        *("requests", "reads", "round", "round_sent", "acked_round", "quorum_round"),
        *("lease_until", "term_start", "boot_lease", "membership", "configs"),
    )

    def __init__(self, node_id: int, founders: list[int], *args: Any, **kwargs: Any) -> None:
        super().__init__(node_id, founders, *args, **kwargs)
        cfg = self.config
        self.timeout_min = cfg["election_timeout_min"]
        self.timeout_max = cfg["election_timeout_max"]
        self.heartbeat_ms = cfg["heartbeat"]
        self.prevote = bool(cfg.get("prevote"))
        self.checkquorum = bool(cfg.get("checkquorum"))
        self.noop = cfg["noop"] and cfg.get("bug") != "figure8"
        self.bug = cfg.get("bug")
        self.snapshot_every = cfg.get("snapshot_every", 0)  # applied entries; 0: never compact
        # Volatile state: all of it is lost in a crash.
        self.leader: int | None = None
        self.leader_seen_at = 0  # when the known leader last spoke (leases: PreVote, CheckQuorum)
        self.commit_index = 0
        self.election_timeout = 0
        self.votes: set[int] = set()
        self.next_index: dict[int, int] = {}
        self.match_index: dict[int, int] = {}
        self.heard_at: dict[int, int] = {}  # leader: when each follower last answered
        self.held_back = 0  # leader: the last index the Figure 8 rule held back (noted once)
        self.transfer_to: int | None = None
        self.transfer_since = 0
        self.recent_forwards: dict[str, None] = {}  # proposal ids, oldest first
        # Clients (dissertation 6): operations waiting to be applied, reads waiting for a
        # confirmed round, and the heartbeat rounds that confirm leadership (6.4).
        self.read_path = cfg["read"]
        self.lease_ms = cfg["lease"]
        self.requests: dict[str, Command] = {}  # proposal id -> the operation it carries
        self.reads: list[tuple[Command, int, int]] = []  # (get, read index, round needed)
        self.round = 0
        self.round_sent: dict[int, int] = {}  # round -> when it was sent (own clock)
        self.acked_round: dict[int, int] = {}
        self.quorum_round = 0  # the highest round a majority answered
        self.lease_until = 0
        self.term_start = 0  # the index of this leader's first entry of its term
        self.boot_lease = 0
        # Membership (dissertation 4): the founders are the configuration below the log's first
        # configuration entry; a server added later is not in it, so it waits for a leader.
        self.membership = cfg["membership"]
        snapshot = self.persistent.snapshot
        self.read_configurations(snapshot.config if snapshot else Configuration.of(founders))
        self.follow_configuration()

    def new_persistent(self) -> RaftPersistent:
        return RaftPersistent()

    def start(self, now: int) -> None:
        if self.bug == "forget_vote":
            self.persistent.voted_for = None
        if self.read_path == "lease":  # 6.4.1: it may have acknowledged a lease before a crash
            self.boot_lease = now + self.timeout_min
        self.reset_election_timer(new_timeout=True)
        snapshot = self.persistent.snapshot
        if snapshot is not None:  # section 7: the state machine restarts from the snapshot
            self.sm, self.commit_index = snapshot.state_machine(), snapshot.index

    # --- small helpers ------------------------------------------------------------------------
    @property
    def term(self) -> int:
        return self.persistent.term

    @property
    def last_index(self) -> int:
        return self.persistent.log.last_index()

    def last_term(self) -> int:
        return self.persistent.log[-1].term

    @property
    def configuration(self) -> Configuration:
        """The configuration in force here: the last one in the log (dissertation 4.1), or
        with the bug the last one committed."""
        if self.bug == "apply_config_on_commit":
            return self.configs.committed(self.commit_index)
        return self.configs.current

    @property
    def majority(self) -> int:
        return self.configuration.quorum_size()

    def read_configurations(self, bootstrap: Configuration) -> None:
        """The configuration entries of the log, over `bootstrap`, the configuration in force
        below its first entry: the founders', or its snapshot's (section 7)."""
        log = self.persistent.log
        self.configs = Configurations(bootstrap, log, log.base)

    def follow_configuration(self) -> None:
        """Talk to the members of the configuration in force; a leader starts replicating to
        new ones at once and forgets the progress of removed ones."""
        members = set(self.configuration.members)
        if self.role == "leader" and self.configs.last_index > self.commit_index:
            members |= set(self.configs.previous.members)  # a leaving server learns it left
        self.peers = sorted(members - {self.id})
        if self.role != "leader":
            return
        for gone in set(self.next_index) - set(self.peers):
            for progress in (self.next_index, self.match_index, self.heard_at, self.acked_round):
                progress.pop(gone, None)
        for peer in self.peers:
            if peer not in self.next_index:
                self.next_index[peer], self.match_index[peer] = self.last_index + 1, 0
                self.heard_at[peer], self.acked_round[peer] = 0, 0
                self.send_append(peer)

    def reset_election_timer(self, new_timeout: bool = False) -> None:
        """Restart the election timer. Figure 2: a follower becomes a candidate "if election
        timeout elapses without receiving AppendEntries RPC from current leader or granting
        vote to candidate"; the students' guide to Raft: restart it only when "a) you get an
        AppendEntries RPC from the current leader [...]; b) you are starting an election; or
        c) you grant a vote to another peer". So a higher term alone, a vote request refused
        (a candidate whose log is behind) or a pre-vote does not restart it: stale candidates
        would hold off the one node that can win. The other callers start a timer where none
        runs: a node booting, and a leader stepping down (leaders run no election timer)."""
        if new_timeout:
            self.election_timeout = self.rng.randint(self.timeout_min, self.timeout_max)
        self.set_timer("election", self.election_timeout)

    def in_lease(self, now: int) -> bool:
        """Whether a leader is known to be alive: it spoke within the minimum election timeout."""
        if self.role == "leader" or now < self.boot_lease:
            return True
        return self.leader is not None and now - self.leader_seen_at < self.timeout_min

    def ignores_vote(self, now: int, msg: RequestVote) -> bool:
        """Dissertation 4.2.3: a server that heard from a live leader within the minimum
        election timeout ignores RequestVote (with CheckQuorum, unless a transfer forces it).
        Lease reads (6.4.1) rest on it, so with them no vote is forced."""
        if self.read_path == "lease":
            return self.in_lease(now)
        return self.checkquorum and not msg.force and self.in_lease(now)

    def log_up_to_date(self, last_term: int, last_index: int) -> bool:
        """5.4.1: the later last term wins; with equal terms, the longer log."""
        if self.bug == "vote_any_log":
            return True
        return (last_term, last_index) >= (self.last_term(), self.last_index)

    def refusal(self, now: int, src: int, msg: RequestVote | PreVote) -> dict[str, Any] | None:
        """Why a (pre-)vote for `src` is refused, None when it is granted: one vote per term
        (5.2), no vote while a live leader's lease stands (PreVote, dissertation 9.6), and
        only for a log at least as up to date as ours (5.4.1)."""
        if type(msg) is PreVote:
            if msg.term <= self.term:
                return {"reason": "stale_term", "our_term": self.term}
            if self.in_lease(now):
                return {"reason": "lease", "leader": self.leader}
        elif self.persistent.voted_for not in (None, src):
            return {"reason": "voted", "voted_for": self.persistent.voted_for}
        if not self.log_up_to_date(msg.last_term, msg.last_index):
            ours = (self.last_term(), self.last_index)
            return {
                "reason": "log_behind",
                "their_last": (msg.last_term, msg.last_index),
                "our_last": ours,
            }
        return None

    def name_role(self, role: str, **why: Any) -> None:
        if role != self.role:
            self.role = role
            self.note("role", role=role, term=self.term, **why)

    # --- role changes -------------------------------------------------------------------------
    def become_follower(self, term: int, leader: int | None, **why: Any) -> None:
        p = self.persistent
        if term > p.term:
            p.term, p.voted_for = term, None
        if self.role == "leader":
            self.cancel_timer("heartbeat")
            self.transfer_to = None
            self.requests, self.reads = {}, []
            self.reset_election_timer(new_timeout=True)  # a leader runs no election timer
        self.leader = leader
        self.name_role("follower", **why)

    def campaign(self, now: int, force: bool) -> None:
        """The election timer fired (or the user ordered it): pre-vote first if enabled."""
        if self.prevote and not force:
            self.start_prevote(now)
        else:
            self.start_election(now, force)

    def start_prevote(self, now: int) -> None:
        """A precandidate asks whether it would win before it starts a term (9.6)."""
        self.leader = None
        self.votes = {self.id}
        self.name_role("precandidate")
        self.note("prevote_asked", term=self.term + 1)
        self.reset_election_timer(new_timeout=True)
        self.broadcast(PreVote(self.term + 1, self.last_index, self.last_term()))
        self.count_votes(now)

    def start_election(self, now: int, force: bool) -> None:
        p = self.persistent
        p.term += 1
        p.voted_for = self.id
        self.leader = None
        self.votes = {self.id}
        if self.role == "candidate":
            self.note("new_election", term=p.term)
        self.name_role("candidate")
        self.reset_election_timer(new_timeout=True)
        self.broadcast(RequestVote(p.term, self.last_index, self.last_term(), force))
        self.count_votes(now)

    def count_votes(self, now: int) -> None:
        if not self.configuration.is_quorum(self.votes):  # the candidate's configuration counts
            return
        if self.role == "precandidate":
            self.start_election(now, force=False)
        else:
            self.become_leader(now)

    def become_leader(self, now: int) -> None:
        self.cancel_timer("election")
        self.name_role(
            "leader",
            why="elected",
            votes=sorted(self.votes),
            cluster=len(self.configuration.voters),
            majority=self.majority,
        )
        self.leader = self.id
        next_index = self.last_index + 1
        self.next_index = dict.fromkeys(self.peers, next_index)
        self.match_index = dict.fromkeys(self.peers, 0)
        self.heard_at = dict.fromkeys(self.peers, now)
        self.transfer_to = None
        self.held_back = 0
        # Section 8: a no-op of the new term lets the leader commit what earlier terms left.
        if self.noop:
            self.persistent.log.append(Entry(self.term))
        self.term_start = self.last_index
        self.round, self.round_sent, self.lease_until, self.quorum_round = 0, {}, 0, 0
        self.acked_round = dict.fromkeys(self.peers, 0)
        self.next_round(now)
        for peer in self.peers:
            self.send_append(peer)
        self.set_timer("heartbeat", self.heartbeat_ms)
        self.maybe_commit()

    # --- inputs -------------------------------------------------------------------------------
    def on_timer(self, now: int, name: str) -> None:
        if name == "election" and self.role != "leader":
            if self.may_campaign():
                self.campaign(now, force=False)
            else:  # a learner, or a server its committed configuration left out
                self.reset_election_timer()
        elif name == "heartbeat" and self.role == "leader":
            self.heartbeat(now)
        elif name == "snapshot":
            self.take_snapshot()

    def may_campaign(self) -> bool:
        """Dissertation 4.2.2: a server that is not part of its own latest configuration
        should still start new elections while the entry that removed it is uncommitted, as
        it might still be needed (its log may be the only one a quorum can elect); its own
        vote counts only where it is a voter (`count_votes`). A learner never campaigns."""
        if self.configuration.is_voter(self.id):
            return True
        removal_pending = self.configs.last_index > self.commit_index
        return removal_pending and self.configs.previous.is_voter(self.id)

    def on_campaign(self, now: int) -> None:
        if self.role == "leader":
            self.note("already_leader", term=self.term)
        elif not self.may_campaign():
            self.note("not_voter", config=self.configuration.words())
        elif self.read_path == "lease" and self.in_lease(now):
            self.note("lease_wait")
        else:
            self.start_election(now, force=True)

    def on_propose(self, now: int, proposal: Proposal) -> None:
        if self.role == "leader":
            self.append_proposal(proposal)
        elif self.leader is not None:
            self.note("forward", proposal=proposal.id, leader=self.leader)
            self.send(self.leader, Forward(proposal))
        else:
            self.reject(proposal, "no_leader")

    def reject(self, proposal: Proposal, reason: str, **facts: Any) -> None:
        self.note(
            "proposal_rejected", proposal=proposal.id, value=proposal.value, reason=reason, **facts
        )

    def on_message(self, now: int, src: int, msg: Message) -> None:
        if msg.term == self.persistent.term:  # most messages (a Forward's term is None)
            _HANDLERS[type(msg)](self, now, src, msg)
            return
        kind, term = type(msg), self.persistent.term
        if kind is Forward:
            self.on_forward(src, msg)
            return
        if msg.term > term:
            if kind is PreVote or (kind is PreVoteReply and msg.granted):
                pass  # pre-votes are about a future term and change nobody's term
            elif kind is RequestVote and self.ignores_vote(now, msg):
                self.note(
                    "vote_refused", candidate=src, term=msg.term, reason="lease", leader=self.leader
                )
                return
            else:
                leader = src if kind is AppendEntries else None
                why = {"why": "higher_term", "src": src, "msg": kind.__name__, "old_term": term}
                self.become_follower(msg.term, leader, **why)
        elif not (kind is AppendEntries and self.bug == "accept_stale_append"):
            self.answer_stale(src, msg)
            return
        _HANDLERS[kind](self, now, src, msg)

    def answer_stale(self, src: int, msg: Message) -> None:
        """A request from an older term is refused with our term, so the sender catches up."""
        kind, stale = type(msg), {"term": msg.term, "reason": "stale_term", "our_term": self.term}
        if kind is RequestVote:
            self.note("vote_refused", candidate=src, **stale)
            self.send(src, VoteReply(self.term, False))
        elif kind is PreVote:
            self.note("prevote_refused", candidate=src, **stale)
            self.send(src, PreVoteReply(self.term, False))
        elif kind is AppendEntries:
            self.note("append_rejected", leader=src, **stale)
            self.send(src, AppendReply(self.term, False, msg.prev_index))
        elif kind is InstallSnapshot:  # Figure 13: "Reply immediately if term < currentTerm"
            self.note("snapshot_rejected", leader=src, **stale)
            self.send(src, SnapshotReply(self.term, 0))

    # --- elections ----------------------------------------------------------------------------
    def on_request_vote(self, now: int, src: int, msg: RequestVote) -> None:
        p = self.persistent
        refusal = self.refusal(now, src, msg)
        if refusal is None:
            p.voted_for = src
            self.reset_election_timer()
            self.note("vote_granted", candidate=src, term=p.term)
        else:
            self.note("vote_refused", candidate=src, term=p.term, **refusal)
        self.send(src, VoteReply(p.term, refusal is None))

    def on_prevote(self, now: int, src: int, msg: PreVote) -> None:
        refusal = self.refusal(now, src, msg)
        if refusal is None:
            self.note("prevote_granted", candidate=src, term=msg.term)
        else:
            self.note("prevote_refused", candidate=src, term=msg.term, **refusal)
        granted = refusal is None
        self.send(src, PreVoteReply(msg.term if granted else self.term, granted))

    def on_vote_reply(self, now: int, src: int, msg: VoteReply) -> None:
        if self.role == "candidate" and msg.granted:
            self.votes.add(src)
            self.count_votes(now)

    def on_prevote_reply(self, now: int, src: int, msg: PreVoteReply) -> None:
        if self.role == "precandidate" and msg.granted and msg.term == self.term + 1:
            self.votes.add(src)
            self.count_votes(now)

    def on_timeout_now(self, now: int, src: int, msg: TimeoutNow) -> None:
        if self.role != "leader":
            self.note("takes_over", leader=src)
            self.start_election(now, force=True)

    # --- replication: the leader --------------------------------------------------------------
    def append_proposal(self, proposal: Proposal) -> None:
        if self.transfer_to is not None:
            self.reject(proposal, "transfer", target=self.transfer_to)
            return
        log = self.persistent.log
        fields = (self.persistent.term, proposal.value, proposal.id, proposal.proposed_at)
        log.entries.append(_effect(Entry, fields))  # Entry(*fields), without its Python __new__
        index = log.base + len(log.entries) - 1  # the last index, without a call
        # Followers with nothing in flight get it now; the others when their ack comes back.
        for peer in self.peers:
            if self.next_index[peer] == index:
                self.send_append(peer)
        # Our own index is the highest (every ack is of an entry we sent): raising it moves
        # the quorum's only where we alone may be one. (The bug's counts lag: always count.)
        if self.bug == "apply_config_on_commit" or len(self.configs.current.voters) == 1:
            self.maybe_commit()

    def on_forward(self, src: int, msg: Forward) -> None:
        pid = msg.proposal.id
        if pid in self.recent_forwards:
            return  # a duplicated copy
        if self.role == "leader":
            self.recent_forwards[pid] = None
            if len(self.recent_forwards) > RECENT_FORWARDS:
                del self.recent_forwards[next(iter(self.recent_forwards))]
            self.append_proposal(msg.proposal)
        else:
            self.reject(msg.proposal, "not_leader", src=src)

    def send_append(self, peer: int) -> None:
        log = self.persistent.log
        nxt = self.next_index[peer]
        if nxt <= log.base:  # section 7: the entries it needs next are compacted
            self.send(peer, InstallSnapshot(self.term, self.persistent.snapshot))
            return
        held, start = log.entries, nxt - log.base  # the list index of entry nxt
        prev_term, entries = held[start - 1].term, tuple(held[start : start + MAX_BATCH])
        if len(entries) == MAX_BATCH:
            self.batch_limited += 1
        msg = _new(AppendEntries)
        _fill_append(
            msg, self.persistent.term, nxt - 1, prev_term, entries, self.commit_index, self.round
        )
        self.outbox.append(_effect(Send, (peer, msg)))  # send(), without its call

    def broadcast_append(self) -> None:
        for peer in self.peers:
            self.send_append(peer)

    # --- clients (dissertation chapter 6) -----------------------------------------------------
    def on_request(self, now: int, request: Request) -> None:
        command = request.command
        if command.f == "get" and self.bug == "stale_read":
            self.reply(command, "ok", self.sm.kv.get(command.key))  # the bug: no check at all
        elif self.role != "leader":
            self.redirect(command, self.leader)  # 6.2: a follower names the leader it knows
        elif command.f == "get" and self.read_path != "log":
            self.read(now, command)
        elif self.transfer_to is None:  # writes, and reads through the log, are entries
            self.requests[request.proposal.id] = command
            self.append_proposal(request.proposal)

    def read(self, now: int, command: Command) -> None:
        """6.4: the read index is the commit index, once an entry of this term is committed
        (the no-op). A lease read (6.4.1) is answered at once while the lease holds; otherwise
        a new heartbeat round must confirm that this node still leads."""
        index = max(self.commit_index, self.term_start)
        if self.read_path == "lease" and self.holds_lease(now) and self.commit_index >= index:
            self.reply(command, "ok", self.sm.kv.get(command.key))
            return
        self.next_round(now)
        self.reads.append((command, index, self.round))
        self.broadcast_append()

    def holds_lease(self, now: int) -> bool:
        return now < self.lease_until and self.transfer_to is None

    def next_round(self, now: int) -> None:
        """Number a new heartbeat round; only the ReadIndex and lease paths need rounds."""
        if self.read_path != "log":
            self.round += 1
            self.round_sent[self.round] = now

    def confirm_round(self, src: int, round_: int) -> None:
        """A reply in our term to round `round_`: a majority's highest rounds confirm this
        node led when the lowest of them was sent (6.4), and start a lease then (6.4.1)."""
        if round_ <= self.acked_round[src]:
            return
        self.acked_round[src] = round_
        quorum = self.configuration.quorum_value(self.acked_round, self.round)
        if quorum > self.quorum_round:
            self.quorum_round = quorum
            self.lease_until = self.round_sent[quorum] + self.lease_ms
            self.round_sent = {r: t for r, t in self.round_sent.items() if r >= quorum}
            self.serve_reads()

    def serve_reads(self) -> None:
        """Answer the reads whose round is confirmed and whose read index is applied."""
        waiting = []
        for command, index, round_ in self.reads:
            if round_ <= self.quorum_round and self.commit_index >= index:
                self.reply(command, "ok", self.sm.kv.get(command.key), round_)
            else:
                waiting.append((command, index, round_))
        self.reads = waiting

    def heartbeat(self, now: int) -> None:
        if self.checkquorum and not self.quorum_alive(now):
            self.become_follower(self.term, None, why="lost_quorum")
            return
        if self.transfer_to is not None and now - self.transfer_since >= self.timeout_max:
            self.note("transfer_abandoned", target=self.transfer_to)
            self.transfer_to = None
        self.next_round(now)
        self.broadcast_append()
        self.set_timer("heartbeat", self.heartbeat_ms)

    def quorum_alive(self, now: int) -> bool:
        """CheckQuorum: a quorum (counting the leader) answered within an election timeout."""
        recent = {p for p, t in self.heard_at.items() if now - t < self.election_timeout}
        return self.configuration.is_quorum(recent | {self.id})

    def on_append_reply(self, now: int, src: int, msg: AppendReply) -> None:
        if self.role != "leader" or src not in self.next_index:
            return  # not leading, or from a server no longer in the configuration
        self.heard_at[src] = now
        if msg.round:
            self.confirm_round(src, msg.round)
        if msg.success:
            if msg.index <= self.match_index[src]:
                return  # an old or duplicated ack
            self.advance(src, msg.index)
        elif msg.index == self.next_index[src] - 1:  # else a stale rejection
            self.next_index[src] = self.backoff(msg, self.match_index[src])
            self.send_append(src)

    def advance(self, src: int, match: int) -> None:
        """`src` holds our log up to `match`: commit what that allows, send it the rest, or
        hand over to it when it is the transfer target and caught up."""
        self.match_index[src] = match
        self.next_index[src] = match + 1
        # A match at or below the commit index moves no quorum past it: the count would find
        # what the last one found. (With the bug, a commit changes the configuration uncounted.)
        if match > self.commit_index or self.bug == "apply_config_on_commit":
            committed = self.maybe_commit()
            if committed and (self.role != "leader" or src not in self.next_index):
                return  # the commit removed this leader, or src, from the configuration
        log = self.persistent.log
        if match < log.base + len(log.entries) - 1:  # the last index, without a call
            self.send_append(src)
        elif src == self.transfer_to:
            self.send(src, TimeoutNow(self.term))

    def backoff(self, msg: AppendReply, match: int) -> int:
        """The next index to try after a rejection, skipping a whole conflicting term."""
        result = msg.conflict_index
        if msg.conflict_term:
            log = self.persistent.log
            for i in range(min(msg.index, len(log) - 1), log.base, -1):
                if log[i].term == msg.conflict_term:
                    result = i + 1  # we hold that term: resend from just after our last of it
                    break
                if log[i].term < msg.conflict_term:
                    break
        return max(match + 1, min(result, msg.index))

    def maybe_commit(self) -> bool:
        """5.4.2: commit the highest index on a quorum, if its entry is of the current term. The
        leader counts itself only while it is a voter (dissertation 4.2.2). True if it did."""
        log = self.persistent.log
        held, base = log.entries, log.base  # read past the log's methods: on every ack
        # With no bug, the configuration in force is the last one; read without the property,
        # a call through C.
        config = self.configs.current if self.bug is None else self.configuration
        n = config.quorum_value(self.match_index, base + len(held) - 1)
        if n <= self.commit_index:
            return False
        entry_term, term = held[n - base].term, self.persistent.term
        if entry_term != term and self.bug != "figure8":
            if n != self.held_back:  # an older term's entry is committed only under one of ours
                self.held_back = n
                self.note("commit_held", index=n, entry_term=entry_term, term=term)
            return False
        self.note("commit", index=n, term=term)
        self.commit_to(n)
        return True

    def commit_to(self, index: int) -> None:
        """Advance the commit index and apply the newly committed client values in order."""
        log, before = self.persistent.log, self.commit_index
        base = log.base
        self.sm.apply_entries(
            log.entries[before + 1 - base : index + 1 - base], self.requests, self.answer_applied
        )
        self.commit_index = index
        if self.bug == "apply_config_on_commit":
            self.follow_configuration()
        if self.role == "leader" and before < self.configs.last_index <= index:
            self.configuration_committed()
        if self.reads:
            self.serve_reads()
        if self.snapshot_every and index - log.base >= self.snapshot_every:
            # In a step of its own, so that the safety checks see each entry before it goes.
            self.set_timer("snapshot", 0)

    # --- log compaction (section 7) -----------------------------------------------------------
    def take_snapshot(self) -> None:
        """Section 7: "Each server takes snapshots independently, covering just the committed
        entries in its log": the applied state, then the log keeps only the entries after it."""
        log, index = self.persistent.log, self.commit_index
        if index <= log.base:
            return
        term = log[index].term
        config = self.configs.committed(index)  # the latest one as of index, committed
        self.persistent.snapshot = Snapshot.take(self.sm, index, term, config)
        log.compact(index, term)
        self.read_configurations(config)
        self.note("snapshot_taken", index=index, term=term, kept=len(log) - 1 - index)

    def on_install_snapshot(self, now: int, src: int, msg: InstallSnapshot) -> None:
        """Figure 13, receiver: a snapshot older than the commit index is ignored (what it
        holds is applied here already); otherwise it replaces the state machine."""
        if self.role == "leader":
            return  # two leaders in one term: only a broken rule gets here
        self.heard_from_leader(now, src, msg.term)
        snap = msg.snapshot
        if snap.index <= self.commit_index and self.bug != "snapshot_truncates":
            self.note("snapshot_ignored", leader=src, index=snap.index, commit=self.commit_index)
        else:
            self.install(src, snap)
        self.send(src, SnapshotReply(self.term, snap.index))

    def install(self, src: int, snap: Snapshot) -> None:
        """Figure 13: "If existing log entry has same index and term as snapshot's last
        included entry, retain log entries following it"; else discard the entire log. Then
        reset the state machine using the snapshot's contents."""
        log = self.persistent.log
        last = len(log) - 1
        keeps = self.bug != "snapshot_truncates" and snap.index < len(log)
        if keeps and log[snap.index].term == snap.term:  # snap.index > commit >= log.base
            log.compact(snap.index, snap.term)
        else:
            log.discard(snap.index, snap.term)
        self.persistent.snapshot = snap
        self.sm, self.commit_index = snap.applied_over(self.sm), snap.index
        self.read_configurations(snap.config)
        self.follow_configuration()
        kept = len(log) - 1 - snap.index
        dropped = max(0, last - snap.index - kept)
        point = {"index": snap.index, "term": snap.term}
        self.note("snapshot_installed", leader=src, kept=kept, dropped=dropped, **point)

    def on_snapshot_reply(self, now: int, src: int, msg: SnapshotReply) -> None:
        if self.role != "leader" or src not in self.next_index:
            return  # not leading, or from a server no longer in the configuration
        self.heard_at[src] = now
        if msg.index > self.match_index[src]:  # else an old or duplicated reply
            self.advance(src, msg.index)

    def transfer_leadership(self, now: int, target: int) -> None:
        """Dissertation 3.10: stop taking proposals, bring `target` up to date, then tell it to
        start an election at once (TimeoutNow). Abandoned after an election timeout."""
        if self.role != "leader" or target == self.id or target not in self.match_index:
            return
        self.transfer_to, self.transfer_since = target, now
        self.note("transfer", target=target)
        if self.match_index[target] == self.last_index:
            self.send(target, TimeoutNow(self.term))
        else:
            self.send_append(target)

    # --- membership (dissertation chapter 4) ---------------------------------------------------
    def on_membership(self, now: int, change: str, nodes: list[int]) -> None:
        """A request to add a learner, or to promote or remove servers."""
        refusal = self.change_refusal(change, nodes)
        if refusal:
            self.note("config_refused", change=change, nodes=nodes, reason=refusal)
            return
        self.append_configuration(self.changed(change, nodes))

    def change_refusal(self, change: str, nodes: list[int]) -> str | None:
        """Why this change cannot be made now, None when it can. Only a leader changes the
        configuration, one change at a time (4.1: the last one committed first), and, since
        Ongaro's 2015 fix, only once an entry of its own term has committed."""
        config = self.configuration
        if self.role != "leader":
            return "not_leader"
        if self.configs.last_index > self.commit_index:
            return "pending"
        if self.commit_index < self.term_start and self.bug != "reconfig_before_commit":
            return "term_uncommitted"
        if change == "add" and any(n in config.members for n in nodes):
            return "member"
        if change == "remove" and any(n not in config.members for n in nodes):
            return "not_member"
        if change == "promote" and any(n not in config.learners for n in nodes):
            return "not_learner"
        if change == "promote" and any(self.match_index[n] < self.commit_index for n in nodes):
            return "behind"  # a learner counts once it holds what is committed (4.2.1)
        voters = self.changed(change, nodes).voters
        if not voters:
            return "last_voter"
        moved = set(voters) ^ set(config.voters)
        if self.membership == "single" and len(moved) > 1:
            return "one_at_a_time"
        return None

    def membership_refusal(self, change: str, nodes: list[int]) -> str:
        """The sentence this change would be refused with now, or "" (the app asks first, so
        that a change refused changes nothing, not even the timeline)."""
        reason = self.change_refusal(change, nodes)
        if reason is None:
            return ""
        _, sentence = self.REASONS["config_refused"]
        return sentence(self.id, {"change": change, "nodes": nodes, "reason": reason})

    def changed(self, change: str, nodes: list[int]) -> Configuration:
        """The configuration after the change: in joint mode a change of voters goes through
        the joint configuration old+new first (the paper's section 6)."""
        config = self.configuration
        voters, learners = set(config.voters), set(config.learners)
        if change == "add":
            learners |= set(nodes)
        elif change == "promote":
            voters, learners = voters | set(nodes), learners - set(nodes)
        else:
            voters, learners = voters - set(nodes), learners - set(nodes)
        joint = self.membership == "joint" and voters != set(config.voters)
        return Configuration.of(voters, learners, config.voters if joint else None)

    def append_configuration(self, config: Configuration) -> None:
        log = self.persistent.log
        log.append(ConfigEntry(self.term, config))
        self.note("config_appended", index=len(log) - 1, config=config.words())
        self.written(len(log) - 1, (log[-1],))
        for peer in self.peers:
            if self.next_index[peer] == len(log) - 1:
                self.send_append(peer)
        self.maybe_commit()

    def configuration_committed(self) -> None:
        """The last configuration entry committed: a joint configuration moves on to the new
        one (section 6), and a leader outside the new configuration steps down (4.2.2)."""
        config = self.configuration
        self.note("config_committed", index=self.configs.last_index, config=config.words())
        # A last AppendEntries tells each leaving server the removal committed: until it
        # knows, it may still campaign (may_campaign), and its higher terms would disrupt.
        for peer in set(self.peers) - set(config.members):
            self.send_append(peer)
        self.follow_configuration()
        if config.joint:
            self.append_configuration(Configuration.of(config.voters, config.learners))
        elif not config.is_voter(self.id):
            self.become_follower(self.term, None, why="removed")

    # --- replication: the follower ------------------------------------------------------------
    def heard_from_leader(self, now: int, src: int, term: int) -> None:
        """AppendEntries or InstallSnapshot of our term: `src` leads it. (on_append does the
        same, flat.)"""
        if self.leader != src or self.role != "follower":  # a leader never gets here
            self.become_follower(term, src)
        # reset_election_timer(): the current leader's AppendEntries or InstallSnapshot. The
        # timer's effect is made here: it saves two calls on every AppendEntries.
        self.outbox.append(_effect(SetTimer, ("election", self.election_timeout)))
        self.leader_seen_at = now

    def on_append(self, now: int, src: int, msg: AppendEntries) -> None:
        # heard_from_leader(), flat: hot (every AppendEntries).
        if self.role != "follower" or self.leader != src:
            if self.role == "leader":
                return  # two leaders in one term: only a broken rule gets here
            self.become_follower(msg.term, src)
        self.outbox.append(_effect(SetTimer, ("election", self.election_timeout)))
        self.leader_seen_at = now
        log = self.persistent.log
        held, base = log.entries, log.base  # read past the log's methods: every step or two
        prev, entries, length = msg.prev_index, msg.entries, base + len(held)
        if prev < base:  # our snapshot holds committed entries, which match the leader's
            prev, entries = base, entries[base - prev :]
        elif prev >= length:
            self.note(
                "append_rejected",
                leader=src,
                reason="missing",
                prev_index=prev,
                last_index=length - 1,
            )
            self.send(src, AppendReply(self.term, False, prev, 0, length, msg.round))
            return
        elif held[prev - base].term != msg.prev_term and self.bug != "no_prevlog_check":
            our_term, first = self.conflict_at(prev)
            self.note(
                "append_rejected",
                leader=src,
                reason="term_mismatch",
                prev_index=prev,
                prev_term=msg.prev_term,
                our_term=our_term,
            )
            self.send(src, AppendReply(self.term, False, prev, our_term, first, msg.round))
            return
        if entries:
            # Hot: mostly what we hold after prev is a prefix of them (the very objects the
            # leader sent before), and the rest follows our last entry. store() cuts at a
            # conflict and takes every other case.
            ours = held[prev + 1 - base :]
            held_count = len(ours)
            if ours == list(entries[:held_count]):
                new = entries[held_count:]
                if new:
                    held.extend(new)
                    if ConfigEntry in map(type, new):  # most hold none: a scan in C, no call
                        self.written(length, new)
            else:
                self.store(prev, entries, length)
        match, commit = prev + len(entries), self.commit_index
        if msg.commit > commit and match > commit:
            self.commit_to(min(msg.commit, match))
        reply = _new(AppendReply)
        _fill_reply(reply, self.persistent.term, True, match, 0, 0, msg.round)
        self.outbox.append(_effect(Send, (src, reply)))  # send(), without its call

    def conflict_at(self, index: int) -> tuple[int, int]:
        """The term of our entry at `index` and the first index holding that term."""
        log = self.persistent.log
        term = log[index].term
        while index > log.first and log[index - 1].term == term:
            index -= 1
        return term, index

    def store(self, prev: int, entries: tuple[Entry, ...], length: int) -> None:
        """Append after `prev`, cutting our log only at the first entry that conflicts: an old
        or duplicated message must not remove entries a later one added. `length` is the log's
        length. (on_append appends itself when what we hold after `prev` is a prefix of them.)"""
        log = self.persistent.log
        held, first, cut = log.entries, prev + 1, False
        overlap = min(length - first, len(entries))  # how many we may hold already
        if overlap > 0:
            start = first - log.base
            # Compared in one go, in C, first: mostly they are the very entry objects we hold.
            if held[start : start + overlap] != list(entries[:overlap]):
                for offset in range(overlap):
                    if held[start + offset].term != entries[offset].term:
                        self.cut_from(first + offset, entries[offset].term)
                        overlap, cut = offset, True
                        break
            if overlap == len(entries):
                return  # we hold them all
            first, entries = first + overlap, entries[overlap:]
        held.extend(entries)
        if cut or ConfigEntry in map(type, entries):  # most hold none: a scan in C, no call
            self.written(first, entries, cut)

    def cut_from(self, index: int, leader_term: int) -> None:
        """Delete our entries from `index` on, the first that conflicts with the leader's."""
        log = self.persistent.log
        terms = sorted({e.term for e in log[index:]})
        self.note(
            "entries_deleted", first=index, last=len(log) - 1, terms=terms, leader_term=leader_term
        )
        log.truncate(index)
        self.configs.truncated(index)

    def written(self, first: int, entries: tuple, cut: bool = False) -> None:
        """A configuration takes effect as soon as it is in the log (dissertation 4.1), and one
        cut from the log stops counting: the one before it is in force again."""
        if self.configs.appended(first, entries) or cut:
            self.follow_configuration()

    # --- views --------------------------------------------------------------------------------
    def progress(self) -> dict[int, tuple[int, int, int]]:
        """A leader's view of each follower: (next index, match index, time it last answered)."""
        if self.role != "leader":
            return {}
        return {p: (self.next_index[p], self.match_index[p], self.heard_at[p]) for p in self.peers}

    def rank(self) -> tuple:
        return (self.term,)

    def members(self) -> tuple[int, ...]:
        return self.configuration.members

    def voter_groups(self) -> tuple[tuple[int, ...], ...]:
        """The voters, and during a joint change the old voters first (section 6)."""
        config = self.configuration
        return (config.voters,) if config.old is None else (config.old, config.voters)

    def is_quorum(self, ids) -> bool:
        return self.configuration.is_quorum(ids)

    def log_length(self) -> int:
        return self.last_index

    def describe(self, recent: int | None = None) -> dict[str, Any]:
        p = self.persistent
        first = p.log.first if recent is None else max(p.log.first, len(p.log) - recent)
        return {
            "role": self.role,
            "term": p.term,
            "voted_for": p.voted_for,
            "commit_index": self.commit_index,
            "leader": self.leader,
            "log": [log_row(i, e) for i, e in enumerate(p.log[first:], first)],
            "snapshot": snapshot_point(p.snapshot),
            "match_index": dict(self.match_index) if self.role == "leader" else {},
            # a (pre)candidate's tally: who granted it, and how many it needs
            "votes": sorted(self.votes) if self.role in ("candidate", "precandidate") else [],
            "majority": self.majority,
            "election_timeout": self.election_timeout,
            "config": plain(self.configuration),
        }


def snapshot_point(snapshot: Snapshot | None) -> list[int] | None:
    """(last included index, term), what the panels show before the first kept entry."""
    return None if snapshot is None else [snapshot.index, snapshot.term]


_HANDLERS = {
    RequestVote: RaftNode.on_request_vote,
    VoteReply: RaftNode.on_vote_reply,
    PreVote: RaftNode.on_prevote,
    PreVoteReply: RaftNode.on_prevote_reply,
    AppendEntries: RaftNode.on_append,
    AppendReply: RaftNode.on_append_reply,
    InstallSnapshot: RaftNode.on_install_snapshot,
    SnapshotReply: RaftNode.on_snapshot_reply,
    TimeoutNow: RaftNode.on_timeout_now,
}

DEFAULT_CONFIG = {
    "election_timeout_min": 150,
    "election_timeout_max": 300,
    "heartbeat": 50,
    "prevote": False,
    "checkquorum": False,
    # Off, a new leader appends no no-op (section 8) and old-term entries wait for its first
    # client value: Figure 8 of the paper exactly, the commit rule holding one back.
    "noop": True,
    "read": "log",  # the read path: log, index (ReadIndex, 6.4) or lease (6.4.1)
    # A lease in ms of the leader's clock (6.4.1): safe while every clock runs at a rate within
    # 1/b..b of true time with b * b <= election_timeout_min / lease (b = 1.118 here).
    "lease": 120,
    "bug": None,
    # Compact the log once this many applied entries follow the last snapshot (0: never).
    "snapshot_every": 0,
    "membership": "single",  # configuration changes: single-server (4.1) or joint (section 6)
}
