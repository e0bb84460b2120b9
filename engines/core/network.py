"""Network model: per-link latency ranges, loss and duplication, partition groups and one-way
cuts.

All randomness comes from the simulator's network stream, drawn at send time in send order, so
a run is reproducible from its seed. Links are directed: the settings from n1 to n2 may differ
from those from n2 to n1, and a cut may block one direction only. Partitions are groups of
nodes: a message crosses only between nodes of the same group and along a link that is not cut,
checked when it is sent and again when it would be delivered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from math import floor

MAX_LATENCY_MS = 60_000  # beyond a minute a message is as good as lost; say so instead


@dataclass(frozen=True, slots=True)
class LinkConfig:
    latency_min: int = 5
    latency_max: int = 20
    drop: float = 0.0
    dup: float = 0.0

    def validate(self) -> None:
        if not 0 <= self.latency_min <= self.latency_max <= MAX_LATENCY_MS:
            raise ValueError(
                f"latency range {self.latency_min}..{self.latency_max} is invalid "
                f"(0 <= MIN <= MAX <= {MAX_LATENCY_MS} ms)"
            )
        for name in ("drop", "dup"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}={getattr(self, name)} is not a probability in 0..1")

    def describe(self) -> str:
        return (
            f"latency={self.latency_min}..{self.latency_max}ms drop={self.drop:g} dup={self.dup:g}"
        )


class Network:
    # Slots: every send reads `simple` and `rng` (see World's)
    __slots__ = ("node_ids", "rng", "default", "links", "group_of", "cuts", "simple")

    def __init__(self, node_ids: list[int], rng: random.Random) -> None:
        self.node_ids = list(node_ids)
        self.rng = rng
        self.default = LinkConfig()
        self.links: dict[tuple[int, int], LinkConfig] = {}  # (src, dst) -> its own settings
        self.group_of: dict[int, int] | None = None  # None: no partition
        self.cuts: set[tuple[int, int]] = set()  # (src, dst): messages from src to dst are cut
        self.simple: tuple[int, int] | None = None  # see _settings_changed
        self._settings_changed()

    def _settings_changed(self) -> None:
        """While every link has the default settings, loses and duplicates nothing, and nothing
        is cut, a send is one copy with one latency draw: `simple` is then (the lowest latency,
        the number of latencies), for the simulator to draw it without a call (see
        `transmissions`, whose draws are the same); otherwise None."""
        cfg = self.default
        plain = not (self.links or cfg.drop or cfg.dup or self.cuts or self.group_of is not None)
        self.simple = (cfg.latency_min, cfg.latency_max - cfg.latency_min + 1) if plain else None

    # --- configuration ------------------------------------------------------------------------
    def configure(
        self, link: tuple[int, int] | None = None, oneway: bool = False, **changes: object
    ) -> None:
        """Change latency_min/latency_max/drop/dup for every link, or for one link in one
        direction (oneway) or both."""
        if link is None:
            self.default = _changed(self.default, changes)
            self.links = {k: _changed(v, changes) for k, v in self.links.items()}
        else:
            src, dst = link
            for key in [(src, dst)] if oneway else [(src, dst), (dst, src)]:
                self.links[key] = _changed(self.link(*key), changes)
        self._settings_changed()

    def link(self, src: int, dst: int) -> LinkConfig:
        return self.links.get((src, dst), self.default) if self.links else self.default

    # --- partitions --------------------------------------------------------------------------
    def partition(self, groups: list[list[int]]) -> None:
        """Nodes in the same listed group can talk; each unlisted node is cut off alone."""
        group_of: dict[int, int] = {}
        for index, group in enumerate(groups):
            for node in group:
                group_of[node] = index
        for node in self.node_ids:
            group_of.setdefault(node, len(group_of) + len(groups))
        self.group_of = _canonical(group_of, self.node_ids)
        self._settings_changed()

    def isolate(self, node: int) -> None:
        current = self.group_of or dict.fromkeys(self.node_ids, 0)
        self.group_of = _canonical(current | {node: -1}, self.node_ids)
        self._settings_changed()

    def add(self, node: int, like: int) -> None:
        """A new node joins the partition group of `like`."""
        self.node_ids.append(node)
        if self.group_of is not None:
            self.group_of = _canonical(self.group_of | {node: self.group_of[like]}, self.node_ids)
            self._settings_changed()

    def cut(self, src: int, dst: int, oneway: bool = False) -> None:
        """Block messages from src to dst (and from dst to src unless oneway)."""
        self.cuts.add((src, dst))
        if not oneway:
            self.cuts.add((dst, src))
        self._settings_changed()

    def heal(self) -> None:
        """Remove every cut: partition groups and cut links."""
        self.group_of = None
        self.cuts = set()
        self._settings_changed()

    def connected(self, src: int, dst: int) -> bool:
        """Whether a message from src reaches dst now."""
        if self.cuts and (src, dst) in self.cuts:
            return False
        return self.group_of is None or self.group_of[src] == self.group_of[dst]

    @property
    def is_whole(self) -> bool:
        """No partition and no cut link."""
        return self.group_of is None and not self.cuts

    def groups(self) -> list[list[int]]:
        """The current groups in node order; a single group when there is no cut."""
        if self.group_of is None:
            return [list(self.node_ids)]
        by_group: dict[int, list[int]] = {}
        for node in self.node_ids:
            by_group.setdefault(self.group_of[node], []).append(node)
        return list(by_group.values())

    # --- sending ------------------------------------------------------------------------------
    def transmissions(self, src: int, dst: int) -> tuple[tuple[int, str], ...]:
        """For one send: a (latency, doomed) pair for each copy the network will carry.
        `doomed` is "partition" when the ends cannot talk now, "lost" when the drop probability
        takes the copy, and empty when it may arrive."""
        cfg = self.links.get((src, dst), self.default) if self.links else self.default
        random = self.rng.random
        # random() is one C call; randint's rejection sampling costs several times more, and
        # int() of the float (the same number: it is never negative) twice what floor() does.
        # While the network is `simple`, the simulator makes this same draw itself.
        low, spread = cfg.latency_min, cfg.latency_max - cfg.latency_min + 1
        cut = "" if self.connected(src, dst) else "partition"
        copies = 2 if cfg.dup and random() < cfg.dup else 1
        out = []
        for _ in range(copies):
            lost = bool(cfg.drop) and random() < cfg.drop
            out.append((low + floor(random() * spread), cut or ("lost" if lost else "")))
        return tuple(out)

    def describe(self) -> dict:
        described = {
            "default": self.default.describe(),
            "links": {f"{a}->{b}": c.describe() for (a, b), c in sorted(self.links.items())},
            "groups": self.groups(),
        }
        if self.cuts:  # only when there are some: digests of sessions without cuts stay put
            described["cuts"] = [f"{a}->{b}" for a, b in sorted(self.cuts)]
        return described


def _changed(cfg: LinkConfig, changes: dict) -> LinkConfig:
    new = replace(cfg, **changes)
    new.validate()
    return new


def _canonical(group_of: dict[int, int], node_ids: list[int]) -> dict[int, int] | None:
    """Renumber groups by first member so equal partitions compare and digest equal."""
    numbering: dict[int, int] = {}
    result = {n: numbering.setdefault(group_of[n], len(numbering)) for n in node_ids}
    return None if len(numbering) == 1 else result
