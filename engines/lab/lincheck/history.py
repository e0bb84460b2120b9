"""Histories: events as recorded (invoke, ok, fail, info) paired into operations.

The semantics are Jepsen's. `fail` means the operation did not happen, so it is dropped. `info`,
or an invocation that never completes, means the outcome is unknown: the operation may take
effect at any time after its invocation, or never. A read whose outcome is unknown constrains
nothing (it changes no state and we do not know what it returned), so it is dropped too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FUNCTIONS = ("read", "write", "cas")
COMPLETIONS = ("ok", "fail", "info")


class HistoryError(Exception):
    """A history that cannot be checked: str() is `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file, self.line, self.message = file, line, message


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a history: an invocation or a completion, in real-time order."""

    line: int
    process: Any
    type: str  # invoke, ok, fail, info
    f: str
    value: Any


@dataclass(frozen=True, slots=True)
class Operation:
    """An invocation with what is known of its outcome.

    `value` is what was written, the (expected, new) pair of a cas, or what a read returned.
    `call` and `ret` are positions in the history; `ret` is None when the outcome is unknown."""

    process: Any
    f: str
    key: Any  # None unless the history is keyed ([key value] tuples)
    value: Any
    call: int
    ret: int | None
    line: int
    end_line: int | None

    @property
    def known(self) -> bool:
        return self.ret is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "f": self.f,
            "key": self.key,
            "value": self.value,
            "known": self.known,
            "line": self.line,
            "end_line": self.end_line,
        }

    def describe(self) -> str:
        on = "" if self.key is None else f" {self.key!r}"
        if self.f == "read":
            action = f"read{on} -> {self.value!r}"
        elif self.f == "write":
            action = f"write{on} {self.value!r}"
        else:
            action = f"cas{on} {self.value[0]!r} -> {self.value[1]!r}"
        ended = f"ok at line {self.end_line}" if self.known else "outcome unknown"
        return f"process {self.process} {action} (invoked at line {self.line}, {ended})"


def operations(events: list[Event], file: str, keyed: bool, with_cas: bool) -> list[Operation]:
    """Pair invocations with completions, one pending operation per process at a time."""
    pending: dict[Any, tuple[int, Event]] = {}
    found: list[Operation] = []
    for position, event in enumerate(events):
        check_event(event, file, with_cas)
        if event.type == "invoke":
            if event.process in pending:
                earlier = pending[event.process][1].line
                raise HistoryError(
                    file,
                    event.line,
                    f"process {event.process} invokes again while its operation from line "
                    f"{earlier} is still pending",
                )
            pending[event.process] = (position, event)
            continue
        call, invocation = invocation_of(event, pending, file)
        if event.type == "ok":
            found.append(operation(invocation, call, (position, event), file, keyed))
        elif event.type == "info" and event.f != "read":
            found.append(operation(invocation, call, None, file, keyed))
    for call, invocation in pending.values():
        if invocation.f != "read":
            found.append(operation(invocation, call, None, file, keyed))
    return sorted(found, key=lambda op: op.call)


def check_event(event: Event, file: str, with_cas: bool) -> None:
    if event.type not in ("invoke", *COMPLETIONS):
        raise HistoryError(file, event.line, f"unknown type {event.type!r}")
    if event.f not in FUNCTIONS:
        raise HistoryError(
            file, event.line, f"unknown operation {event.f!r} (expected read, write or cas)"
        )
    if event.f == "cas" and not with_cas:
        raise HistoryError(file, event.line, "the register model has no cas (try cas-register)")


def invocation_of(event: Event, pending: dict, file: str) -> tuple[int, Event]:
    if event.process not in pending:
        raise HistoryError(
            file, event.line, f"{event.type} by process {event.process}, which invoked nothing"
        )
    call, invocation = pending.pop(event.process)
    if invocation.f != event.f:
        raise HistoryError(
            file,
            event.line,
            f"{event.type} {event.f} completes a {invocation.f} (invoked at line "
            f"{invocation.line})",
        )
    return call, invocation


def operation(
    invocation: Event, call: int, completion: tuple[int, Event] | None, file: str, keyed: bool
) -> Operation:
    # A read's value is what it returned; a write's or a cas's is what was asked for.
    source = completion[1] if completion and invocation.f == "read" else invocation
    key, value = split_key(source, file) if keyed else (None, source.value)
    if invocation.f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
        raise HistoryError(file, source.line, f"a cas needs [expected new], not {value!r}")
    ret, end_line = (completion[0], completion[1].line) if completion else (None, None)
    return Operation(
        invocation.process, invocation.f, key, value, call, ret, invocation.line, end_line
    )


def split_key(event: Event, file: str) -> tuple[Any, Any]:
    if not (isinstance(event.value, tuple) and len(event.value) == 2):
        raise HistoryError(
            file, event.line, f"the kv model needs [key value] tuples, not {event.value!r}"
        )
    return event.value
