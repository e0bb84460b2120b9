"""The sans-IO node interface that every protocol implements and the simulator drives.

A node is a pure state machine. Inputs are method calls that carry the current simulated time:
a message, a timer firing, a client proposal, or a campaign order from the user. Outputs are
effects collected in `outbox`: messages to send, timers to set or cancel, and notes for the
event log. A node never reads a clock, never draws from the global `random`, and does no I/O:
the simulator hands it `now` and a seeded `random.Random` stream of its own.

Persistent state (what survives a crash) lives in `self.persistent`; everything else is
volatile. A restart builds a new node from the persistent object alone.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple

from engines.core.chain import Command, StateMachine
from engines.core.shared import SharedList, SlotMap


@dataclass(frozen=True, slots=True)
class Proposal:
    """A client value. `id` is unique per simulation; `origin` is the node the client asked."""

    id: str
    value: str
    proposed_at: int
    origin: int


@dataclass(frozen=True, slots=True)
class Request:
    """A client's operation (engines.core.chain.Command) handed to the node the client asked.
    `proposal` carries it as a client value, for a node that puts it through its log."""

    command: Command
    proposal: Proposal


@dataclass
class Message:
    """Base for protocol messages: dataclasses with a short label for diagrams. A message is a
    value, never changed once sent; it is not a frozen dataclass only because those set each
    field through object.__setattr__, and a step builds about one message (Raft: 6 % of it).
    The protocols' messages have slots (`@dataclass(slots=True)`): a session keeps every
    message, and an instance dict took 100 bytes more of each."""

    __slots__ = ()
    short: ClassVar[str] = "MSG"
    heartbeat: ClassVar[bool] = False

    @property
    def type_name(self) -> str:
        return type(self).__name__

    def summary(self) -> str:
        return ", ".join(_brief(f.name, getattr(self, f.name)) for f in fields(self))

    def proposal_ids(self) -> tuple[str, ...]:
        """The ids of the client proposals it carries, so a view can follow one operation's
        messages; the protocols' messages that carry values say which."""
        return ()

    def read_round(self) -> int:
        """The leader's heartbeat round it is part of, for reads that a round confirms (Raft's
        ReadIndex, 6.4); 0: none."""
        return 0

    def encode(self) -> dict[str, Any]:
        return {"type": self.type_name} | {
            f.name: _plain(getattr(self, f.name)) for f in fields(self)
        }


def _brief(name: str, value: Any) -> str:
    """`term=2`; a sequence by its length: `12 entries`, `1 entry`."""
    if isinstance(value, tuple | list):
        return count(len(value), name)
    return f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"


def node_names(ids, sep: str = " ", empty: str = "") -> str:
    """Node ids as everything on screen names them: `n1 n2 n3`, or joined by `sep`."""
    return sep.join(f"n{i}" for i in ids) or empty


def count(n: int, plural: str) -> str:
    """`12 entries`, `1 entry`, `0 accepted`."""
    if n == 1 and plural.endswith("ies"):
        return f"1 {plural[:-3]}y"
    return f"{n} {plural.removesuffix('s') if n == 1 else plural}"


def _plain(value: Any) -> Any:
    """A JSON-friendly form of message fields and node state, for digests and traces."""
    if isinstance(value, Proposal):
        return [value.id, value.value, value.proposed_at, value.origin]
    if isinstance(value, Message):
        return value.encode()
    if isinstance(value, tuple | list | SharedList):
        return [_plain(v) for v in value]
    if isinstance(value, dict | SlotMap):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "plain_form"):  # a value that sums itself up (a Raft snapshot)
        return _plain(value.plain_form())
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


plain = _plain


# The effects nodes make at almost every step are named tuples: as immutable as a frozen
# dataclass, and built in half the time; in a quarter when made by `_effect`, which skips the
# Python-level __new__ that calling the class runs.
class Send(NamedTuple):
    dst: int
    msg: Message


class SetTimer(NamedTuple):
    name: str
    delay: int


class CancelTimer(NamedTuple):
    name: str


_effect = tuple.__new__  # _effect(Send, (dst, msg)) is Send(dst, msg)


Sentence = Callable[[int, dict[str, Any]], str]  # a note's text, of its node and fields
_SETTLED = (int, str, bool, float, type(None), Proposal)  # values that never change
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per set of field names


class Note:
    """A decision worth showing in the event log: `kind` names it (vote_refused, commit...),
    `fields` hold its facts (a candidate, terms, a reason code), `text` is its sentence and
    `tone` how it reads: role, commit, reject or info. A protocol's `REASONS` table turns
    kind and fields into tone and text (`Node.note`).

    A long session keeps every note, and few are ever read: a note stores its facts' values
    in a tuple (the names are shared), and when they are numbers and strings, which never
    change, its sentence function instead of its text, made when read (a Raft commit note
    took 420 bytes, a tenth of a checked session's memory). A list of such values (the
    acceptors of a chosen Paxos slot) is kept as a `_Listed` tuple, frozen as it was given,
    and `fields` hands it back as a list."""

    __slots__ = ("kind", "tone", "node", "_text", "_names", "_values")

    def __init__(
        self,
        kind: str,
        text: str | Sentence,
        tone: str = "info",
        node: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        fields = fields or {}
        self.kind, self.tone, self.node = kind, tone, node
        names = tuple(fields)
        self._names = _NAMES.setdefault(names, names)
        values = _frozen(tuple(fields.values()))
        if values is None:  # a value that may change later: the sentence now
            values = tuple(fields.values())
            if not isinstance(text, str):
                text = text(node, fields)
        self._values, self._text = values, text

    @property
    def text(self) -> str:
        text = self._text
        return text if isinstance(text, str) else text(self.node, self.fields)

    @property
    def fields(self) -> dict[str, Any]:
        fields = dict(zip(self._names, self._values, strict=True))
        for name, value in fields.items():
            if type(value) is _Listed:
                fields[name] = list(value)
        return fields

    def _key(self) -> tuple:
        return (self.kind, self.text, self.tone, self.node, self.fields)

    def __eq__(self, other: object) -> bool:
        return self._key() == other._key() if isinstance(other, Note) else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # as before: fields are a dict

    def __repr__(self) -> str:
        kind, text, tone, node, fields = self._key()
        return f"Note({kind=}, {text=}, {tone=}, {node=}, {fields=})"

    def __reduce__(self):
        return (Note, self._key())


# Calling a class runs its __init__ in a C-level frame of its own (CPython 3.11 does not
# specialise that call): a note a node makes is made by _new and filled by __init__ called as
# a plain function instead.
_new = object.__new__
_fill_note = Note.__init__


class _Listed(tuple):
    """A list of settled values a note was given, frozen (see Note)."""

    __slots__ = ()


def _frozen(values: tuple) -> tuple | None:
    """The values as a note keeps them when none can change (settled types, or tuples or
    lists of them, the lists frozen into `_Listed`); None when one may. One loop, not a call
    a value: nodes make a note every few steps."""
    frozen = None  # the values with their lists frozen, once there is a list
    for i, value in enumerate(values):
        kind = type(value)
        if kind in _SETTLED:
            continue
        if kind is not tuple and kind is not list:
            return None
        for v in value:  # loops, not generators: a Paxos chosen note lists its acceptors
            if type(v) not in _SETTLED:
                return None
        if kind is list:
            if frozen is None:
                frozen = list(values)
            frozen[i] = _Listed(value)
    return values if frozen is None else tuple(frozen)


Reason = tuple[str, Sentence]  # (tone, sentence of node, fields)


def reasons_table() -> tuple[dict[str, Reason], Callable[[str, str], Callable]]:
    """A protocol's table of note kinds, and the decorator that files a sentence under a kind
    with its tone: `@reason("vote_refused", "reject")` over `def _(node, fields) -> str`."""
    table: dict[str, Reason] = {}

    def reason(kind: str, tone: str) -> Callable:
        def register(sentence: Callable[[int, dict[str, Any]], str]) -> Callable:
            table[kind] = (tone, sentence)
            return sentence

        return register

    return table, reason


@dataclass(frozen=True, slots=True)
class Reply:
    """A node's answer to a client: `status` is ok, fail (not applied: a cas that did not
    match) or redirect (ask `leader` instead, None when this node knows no leader)."""

    client: int
    op: int
    status: str
    value: str | None = None
    leader: int | None = None
    read_round: int = 0  # a read a heartbeat round confirmed (Raft 6.4): that round


Effect = Send | SetTimer | CancelTimer | Note | Reply


class Node:
    """Base class: protocols override the `on_*` handlers and `describe`, and give `REASONS`
    (see `reasons_table`) for the notes they make."""

    REASONS: ClassVar[dict[str, Reason]] = {}
    # Slots: what every step reads stays a specialised slot read (the protocols slot theirs)
    __slots__ = (
        "id", "peers", "cluster_size", "config", "rng", "outbox", "sm", "role", "persistent",
        "batch_limited",
    )  # fmt: skip

    def __init__(
        self,
        node_id: int,
        peers: list[int],
        config: dict[str, Any],
        rng: random.Random,
        persistent: Any = None,
    ) -> None:
        self.id = node_id
        self.peers = [p for p in peers if p != node_id]
        self.cluster_size = len(peers)
        self.config = config
        self.rng = rng
        self.outbox: list[Effect] = []
        self.sm = StateMachine()
        self.role = "follower"
        self.persistent = persistent if persistent is not None else self.new_persistent()
        self.batch_limited = 0  # sends a batch limit cut short since this node started

    # --- effects -------------------------------------------------------------------------
    def send(self, dst: int, msg: Message) -> None:
        self.outbox.append(_effect(Send, (dst, msg)))

    def broadcast(self, msg: Message) -> None:
        append = self.outbox.append
        for peer in self.peers:
            append(_effect(Send, (peer, msg)))

    def set_timer(self, name: str, delay: int) -> None:
        self.outbox.append(_effect(SetTimer, (name, delay)))

    def cancel_timer(self, name: str) -> None:
        self.outbox.append(_effect(CancelTimer, (name,)))

    def note(self, kind: str, **fields: Any) -> None:
        """Note a decision with its facts; the protocol's REASONS give its sentence."""
        tone, sentence = self.REASONS[kind]
        note = _new(Note)  # Note(...), without a class call (see _fill_note)
        _fill_note(note, kind, sentence, tone, self.id, fields)
        self.outbox.append(note)

    def reply(
        self, command: Command, status: str, value: str | None = None, read_round: int = 0
    ) -> None:
        self.outbox.append(Reply(command.client, command.op, status, value, read_round=read_round))

    def redirect(self, command: Command, leader: int | None) -> None:
        self.outbox.append(Reply(command.client, command.op, "redirect", leader=leader))

    def answer_applied(self, command: Command) -> None:
        """Reply with the result the state machine kept for this operation, once applied (a
        copy of an operation the session has moved past gets no answer: nobody waits)."""
        result = self.sm.result(command.client, command.op)
        if result is not None:
            self.reply(command, "ok" if result[0] else "fail", result[1])

    def take_effects(self) -> list[Effect]:
        out, self.outbox = self.outbox, []
        return out

    @property
    def majority(self) -> int:
        return self.cluster_size // 2 + 1

    # --- protocol hooks --------------------------------------------------------------------
    def new_persistent(self) -> Any:
        """The empty persistent state of a node that never ran."""
        return None

    def start(self, now: int) -> None:
        """Called when the node boots or restarts: set the first timers."""

    def on_message(self, now: int, src: int, msg: Message) -> None:
        raise NotImplementedError

    def on_timer(self, now: int, name: str) -> None:
        raise NotImplementedError

    def on_propose(self, now: int, proposal: Proposal) -> None:
        raise NotImplementedError

    def on_request(self, now: int, request: Request) -> None:
        """A client operation arrives; the answer is a Reply effect, now or later."""
        self.redirect(request.command, None)

    def on_campaign(self, now: int) -> None:
        """The user orders an election (Raft) or a phase 1 (Paxos) now."""
        raise NotImplementedError

    @property
    def is_leader(self) -> bool:
        return self.role == "leader"

    def role_name(self) -> str:
        """The role as scripts name it (`expect role NODE ...`)."""
        return self.role

    @property
    def term(self) -> int:
        """Raft's term; the round of a Paxos ballot (`expect term NODE ...`)."""
        return self.rank()[0]

    def rank(self) -> tuple:
        """Term or ballot, comparable: used to pick `leader` among several self-declared ones."""
        return (0,)

    def members(self) -> tuple[int, ...] | None:
        """The nodes of this node's configuration; None for a protocol whose cluster is fixed."""
        return None

    def membership_refusal(self, change: str, nodes: list[int]) -> str:
        """Why this node would refuse a membership change now, or "" (protocols that have
        membership changes say)."""
        return ""

    def voter_groups(self) -> tuple[tuple[int, ...], ...]:
        """The groups of nodes a quorum needs a majority of, each: here the whole cluster."""
        return (tuple(sorted([self.id, *self.peers])),)

    def is_quorum(self, ids) -> bool:
        """Whether these nodes' answers make a quorum for this node (a majority here)."""
        return len(set(ids).intersection(*self.voter_groups())) >= self.majority

    def log_length(self) -> int:
        """How far this node's history reaches: log entries (Raft), slots (Paxos)."""
        return 0

    def describe(self, recent: int | None = None) -> dict[str, Any]:
        """Canonical JSON-able state, for the digest and the UI. With `recent`, the parts that
        grow with history (a log, per-slot tables) hold only their last `recent` entries, so a
        display can afford it on every redraw; the digest uses the whole state."""
        return {"role": self.role}
