"""The discrete-event simulator: time, seeded randomness, the network, crashes and history.

One step is one event: a message delivered (or dropped), a timer fired, or a user action
applied. Future events sit in a heap ordered by (time, sequence). Everything a step can change
lives in one `World` object, so a checkpoint is a pickle of it and stepping back is exact:
restore the nearest earlier checkpoint, then replay the recorded timeline of actions.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import json
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from engines import protocols
from engines.network import Network
from engines.node import CancelTimer, Message, Node, Note, Proposal, Send, SetTimer, plain
from engines.shared import SharedList, SlotMap

CHECKPOINT_EVERY = 256

MESSAGE, TIMER = 0, 1


def node_name(node_id: int) -> str:
    return f"n{node_id}"


@dataclass(slots=True)
class InFlight:
    """A message on the wire. `doomed` is decided at send time: "lost" by the drop
    probability, "partition" when a cut separated the ends; empty when it may arrive."""

    src: int
    dst: int
    msg: Message
    sent_at: int
    deliver_at: int
    seq: int
    doomed: str = ""

    def encode(self) -> list:
        return [
            self.src,
            self.dst,
            self.sent_at,
            self.deliver_at,
            self.seq,
            self.doomed,
            self.msg.encode(),
        ]


@dataclass(frozen=True)
class Action:
    """A user action. `args` holds plain JSON values so traces can store it."""

    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        a = self.args
        match self.kind:
            case "propose":
                return f"propose {a['value']!r} to {node_name(a['node'])}"
            case "partition":
                return "partition " + " | ".join(
                    " ".join(node_name(n) for n in g) for g in a["groups"]
                )
            case "set_network":
                return "network " + " ".join(f"{k}={v}" for k, v in a.items())
            case "heal" | "restart_all":
                return self.kind.replace("_", " ")
            case _:
                return f"{self.kind} {node_name(a['node'])}"


@dataclass(slots=True)
class StepEvent:
    """What one step did, for the event log, the diagram and the tests."""

    step: int
    time: int
    kind: str  # deliver | drop | timer | action
    node: int | None = None  # the node that handled it
    src: int | None = None
    msg: Message | None = None
    detail: str = ""  # timer name, drop reason, or action text
    notes: tuple[Note, ...] = ()  # a tuple: most events have none, and events are kept
    sent_at: int = 0
    action: Action | None = None

    def headline(self) -> str:
        if self.kind == "action":
            return self.detail
        if self.kind == "timer":
            return f"{node_name(self.node)} {self.detail} timer fired"
        arrow = f"{node_name(self.src)} -> {node_name(self.node)}"
        body = f"{arrow} {self.msg.type_name}({self.msg.summary()})"
        return f"{body} delivered" if self.kind == "deliver" else f"{body} dropped: {self.detail}"

    def __str__(self) -> str:
        lines = [self.headline()] + [n.text for n in self.notes]
        return "; ".join(lines)


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    step: int
    explanation: str

    def __str__(self) -> str:
        return f"{self.invariant} violated at step {self.step}: {self.explanation}"


SHARED_TYPES = (SharedList, SlotMap)


def _shared_view(kind: type, index: int) -> SharedList | SlotMap:
    """Stands in a checkpoint for a shared container's view; `_Restorer` resolves it."""
    raise RuntimeError("shared views are resolved by the checkpoint unpickler")


class _Checkpointer(pickle.Pickler):
    """Pickles a World, storing each shared container as a view of its storage, not a copy."""

    def __init__(self, file: io.BytesIO, views: list) -> None:
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.views = views

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in SHARED_TYPES:
            self.views.append(obj.view())  # the pickle names the type: no tuple kept per view
            return (_shared_view, (type(obj), len(self.views) - 1))
        return NotImplemented


class _Restorer(pickle.Unpickler):
    def __init__(self, data: bytes, views: list) -> None:
        super().__init__(io.BytesIO(data))
        self.views = views

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_shared_view":
            return lambda kind, index: kind.from_view(self.views[index])
        return super().find_class(module, name)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    data: bytes
    views: list

    @classmethod
    def of(cls, world: World) -> Checkpoint:
        buffer, views = io.BytesIO(), []
        _Checkpointer(buffer, views).dump(world)
        return cls(buffer.getvalue(), views)

    def restore(self) -> World:
        return _Restorer(self.data, self.views).load()


class World:
    """Everything deterministic that a step may change. Pickled whole for checkpoints."""

    def __init__(self, protocol: protocols.Protocol, n: int, seed: int) -> None:
        self.node_ids = list(range(1, n + 1))
        self.now = 0
        self.step = 0
        self.seq = 0
        self.queue: list[tuple[int, int, int, Any]] = []
        self.timers: dict[int, dict[str, int]] = {i: {} for i in self.node_ids}
        self.node_rngs = {i: random.Random(f"{seed}/node/{i}") for i in self.node_ids}
        self.network = Network(self.node_ids, random.Random(f"{seed}/network"))
        self.workload = random.Random(f"{seed}/workload")
        self.nodes: dict[int, Node] = {}
        self.down: dict[int, Any] = {}  # crashed node id -> its persistent state
        self.proposals = 0
        self.checkers = protocol.make_checkers(n)
        self.violation: Violation | None = None
        self.node_class = protocol.node_class


class Simulator:
    def __init__(
        self,
        algo: str | protocols.Protocol = "raft",
        nodes: int = 5,
        seed: int = 1,
        config: dict | None = None,
        check: bool = True,
        keep_events: bool = True,
    ) -> None:
        protocol = protocols.get(algo) if isinstance(algo, str) else algo
        self.protocol = protocol
        self.seed = seed
        self.check = check
        self.keep_events = keep_events
        self.user_config = dict(config or {})
        self.config = protocol.default_config | self.user_config
        self.world = World(protocol, nodes, seed)
        self.timeline: dict[int, Action] = {}  # event step number -> action taken there
        self.events: list[StepEvent] = []
        self.max_step = 0
        boot = StepEvent(0, 0, "boot")
        for node_id in self.world.node_ids:
            self._finish(self._boot(node_id, None), boot)
        self.checkpoints: dict[int, Checkpoint] = {0: Checkpoint.of(self.world)}

    # --- reading state ------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self.world.now

    @property
    def step_count(self) -> int:
        return self.world.step

    @property
    def node_ids(self) -> list[int]:
        return self.world.node_ids

    @property
    def nodes(self) -> dict[int, Node]:
        """Live nodes by id; a crashed node is absent."""
        return self.world.nodes

    @property
    def network(self) -> Network:
        return self.world.network

    @property
    def violation(self) -> Violation | None:
        return self.world.violation

    def is_up(self, node_id: int) -> bool:
        return node_id in self.world.nodes

    def leader(self) -> int | None:
        """The live node in the leader role with the highest term or ballot."""
        leaders = [n for n in self.world.nodes.values() if n.is_leader]
        return max(leaders, key=lambda n: (n.rank(), -n.id)).id if leaders else None

    def timer_deadline(self, node_id: int, name: str) -> int | None:
        seq = self.world.timers[node_id].get(name)
        if seq is None:
            return None
        return next((t for t, s, kind, _ in self.world.queue if s == seq and kind == TIMER), None)

    def in_flight(self) -> list[InFlight]:
        """Messages on the wire, soonest first."""
        return [p for _, _, kind, p in sorted(self.world.queue) if kind == MESSAGE]

    def will_cross(self, m: InFlight) -> bool:
        """Whether a message in flight would reach its destination if delivered now."""
        net = self.world.network
        return not m.doomed and net.connected(m.src, m.dst) and self.is_up(m.dst)

    def height(self, node_id: int) -> int | None:
        """Blocks beyond genesis on a live node; None for a crashed one (its chain is lost)."""
        node = self.world.nodes.get(node_id)
        return None if node is None else node.sm.height

    def state_machine(self, node_id: int):
        node = self.world.nodes.get(node_id)
        return node.sm if node else None

    def digest(self) -> str:
        w = self.world
        state = {
            "time": w.now,
            "step": w.step,
            "nodes": {
                str(i): (
                    {
                        "up": True,
                        "state": w.nodes[i].describe(),
                        "sm": w.nodes[i].sm.head_hash,
                        "persistent": plain(w.nodes[i].persistent),
                    }
                    if i in w.nodes
                    else {"up": False, "persistent": plain(w.down[i])}
                )
                for i in w.node_ids
            },
            "in_flight": [m.encode() for m in self.in_flight()],
            "timers": {str(i): sorted(t.items()) for i, t in w.timers.items()},
            "network": w.network.describe(),
        }
        encoded = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()

    # --- stepping -----------------------------------------------------------------------------
    def step(self) -> StepEvent | None:
        """Process exactly one event (or the action recorded for this step). None when idle."""
        w = self.world
        number = w.step + 1
        action = self.timeline.get(number)
        event = self._apply(action, number) if action else self._next_event(number)
        if event is None:
            return None
        w.step = number
        if self.check and w.violation is None:
            for checker in w.checkers:
                violation = checker.check(self, event)
                if violation:
                    w.violation = violation
                    break
        if self.keep_events:
            self.events.append(event)
        if number > self.max_step:
            self.max_step = number
        if number % CHECKPOINT_EVERY == 0 and number not in self.checkpoints:
            self.checkpoints[number] = Checkpoint.of(w)
        return event

    def run(self, duration: int) -> int:
        """Process every event due within `duration` ms of now; returns how many ran."""
        return self.run_until(lambda: False, time_limit=self.world.now + duration)

    def run_until(
        self,
        predicate: Callable[[], bool],
        time_limit: int | None = None,
        max_steps: int | None = None,
    ) -> int:
        """Step until predicate() holds, the next event is past time_limit, or max_steps ran."""
        count = 0
        while not predicate():
            if max_steps is not None and count >= max_steps:
                break
            if time_limit is not None and not self._has_action_next():
                due = self._next_due()
                if due is None or due > time_limit:
                    break
            if self.step() is None:
                break
            count += 1
        return count

    def goto(self, target: int) -> None:
        """Move to an earlier or later step of the current timeline, exactly."""
        target = max(0, target)
        if target < self.world.step:
            base = max(s for s in self.checkpoints if s <= target)
            self.world = self.checkpoints[base].restore()
            del self.events[base:]
        while self.world.step < target and self.step() is not None:
            pass

    def replay(self, timeline: dict[int, Action], until: int) -> None:
        """Re-run a recorded session from its seed: apply each action at its step."""
        self.timeline = dict(timeline)
        self.goto(until)

    def step_back(self) -> None:
        self.goto(self.world.step - 1)

    # --- user actions -------------------------------------------------------------------------
    def act(self, action: Action) -> StepEvent:
        """Take a user action now, as one step. At an earlier step this forks a new future."""
        self._fork()
        self.timeline[self.world.step + 1] = action
        event = self.step()
        assert event is not None
        return event

    def propose(self, value: str, node: int) -> StepEvent:
        return self.act(Action("propose", {"value": value, "node": node}))

    def crash(self, node: int) -> StepEvent:
        return self.act(Action("crash", {"node": node}))

    def restart(self, node: int) -> StepEvent:
        return self.act(Action("restart", {"node": node}))

    def restart_all(self) -> StepEvent:
        return self.act(Action("restart_all"))

    def partition(self, groups: list[list[int]]) -> StepEvent:
        return self.act(Action("partition", {"groups": [list(g) for g in groups]}))

    def isolate(self, node: int) -> StepEvent:
        return self.act(Action("isolate", {"node": node}))

    def heal(self) -> StepEvent:
        return self.act(Action("heal"))

    def campaign(self, node: int) -> StepEvent:
        return self.act(Action("campaign", {"node": node}))

    def set_network(self, **settings: Any) -> StepEvent:
        """latency_min, latency_max, drop, dup; optional link=[a, b] for one link only.
        Raises ValueError, before anything is recorded, when a setting is out of range."""
        changes = {k: v for k, v in settings.items() if k != "link"}
        net = self.world.network
        link = settings.get("link")
        for cfg in [net.link(*link)] if link else [net.default, *net.links.values()]:
            replace(cfg, **changes).validate()
        return self.act(Action("set_network", settings))

    def actions(self) -> list[tuple[int, Action]]:
        return sorted(self.timeline.items())

    # --- internals ------------------------------------------------------------------------------
    def _fork(self) -> None:
        w = self.world
        if self.max_step > w.step:
            self.timeline = {s: a for s, a in self.timeline.items() if s <= w.step}
            self.checkpoints = {s: c for s, c in self.checkpoints.items() if s <= w.step}
            del self.events[w.step :]
            self.max_step = w.step

    def _has_action_next(self) -> bool:
        return (self.world.step + 1) in self.timeline

    def _next_due(self) -> int | None:
        self._drop_stale_timers()
        return self.world.queue[0][0] if self.world.queue else None

    def _drop_stale_timers(self) -> None:
        q = self.world.queue
        timers = self.world.timers
        while q and q[0][2] == TIMER:
            _, seq, _, (node_id, name) = q[0]
            if timers[node_id].get(name) == seq:
                return
            heapq.heappop(q)

    def _next_event(self, number: int) -> StepEvent | None:
        self._drop_stale_timers()
        w = self.world
        if not w.queue:
            return None
        time, seq, kind, payload = heapq.heappop(w.queue)
        w.now = time
        if kind == TIMER:
            node_id, name = payload
            del w.timers[node_id][name]
            node = w.nodes[node_id]
            node.on_timer(time, name)
            return self._finish(node, StepEvent(number, time, "timer", node_id, detail=name))
        m: InFlight = payload
        event = StepEvent(number, time, "drop", m.dst, m.src, m.msg, sent_at=m.sent_at)
        if m.doomed:
            event.detail = m.doomed
        elif not w.network.connected(m.src, m.dst):
            event.detail = "partition"
        elif m.dst not in w.nodes:
            event.detail = f"{node_name(m.dst)} is down"
        else:
            event.kind = "deliver"
            node = w.nodes[m.dst]
            node.on_message(time, m.src, m.msg)
            return self._finish(node, event)
        return event

    def _finish(self, node: Node, event: StepEvent) -> StepEvent:
        """Carry out the effects a node produced while handling one event."""
        w = self.world
        for effect in node.take_effects():
            if type(effect) is Send:
                self._send(node.id, effect.dst, effect.msg)
            elif type(effect) is SetTimer:
                w.seq += 1
                w.timers[node.id][effect.name] = w.seq
                heapq.heappush(
                    w.queue, (w.now + effect.delay, w.seq, TIMER, (node.id, effect.name))
                )
            elif type(effect) is CancelTimer:
                w.timers[node.id].pop(effect.name, None)
            else:
                event.notes += (effect,)
        return event

    def _send(self, src: int, dst: int, msg: Message) -> None:
        w = self.world
        cut = not w.network.connected(src, dst)
        for latency, lost in w.network.transmissions(src, dst):
            w.seq += 1
            doomed = "partition" if cut else "lost" if lost else ""
            m = InFlight(src, dst, msg, w.now, w.now + latency, w.seq, doomed)
            heapq.heappush(w.queue, (m.deliver_at, w.seq, MESSAGE, m))

    def _boot(self, node_id: int, persistent: Any) -> Node:
        w = self.world
        node = w.node_class(node_id, w.node_ids, self.config, w.node_rngs[node_id], persistent)
        w.nodes[node_id] = node
        node.start(w.now)
        return node

    def _apply(self, action: Action, number: int) -> StepEvent:
        w = self.world
        event = StepEvent(number, w.now, "action", detail=action.describe(), action=action)
        handler = getattr(self, f"_do_{action.kind}")
        node = handler(event, **action.args)
        return self._finish(node, event) if node is not None else event

    def _do_propose(self, event: StepEvent, value: str, node: int) -> Node | None:
        w = self.world
        event.node = node
        if node not in w.nodes:
            event.notes += (Note("reject", f"{node_name(node)} is down: proposal rejected"),)
            return None
        w.proposals += 1
        w.nodes[node].on_propose(w.now, Proposal(f"p{w.proposals}", value, w.now, node))
        return w.nodes[node]

    def _do_crash(self, event: StepEvent, node: int) -> None:
        w = self.world
        event.node = node
        if node not in w.nodes:
            event.notes += (Note("info", f"{node_name(node)} is already down"),)
            return
        w.down[node] = w.nodes.pop(node).persistent
        w.timers[node] = {}
        w.queue = [e for e in w.queue if not (e[2] == MESSAGE and e[3].dst == node)]
        heapq.heapify(w.queue)

    def _do_restart(self, event: StepEvent, node: int) -> Node | None:
        event.node = node
        if node in self.world.nodes:
            event.notes += (Note("info", f"{node_name(node)} is already up"),)
            return None
        return self._boot(node, self.world.down.pop(node))

    def _do_restart_all(self, event: StepEvent) -> None:
        for node_id in sorted(self.world.down):
            self._finish(self._boot(node_id, self.world.down.pop(node_id)), event)

    def _do_campaign(self, event: StepEvent, node: int) -> Node | None:
        event.node = node
        if node not in self.world.nodes:
            event.notes += (Note("info", f"{node_name(node)} is down"),)
            return None
        self.world.nodes[node].on_campaign(self.world.now)
        return self.world.nodes[node]

    def _do_partition(self, event: StepEvent, groups: list[list[int]]) -> None:
        self.world.network.partition(groups)
        self._note_groups(event)

    def _do_isolate(self, event: StepEvent, node: int) -> None:
        event.node = node
        self.world.network.isolate(node)
        self._note_groups(event)

    def _note_groups(self, event: StepEvent) -> None:
        """The groups a cut left, unlisted nodes alone: more than what was typed."""
        groups = " | ".join(" ".join(map(node_name, g)) for g in self.world.network.groups())
        event.notes += (Note("info", f"groups now {groups}"),)

    def _do_heal(self, event: StepEvent) -> None:
        self.world.network.heal()

    def _do_set_network(self, event: StepEvent, link: list[int] | None = None, **changes) -> None:
        self.world.network.configure(tuple(link) if link else None, **changes)
