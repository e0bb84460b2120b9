"""The sequential specifications a history is checked against.

All three are registers that start empty (None, Jepsen's nil). `kv` is a map of independent
registers: it is checked key by key (P-compositionality), each key as a cas-register.

A failed cas is Jepsen's: `fail` means it had no effect, so the history drops it and it
constrains nothing. (Porcupine's etcd model instead reads a failed cas as "the compare did not
match", which forces it where the register held another value; we do not.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engines.lab.lincheck.history import Operation

INITIAL = None
IMPOSSIBLE = object()  # the step's result when an operation cannot happen in this state


@dataclass(frozen=True)
class Model:
    name: str
    with_cas: bool
    keyed: bool  # values are [key value] tuples, checked key by key


MODELS = {
    model.name: model
    for model in (
        Model("register", with_cas=False, keyed=False),
        Model("cas-register", with_cas=True, keyed=False),
        Model("kv", with_cas=True, keyed=True),
    )
}


def step(state: Any, op: Operation) -> Any:
    """The register's state after `op`, or IMPOSSIBLE if `op` cannot happen in `state`."""
    if op.f == "write":
        return op.value
    if op.f == "read":
        return state if op.value == state else IMPOSSIBLE
    expected, new = op.value
    return new if expected == state else IMPOSSIBLE
