"""Log compaction (the paper's section 7): the snapshot value and the log that follows it.

"Each server takes snapshots independently, covering just the committed entries in its log.
[...] the state machine writes its current state to the snapshot. Raft also includes a small
amount of metadata in the snapshot: the last included index [...] and the last included term
[...] to support the AppendEntries consistency check for the first log entry following the
snapshot [...]. To enable cluster membership changes, the snapshot also includes the latest
configuration in the log as of last included index. Once a server completes writing a
snapshot, it may delete all log entries up through the last included index."

Here the state machine is a hash chain and the key-value store built from it
(`engines.core.chain`). The chain is the replicated state itself, so the snapshot carries it,
by reference to the chain of the node that took it: a Raft node's chain only grows, so its first
`height + 1` blocks never change, and checkpoints share it (a SharedList) instead of copying
it. The head block's hash sums the chain up: traces and digests show the snapshot by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.core.chain import KVStore, StateMachine
from engines.core.shared import SharedList
from engines.raft.config import Configuration
from engines.raft.messages import Entry


@dataclass(frozen=True)
class Snapshot:
    """The state machine as of `index` (lastIncludedIndex), whose entry is of `term`."""

    index: int
    term: int
    kv: dict[str, str]
    sessions: dict  # client -> (last op id, ok, value): retries stay answered once (6.3)
    chain: SharedList  # blocks 0..height are the snapshot's (shared: see the module notes)
    ids: SharedList  # the proposal id of each of those blocks above genesis
    height: int
    config: Configuration  # the latest configuration in the log as of `index`

    @classmethod
    def take(cls, sm: StateMachine, index: int, term: int, config: Configuration) -> Snapshot:
        """The snapshot of a state machine that has applied every entry up to `index`."""
        kv, sessions = dict(sm.kv), dict(sm.sessions)
        return cls(index, term, kv, sessions, sm.chain, sm.applied_ids, sm.height, config)

    @property
    def head_hash(self) -> str:
        return self.chain[self.height].hash

    def state_machine(self) -> StateMachine:
        """A state machine as the snapshot left it: a restarted node, or one installing it."""
        return StateMachine(
            SharedList(self.chain[: self.height + 1]),
            KVStore(self.kv),
            SharedList(self.ids[: self.height]),
            dict(self.sessions),
        )

    def applied_over(self, sm: StateMachine) -> StateMachine:
        """The state machine of a node installing the snapshot. When its chain is a prefix of
        the snapshot's (equal hashes at its height: the hashes link), the missing blocks are
        appended to it, so that installing costs the gap, not the whole chain again."""
        height = sm.height
        if height > self.height or self.chain[height].hash != sm.head_hash:
            return self.state_machine()
        sm.chain.extend(self.chain[height + 1 : self.height + 1])
        sm.applied_ids.extend(self.ids[height : self.height])
        sm.kv, sm.sessions = KVStore(self.kv), dict(self.sessions)
        return sm

    def plain_form(self) -> dict[str, Any]:
        """What digests and traces show: the chain by its head hash, not block by block."""
        return {
            "index": self.index,
            "term": self.term,
            "height": self.height,
            "head_hash": self.head_hash,
            "kv": dict(sorted(self.kv.items())),
            "sessions": {str(c): list(s) for c, s in sorted(self.sessions.items())},
            "config": self.config.words(),
        }


class RaftLog:
    """The log after a snapshot, read and written by absolute index, like the whole log.

    Index `base` is the snapshot's last included index: it holds a stand-in entry of the
    snapshot's term (index 0, of term 0, before any snapshot), so that prevLogIndex `base`
    matches the snapshot's lastIncludedTerm. Entries below it are gone; reading one is an
    error. `len()` is the last index + 1, as for the whole log. The entries are a SharedList,
    so checkpoints share them, and it reports the lowest index overwritten or removed
    (`changed_from`) to the safety checks; dropping the compacted prefix is not a change."""

    __slots__ = ("base", "entries")

    def __init__(self, entries: SharedList | None = None, base: int = 0) -> None:
        self.base = base
        self.entries = SharedList([Entry(0)]) if entries is None else entries

    def __len__(self) -> int:
        return self.base + len(self.entries)

    def __getitem__(self, index: int | slice) -> Any:
        entries, base = self.entries, self.base
        if type(index) is slice:
            start = base if index.start is None else max(index.start, base)
            stop = None if index.stop is None else max(index.stop - base, 0)
            return entries[start - base : stop]
        if index < 0:
            return entries[index]
        if index < base:
            raise IndexError(f"log index {index} is compacted (snapshot at {base})")
        return entries[index - base]

    def __setitem__(self, index: int, entry: Entry) -> None:
        """Overwrite one entry (a deliberately broken node does; the checks must see it)."""
        if 0 <= index <= self.base:
            raise IndexError(f"log index {index} is compacted (snapshot at {self.base})")
        self.entries[index - self.base if index >= 0 else index] = entry

    def __iter__(self):
        return iter(self.entries)

    # A method call costs a fraction of len() on a Python class; the hottest paths (every
    # AppendEntries, every ack) read `base` and `entries` themselves.
    def last_index(self) -> int:
        """len(log) - 1."""
        return self.base + len(self.entries) - 1

    @property
    def first(self) -> int:
        """The first index that holds an entry of its own (past the stand-in)."""
        return self.base + 1

    def append(self, entry: Entry) -> None:
        self.entries.append(entry)

    def extend(self, entries: Any) -> None:
        self.entries.extend(entries)

    def truncate(self, length: int) -> None:
        """Keep indexes below `length` (never below the snapshot)."""
        self.entries.truncate(length - self.base)

    @property
    def changed_from(self) -> int | None:
        changed = self.entries.changed_from
        return None if changed is None else changed + self.base

    def compact(self, index: int, term: int) -> None:
        """Drop the entries up through `index` (of `term`), keeping those after it."""
        kept, changed = SharedList([Entry(term)]), self.changed_from
        kept.extend(self.entries[index - self.base + 1 :])
        kept.changed_from = None if changed is None else max(changed - index, 1)
        self.entries, self.base = kept, index

    def discard(self, index: int, term: int) -> None:
        """Drop the whole log for a snapshot at `index`: every entry after it is removed."""
        kept = SharedList([Entry(term)])
        kept.changed_from = 1  # index + 1 on: what was there is gone
        self.entries, self.base = kept, index

    def plain_form(self) -> Any:
        """The entries, stand-in first; with a snapshot, after the index it stands for."""
        return list(self.entries) if not self.base else {"base": self.base, "entries": self.entries}

    def __reduce__(self):
        return (RaftLog, (self.entries, self.base))
