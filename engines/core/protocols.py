"""The registry of protocols the simulator can run, by name, with each one's bug lab.

A protocol package (`engines.raft`, `engines.paxos`) imports the core, never the other way
round: the registry loads a built-in package only when it is first asked for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.core.node import Node

ALGORITHMS = ("raft", "paxos")


@dataclass(frozen=True)
class Protocol:
    name: str
    node_class: type[Node]
    make_checkers: Callable[[int], list[Any]]
    default_config: dict[str, Any] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # the bug lab: name -> what breaks


_extra: dict[str, Protocol] = {}


def register(protocol: Protocol) -> None:
    """Make a protocol available by name (the tests register a small echo protocol)."""
    _extra[protocol.name] = protocol


def _builtin(name: str) -> Protocol:
    if name == "raft":
        from engines.raft import PROTOCOL
    elif name == "paxos":
        from engines.paxos import PROTOCOL
    else:
        raise ValueError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})")
    return PROTOCOL


def get(name: str) -> Protocol:
    return _extra[name] if name in _extra else _builtin(name)


def bugs_for(algo: str) -> dict[str, str]:
    return dict(get(algo).bugs)


def all_bugs() -> list[tuple[str, str, str]]:
    return [(algo, name, text) for algo in ALGORITHMS for name, text in bugs_for(algo).items()]


def check_config(algo: str, config: dict[str, Any]) -> None:
    """Raise ValueError unless every key is one of the protocol's settings, of the default's
    type, and a bug is one the protocol offers."""
    defaults = get(algo).default_config
    for key, value in config.items():
        if key == "bug":
            if value is not None and value not in bugs_for(algo):
                raise ValueError(f"unknown {algo} bug {value!r}{_elsewhere(algo, value)}")
        elif key not in defaults:
            raise ValueError(f"unknown {algo} setting {key!r}")
        elif type(value) is not type(defaults[key]) or (
            isinstance(value, int) and value <= 0 and not isinstance(value, bool)
        ):
            raise ValueError(f"{algo} setting {key}={value!r} is invalid")


def _elsewhere(algo: str, bug: str) -> str:
    """Name the algorithm that does have the bug, or point at the catalogue."""
    owners = [other for other in ALGORITHMS if other != algo and bug in bugs_for(other)]
    if owners:
        return f": it is a {owners[0]} bug (use --algo {owners[0]})"
    return " (see 'consensus-tui bugs')"
