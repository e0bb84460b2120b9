"""Raft's messages (the paper's Figure 2, plus PreVote, leader transfer and forwarding) and
its log entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from engines.core.node import Message, Proposal
from engines.raft.config import ConfigEntry

if TYPE_CHECKING:
    from engines.raft.snapshot import Snapshot


class Entry(NamedTuple):
    """A log entry: a client proposal's fields (kept flat: checkpoints pickle every log), or
    with value None the no-op a new leader appends, which is not a block."""

    term: int
    value: str | None = None
    pid: str | None = None
    proposed_at: int = 0


def log_row(index: int, entry: Entry | ConfigEntry) -> list:
    """An entry as the panels show it: index, term, value, proposal id, and for a
    configuration entry its configuration in words."""
    row = [index, entry.term, entry.value, entry.pid]
    return [*row, entry.config.words()] if type(entry) is ConfigEntry else row


# --- messages -----------------------------------------------------------------------------------
@dataclass(slots=True)
class RequestVote(Message):
    short = "RV"
    term: int
    last_index: int
    last_term: int
    force: bool = False  # a user-ordered campaign or a leader transfer: ignore leader leases

    def summary(self) -> str:  # force is the receiver's business, not the reader's
        return f"term={self.term}, last_index={self.last_index}, last_term={self.last_term}"


@dataclass(slots=True)
class VoteReply(Message):
    short = "RV-R"
    term: int
    granted: bool


@dataclass(slots=True)
class PreVote(Message):
    """Would you vote for me in `term`? Changes no term and no vote on either side."""

    short = "PV"
    term: int
    last_index: int
    last_term: int


@dataclass(slots=True)
class PreVoteReply(Message):
    short = "PV-R"
    term: int
    granted: bool


@dataclass(slots=True)
class AppendEntries(Message):
    short = "AE"
    term: int
    prev_index: int
    prev_term: int
    entries: tuple[Entry, ...]
    commit: int
    round: int = 0  # the leader's heartbeat round, for ReadIndex and leases (6.4); 0: none

    def summary(self) -> str:
        return _without_round(self)

    def proposal_ids(self) -> tuple[str, ...]:
        return tuple(e.pid for e in self.entries if e.pid is not None)

    def read_round(self) -> int:
        return self.round

    @property
    def heartbeat(self) -> bool:
        return not self.entries


@dataclass(slots=True)
class AppendReply(Message):
    """On success `index` is the follower's match; on failure it is the rejected prevLogIndex,
    and the hint says where the leader should look: the follower's term at that index and the
    first index of that term, or (conflict_term 0) the follower's last index + 1."""

    short = "AE-R"
    term: int
    success: bool
    index: int
    conflict_term: int = 0
    conflict_index: int = 0
    round: int = 0  # the round of the AppendEntries answered

    def summary(self) -> str:
        return _without_round(self)

    def read_round(self) -> int:
        return self.round


def _without_round(msg: Message) -> str:
    """The usual summary; a round is shown only when the read path numbers rounds."""
    text = Message.summary(msg)
    return text if msg.round else text.removesuffix(", round=0")


@dataclass(slots=True)
class InstallSnapshot(Message):
    """The leader's snapshot, for a follower whose next entry the leader no longer holds
    (section 7). Sent whole: the paper's offset and done fields split it into chunks."""

    short = "SNAP"
    term: int
    snapshot: Snapshot

    def summary(self) -> str:
        snap = self.snapshot
        return f"term={self.term}, last_index={snap.index}, last_term={snap.term}"


@dataclass(slots=True)
class SnapshotReply(Message):
    """The paper's reply carries the term only; `index` tells the leader which snapshot it
    answers, so that it knows what the follower now holds."""

    short = "SNAP-R"
    term: int
    index: int


@dataclass(slots=True)
class TimeoutNow(Message):
    """Leader transfer: the receiver starts an election at once."""

    short = "TN"
    term: int


@dataclass(slots=True)
class Forward(Message):
    """A client proposal passed from a follower to the leader it knows."""

    short = "FWD"
    term = None  # not a field: a Forward belongs to no term, and never matches the receiver's
    proposal: Proposal

    def proposal_ids(self) -> tuple[str, ...]:
        return (self.proposal.id,)
