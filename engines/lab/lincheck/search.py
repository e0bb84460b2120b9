"""The linearizability search: Wing and Gong's, with Lowe's just-in-time linearization and a
cache of configurations, as Porcupine does it.

The history is a doubly linked list of call and return entries in real-time order. The search
walks it from the front: a call entry is a candidate (an operation that may take effect now),
and the first return entry ends the candidates, since that operation must have taken effect
before it returned. Linearizing an operation lifts both its entries out of the list; a dead end
puts the last one back and tries the next candidate. A configuration (set of linearized
operations as a bitset, register state) already explored is never explored again.

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
        result = check_one_register(subhistory, out_of_time)
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


def check_one_register(ops: list[Operation], out_of_time: OutOfTime) -> Result:
    entries = Entries(ops)
    known = [op.known for op in ops]
    unplaced_known = sum(known)
    linearized, state = 0, INITIAL  # bitset of linearized operations, register state
    explored: set[tuple[int, Any]] = set()
    stack: list[tuple[int, Any]] = []  # (operation linearized, state before it)
    deepest: tuple[list[int], int] | None = None  # (prefix, operation blocked after it)
    entry, steps = entries.next[Entries.HEAD], 0
    while unplaced_known:
        steps += 1
        if steps % STEPS_BETWEEN_CLOCK_LOOKS == 0 and out_of_time():
            return Result(Verdict.UNKNOWN, len(ops))
        op = (entry - 1) // 2
        if entry % 2 == 1:  # a call: try to linearize the operation here
            after = step(state, ops[op])
            if after is not IMPOSSIBLE and (linearized | 1 << op, after) not in explored:
                linearized |= 1 << op
                explored.add((linearized, after))
                stack.append((op, state))
                state = after
                entries.lift(op, known[op])
                unplaced_known -= known[op]
                entry = entries.next[Entries.HEAD]
            else:
                entry = entries.next[entry]
            continue
        # A return: this operation had to be linearized by now and cannot be. Back up.
        if deepest is None or len(stack) > len(deepest[0]):
            deepest = ([placed for placed, _ in stack], op)
        if not stack:
            return violation(ops, *deepest)
        op, state = stack.pop()
        linearized ^= 1 << op
        entries.put_back(op, known[op])
        unplaced_known += known[op]
        entry = entries.next[2 * op + 1]
    return Result(Verdict.LINEARIZABLE, len(ops))


def violation(ops: list[Operation], prefix: list[int], blocked: int) -> Result:
    return Result(
        Verdict.NOT_LINEARIZABLE, len(ops), prefix=[ops[i] for i in prefix], blocked=ops[blocked]
    )
