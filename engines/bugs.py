"""The bug lab's catalogue: each engine's named, deliberately broken rules."""

from __future__ import annotations

import importlib

from engines import protocols
from engines.protocols import ALGORITHMS


def bugs_for(algo: str) -> dict[str, str]:
    module = importlib.import_module(protocols.get(algo).node_class.__module__)
    return dict(getattr(module, "BUGS", {}))


def all_bugs() -> list[tuple[str, str, str]]:
    return [(algo, name, text) for algo in ALGORITHMS for name, text in bugs_for(algo).items()]
