"""Containers whose checkpoints share storage, so stepping back stays cheap as history grows.

Logs, chains and per-slot tables only grow, or change near their end. The simulator checkpoints
the world every few hundred steps; pickling these containers whole would make every checkpoint
cost as much as the whole history. Instead a checkpoint keeps a `view()` by reference (see
`engines.core.sim.Checkpoint`), and the live container copies storage only before changing what a
view may see: copy on write.

- `SharedList`: the view is (storage, length). Appends go on in place, past the view's length.
  Truncation, assignment, or an append after a restore first copies the storage.
- `SlotMap`: a dict keyed by slot numbers (or tuples that start with one), stored in chunks of
  64 slots, 64 chunks a group. The view is a copy of the group table (one entry per 4,096
  slots, so checkpoints stay small as history grows); a write copies only the chunk it touches
  and its group's table.

Both also tell a reader (the safety checkers) what changed since it last asked, so that it reads
only that: a SharedList the lowest index overwritten or removed (appends are visible from its
length), a SlotMap the keys written. A restored view starts with no change to report: the
checkers' records are restored from the same checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


class SharedList:
    __slots__ = ("_items", "_n", "_shared", "changed_from")

    def __init__(self, items: Iterable[Any] = (), *, _view: tuple[list, int] | None = None):
        if _view is None:
            self._items: list[Any] = list(items)
            self._n = len(self._items)
            self._shared = False
            self.changed_from: int | None = 0  # a new list is new to a reader from index 0
        else:
            self._items, self._n = _view
            self._shared = True
            self.changed_from = None

    def take_changed_from(self) -> int | None:
        """The lowest index overwritten or removed since the last call (None: nothing was)."""
        changed, self.changed_from = self.changed_from, None
        return changed

    def _changing(self, index: int) -> None:
        if self.changed_from is None or index < self.changed_from:
            self.changed_from = index

    # --- checkpoints ------------------------------------------------------------------------
    def view(self) -> tuple[list, int]:
        """Freeze the current contents for a checkpoint without copying them."""
        self._shared = True
        return (self._items, self._n)

    @classmethod
    def from_view(cls, view: tuple[list, int]) -> SharedList:
        return cls(_view=view)

    def _own(self) -> list[Any]:
        """Storage this list may change in place: copied if a checkpoint may see it."""
        if self._shared or self._n != len(self._items):
            self._items = self._items[: self._n]
            self._shared = False
        return self._items

    # --- changes ----------------------------------------------------------------------------
    def append(self, item: Any) -> None:
        if self._n != len(self._items):
            self._own()
        self._items.append(item)
        self._n += 1

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)

    def truncate(self, length: int) -> None:
        """Keep the first `length` items."""
        if length < self._n:
            self._changing(length)
            self._own()
            del self._items[length:]
            self._n = length

    def __setitem__(self, index: int, item: Any) -> None:
        index = self._index(index)
        self._changing(index)
        self._own()[index] = item

    def __delitem__(self, index: slice) -> None:
        start, stop, step = index.indices(self._n)
        if step != 1 or stop != self._n:
            raise ValueError("SharedList only deletes a tail: del items[start:]")
        self.truncate(start)

    # --- reading ----------------------------------------------------------------------------
    def _index(self, index: int) -> int:
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("SharedList index out of range")
        return index

    def __getitem__(self, index: int | slice) -> Any:
        # The hot path of every log lookup: plain ints first, with no helper call.
        n = self._n
        if type(index) is int:
            if 0 <= index < n:
                return self._items[index]
            if -n <= index < 0:
                return self._items[index + n]
            raise IndexError("SharedList index out of range")
        start, stop, step = index.indices(n)
        return self._items[start:stop:step]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[Any]:
        items, n = self._items, self._n
        return iter(items) if n == len(items) else iter(items[:n])

    def __bool__(self) -> bool:
        return self._n > 0

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SharedList | list):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SharedList({list(self)!r})"

    def __reduce__(self):
        # Plain pickling (traces, tests) copies the contents; checkpoints use view() instead.
        return (SharedList, (list(self),))


CHUNK_BITS = 6  # 64 slots a chunk
GROUP_BITS = 6  # 64 chunks a group: a view copies one table entry per 4,096 slots


def _chunk_of(key: int | tuple) -> int:
    return (key if type(key) is int else key[0]) >> CHUNK_BITS


class SlotMap:
    """A dict keyed by slot (int, or a tuple whose first item is the slot). Iteration goes in
    chunk order, then insertion order, so it is deterministic; sort when order matters."""

    __slots__ = ("_groups", "_owned", "_len", "_last_view", "_written")

    def __init__(self, items: Iterable[tuple[Any, Any]] = ()) -> None:
        self._groups: dict[int, dict[int, dict]] = {}  # group -> chunk -> key -> value
        self._owned: set[tuple[int, int]] = set()  # (group, -1) or (group, chunk) copied since
        self._len = 0
        self._last_view: tuple[dict[int, dict], int, bool] | None = None
        self._written: set | None = None  # recorded only once a reader asks
        for key, value in items:
            self[key] = value

    def take_written(self) -> set | None:
        """The keys written or deleted since the last call. The first call answers None (all
        of it is new to the reader) and starts the recording, which checkpoints carry on."""
        written = self._written
        if written is None:
            self._last_view = None
        if written is None or written:
            self._written = set()
        return written

    def view(self) -> tuple[dict[int, dict], int, bool]:
        # A map unchanged since the last checkpoint hands out the same view again.
        if self._last_view is None:
            self._owned = set()
            self._last_view = (dict(self._groups), self._len, self._written is not None)
        return self._last_view

    @classmethod
    def from_view(cls, view: tuple[dict[int, dict], int, bool]) -> SlotMap:
        restored = cls()
        restored._groups, restored._len = dict(view[0]), view[1]
        if view[2]:
            restored._written = set()
        return restored

    def _chunk(self, chunk: int) -> dict | None:
        group = self._groups.get(chunk >> GROUP_BITS)
        return None if group is None else group.get(chunk)

    def _writable(self, chunk: int) -> dict:
        """The chunk, copied first (with its group) if a view may see it."""
        self._last_view = None
        number = chunk >> GROUP_BITS
        if (number, chunk) in self._owned:
            return self._groups[number][chunk]
        group = self._groups.get(number, {})
        if (number, -1) not in self._owned:
            group = self._groups[number] = dict(group)
            self._owned.add((number, -1))
        copy = group[chunk] = dict(group.get(chunk, ()))
        self._owned.add((number, chunk))
        return copy

    def __setitem__(self, key: Any, value: Any) -> None:
        if self._written is not None:
            self._written.add(key)
        chunk = self._writable(_chunk_of(key))
        if key not in chunk:
            self._len += 1
        chunk[key] = value

    def __delitem__(self, key: Any) -> None:
        if self._written is not None:
            self._written.add(key)
        del self._writable(_chunk_of(key))[key]
        self._len -= 1

    def pop(self, key: Any, *default: Any) -> Any:
        if key in self:
            value = self[key]
            del self[key]
            return value
        if default:
            return default[0]
        raise KeyError(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def __getitem__(self, key: Any) -> Any:
        chunk = self._chunk(_chunk_of(key))
        if chunk is None:
            raise KeyError(key)
        return chunk[key]

    def get(self, key: Any, default: Any = None) -> Any:
        chunk = self._chunk(_chunk_of(key))
        return default if chunk is None else chunk.get(key, default)

    def __contains__(self, key: Any) -> bool:
        chunk = self._chunk(_chunk_of(key))
        return chunk is not None and key in chunk

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def _chunks(self) -> Iterator[dict]:
        for number in sorted(self._groups):
            group = self._groups[number]
            for chunk in sorted(group):
                yield group[chunk]

    def keys(self) -> Iterator[Any]:
        for chunk in self._chunks():
            yield from chunk

    __iter__ = keys

    def values(self) -> Iterator[Any]:
        for chunk in self._chunks():
            yield from chunk.values()

    def items(self) -> Iterator[tuple[Any, Any]]:
        for chunk in self._chunks():
            yield from chunk.items()

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
