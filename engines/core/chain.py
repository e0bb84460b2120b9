"""The replicated state machine: a hash chain of blocks and a key-value store.

Every node applies committed client values, in order, to one `StateMachine`. The block format
follows the seed example: Hash = sha256(str(Index) + Timestamp + Data + PreviousHash), lowercase
hex. A block's Timestamp is the simulated time at which its value was proposed, so the same
block has the same hash on every node and equal chains have equal hashes.
"""

from __future__ import annotations

import functools
import hashlib
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.core.shared import SharedList

GENESIS_DATA = "Genesis Block"
BLOCKS_RECENT = 256  # the blocks made last, which _applying finds fastest


def block_hash(index: int, timestamp: str, data: str, prev_hash: str) -> str:
    return hashlib.sha256(f"{index}{timestamp}{data}{prev_hash}".encode()).hexdigest()


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Block:
    index: int
    timestamp: str
    data: str
    prev_hash: str
    hash: str

    @classmethod
    def make(cls, index: int, timestamp: str, data: str, prev_hash: str) -> Block:
        """The block with these fields. Every node of a cluster applies the same blocks, so
        equal blocks are one object while any chain holds it: stored once."""
        hash_ = block_hash(index, timestamp, data, prev_hash)
        ref = _made.get(hash_)
        block = None if ref is None else ref()
        if block is None:
            block = cls(index, timestamp, data, prev_hash, hash_)
            ref = _MadeRef(block, _forget)
            ref.hash = hash_
            _made[hash_] = ref
        return block

    def is_valid(self) -> bool:
        # What Block.make built hashes its fields by construction (and is frozen): only a
        # block built otherwise, a tampered copy, needs hashing again. The checkers ask this
        # of every block on every node.
        ref = _made.get(self.hash)
        return (ref is not None and ref() is self) or self.hash == block_hash(
            self.index, self.timestamp, self.data, self.prev_hash
        )

    def format(self) -> str:
        """The seed's printout: one field a line, then a blank line."""
        return (
            f"Index: {self.index}\nTimestamp: {self.timestamp}\nData: {self.data}\n"
            f"Previous Hash: {self.prev_hash}\nHash: {self.hash}\n"
        )


class _MadeRef(weakref.ref):
    """A weak reference to a made block that holds the block's hash, so that the block's end
    removes its entry from `_made`. A WeakValueDictionary does the same in Python code
    (KeyedRef's __new__ and __init__, its __setitem__): this costs a fifth of that."""

    __slots__ = ("hash",)


def _forget(ref: _MadeRef) -> None:
    if _made.get(ref.hash) is ref:
        del _made[ref.hash]


# The blocks Block.make built, by hash: the hash is computed anyway when a block is made
# first, and keying by the block's own string keeps no tuple of its fields (~100 bytes).
_made: dict[str, _MadeRef] = {}
GENESIS = Block.make(0, "0ms", GENESIS_DATA, "")


def timestamp_of(proposed_at_ms: int) -> str:
    return f"{proposed_at_ms}ms"


@functools.lru_cache(maxsize=BLOCKS_RECENT)
def _applying(prev_index: int, prev_hash: str, data: str, proposed_at_ms: int) -> tuple:
    """The block that applies `data` after the block (prev_index, prev_hash), and what the
    data asks of the store (`operation_of`). The other nodes of a cluster apply it soon after
    the first: they find both here, in one look-up without a call into Python, while
    Block.make finds the block for anyone later."""
    block = Block.make(prev_index + 1, timestamp_of(proposed_at_ms), data, prev_hash)
    return block, operation_of(data)


def block_fault(blocks: list[Block] | SharedList, i: int) -> str | None:
    """What is wrong with block i of a chain, if anything: block 0 is the genesis block, and
    every other one holds its index, links to its predecessor's hash and hashes its fields."""
    block = blocks[i]
    if i == 0:
        return None if block == GENESIS else "is not the genesis block"
    if block.index != i:
        return f"holds index {block.index}"
    if block.prev_hash != blocks[i - 1].hash:
        return f"links to {block.prev_hash[:8]}, not to block {i - 1} ({blocks[i - 1].hash[:8]})"
    if not block.is_valid():
        return f"has hash {block.hash[:8]}, which does not cover its fields"
    return None


def chain_is_valid(blocks: list[Block] | SharedList) -> bool:
    """Every hash recomputes from its fields and links to its predecessor."""
    return bool(blocks) and all(block_fault(blocks, i) is None for i in range(len(blocks)))


def apply_kv(kv: dict[str, str], data: str, sessions: dict | None = None) -> str | None:
    """`set KEY VALUE` and `del KEY` change the store; a client operation (`client_command`)
    is applied once per (client, operation id) and its result kept in `sessions`; any other
    text is opaque data. Returns the key the command names, if it is one."""
    kind, key, argument = operation_of(data)
    if kind == "set":
        kv[key] = argument
    elif kind == "del":
        kv.pop(key, None)
    elif kind is not None:
        return apply_client(kv, argument, {} if sessions is None else sessions)
    return key


@functools.lru_cache(maxsize=4096)
def operation_of(data: str) -> tuple[str | None, str | None, Any]:
    """What a block's data asks of the store, as (kind, KEY, argument): ("set", KEY, VALUE),
    ("del", KEY, None), ("client", KEY, the Command), or (None, None, None) for opaque data.
    One shape for all, so that applying one unpacks it and tests its kind, no more. Parsed
    once, not on every node that applies the block and again in every check that replays it."""
    parts = data.split(maxsplit=2)
    if len(parts) == 3 and parts[0] == "set":
        return "set", parts[1], parts[2]
    if len(parts) == 2 and parts[0] == "del":
        return "del", parts[1], None
    # Tested last, as no `set` or `del` reads like one: most blocks are spared the regex.
    command = client_command(data)
    if command is not None:
        return "client", command.key, command
    return None, None, None


# --- client operations -----------------------------------------------------------------------
# A client operation in the log reads `c2.7 put x 1`, `c2.7 get x` or `c2.7 cas x 1 2`: client 2,
# its operation 7. Raft's dissertation 6.3: the state machine keeps each client session's last
# operation id and result, so a retried operation is applied once and answered the same way.
CLIENT_OP = re.compile(r"c([0-9]+)\.([0-9]+) (put|get|cas) (\S+)((?: \S+)*)", re.ASCII)
ARITY = {"put": 1, "get": 0, "cas": 2}


@dataclass(frozen=True, slots=True)
class Command:
    client: int
    op: int
    f: str  # put, get, cas
    key: str
    args: tuple[str, ...]  # put: (value,); cas: (expected, new); get: ()

    def text(self) -> str:
        return " ".join([f"c{self.client}.{self.op}", self.f, self.key, *self.args])

    def __reduce__(self) -> tuple:
        # Every checkpoint pickles the history's operations: a frozen slotted dataclass's own
        # __getstate__ walks fields() in Python, several times this cost.
        return (Command, (self.client, self.op, self.f, self.key, self.args))


def client_command(data: str) -> Command | None:
    match = CLIENT_OP.fullmatch(data)
    if match is None:
        return None
    args = tuple(match[5].split())
    if len(args) != ARITY[match[3]]:
        return None
    return Command(int(match[1]), int(match[2]), match[3], match[4], args)


def apply_client(kv: dict, command: Command, sessions: dict) -> str:
    """Apply an operation unless its session already did; the session keeps (op, ok, value):
    a get returns the value; a cas fails, changing nothing, on a mismatch."""
    client, op, key = command.client, command.op, command.key
    last = sessions.get(client)
    if last is not None and last[0] >= op:
        return key  # a retry: applied once already
    if command.f == "get":
        sessions[client] = (op, True, kv.get(key))
    elif command.f == "cas" and kv.get(key) != command.args[0]:
        sessions[client] = (op, False, None)
    else:
        kv[key] = command.args[-1]
        sessions[client] = (op, True, None)
    return key


_dict_setitem = dict.__setitem__  # a KVStore's item, set without its bookkeeping


class KVStore(dict):
    """The key-value store: a dict that records which keys were written, so that a checker
    compares only those with its own replay of the chain (`take_written`)."""

    # Slotted: a dict subclass with an instance dict gets no specialised attribute or method
    # lookups (`kv.written`, `kv.get` took four times a plain attribute's time).
    __slots__ = ("written",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.written = set(self)  # a new store is new to a reader

    def take_written(self) -> set:
        written, self.written = self.written, set()
        return written

    def __reduce__(self):
        return (KVStore, (dict(self),))

    def __setitem__(self, key: str, value: str) -> None:
        self.written.add(key)
        dict.__setitem__(self, key, value)  # on every write but a `set` block's: no super()

    def __delitem__(self, key: str) -> None:
        self.written.add(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.written.add(key)
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, str]:
        key, value = super().popitem()
        self.written.add(key)
        return key, value

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.written.add(key)
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> KVStore:
        self.update(other)
        return self

    def clear(self) -> None:
        self.written.update(self)
        super().clear()


@dataclass(slots=True)
class StateMachine:
    """A node's applied client values: the chain and the KV store built from them."""

    chain: SharedList = field(default_factory=lambda: SharedList([GENESIS]))
    kv: KVStore = field(default_factory=KVStore)
    applied_ids: SharedList = field(default_factory=SharedList)
    sessions: dict = field(default_factory=dict)  # client -> (last op id, ok, value)

    def apply(self, proposal_id: str, data: str, proposed_at_ms: int) -> Block:
        prev = self.chain[-1]
        block, (kind, key, argument) = _applying(prev.index, prev.hash, data, proposed_at_ms)
        self.chain.append(block)
        self.applied_ids.append(proposal_id)
        if kind == "set":
            # apply_kv's `set`, without its call and KVStore.__setitem__'s (~1.2k instructions
            # a node): the store records the key written, as its __setitem__ would.
            kv = self.kv
            kv.written.add(key)
            _dict_setitem(kv, key, argument)
        else:
            apply_kv(self.kv, data, self.sessions)
        return block

    def apply_entries(self, entries, waiting: dict, answer: Callable[[Any], None]) -> None:
        """Apply a run of log entries in order (Raft commits several at once): each one's
        value, proposal id and time (`value`, `pid`, `proposed_at`; value None, a no-op or a
        configuration, makes no block). An entry whose id is in `waiting` is then answered:
        `answer(waiting.pop(pid))`, before the next one applies. apply()'s steps, in one loop
        and one call: hot, a follower's and the leader's every commit."""
        chain, ids, kv = self.chain, self.applied_ids, self.kv
        prev = chain[-1]
        for entry in entries:
            data = entry.value
            if data is None:
                continue
            pid = entry.pid
            # The block made is the next one's predecessor.
            prev, (kind, key, argument) = _applying(prev.index, prev.hash, data, entry.proposed_at)
            chain.append(prev)
            ids.append(pid)
            if kind == "set":  # as in apply()
                kv.written.add(key)
                _dict_setitem(kv, key, argument)
            else:
                apply_kv(kv, data, self.sessions)
            if pid in waiting:
                answer(waiting.pop(pid))

    def result(self, client: int, op: int) -> tuple[bool, str | None] | None:
        """What the client's operation returned when it was applied, if it is the last one."""
        last = self.sessions.get(client)
        return last[1:] if last is not None and last[0] == op else None

    @property
    def height(self) -> int:
        """Blocks beyond genesis."""
        return len(self.chain) - 1

    @property
    def head_hash(self) -> str:
        return self.chain[-1].hash
