"""Random linearizable histories of a key-value store, for the benchmark and the tests.

Clients take turns at random against one store of registers: each invokes an operation, which
later takes effect atomically and later still completes, so up to `clients` operations overlap.
Now and then an operation times out (`info`), having taken effect or not, and its client goes on
as a new process, as Jepsen's clients do. Values are [key value] tuples, as Jepsen's independent
checker writes them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from engines.lab.lincheck.history import Event

VALUES = 5  # few values, so that states recur and the search has choices to make


@dataclass
class Pending:
    process: int
    f: str
    key: int
    value: Any
    applied: bool = False
    result: Any = None  # what a read returned, whether a cas matched


def random_history(
    rng: random.Random, invocations: int, clients: int, keys: int, timeouts: float = 0.02
) -> list[Event]:
    store: dict[int, Any] = dict.fromkeys(range(keys))
    processes = list(range(clients))
    pending: dict[int, Pending] = {}
    events: list[Event] = []
    invoked = 0
    while invoked < invocations or pending:
        client = rng.randrange(clients)
        op = pending.get(client)
        if op is None:
            if invoked < invocations:
                pending[client] = invoke(rng, processes[client], keys, events)
                invoked += 1
        elif rng.random() < timeouts:
            if rng.random() < 0.5:  # it took effect before the client gave up, or it did not
                apply(op, store)
            record(events, op, "info", op.value)
            del pending[client]
            processes[client] += clients  # a crashed process never invokes again
        elif not op.applied:
            apply(op, store)
        else:
            complete(op, events)
            del pending[client]
    return events


def invoke(rng: random.Random, process: int, keys: int, events: list[Event]) -> Pending:
    f = rng.choices(("read", "write", "cas"), weights=(2, 2, 1))[0]
    value = {
        "read": None,
        "write": rng.randrange(VALUES),
        "cas": (rng.randrange(VALUES), rng.randrange(VALUES)),
    }[f]
    op = Pending(process, f, rng.randrange(keys), value)
    record(events, op, "invoke", value)
    return op


def apply(op: Pending, store: dict[int, Any]) -> None:
    op.applied = True
    if op.f == "read":
        op.result = store[op.key]
    elif op.f == "write":
        store[op.key] = op.value
    else:
        op.result = store[op.key] == op.value[0]
        if op.result:
            store[op.key] = op.value[1]


def complete(op: Pending, events: list[Event]) -> None:
    if op.f == "read":
        record(events, op, "ok", op.result)
    else:
        record(events, op, "ok" if op.f == "write" or op.result else "fail", op.value)


def record(events: list[Event], op: Pending, type: str, value: Any) -> None:
    events.append(Event(len(events) + 1, op.process, type, op.f, (op.key, value)))
