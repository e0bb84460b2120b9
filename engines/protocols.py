"""The registry of protocols the simulator can run, by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.node import Node

ALGORITHMS = ("raft", "paxos")


@dataclass(frozen=True)
class Protocol:
    name: str
    node_class: type[Node]
    make_checkers: Callable[[int], list[Any]]
    default_config: dict[str, Any] = field(default_factory=dict)


_extra: dict[str, Protocol] = {}


def register(protocol: Protocol) -> None:
    """Make a protocol available by name (the tests register a small echo protocol)."""
    _extra[protocol.name] = protocol


def get(name: str) -> Protocol:
    if name in _extra:
        return _extra[name]
    if name not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {name!r} (choose from {', '.join(ALGORITHMS)})")
    return importlib.import_module(f"engines.{name}").PROTOCOL


def check_config(algo: str, config: dict[str, Any]) -> None:
    """Raise ValueError unless every key is one of the protocol's settings, of the default's
    type, and a bug is one the protocol offers."""
    from engines.bugs import bugs_for

    defaults = get(algo).default_config
    for key, value in config.items():
        if key == "bug":
            if value is not None and value not in bugs_for(algo):
                raise ValueError(f"unknown {algo} bug {value!r} (see 'consensus-tui bugs')")
        elif key not in defaults:
            raise ValueError(f"unknown {algo} setting {key!r}")
        elif type(value) is not type(defaults[key]) or (
            isinstance(value, int) and value <= 0 and not isinstance(value, bool)
        ):
            raise ValueError(f"{algo} setting {key}={value!r} is invalid")
