"""Containers whose checkpoints share storage, so stepping back stays cheap as history grows.

Logs, chains and per-slot tables only grow, or change near their end. The simulator checkpoints
the world every few hundred steps; pickling these containers whole would make every checkpoint
cost as much as the whole history. Instead a checkpoint keeps a `view()` by reference (see
`engines.core.sim.Checkpoint`), and the live container copies storage only before changing what a
view may see: copy on write.

- `SharedList`: a list subclass, so reads and appends run at the built-in list's speed. The
  view is (storage, length); the storage is the live list until it is truncated or an item is
  assigned, which first gives the storage a copy. Appends go on in place, past every view's
  length. A restore copies the view's items into a new list, unless it may take over a list
  that holds them (the live one, when stepping back from the end of a session).
- `SlotMap`: a dict keyed by slot numbers (or other dense numbers), stored in chunks of
  64 slots. Writes land near the top slot: the top few chunks are in a small dict that a view
  copies, the chunks below them in a SharedList of chunks that views share (settling a chunk
  appends to it). A write copies only the chunk it touches, so a view costs a few chunks,
  whatever the history's length; rewriting an old slot also copies the table of chunks.
  Reads go through a flat dict of every chunk, which only the live map has.

Both also tell a reader (the safety checkers) what changed since it last asked, so that it reads
only that: a SharedList the lowest index overwritten or removed (appends are visible from its
length), a SlotMap the keys written, with what each holds now. A restored view starts with no
change to report: the
checkers' records are restored from the same checkpoint.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import Any


class _Storage:
    """What the views of a SharedList see: the live list itself, until the list changes below
    its end; then a copy of what it held. Only the views hold it: the list knows it by a weak
    reference, so no cycle forms (checkpoints gc.freeze() what is alive). `longest` is the
    longest view's length: a restore of that view may take the live list over."""

    __slots__ = ("items", "longest", "__weakref__")

    def __init__(self, items: list) -> None:
        self.items = items
        self.longest = 0


class SharedList(list):
    """A list: reads and appends are the built-in list's own. Writing an item or truncating
    first hands the views a copy of the contents (`_changing`); other in-place changes are
    refused."""

    __slots__ = ("_storage", "changed_from", "_restored_from", "__weakref__")

    def __init__(self, items: Iterable[Any] = ()) -> None:
        super().__init__(items)
        self._storage: weakref.ref[_Storage] | None = None
        self.changed_from: int | None = 0  # a new list is new to a reader from index 0
        self._restored_from: tuple | None = None  # the view, while its items are still ours

    def take_changed_from(self) -> int | None:
        """The lowest index overwritten or removed since the last call (None: nothing was)."""
        changed, self.changed_from = self.changed_from, None
        return changed

    def _changing(self, index: int) -> None:
        if self.changed_from is None or index < self.changed_from:
            self.changed_from = index
        storage = self._storage and self._storage()
        if storage is not None:
            storage.items = list(self)
        self._storage = None
        self._restored_from = None

    # --- checkpoints ------------------------------------------------------------------------
    def view(self) -> tuple[_Storage, int]:
        """Freeze the current contents for a checkpoint without copying them."""
        storage = self._storage and self._storage()
        if storage is None:
            storage = _Storage(self)
            self._storage = weakref.ref(storage)
        storage.longest = len(self)  # appends only lengthen: the latest view is the longest
        return (storage, len(self))

    @classmethod
    def from_view(
        cls, view: tuple[_Storage, int], take: bool = False, last: SharedList | None = None
    ) -> SharedList:
        """A list of the view's items. With `take` (the simulator passes it only when the
        worlds that hold these lists are being dropped), no items are copied when a list
        still holds them: the live list, when no later view sees past this one (the first
        step back from the end of a long session), or `last`, the list the previous restore
        of this view made, when no checkpoint sees it. Stepping back then costs the steps
        since the view, not a copy of the whole history."""
        storage, length = view
        live = storage.items
        if take and type(live) is SharedList and storage.longest <= length:
            restored = live  # every view of the storage sees a prefix of what is kept
        elif take and last is not None and last._restored_from is view and last._storage is None:
            restored = last
        else:
            restored = cls(storage.items)  # one copy, then what was appended after the view
            restored._restored_from = view
        super(cls, restored).__delitem__(slice(length, None))
        restored.changed_from = None
        return restored

    # --- changes ----------------------------------------------------------------------------
    def truncate(self, length: int) -> None:
        """Keep the first `length` items."""
        if length < len(self):
            self._changing(length)
            super().__delitem__(slice(length, None))

    def __setitem__(self, index: int, item: Any) -> None:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("SharedList index out of range")
        self._changing(index)
        super().__setitem__(index, item)

    def __delitem__(self, index: slice) -> None:
        start, stop, step = index.indices(len(self))
        if step != 1 or stop != len(self):
            raise ValueError("SharedList only deletes a tail: del items[start:]")
        self.truncate(start)

    def _refused(self, *args: Any) -> Any:
        raise TypeError("a SharedList only grows, truncates or overwrites an item")

    pop = insert = remove = clear = sort = reverse = __imul__ = _refused

    # --- reading ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"SharedList({list(self)!r})"

    def __reduce__(self):
        # Plain pickling (traces, tests) copies the contents; checkpoints use view() instead.
        return (SharedList, (list(self),))


DELETED = object()  # what SlotMap.written holds for a deleted key
CHUNK_BITS = 6  # 64 slots a chunk
RECENT_CHUNKS = 4  # the chunks at the top, where writes land, kept out of the shared table


class SlotMap:
    """A dict keyed by slot (int >= 0: its chunk is key >> CHUNK_BITS). Iteration
    goes in chunk order, then insertion order, so it is deterministic; sort when order
    matters."""

    __slots__ = (
        "_chunks",
        "_table",
        "_recent",
        "_frontier",
        "_owned",
        "_last_view",
        "written",
        "__weakref__",
    )

    def __init__(self, items: Iterable[tuple[Any, Any]] = ()) -> None:
        self._chunks: dict[int, dict] = {}  # chunk number -> key -> value: every chunk, for reads
        # Chunks below the frontier, by number (None: no key there), shared with the views
        # as a SharedList: settling a chunk appends to it, and only rewriting an old slot
        # copies it. The top chunks, where the writes land, are in a dict a view copies.
        self._table: SharedList = SharedList()
        self._recent: dict[int, dict] = {}  # chunk number >= frontier -> key -> value
        self._frontier = 0  # == len(self._table)
        self._owned: set[int] = set()  # chunks copied since the last view: no view sees them
        self._last_view: tuple | None = None
        # key -> what was written there since the reader last took them (DELETED if the key
        # was deleted): the reader sees what changed without looking it up. Recorded only
        # once a reader asks; until then True (all of it is new to a reader), so that the
        # reader's one test of its truth tells whether there is anything to take. Once it
        # records, a reader may take the changes by clearing the dict it read, in place.
        self.written: dict | bool = True
        for key, value in items:
            self[key] = value

    def take_written(self) -> dict | None:
        """The keys written or deleted since the last call, with what they hold now (see
        `written`). The first call answers None (all of it is new to the reader) and starts
        the recording, which checkpoints carry on."""
        written = self.written
        if written is True:
            self._last_view = None  # views record that the recording started
            self.written = {}
            return None
        if written:
            self.written = {}
        return written

    def view(self) -> tuple:
        # A map unchanged since the last checkpoint hands out the same view again.
        if self._last_view is None:
            self._owned = set()
            recording = self.written is not True
            self._last_view = (self._table.view(), dict(self._recent), recording)
        return self._last_view

    @classmethod
    def from_view(cls, view: tuple, take: bool = False, last: SlotMap | None = None) -> SlotMap:
        """The map the view saw; `take` and `last` as for SharedList.from_view."""
        table, recent, recording = view
        restored = cls()
        restored._table = SharedList.from_view(table, take, last and last._table)
        restored._frontier, restored._recent = table[1], dict(recent)
        chunks = enumerate(restored._table)
        restored._chunks = {n: chunk for n, chunk in chunks if chunk is not None} | recent
        if recording:
            restored.written = {}
        return restored

    def _writable(self, number: int) -> dict:
        """The chunk, copied first if a view may see it."""
        self._last_view = None
        if number < self._frontier:
            if number < 0:
                raise KeyError(f"slot keys are >= 0, not in chunk {number}")
            if number in self._owned:
                return self._table[number]
            # An old slot rewritten: the SharedList gives the views a copy of the table.
            copy = self._table[number] = dict(self._table[number] or ())
        else:
            if number >= self._frontier + RECENT_CHUNKS:
                self._settle(number - RECENT_CHUNKS + 1)
            if number in self._owned:
                return self._recent[number]
            copy = self._recent[number] = dict(self._recent.get(number, ()))
        self._chunks[number] = copy
        self._owned.add(number)
        return copy

    def _settle(self, frontier: int) -> None:
        """Move the top chunks below `frontier` into the shared table."""
        table, recent = self._table, self._recent
        for number in range(self._frontier, frontier):
            table.append(recent.pop(number, None))
        self._frontier = frontier

    def __setitem__(self, key: Any, value: Any) -> None:
        written = self.written
        if written is not True:
            written[key] = value
        number = key >> CHUNK_BITS
        # Most writes: a chunk no view sees (`add` stores a new key in such a chunk the same
        # way). Owning it cleared _last_view already: only view() sets that, and it disowns
        # every chunk.
        chunk = self._chunks[number] if number in self._owned else self._writable(number)
        chunk[key] = value

    # map.put(key, value) is map[key] = value as a method call, which costs less than the
    # special method's call from Python: hot writes use it.
    put = __setitem__

    def __delitem__(self, key: Any) -> None:
        if self.written is not True:
            self.written[key] = DELETED
        del self._writable(key >> CHUNK_BITS)[key]

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def add(self, key: Any, value: Any) -> bool:
        """Store `value` under a key that holds nothing yet; whether it did. One call where
        `key in map` then `map[key] = value` make two calls of special methods, which cost
        several times as much as a method's from Python (a Paxos learner's every slot)."""
        number = key >> CHUNK_BITS
        if number in self._owned:
            # Most often a chunk no view sees (the top one): a new key is stored here,
            # without a second call, as __setitem__ stores it (keep the two in step).
            chunk = self._chunks[number]
            if key in chunk:
                return False
            written = self.written
            if written is not True:
                written[key] = value
            chunk[key] = value
            return True
        chunk = self._chunks.get(number)
        if chunk is not None and key in chunk:
            return False
        self[key] = value  # which copies the chunk first
        return True

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __getitem__(self, key: Any) -> Any:
        chunk = self._chunks.get(key >> CHUNK_BITS)
        if chunk is None:
            raise KeyError(key)
        return chunk[key]

    def get(self, key: Any, default: Any = None) -> Any:
        chunk = self._chunks.get(key >> CHUNK_BITS)
        return default if chunk is None else chunk.get(key, default)

    def __contains__(self, key: Any) -> bool:
        chunk = self._chunks.get(key >> CHUNK_BITS)
        return chunk is not None and key in chunk

    def __len__(self) -> int:
        # Counted when asked (a Paxos Prepare asks), not kept up at every write.
        return sum(map(len, self._chunks.values()))

    def __bool__(self) -> bool:
        return any(self._chunks.values())

    def keys(self) -> Iterator[Any]:
        for chunk in sorted(self._chunks):
            yield from self._chunks[chunk]

    __iter__ = keys

    def values(self) -> Iterator[Any]:
        for chunk in sorted(self._chunks):
            yield from self._chunks[chunk].values()

    def items(self) -> Iterator[tuple[Any, Any]]:
        for chunk in sorted(self._chunks):
            yield from self._chunks[chunk].items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SlotMap | dict):
            return len(self) == len(other) and all(
                k in other and other[k] == v for k, v in self.items()
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SlotMap({dict(self.items())!r})"

    def __reduce__(self):
        return (SlotMap, (list(self.items()),))


def stored(views: Iterable[tuple]) -> int:
    """What checkpoints' views of shared containers keep, each thing stored counted once
    however many views share it: a SharedList storage's items; a SlotMap's chunk table
    slots, top chunk entries and keys. It grows with the history: linearly, if the sharing
    works (a copy of each table at each view grew it quadratically)."""
    seen: set[int] = set()

    def fresh(obj: Any) -> bool:
        new = id(obj) not in seen
        seen.add(id(obj))
        return new

    count = 0
    for view in filter(fresh, views):
        if len(view) == 2:  # a SharedList: (storage, length)
            count += len(view[0].items) if fresh(view[0]) else 0
            continue
        (storage, _), recent = view[0], view[1]  # a SlotMap (see SlotMap.view)
        chunks = list(recent.values())
        count += len(recent)
        if fresh(storage):
            count += len(storage.items)
            chunks += [chunk for chunk in storage.items if chunk]
        count += sum(len(chunk) for chunk in chunks if fresh(chunk))
    return count
