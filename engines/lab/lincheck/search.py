"""The linearizability search: Wing and Gong's, with Lowe's just-in-time linearization and a
cache of configurations, as Porcupine does it.

The history is a doubly linked list of call and return entries in real-time order. The search
walks it from the front: a call entry is a candidate (an operation that may take effect now),
and the first return entry ends the candidates, since that operation must have taken effect
before it returned. Linearizing an operation lifts both its entries out of the list; a dead end
puts the last one back and tries the next candidate. A configuration (set of linearized
operations as a bitset, register state) already explored is never explored again (see
Configurations for the refinement for unknown operations).

An operation of unknown outcome has no return entry: it may be linearized at any point after its
call, and once every known operation is linearized the rest are taken never to have happened.
The search is a loop with an explicit stack, so a 10,000-operation history cannot exhaust
Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import Any

from engines.lab.lincheck.history import Operation
from engines.lab.lincheck.models import IMPOSSIBLE, INITIAL, step

OutOfTime = Callable[[], bool]
STEPS_BETWEEN_CLOCK_LOOKS = 2048  # asking the caller's clock is slow next to one step


class Verdict(StrEnum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNKNOWN = "unknown"  # the time budget ran out


@dataclass
class Result:
    verdict: Verdict
    operations: int
    keys: int = 1
    key: Any = None  # the key that is not linearizable (keyed histories)
    prefix: list[Operation] = field(default_factory=list)  # longest linearization found
    blocked: Operation | None = None  # the operation that cannot be placed after `prefix`

    def summary(self) -> dict[str, Any]:
        return {
            "verdict": str(self.verdict),
            "operations": self.operations,
            "keys": self.keys,
            "key": self.key,
            "prefix_length": len(self.prefix),
            "prefix": [op.as_dict() for op in self.prefix],
            "cannot_place": self.blocked.as_dict() if self.blocked else None,
        }


def check(ops: list[Operation], out_of_time: OutOfTime = lambda: False) -> Result:
    """Check a history key by key (P-compositionality: a history of independent registers is
    linearizable if and only if each register's subhistory is)."""
    by_key = [list(group) for _, group in groupby(sorted(ops, key=key_order), key=key_order)]
    verdicts = []
    for subhistory in by_key:
        result = Search(subhistory).run(out_of_time)
        if result.verdict is Verdict.NOT_LINEARIZABLE:
            key = subhistory[0].key
            return Result(result.verdict, len(ops), len(by_key), key, result.prefix, result.blocked)
        verdicts.append(result.verdict)
    verdict = Verdict.UNKNOWN if Verdict.UNKNOWN in verdicts else Verdict.LINEARIZABLE
    return Result(verdict, len(ops), len(by_key))


def key_order(op: Operation) -> tuple[str, str]:
    """Keys of any type (and mixed types) sort without comparing them directly."""
    return (type(op.key).__name__, repr(op.key))


class Entries:
    """The call and return entries as a doubly linked list over arrays, head at index 0.

    Entry 2i+1 is operation i's call, entry 2i+2 its return (absent when its outcome is
    unknown). Lifting and putting back are O(1), and putting back in reverse order of lifting
    restores the list exactly (Knuth's dancing links)."""

    HEAD = 0
    END = -1

    def __init__(self, ops: list[Operation]) -> None:
        timed = [(op.call, 2 * i + 1) for i, op in enumerate(ops)]
        timed += [(op.ret, 2 * i + 2) for i, op in enumerate(ops) if op.known]
        order = [self.HEAD] + [entry for _, entry in sorted(timed)]
        size = 2 * len(ops) + 1
        self.next, self.prev = [self.END] * size, [self.END] * size
        for before, after in zip(order, order[1:], strict=False):
            self.next[before], self.prev[after] = after, before

    def unlink(self, entry: int) -> None:
        before, after = self.prev[entry], self.next[entry]
        self.next[before] = after
        if after != self.END:
            self.prev[after] = before

    def relink(self, entry: int) -> None:
        before, after = self.prev[entry], self.next[entry]
        self.next[before] = entry
        if after != self.END:
            self.prev[after] = entry

    def lift(self, op: int, known: bool) -> None:
        self.unlink(2 * op + 1)
        if known:
            self.unlink(2 * op + 2)

    def put_back(self, op: int, known: bool) -> None:
        if known:
            self.relink(2 * op + 2)
        self.relink(2 * op + 1)


class Configurations:
    """The configurations explored: (known operations linearized, state, unknown operations
    linearized), the first two as the key.

    Having linearized more operations of unknown outcome never helps, since one left unplaced
    may still never happen. So a configuration is skipped when one with the same known set and
    state and a subset of its unknown ones was explored (Porcupine's cache is the equal case).
    Without this, every subset of the unknown operations placed before a violation would be
    tried in turn."""

    def __init__(self) -> None:
        self.unknown_sets: dict[tuple[int, Any], list[int]] = {}

    def add_if_new(self, known_set: int, state: Any, unknown_set: int) -> bool:
        explored = self.unknown_sets.setdefault((known_set, state), [])
        if any(earlier & unknown_set == earlier for earlier in explored):
            return False
        explored.append(unknown_set)
        return True


class Search:
    """The search over one register's operations, as a loop with an explicit stack."""

    def __init__(self, ops: list[Operation]) -> None:
        self.ops = ops
        self.entries = Entries(ops)
        self.known = [op.known for op in ops]
        self.unplaced_known = sum(self.known)
        self.known_set, self.unknown_set = 0, 0  # bitsets of the operations linearized
        self.state = INITIAL
        self.configurations = Configurations()
        self.stack: list[tuple[int, Any]] = []  # (operation linearized, state before it)
        self.deepest: tuple[list[int], int] | None = None  # (prefix, operation blocked after it)

    def run(self, out_of_time: OutOfTime) -> Result:
        # Each window of candidates is tried twice: known operations first, then unknown ones,
        # so that configurations with fewer unknown operations placed are explored first.
        entry, known_turn, steps = self.entries.next[Entries.HEAD], True, 0
        while self.unplaced_known:
            steps += 1
            if steps % STEPS_BETWEEN_CLOCK_LOOKS == 0 and out_of_time():
                return Result(Verdict.UNKNOWN, len(self.ops))
            op = (entry - 1) // 2
            if entry % 2 == 1:  # a call: try to linearize the operation here
                if self.known[op] == known_turn and self.place(op):
                    entry, known_turn = self.entries.next[Entries.HEAD], True
                else:
                    entry = self.entries.next[entry]
            elif known_turn:  # the end of the window: now the unknown operations in it
                entry, known_turn = self.entries.next[Entries.HEAD], False
            elif self.stack:  # this operation had to be linearized by now and cannot be
                self.note_dead_end(op)
                op = self.back_up()
                entry, known_turn = self.entries.next[2 * op + 1], self.known[op]
            else:
                self.note_dead_end(op)
                return violation(self.ops, *self.deepest)
        return Result(Verdict.LINEARIZABLE, len(self.ops))

    def place(self, op: int) -> bool:
        after = step(self.state, self.ops[op])
        if after is IMPOSSIBLE:
            return False
        bit, known = 1 << op, self.known[op]
        known_set = self.known_set | bit if known else self.known_set
        unknown_set = self.unknown_set if known else self.unknown_set | bit
        if not self.configurations.add_if_new(known_set, after, unknown_set):
            return False
        self.stack.append((op, self.state))
        self.known_set, self.unknown_set, self.state = known_set, unknown_set, after
        self.entries.lift(op, known)
        self.unplaced_known -= known
        return True

    def back_up(self) -> int:
        op, self.state = self.stack.pop()
        if self.known[op]:
            self.known_set ^= 1 << op
        else:
            self.unknown_set ^= 1 << op
        self.entries.put_back(op, self.known[op])
        self.unplaced_known += self.known[op]
        return op

    def note_dead_end(self, blocked: int) -> None:
        if self.deepest is None or len(self.stack) > len(self.deepest[0]):
            self.deepest = ([placed for placed, _ in self.stack], blocked)


def violation(ops: list[Operation], prefix: list[int], blocked: int) -> Result:
    return Result(
        Verdict.NOT_LINEARIZABLE, len(ops), prefix=[ops[i] for i in prefix], blocked=ops[blocked]
    )
