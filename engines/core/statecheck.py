"""The safety checks both protocols run on a node's state machine (`engines.core.chain`).

- Chain Validity: the chain starts at the genesis block, and every later block holds its
  index, links to its predecessor's hash and has a hash that covers its fields (the seed's
  block format).
- KV Replay: the node's key-value store equals replaying its chain's data on an empty store.

Both are incremental, like the protocols' checks. Blocks above the height already verified are
verified and replayed; a block overwritten or removed below it (the chain reports the lowest
such index) makes the check start again from genesis. The store is compared with the replay
only at the keys the store reports written and the keys the new blocks name: the two agreed at
every other key before, and neither changed there. Comparing their sizes as well catches a
store swapped for another one.
"""

from __future__ import annotations

from typing import Any

from engines.core.chain import apply_kv, block_fault, operation_of

_MISSING = object()
SOUND_KEPT = 256  # blocks remembered as sound (StateMachineCheck.sound)


class _Seen:
    """What the check verified of one node: the first `length` blocks of its chain, and the
    replay of them."""

    __slots__ = ("length", "replay", "sessions")

    def __init__(self) -> None:
        self.length = 0  # not even the genesis block yet
        self.replay: dict[str, str] = {}
        self.sessions: dict = {}  # the replay's client sessions (engines.core.chain)


class StateMachineCheck:
    # Slotted, as the checks of `engines.raft.invariants` are: checkpoints pickle it.
    __slots__ = ("seen", "sound")

    CHAIN = "Chain Validity"
    KV = "KV Replay"
    # What `check` watches of a node's state machine: its chain's length and `changed_from`,
    # its store's size and `written` keys. While none of these changed since the node's last
    # check, it finds nothing and records nothing new. Both callers track them and call it
    # only when one changed (Raft by the CHAIN and STORE facets of `RaftInvariants.check`,
    # Paxos in `PaxosInvariants._check_node`), so it does not test them again.

    def __init__(self) -> None:
        self.seen: dict[int, _Seen] = {}
        # Blocks lately found sound at their index: every node applies the same block objects
        # (Block.make), so the next node to reach index i needs only the link to its own
        # block i-1 checked. A few hundred are kept: beyond that the memo starts again.
        self.sound: dict[int, Any] = {}

    def __getstate__(self) -> dict:
        return {"seen": self.seen}  # the memo is a cache: checkpoints need not hold blocks

    def __setstate__(self, state: dict) -> None:
        self.seen, self.sound = state["seen"], {}

    def check(self, node: Any) -> tuple[str, str] | None:
        """The broken invariant's name and what broke, for the node that handled an event."""
        sm = node.sm
        chain, kv = sm.chain, sm.kv
        seen = self.seen.get(node.id)
        # Taken only when there is something to take: most steps here only appended blocks.
        changed = None if chain.changed_from is None else chain.take_changed_from()
        keys = kv.take_written()
        if seen is None or (changed is not None and changed < seen.length):
            seen = self.seen[node.id] = _Seen()
            keys.update(kv)
        replay, sound = seen.replay, self.sound
        height = len(chain)
        for i in range(seen.length, height):
            block = chain[i]
            if sound.get(i) is not block or block.prev_hash != chain[i - 1].hash:
                fault = block_fault(chain, i)
                if fault:
                    seen.length = i  # the blocks below are verified and replayed
                    return self.CHAIN, f"n{node.id}'s block {i} {fault}"
                if len(sound) >= SOUND_KEPT:
                    sound.clear()
                sound[i] = block
            # A `set`, most blocks, is replayed here, without apply_kv's call (its parse is
            # cached: the node's own apply parsed the same data).
            kind, key, argument = operation_of(block.data)
            if kind == "set":
                replay[key] = argument
                keys.add(key)
            else:
                key = apply_kv(replay, block.data, seen.sessions)
                if key is not None:
                    keys.add(key)
        seen.length = height
        if len(kv) != len(replay):
            keys.update(kv.keys() ^ replay.keys())
        for key in keys:
            if kv.get(key, _MISSING) != replay.get(key, _MISSING):
                return self.mismatch(node.id, kv, replay, keys)
        return None

    def mismatch(self, node_id: int, kv: dict, replay: dict, keys: set) -> tuple[str, str]:
        """Name the first key, in order, at which the store and the replay differ: the same
        key whatever order the keys were written in."""
        key = min(k for k in keys if kv.get(k, _MISSING) != replay.get(k, _MISSING))
        held, replayed = kv.get(key, _MISSING), replay.get(key, _MISSING)
        return self.KV, (
            f"n{node_id}'s store has {key}={_show(held)}, replaying its chain gives "
            f"{key}={_show(replayed)}"
        )


def _show(value: Any) -> str:
    return "nothing" if value is _MISSING else repr(value)
