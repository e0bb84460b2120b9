"""The replicated state machine: a hash chain of blocks and a key-value store.

Every node applies committed client values, in order, to one `StateMachine`. The block format
follows the seed example: Hash = sha256(str(Index) + Timestamp + Data + PreviousHash), lowercase
hex. A block's Timestamp is the simulated time at which its value was proposed, so the same
block has the same hash on every node and equal chains have equal hashes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from engines.core.shared import SharedList

GENESIS_DATA = "Genesis Block"


def block_hash(index: int, timestamp: str, data: str, prev_hash: str) -> str:
    return hashlib.sha256(f"{index}{timestamp}{data}{prev_hash}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Block:
    index: int
    timestamp: str
    data: str
    prev_hash: str
    hash: str

    @classmethod
    def make(cls, index: int, timestamp: str, data: str, prev_hash: str) -> Block:
        return cls(index, timestamp, data, prev_hash, block_hash(index, timestamp, data, prev_hash))

    def is_valid(self) -> bool:
        return self.hash == block_hash(self.index, self.timestamp, self.data, self.prev_hash)

    def format(self) -> str:
        """The seed's printout: one field a line, then a blank line."""
        return (
            f"Index: {self.index}\nTimestamp: {self.timestamp}\nData: {self.data}\n"
            f"Previous Hash: {self.prev_hash}\nHash: {self.hash}\n"
        )


GENESIS = Block.make(0, "0ms", GENESIS_DATA, "")


def timestamp_of(proposed_at_ms: int) -> str:
    return f"{proposed_at_ms}ms"


def chain_is_valid(blocks: list[Block] | SharedList) -> bool:
    """Every hash recomputes from its fields and links to its predecessor."""
    if not blocks or blocks[0] != GENESIS:
        return False
    return all(
        b.is_valid() and b.index == i and b.prev_hash == blocks[i - 1].hash
        for i, b in enumerate(blocks)
        if i > 0
    )


def apply_kv(kv: dict[str, str], data: str) -> None:
    """`set KEY VALUE` and `del KEY` change the store; any other text is opaque data."""
    parts = data.split(maxsplit=2)
    if len(parts) == 3 and parts[0] == "set":
        kv[parts[1]] = parts[2]
    elif len(parts) == 2 and parts[0] == "del":
        kv.pop(parts[1], None)


@dataclass
class StateMachine:
    """A node's applied client values: the chain and the KV store built from them."""

    chain: SharedList = field(default_factory=lambda: SharedList([GENESIS]))
    kv: dict[str, str] = field(default_factory=dict)
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
