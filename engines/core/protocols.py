"""The registry of protocols the simulator can run, by name, with each one's bug lab.

A protocol package (`engines.raft`, `engines.paxos`) imports the core, never the other way
round: the registry loads a built-in package only when it is first asked for by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.core.node import Message, Node

ALGORITHMS = ("raft", "paxos")


@dataclass(frozen=True)
class Protocol:
    name: str
    node_class: type[Node]
    make_checkers: Callable[[int], list[Any]]
    default_config: dict[str, Any] = field(default_factory=dict)
    bugs: dict[str, str] = field(default_factory=dict)  # the bug lab: name -> what breaks
    messages: tuple[type[Message], ...] = ()  # every message type, for filters by name
    roles: tuple[str, ...] = ("leader", "follower")  # what Node.role_name() may answer
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # text settings' values
    membership: bool = False  # whether it takes add, remove and promote (configuration changes)


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


def message_types(protocol: Protocol) -> dict[str, str]:
    """Each message type's name and short name, mapped to its name."""
    names = {kind.__name__: kind.__name__ for kind in protocol.messages}
    return names | {kind.short: kind.__name__ for kind in protocol.messages}


def invariant_names(protocol: Protocol) -> tuple[str, ...]:
    """The names of every invariant the protocol's checkers can report violated."""
    return tuple(name for checker in protocol.make_checkers(3) for name in checker.names)


def all_bugs() -> list[tuple[str, str, str]]:
    return [(algo, name, text) for algo in ALGORITHMS for name, text in bugs_for(algo).items()]


def check_config(algo: str | Protocol, config: dict[str, Any]) -> None:
    """Raise ValueError unless every key is one of the protocol's settings, of the default's
    type and positive, every MIN..MAX pair of timings is in order, and a bug is one the
    protocol offers."""
    protocol = get(algo) if isinstance(algo, str) else algo
    name, defaults = protocol.name, protocol.default_config
    if not isinstance(config, dict):
        raise ValueError("a protocol config must be an object")
    for key, value in config.items():
        if key == "bug":
            if value is not None and value not in protocol.bugs:
                raise ValueError(_unknown_bug(name, value))
        elif key not in defaults:
            raise ValueError(f"unknown {name} setting {key!r}")
        elif key in protocol.choices and value not in protocol.choices[key]:
            known = "|".join(protocol.choices[key])
            raise ValueError(f"{name} setting {key}={value!r} is not one of {known}")
        elif type(value) is not type(defaults[key]) or (
            isinstance(value, int) and value <= 0 and not isinstance(value, bool)
        ):
            raise ValueError(f"{name} setting {key}={value!r} is invalid")
    merged = defaults | config
    for key in merged:
        if key.endswith("_min") and key[:-4] + "_max" in merged:
            low, high = merged[key], merged[key[:-4] + "_max"]
            if low > high:
                raise ValueError(f"{name} {key[:-4]} range {low}..{high} is empty (MIN > MAX)")


def _unknown_bug(algo: str, bug: Any) -> str:
    """Name the algorithm that does have the bug, or point at the catalogue."""
    owners = [other for other in ALGORITHMS if other != algo and bug in get(other).bugs]
    if owners:
        return f"{bug!r} is a {owners[0]} bug, not a {algo} one (see 'consensus-tui bugs')"
    return f"unknown {algo} bug {bug!r} (see 'consensus-tui bugs')"
