"""Raft's safety properties (paper 5.2-5.4, Figure 3), checked after every step.

Only the node that handled an event can have changed, so `RaftInvariants.check` hands that node
to those of nine checks that read something the step changed in it (each says what it `reads`),
each comparing it with what was recorded before, and then to the state machine checks both
protocols share (`engines.core.statecheck`); a step that changed nothing costs a few
comparisons, and the most common steps are judged by flat functions that take each check's
usual case inline. The checks keep history (every leader of every term, every committed entry),
so the properties hold over the whole run, crashes included, not only in the present. Growing
records are SharedLists, so checkpoints share them instead of copying them.

What changed is known, not guessed: a node's log reports the lowest index it overwrote or
removed since it was last checked (`LogChanges`), so an entry replaced in the middle of a log
is seen as surely as one appended at its end.

Two shortcuts keep the checks incremental. The chain is a hash chain whose every block is
verified (Chain Validity), so two chains with the same block hash at a height agree on
everything below it. And once Log Matching holds (it is checked on every entry a log gains),
two logs with the same entry at an index agree on everything below it: so State Machine Safety
compares committed prefixes at their top index only.

Through snapshots (the paper's section 7): a compacted log holds entries from its snapshot's
last included index on (`engines.raft.snapshot.RaftLog`), so the checks read only those, and an
index a snapshot holds agrees by construction once the snapshot itself is checked, when a node
takes or installs it: Log Matching, that its last included entry is one a log held; State
Machine Safety, that it is the entry committed there and that its chain is the chain applied up
to there. A node's chain is whole (the snapshot carries it), so the state machine checks are
unchanged; a node that installs a snapshot older than its commit index and loses committed
entries breaks Committed Prefix.

The checks read nodes through plain attributes (`role`, `persistent.term`, `persistent.log`,
`persistent.snapshot`, `commit_index`, `sm`, and for quorums `votes`, `match_index` and
`configs`, the configuration entries of the log), so they judge a deliberately broken node (the
bug lab) just the same: by the configuration its log puts in force, whichever one it uses.

Every class here has `__slots__`: checkpoints pickle the checkers, and pickling an object
that keeps an instance dict makes that dict real, after which Python 3.11 no longer
specialises lookups of its attributes (each took two and a half times as long).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import repeat
from typing import Any

from engines.core.shared import SharedList
from engines.core.statecheck import StateMachineCheck
from engines.core.violations import Violation
from engines.raft.config import ConfigEntry


def _show(entry: Any) -> str:
    if type(entry) is ConfigEntry:
        return f"the configuration {entry.config.words()} of term {entry.term}"
    if entry.value is None:
        return f"the no-op of term {entry.term}"
    return f"{entry.value!r} ({entry.pid}, term {entry.term})"


def _same(a: Any, b: Any) -> bool:
    return a is b or a == b


def _differs(log: Any, i: int, entry: Any) -> bool:
    """Whether the log's entry at `i` is not `entry`, through a snapshot (section 7): an index
    the snapshot holds agrees, since the snapshot point itself was checked when it came
    (`LogChanges.points`, `StateMachineSafety.check_snapshot`); at the point, only the term
    is kept."""
    base = log.base
    if i < base:
        return False
    if i == base:
        return log[i].term != entry.term
    ours = log.entries[i - base]  # past the log's indexing: State Machine Safety's hot path
    return ours is not entry and ours != entry


# What of a node each check reads (`reads`), so that a step runs only the checks that read
# something it changed (`RaftInvariants.plan`): the node itself (a restart makes a new one),
# its role and term; its term and vote; its log (length, an entry rewritten, its snapshot);
# its commit index; its chain's height; its snapshot alone (a new one is also a change of log);
# the rest of what the state machine checks watch (see `StateMachineCheck`), which no Raft
# check reads: with CHAIN, it decides whether those run at all.
WHO, VOTE, LOG, COMMIT, CHAIN, SNAPSHOT, STORE = 1, 2, 4, 8, 16, 32, 128
EVERYTHING = WHO | VOTE | LOG | COMMIT | CHAIN | SNAPSHOT | STORE
LEADER = 64  # not a facet: marks the plans of a leader's steps (`RaftInvariants.plan`)
STATE_MACHINE = CHAIN | STORE
# The most common steps, each judged by a flat function of `RaftInvariants`: a follower that
# appended entries or applied some or both, a leader that appended one, a leader that applied
# some.
APPLIED = LOG | COMMIT | CHAIN | STORE  # `follower_step`, for these facets or some of them
STANDING = EVERYTHING & ~APPLIED  # the facets a follower's usual steps leave as they were
COMMITTED = COMMIT | CHAIN | STORE  # `leader_committed`; `leader_appended` for LOG alone


class Committed:
    """Every entry known to be committed, by index, with who committed it first and the term in
    which that happened. Shared by State Machine Safety (which fills it) and Leader
    Completeness (which reads it)."""

    __slots__ = ("entries", "by", "terms")

    def __init__(self) -> None:
        self.entries = SharedList([None])  # index 0 unused
        self.by = SharedList([0])
        self.terms = SharedList([0])  # non-decreasing: a later index is committed no earlier


class ElectionSafety:
    """At most one leader per term, over the whole history, each elected by a quorum of the
    configuration in force at it: the last one in its log (dissertation 4.1; the candidate's
    configuration counts, and a broken node is judged by the one its log says)."""

    __slots__ = ("leader_of",)

    name = "Election Safety"
    leaders_only = True
    reads = WHO

    def __init__(self) -> None:
        self.leader_of: dict[int, int] = {}  # term -> the node that led it

    def check(self, node: Any) -> str | None:
        if node.role != "leader":
            return None
        term = node.persistent.term
        first = self.leader_of.get(term)
        if first == node.id:
            return None
        if first is not None:
            return f"n{first} and n{node.id} both became leader in term {term}"
        self.leader_of[term] = node.id  # checked in the step it won: its votes, its configuration
        config = node.configs.current
        if node.votes and not config.is_quorum(node.votes):
            votes = " ".join(f"n{i}" for i in sorted(node.votes))
            config = config.words()
            return f"n{node.id} leads term {term} with votes from {votes}, no quorum of {config}"
        return None


class LogChanges:
    """Which part of the checked node's log may differ from when the node was last checked:
    `first` is the lowest such index, None when the log is as it was. The log reports the
    lowest index it overwrote or removed, and appends lie past the length seen last time.
    Computed once a step, for the three checks that read the log; with the node's commit
    index and chain height at its last check (`held`, `height`), which the checks compare
    with their values now."""

    __slots__ = ("first", "points", "snapshot", "held", "height")

    def __init__(self) -> None:
        self.first: int | None = None
        self.points: dict[int, tuple] = {}  # node -> its snapshot's (index, term, height)
        self.snapshot: Any = None  # the checked node's snapshot, when new this step
        self.held = 0  # the node's commit index at its last check
        self.height = 0  # the height of its chain at its last check

    def note(self, first: int | None, held: int) -> None:
        """What a flat function of `RaftInvariants` found, noted only when it hands the step
        to a check's own code: `first` and `held`, and no new snapshot (`height` is read by
        State Machine Safety's `check` alone, which those functions never call)."""
        self.first, self.snapshot, self.held = first, None, held

    def observe(self, node: Any, new_snapshot: int, seen: int, length: int) -> None:
        """`new_snapshot`, when nonzero: the node holds another snapshot object than at its last
        check (an unchanged snapshot is the same frozen value, at the same point). `seen` and
        `length`: the log's length at the node's last check, and now."""
        self.snapshot = None
        if new_snapshot:
            snapshot = node.persistent.snapshot
            point = None if snapshot is None else (snapshot.index, snapshot.term, snapshot.height)
            if point != self.points.get(node.id):
                self.points[node.id] = point
                self.snapshot = snapshot
        # The log's entries are read past its indexing, as `RaftInvariants.check` does.
        log = node.persistent.log
        entries, base = log.entries, log.base
        if entries.changed_from is None and length == seen:
            self.first = None  # most steps
            return
        # Taken only when there is something to take: most steps here only appended entries.
        changed = None if entries.changed_from is None else entries.take_changed_from()
        # min() and max() by comparisons: they cost a call each, and this runs most steps.
        first = seen if seen < length else length
        if changed is not None and changed + base < first:
            first = changed + base
        # Entries a snapshot holds are gone from the log: the snapshot point is checked.
        self.first = first if first > base else base + 1


class LeaderAppendOnly:
    """A leader never overwrites or deletes entries of its own log while it leads (5.3)."""

    __slots__ = ("changes", "seen")

    name = "Leader Append-Only"
    leaders_only = True
    reads = WHO | LOG

    def __init__(self, changes: LogChanges) -> None:
        self.changes = changes
        self.seen: dict[int, tuple[int, int]] = {}  # node -> (term, log length) as leader

    def check(self, node: Any) -> str | None:
        if node.role != "leader":
            return None
        p, first = node.persistent, self.changes.first
        term, log = p.term, p.log
        seen = self.seen.get(node.id)
        self.seen[node.id] = (term, log.base + len(log.entries))  # len(log) without its call
        if seen is not None and seen[0] == term and first is not None and first < seen[1]:
            return f"leader n{node.id} of term {term} cut or replaced entries from index {first}"
        return None


class CommittedPrefix:
    """A node's commit index never exceeds its last log index, and the entries it committed
    never change: committed entries are durable (the paper's 5.4 safety argument; etcd's
    raftLog refuses both, in commitTo and in maybeAppend's conflict check)."""

    __slots__ = ("committed", "changes")

    name = "Committed Prefix"
    leaders_only = False
    reads = LOG | COMMIT

    def __init__(self, committed: Committed, changes: LogChanges) -> None:
        self.committed, self.changes = committed, changes

    def check(self, node: Any) -> str | None:
        commit, log = node.commit_index, node.persistent.log
        length = log.base + len(log.entries)  # past the log's indexing: this runs most steps
        if commit >= length:
            return f"n{node.id}'s commit index {commit} is beyond its last log index {length - 1}"
        # `held`: the commit index at the node's last check. A restart forgets it (the log
        # stays): the entries below it are not judged here again until it commits them again.
        first, held = self.changes.first, self.changes.held
        if first is None or first > held:
            return None
        entries = self.committed.entries
        for i in range(first, held + 1):
            if i >= length:
                return f"n{node.id} removed {_show(entries[i])}, committed at index {i}"
            if not _same(log[i], entries[i]):
                return (
                    f"n{node.id} replaced {_show(entries[i])}, committed at index {i}, "
                    f"with {_show(log[i])}"
                )
        return None


class TermRun:
    """The entries of one term as its leader wrote them: indexes first.. after `prev_term`."""

    __slots__ = ("first", "prev_term", "by", "entries")

    def __init__(self, first: int, prev_term: int, by: int, entry: Any) -> None:
        self.first, self.prev_term, self.by = first, prev_term, by
        self.entries = SharedList([entry])


class LogMatching:
    """Two logs with an entry of the same index and term are identical up to that index.

    In a correct run the entries of term T are written by T's leader alone, as one run of
    indexes after an entry of an earlier term. So the check records, per term, where that run
    starts, the term before it and its entries; every entry any log gains must agree with the
    record. Agreement at each index, and on the term before each run, gives identical prefixes
    by induction on the index. `LogChanges` tells which entries of a log are new."""

    __slots__ = ("changes", "runs")

    name = "Log Matching"
    leaders_only = False
    reads = LOG

    def __init__(self, changes: LogChanges) -> None:
        self.changes = changes
        self.runs: dict[int, TermRun] = {}

    def check(self, node: Any) -> str | None:
        first, log = self.changes.first, node.persistent.log
        snapshot = self.changes.snapshot
        if snapshot is not None and snapshot.index:
            run = self.runs.get(snapshot.term)
            if run is None or not run.first <= snapshot.index < run.first + len(run.entries):
                return (
                    f"n{node.id}'s snapshot ends at index {snapshot.index} term "
                    f"{snapshot.term}, an entry no log held"
                )
        if first is None:
            return None
        # Read by position in the entries after the snapshot (`first` lies past its index):
        # one list lookup per entry instead of two calls through the log's indexing.
        entries, base = log.entries, log.base
        # Most steps: a follower gains entries its leader wrote, which the run of their term
        # holds already, past its first index. Equal to that part of the run, they are of its
        # term, and `check_entry` would pass each one and record nothing: one comparison of
        # lists tells it.
        term = entries[-1].term
        run = self.runs.get(term)
        if run is not None and entries[first - 1 - base].term == term:
            start, stop = first - run.first, base + len(entries) - run.first
            known = len(run.entries)
            if start > 0 and stop <= known and entries[first - base :] == run.entries[start:stop]:
                return None
            # A leader's step: one entry of its term, just past the run's end, which
            # `check_entry` would append: without its call.
            if start == known and stop == known + 1:
                run.entries.append(entries[-1])
                return None
        for i in range(first, base + len(entries)):
            problem = self.check_entry(node.id, i, entries[i - base], entries[i - 1 - base].term)
            if problem:
                return problem
        return None

    def check_entry(self, node_id: int, i: int, entry: Any, prev_term: int) -> str | None:
        """The entry at index `i`, after one of `prev_term`, against its term's record."""
        run = self.runs.get(entry.term)
        if run is None:
            self.runs[entry.term] = TermRun(i, prev_term, node_id, entry)
            return None
        offset, known = i - run.first, len(run.entries)
        if offset < 0 or offset > known or (prev_term != entry.term) != (offset == 0):
            return f"{_where(i, entry, node_id, run)} disagree on where term {entry.term} starts"
        if offset == 0 and prev_term != run.prev_term:
            return (
                f"{_where(i, entry, node_id, run)} hold it after entries of terms {prev_term} "
                f"and {run.prev_term}"
            )
        if offset == known:
            run.entries.append(entry)
        elif not _same(entry, run.entries[offset]):
            other = _show(run.entries[offset])
            return f"{_where(i, entry, node_id, run)} hold {_show(entry)} and {other}"
        return None


def _where(i: int, entry: Any, node_id: int, run: TermRun) -> str:
    return f"index {i} term {entry.term}: n{node_id} and n{run.by} (from index {run.first})"


class StateMachineSafety:
    """No two nodes commit different entries at an index or apply different blocks at a height:
    committed log prefixes, and chains, are prefixes of each other."""

    __slots__ = ("committed", "changes", "hashes", "ids", "block_by")

    name = "State Machine Safety"
    leaders_only = False
    reads = SNAPSHOT | COMMIT | CHAIN

    def __init__(self, committed: Committed, changes: LogChanges) -> None:
        self.committed, self.changes = committed, changes
        self.hashes = SharedList([""])  # the longest applied chain: block hash, proposal id
        self.ids = SharedList([""])
        self.block_by = SharedList([0])  # and who applied each block first

    def check(self, node: Any) -> str | None:
        changes = self.changes  # the commit index and height already checked: at the last check
        snapshot = changes.snapshot
        if snapshot is not None and snapshot.index:
            problem = self.check_snapshot(node.id, snapshot)
            if problem:
                return problem
        commit = node.commit_index
        if commit != changes.held:
            committed, log = self.committed.entries, node.persistent.log
            # Most commits: the very entry committed there before, found without a call.
            if not (
                log.base < commit < len(committed)
                and log.entries[commit - log.base] is committed[commit]
            ):
                problem = self.check_commit(node, commit)
                if problem:
                    return problem
        sm = node.sm
        height = len(sm.chain) - 1
        if height != changes.height:
            hashes = self.hashes
            # Most heads: a block some node applied before, the same here, found without a call.
            if not (
                0 < height < len(hashes)
                and sm.chain[height].hash == hashes[height]
                and sm.applied_ids[height - 1] == self.ids[height]
            ):
                return self.check_head(node, height)
        return None

    def check_commit(self, node: Any, commit: int) -> str | None:
        if commit == 0:
            return None  # a restarted node: it learns its commit index again
        c, log = self.committed, node.persistent.log
        top = len(c.entries) - 1
        if commit <= top:
            if _differs(log, commit, c.entries[commit]):
                return (
                    f"index {commit}: n{c.by[commit]} committed {_show(c.entries[commit])}, "
                    f"n{node.id} committed {_show(log[commit])}"
                )
            return None
        entries, base = log.entries, log.base  # past the log's indexing: a leader's commits
        if top < base:
            return f"n{node.id} holds a snapshot up to index {base}, beyond every commit"
        # Most often the very entry committed there (no call to tell), else `_differs` tells.
        if top and entries[top - base] is not c.entries[top] and _differs(log, top, c.entries[top]):
            return (
                f"index {top}: n{c.by[top]} committed {_show(c.entries[top])}, "
                f"n{node.id} committed {_show(log[top])}"
            )
        for i in range(top + 1, commit + 1):
            c.entries.append(entries[i - base])
            c.by.append(node.id)
            c.terms.append(node.persistent.term)
        return None

    def check_snapshot(self, node_id: int, snapshot: Any) -> str | None:
        """A snapshot holds a committed prefix: its last entry is the one committed at its
        index, and its chain is the chain applied up to there."""
        c, index = self.committed, snapshot.index
        if index >= len(c.entries) or c.entries[index].term != snapshot.term:
            return (
                f"n{node_id}'s snapshot ends at index {index} term {snapshot.term}, not committed"
            )
        height = snapshot.height
        if height and (height >= len(self.hashes) or self.hashes[height] != snapshot.head_hash):
            return (
                f"n{node_id}'s snapshot at index {index} holds block {height} "
                f"(hash {snapshot.head_hash[:8]}), which no node applied there"
            )
        return None

    def check_head(self, node: Any, height: int) -> str | None:
        if height == 0:
            return None  # a restarted node, back to genesis
        chain, ids = node.sm.chain, node.sm.applied_ids
        top = len(self.hashes) - 1
        at = height if height < top else top
        if at and (chain[at].hash != self.hashes[at] or ids[at - 1] != self.ids[at]):
            return (
                f"block {at}: n{self.block_by[at]} applied {self.ids[at]} "
                f"(hash {self.hashes[at][:8]}), n{node.id} applied {ids[at - 1]} "
                f"(hash {chain[at].hash[:8]})"
            )
        for h in range(top + 1, height + 1):
            self.hashes.append(chain[h].hash)
            self.ids.append(ids[h - 1])
            self.block_by.append(node.id)
        return None


class LeaderCompleteness:
    """An entry committed in term T is in the log of every leader of a term above T."""

    __slots__ = ("committed", "checked")

    name = "Leader Completeness"
    leaders_only = True
    reads = WHO

    def __init__(self, committed: Committed) -> None:
        self.committed = committed
        self.checked: dict[int, int] = {}  # node -> the term in which its log was checked

    def check(self, node: Any) -> str | None:
        term = node.persistent.term
        if node.role != "leader" or self.checked.get(node.id) == term:
            return None
        self.checked[node.id] = term
        c, log = self.committed, node.persistent.log
        top = bisect_left(c.terms, term) - 1  # the last index committed before this term
        if top > 0 and (top >= len(log) or _differs(log, top, c.entries[top])):
            return (
                f"n{node.id} leads term {term} without {_show(c.entries[top])}, "
                f"committed at index {top} in term {c.terms[top]}"
            )
        return None


class SingleChange:
    """A leader appends a configuration entry only once the one before it has committed: one
    change at a time (dissertation 4.1; a joint change's second half waits for its first,
    section 6). Checked when a leader's log gains a configuration entry of its own term."""

    __slots__ = ("seen",)

    name = "One Change at a Time"
    leaders_only = True
    reads = WHO | LOG  # the commit index matters only when a configuration is appended

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, int]] = {}  # node -> (term, its last configuration)

    def check(self, node: Any) -> str | None:
        entries = node.configs.entries
        if node.role != "leader" or len(entries) < 2:
            return None
        last, term = entries[-1][0], node.persistent.term
        if node.persistent.log[last].term != term or self.seen.get(node.id) == (term, last):
            return None
        self.seen[node.id] = (term, last)
        before = entries[-2][0]
        if before <= node.commit_index:
            return None
        return (
            f"leader n{node.id} appended a configuration at index {last} while the one at "
            f"index {before} was not committed (its commit index is {node.commit_index})"
        )


class CommitQuorum:
    """A leader commits an index only once a quorum of the configuration in its log holds it
    (5.3 with dissertation 4.1: the newest configuration counts, committed or not)."""

    __slots__ = ("seen",)

    name = "Commit Quorum"
    leaders_only = True
    reads = WHO | COMMIT

    def __init__(self) -> None:
        self.seen: dict[int, tuple[int, int]] = {}  # node -> (term, commit index) as leader

    def check(self, node: Any) -> str | None:
        if node.role != "leader":
            return None
        term, commit = node.persistent.term, node.commit_index
        before = self.seen.get(node.id)
        self.seen[node.id] = (term, commit)
        if before is None or before[0] != term or commit <= before[1]:
            return None  # only an index this leader committed in this step is judged
        config, log = node.configs.current, node.persistent.log
        # Judged on the voters alone, a voter the leader has no match for at 0: a broken
        # leader's match indexes may follow another configuration than the one in force.
        match = node.match_index
        voters = {*config.voters, *(config.old or ())} - {node.id}
        values = dict(zip(voters, map(match.get, voters, repeat(0)), strict=True))  # in C
        held = config.quorum_value(values, log.base + len(log.entries) - 1)
        if held >= commit:
            return None
        return (
            f"leader n{node.id} committed index {commit}, but a quorum of {config.words()} "
            f"holds only up to {held}"
        )


class Persistence:
    """A node's term never decreases and it never votes for two candidates in one term,
    across crashes and restarts."""

    __slots__ = ("state", "votes")

    name = "Persistence"
    leaders_only = False
    reads = VOTE

    def __init__(self) -> None:
        self.state: dict[int, tuple[int, int | None]] = {}  # node -> (term, voted_for) last seen
        self.votes: dict[tuple[int, int], int] = {}  # (node, term) -> the candidate it chose

    def check(self, node: Any) -> str | None:
        p = node.persistent
        term, vote = self.state.get(node.id, (0, None))
        if p.term == term and p.voted_for == vote:
            return None
        self.state[node.id] = (p.term, p.voted_for)
        if p.term < term:
            return f"n{node.id}'s term went back from {term} to {p.term}"
        if p.voted_for is None:
            return None
        first = self.votes.setdefault((node.id, p.term), p.voted_for)
        if first != p.voted_for:
            return f"n{node.id} voted for n{first} and then for n{p.voted_for} in term {p.term}"
        return None


class _Seen:
    """What the checks read of one node at its last check (`RaftInvariants.check`): who it
    was, its log's length, its commit index, its chain's length and its store's size."""

    __slots__ = ("who", "length", "commit", "height", "size")

    def __init__(self, who: tuple, length: int, commit: int, height: int, size: int) -> None:
        self.who, self.length, self.commit, self.height = who, length, commit, height
        self.size = size


def _who_changes(before: tuple, now: tuple) -> int:
    """The facets that differ between two (node, role, term, vote, snapshot) tuples."""
    changed = 0
    if before[0] is not now[0] or before[1] != now[1] or before[2] != now[2]:
        changed |= WHO
    if before[2] != now[2] or before[3] != now[3]:
        changed |= VOTE
    if before[4] is not now[4]:
        changed |= LOG | SNAPSHOT
    return changed


class RaftInvariants:
    """The checker the simulator runs: the nine checks on the node the event changed, then
    the state machine checks both protocols share.

    Each check judges only what changed since it last ran and records what it saw, so a
    check whose `reads` are as they were at its last run would return None and record what
    it holds already: it is skipped. Most steps change one or two of them (a follower's log
    and commit index, a leader's commit index), and two in five change none (a leader taking
    an ack that commits nothing, a heartbeat with nothing new). The steps that change
    something are nearly all of three kinds, each judged by a flat function (`follower_step`,
    `leader_appended`, `leader_committed`); `judge` runs the plan of any other."""

    __slots__ = (
        *("changes", "checks", "seen", "plans", "state_machine"),
        *("append_only", "prefix", "matching", "safety", "single_change", "quorum"),
        *("runs", "committed", "committed_by", "committed_terms", "hashes", "ids", "block_by"),
    )

    def __init__(self) -> None:
        committed, self.changes = Committed(), LogChanges()
        self.checks = [
            ElectionSafety(),
            LeaderAppendOnly(self.changes),
            CommittedPrefix(committed, self.changes),
            LogMatching(self.changes),
            StateMachineSafety(committed, self.changes),
            LeaderCompleteness(committed),
            Persistence(),
            SingleChange(),
            CommitQuorum(),
        ]
        self.seen: dict[int, _Seen] = {}  # node id -> what the checks read, at its last check
        self.plans: dict[int, list] = {}  # what changed, with LEADER for a leader -> the checks
        self.state_machine = StateMachineCheck()
        self.name_checks()

    def name_checks(self) -> None:
        """The checks the flat functions run, by name, and the records they read (each the
        same object for the checker's life)."""
        self.append_only, self.prefix, self.matching, self.safety = self.checks[1:5]
        self.single_change, self.quorum = self.checks[7:9]
        committed, self.runs = self.safety.committed, self.matching.runs
        self.committed, self.committed_by = committed.entries, committed.by
        self.committed_terms = committed.terms
        self.hashes, self.ids, self.block_by = (
            self.safety.hashes,
            self.safety.ids,
            self.safety.block_by,
        )

    def __getstate__(self) -> tuple:
        return self.changes, self.checks, self.seen, self.state_machine

    def __setstate__(self, state: tuple) -> None:
        self.changes, self.checks, self.seen, self.state_machine = state
        self.plans = {}  # bound methods, a cache: rebuilt when needed
        self.name_checks()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.checks] + [StateMachineCheck.CHAIN, StateMachineCheck.KV]

    def check(self, sim: Any, event: Any) -> Violation | None:
        """Judge the node the event changed by what the checks read that differs from its
        last check (the facets above): most steps change nothing, so that is found here, with
        no call (`judge` and the flat functions run the checks). The snapshot counts by itself:
        held here, it stays alive, so no later snapshot can be mistaken for it. The log's
        entries are read past its indexing: its length is its base and their count (the base
        moves only with a new snapshot, itself a change of the log)."""
        if event.kind == "drop":
            return None  # a dropped message changes nobody
        # Indexed, not .get(): an indexing is no call, and a try costs nothing until it raises.
        try:
            node = sim.world.nodes[event.node]
        except KeyError:
            return None  # no live node handled it
        p, sm = node.persistent, node.sm
        log, chain, kv = p.log, sm.chain, sm.kv
        entries = log.entries
        # Who the node is, its role, term, vote and snapshot change seldom: one tuple
        # compares them all, and the fields that change most steps are compared one by one.
        who = (node, node.role, p.term, p.voted_for, p.snapshot)
        length, commit, height = log.base + len(entries), node.commit_index, len(chain)
        try:
            seen = self.seen[node.id]
        except KeyError:  # judged as a node that had nothing: an empty log, genesis alone
            seen = self.seen[node.id] = _Seen(who, 0, 0, 1, len(kv))
            return self.judge(node, EVERYTHING, event.step, seen, length, commit, height)
        changed = 0
        if who != seen.who:
            changed = _who_changes(seen.who, who)
            seen.who = who
        if length != seen.length or entries.changed_from is not None:
            changed |= LOG
        if commit != seen.commit:
            changed |= COMMIT
        if height != seen.height:
            changed |= CHAIN
        size = len(kv)
        if size != seen.size or kv.written or chain.changed_from is not None:
            changed |= STORE
            seen.size = size
        if not changed:
            return None
        if node.role == "leader":
            if changed == LOG:
                return self.leader_appended(node, event.step, seen, log, length)
            if changed == COMMITTED:
                return self.leader_committed(node, event.step, seen, log, length, commit, height)
        elif not changed & STANDING:
            return self.follower_step(node, changed, event.step, seen, log, length, commit, height)
        return self.judge(node, changed, event.step, seen, length, commit, height)

    def judge(
        self, node: Any, changed: int, step: int, seen: _Seen, length: int, commit: int, height: int
    ) -> Violation | None:
        """Run the checks that read something `changed` (the facets) in the node: `seen` holds
        its log's length, commit index and chain's length at its last check, and is brought
        up to the values now."""
        changes = self.changes
        changes.held, changes.height = seen.commit, seen.height - 1
        if changed & LOG:
            changes.observe(node, changed & SNAPSHOT, seen.length, length)
        else:
            changes.first = changes.snapshot = None
        seen.length, seen.commit, seen.height = length, commit, height
        key = changed | LEADER if node.role == "leader" else changed
        plan = self.plans.get(key)
        for check in self.plan(key) if plan is None else plan:
            problem = check(node)
            if problem:
                return Violation(check.__self__.name, step, problem)
        if not changed & STATE_MACHINE:
            return None  # most steps apply nothing: the state machine checks would find nothing
        broken = self.state_machine.check(node)
        return Violation(broken[0], step, broken[1]) if broken else None

    def follower_step(
        self,
        node: Any,
        changed: int,
        step: int,
        seen: _Seen,
        log: Any,
        length: int,
        commit: int,
        height: int,
    ) -> Violation | None:
        """Hot, written flat: `judge` for a follower's steps, which change its log, its commit
        index and its state machine, or some of them (`changed`, within APPLIED). Its plan is
        Committed Prefix, Log Matching and State Machine Safety, then the state machine checks,
        each run for the facets it reads: each check's usual case is taken here, recording
        what its own code would, and any other goes to that code."""
        entries, base = log.entries, log.base
        if entries.changed_from is not None:  # an entry rewritten: not the usual case
            return self.judge(node, changed, step, seen, length, commit, height)
        before, held = seen.length, seen.commit
        seen.length, seen.commit, seen.height = length, commit, height
        if changed & LOG:
            first = before if before < length else length  # as `LogChanges.observe` finds it
            if first <= base:
                first = base + 1
            # Committed Prefix: nothing to judge while the commit index is within the log and
            # the entries gained all lie above the index committed before.
            if commit >= length or first <= held:
                self.changes.note(first, held)
                problem = self.prefix.check(node)
                if problem:
                    return Violation(self.prefix.name, step, problem)
            # Log Matching: entries its leader wrote, which the run of their term holds
            # already, from the entry before them on (so that one is of their term too).
            run = self.runs.get(entries[-1].term)
            if not (
                run is not None
                and first > run.first
                and entries[first - 1 - base :]
                == run.entries[first - 1 - run.first : length - run.first]
            ):
                self.changes.note(first, held)
                problem = self.matching.check(node)
                if problem:
                    return Violation(self.matching.name, step, problem)
        elif changed & COMMIT and commit >= length:  # Committed Prefix, no entry gained
            self.changes.note(None, held)
            problem = self.prefix.check(node)
            if problem:
                return Violation(self.prefix.name, step, problem)
        # State Machine Safety: the entry committed and the block applied at the top are the
        # ones committed and applied there before.
        if changed & COMMIT:
            committed = self.committed
            if not (base < commit < len(committed) and entries[commit - base] is committed[commit]):
                problem = self.safety.check_commit(node, commit)
                if problem:
                    return Violation(self.safety.name, step, problem)
        if changed & CHAIN:
            sm, top, hashes = node.sm, height - 1, self.hashes
            if not (
                0 < top < len(hashes)
                and sm.chain[top].hash == hashes[top]
                and sm.applied_ids[top - 1] == self.ids[top]
            ):
                problem = self.safety.check_head(node, top)
                if problem:
                    return Violation(self.safety.name, step, problem)
        if not changed & STATE_MACHINE:
            return None
        broken = self.state_machine.check(node)
        return Violation(broken[0], step, broken[1]) if broken else None

    def leader_appended(
        self, node: Any, step: int, seen: _Seen, log: Any, length: int
    ) -> Violation | None:
        """Hot, written flat: `judge` for a leader that appended entries (LOG alone), most
        often one for a client. Its plan is Leader Append-Only, Committed Prefix, Log Matching
        and One Change at a Time, taken as in `follower_step`."""
        entries, base = log.entries, log.base
        if entries.changed_from is not None:  # an entry rewritten: not the usual case
            return self.judge(node, LOG, step, seen, length, seen.commit, seen.height)
        before, held = seen.length, seen.commit
        first = before if before < length else length  # as `LogChanges.observe` finds it
        if first <= base:
            first = base + 1
        seen.length = length
        # Leader Append-Only: it records the leader's term and length; the entries gained lie
        # past the length it recorded in this term.
        term, leading = node.persistent.term, self.append_only.seen
        last = leading.get(node.id)
        if last is None or last[0] != term or first >= last[1]:
            leading[node.id] = (term, length)
        else:
            self.changes.note(first, held)
            problem = self.append_only.check(node)
            if problem:
                return Violation(self.append_only.name, step, problem)
        # Committed Prefix, as in `follower_step`.
        if node.commit_index >= length or first <= held:
            self.changes.note(first, held)
            problem = self.prefix.check(node)
            if problem:
                return Violation(self.prefix.name, step, problem)
        # Log Matching: one entry of its term just past the end of the run of its term.
        run = self.runs.get(term)
        if (
            run is not None
            and length == first + 1
            and entries[-1].term == term
            and entries[first - 1 - base].term == term
            and first - run.first == len(run.entries)
        ):
            run.entries.append(entries[-1])
        else:
            self.changes.note(first, held)
            problem = self.matching.check(node)
            if problem:
                return Violation(self.matching.name, step, problem)
        # One Change at a Time: nothing to judge below two configuration entries.
        if len(node.configs.entries) >= 2:
            problem = self.single_change.check(node)
            if problem:
                return Violation(self.single_change.name, step, problem)
        return None

    def leader_committed(
        self, node: Any, step: int, seen: _Seen, log: Any, length: int, commit: int, height: int
    ) -> Violation | None:
        """Hot, written flat: `judge` for a leader that committed entries and applied some
        (COMMITTED). Its plan is Committed Prefix, State Machine Safety and Commit Quorum, then
        the state machine checks."""
        held = seen.commit
        seen.commit, seen.height = commit, height
        # Committed Prefix: with no entry rewritten, nothing to judge within the log.
        if commit >= length:
            self.changes.note(None, held)
            problem = self.prefix.check(node)
            if problem:
                return Violation(self.prefix.name, step, problem)
        # State Machine Safety, no snapshot new: what `check` would call `check_commit` and
        # `check_head` for. Most often one entry is committed past every commit so far, after
        # the very entry committed at the top, and one block applied past the longest chain
        # applied, after the very block at its top: both are recorded as those would.
        entries, base, committed = log.entries, log.base, self.committed
        top = len(committed) - 1
        if commit == top + 1 and top > base and entries[top - base] is committed[top]:
            committed.append(entries[commit - base])
            self.committed_by.append(node.id)
            self.committed_terms.append(node.persistent.term)
        else:
            problem = self.safety.check_commit(node, commit)
            if problem:
                return Violation(self.safety.name, step, problem)
        sm, hashes, ids = node.sm, self.hashes, self.ids
        top = len(hashes) - 1
        if (
            height == top + 2
            and top
            and sm.chain[top].hash == hashes[top]
            and sm.applied_ids[top - 1] == ids[top]
        ):
            hashes.append(sm.chain[top + 1].hash)
            ids.append(sm.applied_ids[top])
            self.block_by.append(node.id)
        else:
            problem = self.safety.check_head(node, height - 1)
            if problem:
                return Violation(self.safety.name, step, problem)
        problem = self.quorum.check(node)
        if problem:
            return Violation(self.quorum.name, step, problem)
        broken = self.state_machine.check(node)
        return Violation(broken[0], step, broken[1]) if broken else None

    def plan(self, key: int) -> list:
        """The `check` methods of the checks that read something that changed (`key`: the
        facets, with LEADER for a leader); three look at leaders only. Bound once: a call
        through a method of one of nine classes would look the method up by name every time."""
        leader = bool(key & LEADER)
        plan = [c.check for c in self.checks if c.reads & key and (leader or not c.leaders_only)]
        self.plans[key] = plan
        return plan


def make_checkers(n: int) -> list[RaftInvariants]:
    return [RaftInvariants()]
