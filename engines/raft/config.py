"""Raft's cluster membership: configurations, their quorums, and the configuration a log implies.

A configuration is a value: the voters, the learners (who replicate but never vote, so a new
server catches up before it counts; etcd-io/raft's learners), and during joint consensus the
old voters too (the paper's section 6: a decision then needs a majority of the old voters AND
a majority of the new ones). A configuration entry takes effect as soon as a server appends it,
committed or not (dissertation 4.1): so the configuration in force at a server is the last
configuration entry in its log, or the bootstrap configuration below the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import NamedTuple

from engines.core.node import node_names

MODES = ("single", "joint")  # single-server changes (dissertation 4.1) or joint consensus (§6)


@dataclass(frozen=True, slots=True)  # slots: a leader reads voters on every ack
class Configuration:
    """`voters` decide; during a joint change `old` holds the voters being replaced."""

    voters: tuple[int, ...]
    learners: tuple[int, ...] = ()
    old: tuple[int, ...] | None = None

    @classmethod
    def of(cls, voters, learners=(), old=None) -> Configuration:
        return cls(
            tuple(sorted(voters)),
            tuple(sorted(set(learners) - set(voters))),
            None if old is None else tuple(sorted(old)),
        )

    @property
    def joint(self) -> bool:
        return self.old is not None

    @property
    def members(self) -> tuple[int, ...]:
        """Every server the leader replicates to: voters (old and new) and learners."""
        return tuple(sorted({*self.voters, *self.learners, *(self.old or ())}))

    def is_voter(self, node: int) -> bool:
        return node in self.voters or node in (self.old or ())

    def is_quorum(self, ids) -> bool:
        """A majority of the voters, and during a joint change a majority of the old ones too."""
        ids = set(ids)
        return _majority_of(self.voters, ids) and (self.old is None or _majority_of(self.old, ids))

    def quorum_value(self, values: dict[int, int], own: int = 0) -> int:
        """The highest value that a quorum of voters has reached (or passed): the commit index
        from match indexes, or the confirmed round from acknowledged rounds. A voter that
        `values` leave out has reached `own`: a leader holds a value for every other member,
        and counts itself so, without merging its value into a copy of the others' on every
        commit."""
        voters = self.voters
        if self.old is None and len(values) + 1 == len(voters):
            # Hot (a leader's commits, and the check of each): _kth's common case, not called.
            return sorted((own, *values.values()))[(len(voters) - 1) // 2]
        highest = _kth(voters, values, own)
        return highest if self.old is None else min(highest, _kth(self.old, values, own))

    def quorum_size(self) -> int:
        """Votes a candidate needs in the new voting set (what the election note shows)."""
        return len(self.voters) // 2 + 1

    def words(self) -> str:
        """`n1 n2 n3`, a joint one as `n1 n2 n3 + n1 n2 n3 n4 n5` (old + new), then
        `learners n4` when there are some: the form `expect config` reads."""
        voters = node_names(self.voters, empty="(none)")
        text = voters if self.old is None else f"{node_names(self.old, empty='(none)')} + {voters}"
        return text + (f" learners {node_names(self.learners)}" if self.learners else "")


def _majority_of(voters: tuple[int, ...], ids: set[int]) -> bool:
    return bool(voters) and len(ids.intersection(voters)) > len(voters) // 2


def _kth(voters: tuple[int, ...], values: dict[int, int], own: int) -> int:
    """The value a majority of `voters` has reached: the (n//2 + 1)-th highest."""
    if not voters:
        return 0
    # Callers' values cover every voter but the counting one (a leader's match indexes, the
    # Commit Quorum check's), and maybe other members: one short of the voters, they are
    # exactly the other voters'.
    if len(values) + 1 == len(voters):
        reached = sorted((own, *values.values()))  # in C: half the cost of a lookup a voter
    else:
        reached = sorted(map(values.get, voters, repeat(own)))
    return reached[(len(voters) - 1) // 2]


class ConfigEntry(NamedTuple):
    """A log entry that carries a configuration. `value` is None, as a no-op's: no block."""

    term: int
    config: Configuration
    value: None = None
    pid: None = None
    proposed_at: int = 0


def read_words(words: list[str]) -> tuple[frozenset, frozenset, frozenset | None] | None:
    """`expect config`'s words as (voters, learners, old voters), None if they do not read."""
    if "learners" in words:
        at = words.index("learners")
        words, learners = words[:at], words[at + 1 :]
    else:
        learners = []
    old = None
    if "+" in words:
        at = words.index("+")
        old, words = words[:at], words[at + 1 :]
    groups = [words, learners, old or []]
    if any(not w.startswith("n") or not w[1:].isdigit() for g in groups for w in g):
        return None
    ids = [frozenset(int(w[1:]) for w in g) for g in groups]
    return ids[0], ids[1], None if old is None else ids[2]


def matches(config: Configuration, wanted: tuple) -> bool:
    voters, learners, old = wanted
    return (
        set(config.voters) == voters
        and set(config.learners) == learners
        and (None if config.old is None else set(config.old)) == old
    )


class Configurations:
    """The configuration entries of one server's log, by index, kept in step with the log:
    `current` is the last one (or the bootstrap configuration). Volatile: a restart rebuilds
    it from the log, which is the persistent record, and `bootstrap` is the configuration
    below the log's first entry: the founders', or the snapshot's (section 7)."""

    __slots__ = ("bootstrap", "entries", "last_index", "current")  # read on every commit

    def __init__(self, bootstrap: Configuration, log, first: int = 0) -> None:
        """`first`: the index of the log's first entry (a compacted log starts at its
        snapshot's index)."""
        self.bootstrap = bootstrap
        self.entries: list[tuple[int, Configuration]] = [
            (i, e.config) for i, e in enumerate(log, first) if type(e) is ConfigEntry
        ]
        self.follow_entries()

    def follow_entries(self) -> None:
        """`current`, the last configuration (or the bootstrap one), and `last_index`, the
        index of its entry (0 for the bootstrap configuration): attributes, not properties,
        as a leader reads them on every commit."""
        if self.entries:
            self.last_index, self.current = self.entries[-1]
        else:
            self.last_index, self.current = 0, self.bootstrap

    @property
    def previous(self) -> Configuration:
        """The configuration the last configuration entry replaced."""
        return self.entries[-2][1] if len(self.entries) > 1 else self.bootstrap

    def committed(self, commit_index: int) -> Configuration:
        """The last configuration at or below the commit index."""
        for index, config in reversed(self.entries):
            if index <= commit_index:
                return config
        return self.bootstrap

    def appended(self, first: int, entries) -> bool:
        """Entries were written from index `first` on; True when one is a configuration."""
        found = False
        for offset, entry in enumerate(entries):
            if type(entry) is ConfigEntry:
                self.entries.append((first + offset, entry.config))
                found = True
        if found:
            self.follow_entries()
        return found

    def truncated(self, length: int) -> None:
        """The log was cut to `length` entries: the configurations past it are gone."""
        self.entries = [(i, c) for i, c in self.entries if i < length]
        self.follow_entries()
