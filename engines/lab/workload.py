"""A simulation's client history as the linearizability checker's history, and its verdict.

The clients' operations (`engines.core.clients`) become the checker's events (Jepsen's: invoke,
then ok, fail or info) on the `kv` model: put is a write, get a read, cas a cas, each on its key.
"""

from __future__ import annotations

from engines.core.clients import Record
from engines.core.sim import Simulator
from engines.lab.lincheck.history import Event, Operation, operations
from engines.lab.lincheck.search import Result, check

FUNCTION = {"put": "write", "get": "read", "cas": "cas"}
COMPLETION = {"ok": "ok", "fail": "fail", "unknown": "info"}


def events(records: list[Record]) -> list[Event]:
    """Each record's invocation and completion, at their positions in the history."""
    timed: list[tuple[int, Event]] = []
    for record in records:
        command = record.command
        f = FUNCTION[command.f]
        asked = tuple(command.args) if f == "cas" else (command.args or (None,))[0]
        process = command.client
        timed.append(
            (record.call, Event(record.call + 1, process, "invoke", f, (command.key, asked)))
        )
        if record.status:
            value = record.value if f == "read" else asked
            done = Event(
                record.ret + 1, process, COMPLETION[record.status], f, (command.key, value)
            )
            timed.append((record.ret, done))
    return [event for _, event in sorted(timed, key=lambda pair: pair[0])]


def history(sim: Simulator) -> list[Operation]:
    return operations(events(sim.world.clients.records), "<simulation>", keyed=True, with_cas=True)


def linearizable(sim: Simulator) -> Result:
    return check(history(sim))
