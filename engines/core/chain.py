"""The replicated state machine: a hash chain of blocks and a key-value store.

Every node applies committed client values, in order, to one `StateMachine`. The block format
follows the seed example: Hash = sha256(str(Index) + Timestamp + Data + PreviousHash), lowercase
hex. A block's Timestamp is the simulated time at which its value was proposed, so the same
block has the same hash on every node and equal chains have equal hashes.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from typing import Any

from engines.core.shared import SharedList

GENESIS_DATA = "Genesis Block"


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
        equal blocks are one object while any chain holds it: stored once, hashed once."""
        key = (index, timestamp, data, prev_hash)
        block = _made.get(key)
        if block is None:
            block = cls(index, timestamp, data, prev_hash, block_hash(*key))
            _made[key] = block
        return block

    def is_valid(self) -> bool:
        return self.hash == block_hash(self.index, self.timestamp, self.data, self.prev_hash)

    def format(self) -> str:
        """The seed's printout: one field a line, then a blank line."""
        return (
            f"Index: {self.index}\nTimestamp: {self.timestamp}\nData: {self.data}\n"
            f"Previous Hash: {self.prev_hash}\nHash: {self.hash}\n"
        )


_made: weakref.WeakValueDictionary[tuple, Block] = weakref.WeakValueDictionary()
GENESIS = Block.make(0, "0ms", GENESIS_DATA, "")


def timestamp_of(proposed_at_ms: int) -> str:
    return f"{proposed_at_ms}ms"


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


def apply_kv(kv: dict[str, str], data: str) -> str | None:
    """`set KEY VALUE` and `del KEY` change the store; any other text is opaque data.
    Returns the key the command names, if it is one."""
    parts = data.split(maxsplit=2)
    if len(parts) == 3 and parts[0] == "set":
        kv[parts[1]] = parts[2]
        return parts[1]
    if len(parts) == 2 and parts[0] == "del":
        kv.pop(parts[1], None)
        return parts[1]
    return None


class KVStore(dict):
    """The key-value store: a dict that records which keys were written, so that a checker
    compares only those with its own replay of the chain (`take_written`)."""

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
        super().__setitem__(key, value)

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


@dataclass
class StateMachine:
    """A node's applied client values: the chain and the KV store built from them."""

    chain: SharedList = field(default_factory=lambda: SharedList([GENESIS]))
    kv: KVStore = field(default_factory=KVStore)
    applied_ids: SharedList = field(default_factory=SharedList)

    def apply(self, proposal_id: str, data: str, proposed_at_ms: int) -> Block:
        prev = self.chain[-1]
        block = Block.make(prev.index + 1, timestamp_of(proposed_at_ms), data, prev.hash)
        self.chain.append(block)
        self.applied_ids.append(proposal_id)
        apply_kv(self.kv, data)
        return block

    @property
    def height(self) -> int:
        """Blocks beyond genesis."""
        return len(self.chain) - 1

    @property
    def head_hash(self) -> str:
        return self.chain[-1].hash
