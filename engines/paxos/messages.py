"""Multi-Paxos messages and ballots. A ballot is (round, node id), compared as a tuple and
shown as `round.node`."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

from engines.core.node import Message, Proposal, count

Ballot = tuple[int, int]
ZERO: Ballot = (0, 0)


def show_ballot(ballot: Ballot) -> str:
    return f"{ballot[0]}.{ballot[1]}"


# Every learner, and the checker, asks for a value's number soon after the leader: the cache
# answers them without a call into Python (int() of a slice costs three times as much).
@functools.lru_cache(maxsize=1024)
def proposal_number(pid: str) -> int:
    """The simulator names proposals p1, p2, ... in order, so the number is a dense key."""
    return int(pid[1:])


# --- messages -------------------------------------------------------------------------------
class PaxosMessage(Message):
    __slots__ = ()

    def summary(self) -> str:
        return ", ".join(_brief(f.name, getattr(self, f.name)) for f in fields(self))


def _brief(name: str, value: Any) -> str:
    """`ballot=1.2`, `value=p1 'set x 1'`; a list of slots by its length: `2 accepted`."""
    if isinstance(value, tuple) and not is_ballot(value):
        return count(len(value), name)
    return f"{name}={show_field(value)}"


def show_field(value: Any) -> str:
    if value is None:
        return "no-op"
    if isinstance(value, Proposal):
        return f"{value.id} {value.value!r}"
    if isinstance(value, tuple):  # a list of slots is counted by _brief: only ballots here
        return show_ballot(value)
    return str(value)


def ids(values) -> tuple[str, ...]:
    """The ids of the proposals among slot values (None is a no-op)."""
    return tuple(v.id for v in values if v is not None)


def is_ballot(value: tuple) -> bool:
    return len(value) == 2 and all(type(v) is int for v in value)


@dataclass(slots=True)
class Prepare(PaxosMessage):
    short = "P1a"
    ballot: Ballot
    low: int  # the proposer knows every slot up to here is chosen


@dataclass(slots=True)
class Promise(PaxosMessage):
    short = "P1b"
    ballot: Ballot
    accepted: tuple[tuple[int, Ballot, Proposal | None], ...]  # (slot, ballot, value) above low

    def proposal_ids(self) -> tuple[str, ...]:
        return ids(value for _, _, value in self.accepted)


@dataclass(slots=True)
class Nack(PaxosMessage):
    short = "NACK"
    ballot: Ballot  # the rejected ballot
    promised: Ballot  # the higher ballot the acceptor promised


@dataclass(slots=True)
class Accept(PaxosMessage):
    short = "P2a"
    ballot: Ballot
    slot: int
    value: Proposal | None  # None is a no-op

    def proposal_ids(self) -> tuple[str, ...]:
        return ids([self.value])


@dataclass(slots=True)
class Accepted(PaxosMessage):
    short = "P2b"
    ballot: Ballot
    slot: int


@dataclass(slots=True)
class Chosen(PaxosMessage):
    short = "CHSN"
    entries: tuple[tuple[int, Proposal | None], ...]  # (slot, value)

    def proposal_ids(self) -> tuple[str, ...]:
        return ids(value for _, value in self.entries)

    def summary(self) -> str:
        if len(self.entries) == 1:
            slot, value = self.entries[0]
            return f"slot {slot}={show_field(value)}"
        return f"slots {self.entries[0][0]}..{self.entries[-1][0]}"


@dataclass(slots=True)
class Heartbeat(PaxosMessage):
    short = "HB"
    heartbeat = True
    ballot: Ballot
    chosen: int  # the leader's chosen prefix: slots 1..chosen


@dataclass(slots=True)
class CatchUp(PaxosMessage):
    short = "CTCH"
    have: int  # the asker's chosen prefix


@dataclass(slots=True)
class Forward(PaxosMessage):
    short = "FWD"
    proposal: Proposal

    def proposal_ids(self) -> tuple[str, ...]:
        return (self.proposal.id,)


# --- the node -------------------------------------------------------------------------------
