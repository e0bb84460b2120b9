"""A simulation's client history as the linearizability checker's history, and its verdict.

The clients' operations (`engines.core.clients`) become the checker's events (Jepsen's: invoke,
then ok, fail or info) on the `kv` model: put is a write, get a read, cas a cas, each on its key.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.core.clients import Record
from engines.core.sim import Simulator, StepEvent
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


def linearizable(sim: Simulator, budget: int | None = None) -> Result:
    """The checker's verdict on the history so far. `budget` bounds the search in thousands of
    steps (roughly), counted, not timed, so that a verdict reproduces: past it, unknown."""
    if budget is None:
        return check(history(sim))
    looks = iter(range(budget))
    return check(history(sim), lambda: next(looks, None) is None)


def describe(sim: Simulator, op: Operation) -> str:
    """An operation of the history as the simulation saw it: who, what, when, answered by."""
    record = next(r for r in sim.world.clients.records if r.call + 1 == op.line)
    text = f"client {op.process} {record.command.text().split(' ', 1)[1]}"
    if record.command.f == "get":
        text += f" -> {record.value!r}"
    if record.status == "unknown" or not record.status:
        return f"{text} (invoked at {record.invoked_at} ms, outcome unknown)"
    return (
        f"{text} (invoked at {record.invoked_at} ms, {record.status} at "
        f"{record.completed_at} ms from n{record.node})"
    )


@dataclass(frozen=True)
class Trail:
    """The steps of one operation's events, from what the simulator recorded for it: the
    client handing it to a node (its invocation, each retry), the messages carrying it
    (delivered or dropped: those with one of the proposals its attempts became, and for a
    read a heartbeat round confirmed, that round's messages to and from the node that
    answered), and its completion (the reply, or giving up). Steps are event numbers."""

    sent: tuple[int, ...]
    carried: tuple[int, ...]
    completed: int | None


def trail(sim: Simulator, record: Record, after: int = 0) -> Trail:
    """Its events up to the current step (later ones have not happened yet); with `after`,
    its messages after that step only (a view extending what it found before)."""
    proposals = {pid for _, pid in record.sends if pid is not None}
    later = sim.events[max(record.invoked_step, after) :]  # events[i] is step i + 1
    carried = tuple(
        e.step
        for e in later
        if e.msg is not None
        and (not proposals.isdisjoint(e.msg.proposal_ids()) or confirms(record, e))
    )
    sent = tuple(step for step, _ in record.sends)
    return Trail(sent, carried, record.completed_step)


def confirms(record: Record, event: StepEvent) -> bool:
    """A message of the heartbeat round that confirmed a read: to or from the leader that
    answered it, in the round it waited for or a later one, before the answer."""
    leader, done = record.node, record.completed_step
    return (
        record.read_round > 0
        and event.step <= done
        and leader in (event.src, event.node)
        and event.msg.read_round() >= record.read_round
    )
