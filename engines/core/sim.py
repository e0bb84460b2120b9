"""The discrete-event simulator: time, seeded randomness, the network, crashes and history.

One step is one event: a message delivered (or dropped), a timer fired, or a user action
applied. Future events sit in a heap ordered by (time, sequence). Everything a step can change
lives in one `World` object, so a checkpoint is a pickle of it and stepping back is exact:
restore the nearest earlier checkpoint, then replay the recorded timeline of actions.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import heapq
import io
import json
import math
import operator
import pickle
import random
import weakref
import zlib
from array import array
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from heapq import heappop, heappush, heapreplace
from math import floor
from typing import Any

from engines.core import protocols
from engines.core.actions import (
    ACTIONS,
    ANY,
    DOWN,
    LEADER,
    LEADER_OR_FIRST,
    MAX_NODES,
    MEMBERSHIP,
    NEW,
    NEWEST,
    Action,
    ActionError,
    Cluster,
    checked,
    describe_filter,
    filter_covers,
    filter_matches,
    node_name,
)
from engines.core.chain import ARITY, Command
from engines.core.clients import (
    ATTEMPT_MS,
    BACKOFF_MS,
    DEFAULT_KEYS,
    DEFAULT_RATE,
    GIVE_UP_MS,
    Client,
    Workload,
)
from engines.core.network import Network
from engines.core.node import (
    CancelTimer,
    Message,
    Node,
    Note,
    Proposal,
    Reply,
    Request,
    Send,
    SetTimer,
    plain,
)
from engines.core.shared import SharedList, SlotMap, stored
from engines.core.violations import Violation

CHECKPOINT_EVERY = 1024  # steps; a step back replays fewer than this many
assert CHECKPOINT_EVERY & (CHECKPOINT_EVERY - 1) == 0, "a power of two: Simulator._run masks"
_PROPOSE = ACTIONS["propose"]
_DISCARD = deque(maxlen=0).append  # keeps nothing: the events of a run that keeps none

MESSAGE, TIMER, CLIENT = 0, 1, 2  # CLIENT: a client's timer, payload (client id, name)


def _addressee(entry: tuple) -> int | None:
    """The node a queued message or timer is for (None for a client's timer)."""
    _, _, kind, payload = entry
    return payload.dst if kind == MESSAGE else payload[0] if kind == TIMER else None


def _as_drop_of(event: StepEvent, m: InFlight) -> None:
    """Make a user's action the event of a message's drop: from its sender, to its
    destination (a delivery it allows then turns it into one)."""
    event.kind, event.node, event.src = "drop", m.dst, m.src
    event.msg, event.sent_at = m.msg, m.sent_at


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


class StepEvent:
    """What one step did, for the event log, the diagram and the tests."""

    FIELDS = ("step", "time", "kind", "node", "src", "msg", "detail", "notes", "sent_at", "action")
    __slots__ = FIELDS[:6] + ("_detail",) + FIELDS[7:]

    def __init__(
        self,
        step: int,
        time: int,
        kind: str,  # deliver | drop | timer | action | client
        node: int | None = None,  # the node that handled it
        src: int | None = None,
        msg: Message | None = None,
        detail: str | None = None,  # see `detail`
        notes: tuple[Note, ...] = (),  # a tuple: most events have none, and events are kept
        sent_at: int = 0,
        action: Action | None = None,
    ) -> None:
        self.step, self.time, self.kind = step, time, kind
        self.node, self.src, self.msg = node, src, msg
        self._detail, self.notes, self.sent_at, self.action = detail, notes, sent_at, action

    @property
    def detail(self) -> str:
        """Timer name, drop reason, or action text. The action's text is made when read: a
        long session keeps every event, and few are ever read."""
        detail = self._detail
        if detail is None:
            return self.action.describe() if self.action else ""
        return detail

    @detail.setter
    def detail(self, text: str) -> None:
        self._detail = text

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if type(other) is StepEvent else NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable while its step runs

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={v!r}" for n, v in zip(self.FIELDS, self._values(), strict=True))
        return f"StepEvent({fields})"

    def headline(self) -> str:
        if self.kind in ("action", "client"):
            return self.detail
        if self.kind == "timer":
            return f"{node_name(self.node)} {self.detail} timer fired"
        arrow = f"{node_name(self.src)} -> {node_name(self.node)}"
        body = f"{arrow} {self.msg.type_name}({self.msg.summary()})"
        if self.kind == "deliver":
            return f"{body} delivered" + (" now, ahead of its turn" if self.action else "")
        return f"{body} dropped: {self.detail}"

    def __str__(self) -> str:
        lines = [self.headline()] + [n.text for n in self.notes]
        return "; ".join(lines)


# Calling a class runs its __init__ in a C-level frame of its own (CPython 3.11 does not
# specialise that call): a timer's or an action's event, and a proposal, are made by _new
# and filled by __init__ called as a plain function (400 instructions a step less); a
# delivery's event and each message sent are filled in place, without a call at all
# (Simulator._run, _finish).
_new = object.__new__
_fill_event, _fill_proposal = StepEvent.__init__, Proposal.__init__

MT_WORD = "I"  # the Mersenne Twister's state is 624 words of 32 bits
assert array(MT_WORD).itemsize == 4


def _shared_view(kind: type, index: int) -> SharedList | SlotMap | random.Random:
    """Stands in a checkpoint for a shared container's view; `_Restorer` resolves it."""
    raise RuntimeError("shared views are resolved by the checkpoint unpickler")


def _random_view(rng: random.Random, known: dict[bytes, bytes]) -> tuple[bytes, int, Any]:
    """A generator's state: its 624 words packed, its position in them, its gauss_next.
    Pickled, the states of a cluster's generators were 70 % of a checkpoint; but a node's
    generator draws a few numbers between checkpoints, and its words change only once 624
    are used: words equal to the previous checkpoint's (`known`) are its bytes, shared."""
    _, words, gauss = rng.getstate()
    packed = array(MT_WORD, words[:-1]).tobytes()
    return (known.get(packed, packed), words[-1], gauss)


def _random_from_view(view: tuple[bytes, int, Any]) -> random.Random:
    packed, position, gauss = view
    rng = random.Random()
    rng.setstate((3, (*array(MT_WORD, packed), position), gauss))
    return rng


class _Checkpointer(pickle.Pickler):
    """Pickles a World, storing each shared container as a view of its storage, not a copy,
    and each random generator's state outside the pickle (see _random_view)."""

    def __init__(self, file: io.BytesIO, views: list, known: dict[bytes, bytes]) -> None:
        # The pickler looks a type up in its dispatch table itself: only these types cost a
        # Python call (a reducer_override is called for every object). It reads the table
        # when it is made.
        self.dispatch_table = _reducers(views, known)
        super().__init__(file, pickle.HIGHEST_PROTOCOL)


def _reducers(views: list, known: dict[bytes, bytes]) -> _Reducers:
    """How a checkpoint pickles shared containers and generators: it adds their views to
    `views`. The reducers hold the list, not the pickler: a pickler in a reference cycle
    would be garbage only a collection frees, and the checkpoint's gc.freeze() keeps it, with
    every object it pickled (130 MB more at a million Raft steps)."""

    def shared(obj: SharedList | SlotMap) -> tuple:
        views.append(obj.view())  # the pickle names the type: no tuple kept per view
        return (_shared_view, (type(obj), len(views) - 1))

    def generator(obj: random.Random) -> tuple:
        views.append(_random_view(obj, known))
        return (_shared_view, (random.Random, len(views) - 1))

    return _Reducers({SharedList: shared, SlotMap: shared, random.Random: generator})


_MANAGED_DICT = 1 << 4  # Py_TPFLAGS_MANAGED_DICT: the interpreter keeps the instance dict


class _Reducers(dict):
    """A dispatch table that files a reducer for each other type the first time the pickler
    looks it up (built-in containers, numbers and strings it pickles without looking): the
    pickle's own reduction, and for an object with an instance dict a dict of its own after.

    Pickling reads the attributes into a dict that shares its keys with the class, and CPython
    3.11 reads and writes no attribute of such a dict on its fast path: the world's objects
    made a checked Raft step 124.8k instructions instead of 104.7k."""

    def __missing__(self, kind: type) -> Callable:
        if issubclass(kind, type):
            raise KeyError(kind)  # a class (of a metaclass): the pickler saves it by name
        self[kind] = reducer = _reduce_own_dict if kind.__flags__ & _MANAGED_DICT else _reduce
        return reducer


_reduce = operator.methodcaller("__reduce_ex__", pickle.HIGHEST_PROTOCOL)  # the pickle's own


def _reduce_own_dict(obj: Any) -> Any:
    reduced = _reduce(obj)
    _own_dicts((obj,))
    return reduced


def _own_dicts(objects: Iterable) -> None:
    """Give each of these objects that keeps its attributes in an instance dict a dict of its
    own, not sharing its keys (see _Reducers; frozen dataclasses too: it holds what it held)."""
    managed: dict[type, int] = {}
    for obj in objects:
        kind = type(obj)
        flags = managed.get(kind)
        if flags is None:
            flags = managed[kind] = kind.__flags__ & _MANAGED_DICT
        if flags:
            object.__setattr__(obj, "__dict__", dict(obj.__dict__))


class _Restorer(pickle.Unpickler):
    def __init__(self, checkpoint: Checkpoint, take_back: bool) -> None:
        super().__init__(io.BytesIO(zlib.decompress(checkpoint.data)))
        self.checkpoint, self.take_back = checkpoint, take_back

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_shared_view":
            # Not a closure over self: the unpickler's memo keeps this function.
            return functools.partial(_resolve, self.checkpoint, self.take_back)
        return super().find_class(module, name)


def _resolve(
    checkpoint: Checkpoint, take_back: bool, kind: type, index: int
) -> SharedList | SlotMap | random.Random:
    view = checkpoint.views[index]
    if kind is random.Random:
        return _random_from_view(view)
    last = checkpoint.restored.get(index) if take_back else None
    restored = kind.from_view(view, take_back, last and last())
    checkpoint.restored[index] = weakref.ref(restored)
    return restored


@dataclass(frozen=True, slots=True)
class Checkpoint:
    data: bytes
    views: list
    # The containers its last restore made, by view: the next restore takes them back if the
    # world holding them is the one being dropped (see SharedList.from_view).
    restored: dict[int, weakref.ref] = field(default_factory=dict)

    @classmethod
    def of(cls, world: World, previous: Checkpoint | None = None) -> Checkpoint:
        """The world's checkpoint; generator states equal to `previous`'s are shared."""
        buffer, views = io.BytesIO(), []
        _Checkpointer(buffer, views, previous.random_words() if previous else {}).dump(world)
        # What is left compresses three-fold, quickly: a long session keeps thousands.
        return cls(zlib.compress(buffer.getvalue(), 1), views)

    def random_words(self) -> dict[bytes, bytes]:
        """The packed words of its generators' states (see _random_view)."""
        return {view[0]: view[0] for view in self.views if type(view[0]) is bytes}

    def restore(self, take_back: bool = False) -> World:
        """The world as it was. With `take_back`, lists the previous restore made are taken
        back: the world that restore made must be one being dropped (Simulator.goto)."""
        restorer = _Restorer(self, take_back)
        world = restorer.load()
        _own_dicts(restorer.memo.copy().values())  # unpickled dicts share keys (_Reducers)
        return world


@dataclass(frozen=True)
class Fork:
    """A new future started at step `at`; the `set_aside` steps after it wait in `later`."""

    at: int
    set_aside: int
    later: dict[int, Action]
    max_step: int

    def describe(self) -> str:
        return f"forked at step {self.at}: {self.set_aside} later steps set aside"


class World:
    """Everything deterministic that a step may change. Pickled whole for checkpoints."""

    # Slots: every step reads and writes a dozen of these, and a pickled instance dict left
    # its attribute sites off CPython 3.11's fast path (see _Reducers).
    __slots__ = (
        "seed", "node_ids", "founders", "now", "step", "seq", "queue", "timers", "due",
        "queued", "node_rngs", "network", "clients", "clocks", "nodes", "down", "proposals",
        "issued", "checkers", "violation", "node_class", "holds", "held", "sent",
    )  # fmt: skip

    def __init__(self, protocol: protocols.Protocol, n: int, seed: int, check: bool) -> None:
        self.seed = seed
        self.node_ids = list(range(1, n + 1))
        self.founders = list(self.node_ids)  # the cluster as it booted: its first configuration
        self.now = 0
        self.step = 0
        self.seq = 0
        self.queue: list[tuple[int, int, int, Any]] = []
        self.timers: dict[int, dict[str, int]] = {i: {} for i in self.node_ids}
        # A timer set again before it fires (an election timer, at every AppendEntries) waits
        # behind its queue entry instead of adding one: `due` holds each timer's deadline,
        # `queued` the (deadline, seq) of the newest entry of each timer name (_set_timer).
        self.due: dict[int, dict[str, int]] = {i: {} for i in self.node_ids}
        self.queued: dict[int, dict[str, tuple[int, int]]] = {i: {} for i in self.node_ids}
        self.node_rngs = {i: random.Random(f"{seed}/node/{i}") for i in self.node_ids}
        self.network = Network(self.node_ids, random.Random(f"{seed}/network"))
        self.clients = Workload(random.Random(f"{seed}/workload"), self.node_ids)
        self.clocks: dict[int, tuple[float, int, int]] = {}  # drifting: (rate, true, local)
        self.nodes: dict[int, Node] = {}
        self.down: dict[int, Any] = {}  # crashed node id -> its persistent state
        self.proposals = 0
        self.issued = SharedList()  # every client value handed to a node: p1, p2, ...
        # An unchecked run has none: they would only fill its checkpoints.
        self.checkers = protocol.make_checkers(n) if check else []
        self.violation: Violation | None = None
        self.node_class = protocol.node_class
        self.holds: list[dict] = []  # filters: matching messages stay in flight until released
        self.held: list[InFlight] = []  # messages that came due while a hold matched them
        self.sent: dict[tuple[type, int, int], int] = defaultdict(int)  # (type, src, dst) -> sent


MIN_NODES = 3


class Simulator:
    def __init__(
        self,
        algo: str | protocols.Protocol = "raft",
        nodes: int = 5,
        seed: int = 1,
        config: dict | None = None,
        check: bool = True,
        keep_events: bool = True,
        checkpoints: bool = True,
    ) -> None:
        """Raises ValueError for a cluster the simulator cannot run: a node count outside
        3..9, a negative seed, or a protocol setting that is unknown or out of range.
        `checkpoints=False` keeps only step 0's: for a run that never steps back (the fuzzer),
        stepping back is then a replay from the start."""
        protocol = protocols.get(algo) if isinstance(algo, str) else algo
        if type(nodes) is not int or not MIN_NODES <= nodes <= MAX_NODES:
            raise ValueError(f"node count {nodes!r} is out of range {MIN_NODES}..{MAX_NODES}")
        if type(seed) is not int or seed < 0:
            raise ValueError(f"seed {seed!r} must be a whole number >= 0")
        self.protocol = protocol
        self.seed = seed
        self.check = check
        self.keep_events = keep_events
        self.checkpoint_every = CHECKPOINT_EVERY if checkpoints else 0
        self.user_config = dict(config or {})
        protocols.check_config(protocol, self.user_config)
        self.config = protocol.default_config | self.user_config
        self.world = World(protocol, nodes, seed, check)
        self.message_types = protocols.message_types(protocol)
        self._cluster = Cluster(tuple(self.world.node_ids), self.message_types)
        self.timeline: dict[int, Action] = {}  # event step number -> action taken there
        self.events: list[StepEvent] = []
        self._reached = 0  # see max_step
        self.last_fork: Fork | None = None  # the future the latest fork set aside, if any
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
    def max_step(self) -> int:
        """The furthest step of the current timeline reached: a step back keeps it, a fork
        cuts it back. Kept as the furthest step before the latest step back (`_reached`), so
        that a step forward stores nothing for it."""
        return max(self._reached, self.world.step)

    @property
    def node_ids(self) -> list[int]:
        return self.world.node_ids

    @property
    def founders(self) -> list[int]:
        """The nodes the cluster booted with (a session is rebuilt from their count)."""
        return self.world.founders

    @property
    def cluster(self) -> Cluster:
        """What validating an action needs: the nodes there are now, added ones included."""
        ids = self.world.node_ids
        # Made again only when nodes were added, or taken away by a step back: ids are 1, 2,
        # 3... in order, so their count says which they are.
        if len(self._cluster.node_ids) != len(ids):
            self._cluster = Cluster(tuple(ids), self.message_types)
        return self._cluster

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

    def down_nodes(self) -> list[int]:
        return sorted(self.world.down)

    def membership_refusal(self, change: str, nodes: list[int], via: int) -> str:
        """Why `via` would refuse to add, remove or promote `nodes` now, or ""."""
        node = self.world.nodes.get(via)
        if node is None:
            return f"{node_name(via)} is down: nobody to ask"
        return node.membership_refusal(change, nodes)

    def reachable(self, node_id: int) -> list[int]:
        """The live nodes a node can talk with now, both ways (itself included)."""
        net = self.network
        return [
            n
            for n in self.node_ids
            if self.is_up(n) and net.connected(node_id, n) and net.connected(n, node_id)
        ]

    def members(self) -> list[int]:
        """The nodes the leader's configuration holds (every node without a leader, or for a
        protocol without membership changes)."""
        leader = self.leader()
        members = self.world.nodes[leader].members() if leader is not None else None
        return list(self.node_ids if members is None else members)

    def leader(self, among: list[int] | None = None) -> int | None:
        """The live node in the leader role with the highest term or ballot (only those listed
        in `among`, when given: a cut-off stale leader elsewhere is then ignored)."""
        nodes = self.world.nodes
        candidates = nodes.values() if among is None else [nodes[i] for i in among if i in nodes]
        found = None
        for node in candidates:  # a loop, not a list: most often one leads, no rank to compare
            if node.is_leader:
                if found is not None:
                    leaders = [n for n in candidates if n.is_leader]
                    return max(leaders, key=lambda n: (n.rank(), -n.id)).id
                found = node
        return None if found is None else found.id

    def timer_deadline(self, node_id: int, name: str) -> int | None:
        return self.world.due[node_id].get(name)

    def in_flight(self) -> list[InFlight]:
        """Messages on the wire, held ones included, soonest first."""
        queued = [p for _, _, kind, p in self.world.queue if kind == MESSAGE]
        return sorted(queued + self.world.held, key=lambda m: (m.deliver_at, m.seq))

    def is_held(self, m: InFlight) -> bool:
        """Whether a hold keeps this message from being delivered when it comes due."""
        type_name = m.msg.type_name
        return any(filter_matches(h, m.src, m.dst, type_name) for h in self.world.holds)

    def holds(self) -> list[dict]:
        """The hold filters in force, in the order they were set."""
        return list(self.world.holds)

    def will_cross(self, m: InFlight) -> bool:
        """Whether a message in flight would reach its destination if delivered now."""
        net = self.world.network
        return not m.doomed and net.connected(m.src, m.dst) and self.is_up(m.dst)

    def messages_sent(self) -> dict[tuple[str, int, int], int]:
        """How many messages of each (type name, src, dst) the nodes have sent so far."""
        return {(kind.__name__, src, dst): n for (kind, src, dst), n in self.world.sent.items()}

    def height(self, node_id: int) -> int | None:
        """Blocks beyond genesis on a live node; None for a crashed one (its chain is lost)."""
        node = self.world.nodes.get(node_id)
        return None if node is None else node.sm.height

    def state_machine(self, node_id: int):
        node = self.world.nodes.get(node_id)
        return node.sm if node else None

    def history_size(self) -> dict[str, int]:
        """What the checkpoints keep (the live world's shared containers among it): the
        shared containers' items (see engines.core.shared.stored) and the bytes of the
        pickles and of the distinct generator states. Both grow linearly with the steps."""
        views = [view for saved in self.checkpoints.values() for view in saved.views]
        words = {id(view[0]): len(view[0]) for view in views if type(view[0]) is bytes}
        pickles = sum(len(saved.data) for saved in self.checkpoints.values())
        return {
            "stored_items": stored(view for view in views if type(view[0]) is not bytes),
            "checkpoint_bytes": pickles + sum(words.values()),
        }

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
        if w.holds:  # only when there are some: digests of sessions without holds stay put
            state["holds"] = w.holds
        if w.clients.records:
            state["history"] = [plain(r) for r in w.clients.records]
        if w.clocks:
            state["clocks"] = {str(i): list(c) for i, c in sorted(w.clocks.items())}
        encoded = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(encoded.encode()).hexdigest()

    # --- stepping -----------------------------------------------------------------------------
    def step(self) -> StepEvent | None:
        """Process exactly one event (or the action recorded for this step). None when idle."""
        return self._run(None, None, 1)[1]

    def _run(
        self,
        predicate: Callable[[], bool] | None,
        time_limit: int | None,
        max_steps: int | None,
    ) -> tuple[int, StepEvent | None]:
        """Steps, as `run_until` takes them: the steps taken, and the last one's event (None
        when none was). A step is the action recorded for its number, else the event at the
        head of the queue, unless that is due after `time_limit` (then no step is taken).

        Every run spends its time here, and most steps deliver a message: it is hot, written
        flat. A message at the head of the queue needs no call to settle it (`_next_due`) or
        to make its event. The predicate only reads: what never changes is read once."""
        w, timeline, event = self.world, self.timeline, None
        first = w.step
        last = math.inf if max_steps is None else first + max_steps  # the last step to take
        limit = math.inf if time_limit is None else time_limit
        keep = self.events.append if self.keep_events else _DISCARD
        mask = self.checkpoint_every - 1  # of a power of two; -1 when only step 0's is kept
        while not (predicate and predicate()):
            number = w.step + 1
            if number > last:
                break
            if number in timeline:
                event = self._apply(timeline[number], number)
            else:
                queue = w.queue
                if not queue:
                    break
                due, _, kind, payload = queue[0]
                if kind != MESSAGE or w.holds:  # a head to settle: a timer, a held message
                    due = self._next_due()
                    if due is None:
                        break
                    _, _, kind, payload = queue[0]
                if due > limit:
                    break
                heappop(queue)
                w.now = due
                if kind == MESSAGE:
                    m: InFlight = payload
                    # StepEvent(number, due, "drop", m.dst, m.src, m.msg, "", (), m.sent_at),
                    # without the call: the event of a message's drop, which _arrive may
                    # turn into its delivery
                    event = _new(StepEvent)
                    event.step = number
                    event.time = due
                    event.kind = "drop"
                    event.node = m.dst
                    event.src = m.src
                    event.msg = m.msg
                    event._detail = ""
                    event.notes = ()
                    event.sent_at = m.sent_at
                    event.action = None
                    self._arrive(m, event)
                else:
                    event = self._next_event(number, due, kind, payload)
            w.step = number
            if w.violation is None:  # an unchecked world has no checkers
                for checker in w.checkers:
                    violation = checker.check(self, event)
                    if violation:
                        w.violation = violation
                        break
            keep(event)
            if not number & mask:  # number % checkpoint_every == 0
                self._checkpoint(number)
        return w.step - first, event

    def _checkpoint(self, number: int) -> None:
        if number not in self.checkpoints:
            previous = self.checkpoints.get(number - self.checkpoint_every)
            self.checkpoints[number] = Checkpoint.of(self.world, previous)
            # Checkpoints and the history before them only grow old: moving every object
            # alive now out of the collector's sight keeps full collections from walking the
            # whole history again and again (they took a quarter to half of the CPU at 1M
            # steps, in pauses of up to 2 s). Cyclic garbage among them is never freed: the
            # simulator makes none (tests/test_sim.py checks).
            gc.freeze()

    def run(self, duration: int, stop: Callable[[], bool] | None = None) -> int:
        """Let `duration` ms pass: process every event due by then, and end with the clock at
        exactly now + duration, idle time included (recorded as a `wait` step). With `stop`,
        end early, at the first step after which stop() holds. Returns the steps taken."""
        end = self.world.now + duration
        count = self.run_until(stop or (lambda: False), time_limit=end)
        if self.world.now < end and not (stop and stop()):
            self.act(Action("wait", {"until": end}))
            count += 1
        return count

    def run_until(
        self,
        predicate: Callable[[], bool] | None,
        time_limit: int | None = None,
        max_steps: int | None = None,
    ) -> int:
        """Step until predicate() holds, the next event is past time_limit, or max_steps ran.
        The clock stays at the last event handled: `run` is the call that lets time pass.
        With no predicate, only the limits stop it (and no call is made between two steps)."""
        return self._run(predicate, time_limit, max_steps)[0]

    def goto(self, target: int) -> None:
        """Move to an earlier or later step of the current timeline, exactly."""
        target = max(0, target)
        if target < self.world.step:
            self._reached = self.max_step
            base = max(s for s in self.checkpoints if s <= target)
            # The world a previous restore made, if any, is the one dropped here.
            self.world = self.checkpoints[base].restore(take_back=True)
            del self.events[base:]
        self._run(None, None, target - self.world.step)

    def replay(self, timeline: dict[int, Action], until: int) -> None:
        """Re-run a recorded session from its seed: apply each action at its step."""
        self.timeline = dict(timeline)
        self.goto(until)

    def step_back(self) -> None:
        self.goto(self.world.step - 1)

    # --- user actions -------------------------------------------------------------------------
    def act(self, action: Action) -> StepEvent:
        """Take a user action now, as one step. At an earlier step this forks a new future.
        Raises ActionError, before anything is recorded, for an action that cannot be taken:
        wrong arguments, or a message or hold that is not there."""
        return self._take(checked(action, self.cluster))

    def _take(self, action: Action) -> StepEvent:
        """`act`, for an action whose arguments are checked (those `checked` made)."""
        self._check_possible(action)
        self._fork(keep_set_aside=action.kind == "wait")
        self.timeline[self.world.step + 1] = action
        event = self._run(None, None, 1)[1]
        assert event is not None
        return event

    def resolve(self, action: Action) -> Action | None:
        """Plain arguments for an action that names nodes or messages by reference (`leader`,
        a crashed node picked by number, the oldest message matching a filter, a message
        picked by number). None when a fuzzer's reference finds nothing to act on; ActionError
        when a script's reference does (no leader, no matching message)."""
        args = dict(action.args)
        if args.get("node") == DOWN:
            down = self.down_nodes()
            if not down:
                return None
            args = {"node": down[args["pick"] % len(down)]}
        if args.get("node") == NEW:
            if len(self.node_ids) == MAX_NODES:
                return None
            args["node"] = len(self.node_ids) + 1
        if args.get("node") == ANY:
            args["node"] = self.node_ids[args.pop("pick") % len(self.node_ids)]
        if args.get("nodes") == ANY:
            args["nodes"] = [self.node_ids[args.pop("pick") % len(self.node_ids)]]
        elif args.get("nodes") == NEWEST:
            args["nodes"] = self.node_ids[-1:]
        for key in ("node", "src", "dst", "via"):
            if key in args:
                args[key] = self._node_ref(args[key])
        if "groups" in args:
            args["groups"] = [[self._node_ref(n) for n in g] for g in args["groups"]]
        if "link" in args:
            args["link"] = [self._node_ref(n) for n in args["link"]]
        if "match" in args:
            match = {k: self._node_ref(v) for k, v in args["match"].items()}
            args = {"seq": self._oldest_matching(match)}
        elif "pick" in args:
            messages = self.in_flight()
            if not messages:
                return None
            args = {"seq": messages[args["pick"] % len(messages)].seq}
        return Action(action.kind, args)

    def _node_ref(self, ref: Any) -> Any:
        if ref == LEADER_OR_FIRST:
            return self.leader() or self.node_ids[0]
        if ref == LEADER:
            leader = self.leader()
            if leader is None:
                raise ActionError("'leader' used but no node leads now")
            return leader
        return ref

    def _oldest_matching(self, match: dict) -> int:
        match = checked(Action("hold", match), self.cluster).args  # canonical type names
        found = [
            m.seq for m in self.in_flight() if filter_matches(match, m.src, m.dst, m.msg.type_name)
        ]
        if not found:
            raise ActionError(f"no message in flight matches {describe_filter(match)}")
        return min(found)

    def propose(self, value: str, node: int) -> StepEvent:
        # act(Action("propose", ...)), without an Action to check and make again: a client
        # proposal comes every few steps
        args = _PROPOSE.check({"value": value, "node": node}, self.cluster)
        return self._take(Action("propose", args))

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

    def cut(self, src: int, dst: int, oneway: bool = True) -> StepEvent:
        return self.act(Action("cut", {"link": [src, dst], "oneway": oneway}))

    def set_network(self, **settings: Any) -> StepEvent:
        """latency_min, latency_max, drop, dup; optional link=[src, dst] for one link only,
        both ways, or with oneway=True from src to dst only. Raises ActionError, before
        anything is recorded, when a setting is out of range."""
        return self.act(Action("set_network", settings))

    def hold(self, types: list[str] = (), src: int | None = None, dst: int | None = None):
        return self.act(Action("hold", {"types": list(types), "src": src, "dst": dst}))

    def release(self, types: list[str] = (), src: int | None = None, dst: int | None = None):
        return self.act(Action("release", {"types": list(types), "src": src, "dst": dst}))

    def add(self, node: int, via: int) -> StepEvent:
        """Start node `node` (the next new id) empty, and ask `via` to add it as a learner."""
        return self.act(Action("add", {"node": node, "via": via}))

    def promote(self, nodes: list[int], via: int) -> StepEvent:
        return self.act(Action("promote", {"nodes": list(nodes), "via": via}))

    def remove(self, nodes: list[int], via: int) -> StepEvent:
        return self.act(Action("remove", {"nodes": list(nodes), "via": via}))

    def deliver(self, seq: int) -> StepEvent:
        """Deliver one message in flight now, ahead of its turn."""
        return self.act(Action("deliver", {"seq": seq}))

    def drop(self, seq: int) -> StepEvent:
        return self.act(Action("drop", {"seq": seq}))

    def duplicate(self, seq: int) -> StepEvent:
        return self.act(Action("duplicate", {"seq": seq}))

    def clients(self, count: int, **settings: int) -> StepEvent:
        """Clients 1..count run the workload from now on (0: every client stops after its
        current operation); settings: keys, rate (operations per second per client)."""
        return self.act(Action("clients", {"count": count} | settings))

    def actions(self) -> list[tuple[int, Action]]:
        return sorted(self.timeline.items())

    # --- internals ------------------------------------------------------------------------------
    def _check_possible(self, action: Action) -> None:
        """State-dependent checks, so that a recorded action always does what it says."""
        a, w, kind = action.args, self.world, action.kind
        if kind in MEMBERSHIP:
            self._check_membership(action)
        if "seq" in a and self._find_message(a["seq"]) is None:
            raise ActionError(f"message #{a['seq']} is not in flight")
        if kind == "release" and not any(filter_covers(a, h) for h in w.holds):
            raise ActionError(f"nothing is held by the filter {describe_filter(a)}")
        if kind == "client":
            if len(a["args"]) != ARITY[a["f"]]:
                raise ActionError(f"client {a['f']} takes {ARITY[a['f']]} values")
            if w.clients.busy(a["client"]):
                busy = w.clients.clients[a["client"]].current.command.text()
                raise ActionError(f"client {a['client']} is still waiting for {busy}")
        if kind == "wait":
            due = self._next_due()
            if a["until"] < w.now:
                raise ActionError(f"cannot wait until {a['until']} ms: the clock reads {w.now} ms")
            if due is not None and due < a["until"]:
                raise ActionError(f"cannot wait until {a['until']} ms: something happens first")
        if kind == "set_network":
            net = w.network
            changes = {k: v for k, v in a.items() if k not in ("link", "oneway")}
            targets = [net.default, *net.links.values()]
            if "link" in a:
                src, dst = a["link"]
                ends = [(src, dst)] if a.get("oneway") else [(src, dst), (dst, src)]
                targets = [net.link(*end) for end in ends]
            try:
                for cfg in targets:
                    replace(cfg, **changes).validate()
            except ValueError as exc:
                raise ActionError(f"set_network: {exc}") from None

    def _check_membership(self, action: Action) -> None:
        if not self.protocol.membership:
            raise ActionError(
                f"{action.kind}: {self.protocol.name} has no membership changes "
                f"(add, remove and promote are Raft's)"
            )
        new = action.args.get("node", 0)
        if action.kind == "add" and new not in self.node_ids:
            if len(self.node_ids) == MAX_NODES:
                raise ActionError(f"add: the cluster has {MAX_NODES} nodes, the most it can")
            if new != len(self.node_ids) + 1:
                raise ActionError(
                    f"add: the next new node is {node_name(len(self.node_ids) + 1)} "
                    f"(node ids are never reused)"
                )

    def _fork(self, keep_set_aside: bool = False) -> None:
        """Acting at an earlier step starts a new future: the old one is set aside (`redo`
        brings it back until the next action). Acting at the end forgets any set-aside, unless
        the action only lets time pass."""
        w = self.world
        if not keep_set_aside:
            self.last_fork = None
        reached = self._reached  # the furthest step, when it is beyond this one (max_step)
        if reached > w.step:
            later = {s: a for s, a in self.timeline.items() if s > w.step}
            self.last_fork = Fork(w.step, reached - w.step, later, reached)
            self.timeline = {s: a for s, a in self.timeline.items() if s <= w.step}
            self.checkpoints = {s: c for s, c in self.checkpoints.items() if s <= w.step}
            del self.events[w.step :]
            self._reached = w.step

    def redo(self) -> Fork:
        """Bring back the future the latest fork set aside, and go to the step it forked at.
        Raises ActionError when there is none (nothing forked, or an action came since)."""
        fork = self.last_fork
        if fork is None:
            raise ActionError("no set-aside future to bring back")
        self.goto(fork.at)
        self.timeline = {s: a for s, a in self.timeline.items() if s <= fork.at} | fork.later
        self.checkpoints = {s: c for s, c in self.checkpoints.items() if s <= fork.at}
        del self.events[fork.at :]
        self._reached = fork.max_step
        self.last_fork = None
        return fork

    def _next_due(self) -> int | None:
        """When the next event is due (None: nothing is queued), once the head of the queue
        is a real next event: timers that were cancelled or reset are dropped, and messages a
        hold keeps are set aside (they wait in `held`, still in flight)."""
        w = self.world
        q = w.queue
        while q:
            time, seq, kind, payload = q[0]
            if kind == MESSAGE:  # most heads
                if not (w.holds and self.is_held(payload)):
                    return time
                w.held.append(payload)
            elif kind == TIMER:
                node_id, name = payload
                live = w.timers[node_id].get(name)
                if live == seq:
                    return time
                queued = w.queued[node_id]
                entry = queued.get(name)
                if entry is not None and entry[1] == seq:  # a timer set since waits on it
                    if live is None:
                        del queued[name]  # cancelled
                    else:
                        due = w.due[node_id][name]
                        queued[name] = (due, live)
                        heapreplace(q, (due, live, TIMER, payload))
                        continue
            elif w.clients.timers.get(payload) == seq:
                return time
            heappop(q)
        return None

    def _next_event(self, number: int, time: int, kind: int, payload: Any) -> StepEvent:
        """Handle a timer's or a client timer's event, taken from the queue (`_run` handles a
        message's)."""
        w = self.world
        if kind == TIMER:
            node_id, name = payload
            del w.timers[node_id][name], w.due[node_id][name], w.queued[node_id][name]
            node = w.nodes[node_id]
            node.on_timer(self._clock(node_id) if w.clocks else time, name)
            event = _new(StepEvent)
            _fill_event(event, number, time, "timer", node_id, None, None, name)
            return self._finish(node, event)
        del w.clients.timers[payload]
        return self._client_timer(*payload, StepEvent(number, time, "client"))

    def _arrive(self, m: InFlight, event: StepEvent) -> StepEvent:
        """A message reaches its destination now, unless it is lost, cut off or the
        destination is down: then the event (a drop of `m`, from its sender to its
        destination) says why it was dropped."""
        if m.doomed:
            event.detail = m.doomed
            return event
        w = self.world
        node = w.nodes.get(m.dst)
        if w.network.simple is None and not w.network.connected(m.src, m.dst):  # simple: no cut
            event.detail = "partition"
        elif node is None:
            event.detail = f"{node_name(m.dst)} is down"
        else:
            event.kind = "deliver"
            node.on_message(self._clock(m.dst) if w.clocks else w.now, m.src, m.msg)
            return self._finish(node, event)
        return event

    def _finish(self, node: Node, event: StepEvent) -> StepEvent:
        """Carry out the effects a node produced while handling one event. Sends are put on
        the wire here, not in a method of their own: they are most of the effects."""
        effects = node.take_effects()
        if not effects:
            return event
        w = self.world
        node_id = node.id
        now = w.now
        queue = w.queue
        sent = w.sent
        net = w.network
        simple = net.simple
        for effect in effects:
            kind = type(effect)
            if kind is Send:
                dst, msg = effect
                sent[type(msg), node_id, dst] += 1
                if simple is not None:  # most sends: one copy, one draw (as in transmissions)
                    low, spread = simple
                    deliver_at = now + low + floor(net.rng.random() * spread)
                    w.seq = seq = w.seq + 1
                    # InFlight(node_id, dst, msg, now, deliver_at, seq), without the call
                    m = _new(InFlight)
                    m.src = node_id
                    m.dst = dst
                    m.msg = msg
                    m.sent_at = now
                    m.deliver_at = deliver_at
                    m.seq = seq
                    m.doomed = ""
                    heappush(queue, (deliver_at, seq, MESSAGE, m))
                    continue
                for latency, doomed in net.transmissions(node_id, dst):
                    w.seq = seq = w.seq + 1
                    m = InFlight(node_id, dst, msg, now, now + latency, seq, doomed)
                    heappush(queue, (now + latency, seq, MESSAGE, m))
            elif kind is SetTimer:
                name, delay = effect
                w.seq = seq = w.seq + 1
                w.timers[node_id][name] = seq
                if w.clocks:
                    delay = self._true_delay(node_id, delay)
                w.due[node_id][name] = due = now + delay
                queued = w.queued[node_id]
                entry = queued.get(name)
                if entry is None or entry[0] > due:  # else it waits behind that entry
                    queued[name] = (due, seq)
                    heappush(queue, (due, seq, TIMER, (node_id, name)))
            elif kind is CancelTimer:
                w.timers[node_id].pop(effect.name, None)
                w.due[node_id].pop(effect.name, None)
            elif kind is Reply:
                self._on_reply(node_id, effect, event)
            else:
                event.notes += (effect,)
        return event

    def _find_message(self, seq: int) -> InFlight | None:
        w = self.world
        for entry in w.queue:
            if entry[1] == seq and entry[2] == MESSAGE:
                return entry[3]
        return next((m for m in w.held if m.seq == seq), None)

    def _take_message(self, seq: int) -> InFlight | None:
        """Remove one message from the wire (queued or held) and return it."""
        w = self.world
        for i, entry in enumerate(w.queue):
            if entry[1] == seq and entry[2] == MESSAGE:
                w.queue[i] = w.queue[-1]
                w.queue.pop()
                heapq.heapify(w.queue)
                return entry[3]
        for i, m in enumerate(w.held):
            if m.seq == seq:
                return w.held.pop(i)
        return None

    def _boot(self, node_id: int, persistent: Any) -> Node:
        w = self.world
        node = w.node_class(node_id, w.founders, self.config, w.node_rngs[node_id], persistent)
        w.nodes[node_id] = node
        node.start(self._clock(node_id))
        return node

    def _apply(self, action: Action, number: int) -> StepEvent:
        event = _new(StepEvent)
        _fill_event(event, number, self.world.now, "action", None, None, None, None, (), 0, action)
        handler = getattr(self, f"_do_{action.kind}")
        node = handler(event, **action.args)
        return self._finish(node, event) if node is not None else event

    def _do_propose(self, event: StepEvent, value: str, node: int) -> Node | None:
        w = self.world
        event.node = node
        target = w.nodes.get(node)
        if target is None:
            rejected = Note("reject", f"{node_name(node)} is down: proposal rejected", "reject")
            event.notes += (rejected,)
            return None
        proposal = self._issue(value, node)
        target.on_propose(self._clock(node) if w.clocks else w.now, proposal)
        return target

    def _issue(self, value: str, node: int) -> Proposal:
        """A new client value for a live node, numbered p1, p2, ... in the order issued."""
        w = self.world
        w.proposals += 1
        proposal = _new(Proposal)  # Proposal(...), without a class call (see _new)
        _fill_proposal(proposal, f"p{w.proposals}", value, w.now, node)
        w.issued.append(proposal)
        return proposal

    def _do_add(self, event: StepEvent, node: int, via: int) -> Node | None:
        """A new server starts empty (in `via`'s partition group), and `via` is asked to add it
        as a learner; adding a server that is already there only asks again."""
        w = self.world
        if node not in w.node_ids:
            if node != len(w.node_ids) + 1 or node > MAX_NODES:
                note = f"{node_name(node)} is not the next new node: not added"
                event.notes += (Note("info", note),)  # only a hand-edited trace gets here
                return None
            w.node_ids.append(node)  # the clients' list too: they may ask it
            w.timers[node], w.due[node], w.queued[node] = {}, {}, {}
            w.node_rngs[node] = random.Random(f"{w.seed}/node/{node}")
            w.network.add(node, like=via)
            self._finish(self._boot(node, None), event)
        return self._ask(event, via, "add", [node])

    def _do_remove(self, event: StepEvent, nodes: list[int], via: int) -> Node | None:
        return self._ask(event, via, "remove", nodes)

    def _do_promote(self, event: StepEvent, nodes: list[int], via: int) -> Node | None:
        return self._ask(event, via, "promote", nodes)

    def _ask(self, event: StepEvent, via: int, change: str, nodes: list[int]) -> Node | None:
        event.node = via
        if via not in self.world.nodes:
            event.notes += (Note("info", f"{node_name(via)} is down: nobody to ask"),)
            return None
        self.world.nodes[via].on_membership(self._clock(via), change, nodes)
        return self.world.nodes[via]

    def _do_crash(self, event: StepEvent, node: int) -> None:
        w = self.world
        event.node = node
        if node not in w.nodes:
            event.notes += (Note("info", f"{node_name(node)} is already down"),)
            return
        w.down[node] = w.nodes.pop(node).persistent
        w.timers[node], w.due[node], w.queued[node] = {}, {}, {}
        w.queue = [e for e in w.queue if _addressee(e) != node]  # its timers die with it
        heapq.heapify(w.queue)
        w.held = [m for m in w.held if m.dst != node]

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
        self.world.nodes[node].on_campaign(self._clock(node))
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

    def _do_cut(self, event: StepEvent, link: list[int], oneway: bool = False) -> None:
        self.world.network.cut(*link, oneway=oneway)

    def _do_set_network(
        self, event: StepEvent, link: list[int] | None = None, oneway: bool = False, **changes
    ) -> None:
        self.world.network.configure(tuple(link) if link else None, oneway, **changes)

    def _do_hold(self, event: StepEvent, **hold: Any) -> None:
        if hold not in self.world.holds:
            self.world.holds.append(hold)

    def _do_release(self, event: StepEvent, **release: Any) -> None:
        """Remove every hold the filter covers; messages no hold matches any more go back
        on the wire, due now if their time has passed, in their original order."""
        w = self.world
        w.holds = [h for h in w.holds if not filter_covers(release, h)]
        still_held = []
        for m in w.held:
            if self.is_held(m):
                still_held.append(m)
            else:
                m.deliver_at = max(m.deliver_at, w.now)
                heappush(w.queue, (m.deliver_at, m.seq, MESSAGE, m))
        w.held = still_held

    def _do_deliver(self, event: StepEvent, seq: int) -> Node | None:
        m = self._take_message(seq)
        if m is None:  # only a hand-edited trace gets here: act() checks first
            event.notes += (Note("info", f"message #{seq} is not in flight"),)
            return None
        _as_drop_of(event, m)
        self._arrive(m, event)
        return None  # _arrive carried out the receiver's effects

    def _do_drop(self, event: StepEvent, seq: int) -> None:
        m = self._take_message(seq)
        if m is None:
            event.notes += (Note("info", f"message #{seq} is not in flight"),)
            return
        _as_drop_of(event, m)
        event.detail = "dropped by the user"

    def _do_duplicate(self, event: StepEvent, seq: int) -> None:
        w = self.world
        m = self._find_message(seq)
        if m is None:
            event.notes += (Note("info", f"message #{seq} is not in flight"),)
            return
        w.seq += 1
        copy = InFlight(m.src, m.dst, m.msg, m.sent_at, max(m.deliver_at, w.now), w.seq, m.doomed)
        heappush(w.queue, (copy.deliver_at, copy.seq, MESSAGE, copy))
        event.src, event.node, event.msg = m.src, m.dst, m.msg

    def _do_wait(self, event: StepEvent, until: int) -> None:
        self.world.now = until
        event.time = until

    # --- clocks ---------------------------------------------------------------------------------
    def _clock(self, node_id: int) -> int:
        """The time on a node's own clock: the simulator's, unless the node's clock drifts."""
        w = self.world
        drift = w.clocks.get(node_id)
        if drift is None:
            return w.now
        rate, true, local = drift
        return local + int((w.now - true) * rate)

    def _rate(self, node_id: int) -> float:
        drift = self.world.clocks.get(node_id)
        return 1.0 if drift is None else drift[0]

    def _true_delay(self, node_id: int, delay: int) -> int:
        """A timer of `delay` ms on the node's clock fires after this many simulated ms."""
        return math.ceil(delay / self._rate(node_id))

    def _do_drift(self, event: StepEvent, node: int, rate: float) -> None:
        """From now on the node's clock runs `rate` times as fast as the simulator's (its
        timers fire after 1/rate of their delay); rate 1 makes it exact again."""
        w = self.world
        event.node = node
        local, old = self._clock(node), self._rate(node)
        if rate == 1 and local == w.now:
            w.clocks.pop(node, None)
        else:  # a clock set back to rate 1 keeps the time it gained or lost
            w.clocks[node] = (rate, w.now, local)
        self._rescale_timers(node, old / rate)

    def _rescale_timers(self, node: int, stretch: float) -> None:
        """The node's pending timers keep the time they have left on its clock: the true time
        left is multiplied by old rate / new rate."""
        w = self.world

        def rescaled(time: int) -> int:
            return w.now + math.ceil((time - w.now) * stretch) if time > w.now else time

        for i, (time, seq, kind, payload) in enumerate(w.queue):
            if kind == TIMER and payload[0] == node:
                w.queue[i] = (rescaled(time), seq, kind, payload)
        heapq.heapify(w.queue)
        w.due[node] = {name: rescaled(due) for name, due in w.due[node].items()}
        w.queued[node] = {name: (rescaled(t), s) for name, (t, s) in w.queued[node].items()}

    # --- clients --------------------------------------------------------------------------------
    def _client_after(self, client: int, name: str, delay: int) -> None:
        w = self.world
        w.seq += 1
        w.clients.timers[(client, name)] = w.seq
        heappush(w.queue, (w.now + delay, w.seq, CLIENT, (client, name)))

    def _do_clients(
        self, event: StepEvent, count: int, keys: int = DEFAULT_KEYS, rate: int = DEFAULT_RATE
    ) -> None:
        work = self.world.clients
        for client in work.configure(count, keys, rate):
            if not work.busy(client):
                self._client_after(client, "think", work.think_time())

    def _do_client(
        self, event: StepEvent, client: int, f: str, key: str, args: list, node: int | None = None
    ) -> Node | None:
        work = self.world.clients
        c = work.client(client)
        if node is not None:
            c.target = node
        work.timers.pop((client, "think"), None)
        command = Command(client, c.next_op, f, key, tuple(args))
        work.invoke(c, command, self.world.now, event.step)
        return self._client_send(c, event)

    def _client_timer(self, client: int, name: str, event: StepEvent) -> StepEvent:
        """A client's timer: think (invoke the next operation), send (after a redirect), or
        attempt (no answer in time: retry at the next node, or give up as unknown)."""
        work = self.world.clients
        c = work.clients[client]
        event.detail = f"client {client} {name}"
        if name == "think":
            if c.auto and c.current is None:
                work.invoke(c, work.draw(c), self.world.now, event.step)
                event.detail = f"client {client} invokes {c.current.command.text()}"
            else:
                return event
        elif name == "attempt" and self.world.now - c.current.invoked_at >= GIVE_UP_MS:
            event.detail = f"client {client} gives up on {c.current.command.text()}: unknown"
            self._client_done(c, "unknown", event)
            return event
        elif name == "attempt":
            work.next_node(c)
        node = self._client_send(c, event)
        return self._finish(node, event) if node is not None else event

    def _client_send(self, c: Client, event: StepEvent) -> Node | None:
        """Send the client's operation to its target; it answers through Reply effects."""
        w = self.world
        command = c.current.command
        self._client_after(c.id, "attempt", ATTEMPT_MS)
        event.node = c.target
        node = w.nodes.get(c.target)
        if node is None:
            c.current.sends.append((event.step, None))
            return None  # lost: the attempt timer retries elsewhere
        proposal = self._issue(command.text(), c.target)
        c.current.sends.append((event.step, proposal.id))
        node.on_request(self._clock(c.target), Request(command, proposal))
        return node

    def _on_reply(self, node: int, reply: Reply, event: StepEvent) -> None:
        work = self.world.clients
        c = work.clients.get(reply.client)
        if c is None or c.current is None or c.current.command.op != reply.op:
            return  # an answer to an operation the client has finished with
        if reply.status == "redirect":
            work.timers.pop((c.id, "attempt"), None)
            if reply.leader is not None and reply.leader != node:
                c.target = reply.leader
                self._client_after(c.id, "send", 1)
            else:
                work.next_node(c)
                self._client_after(c.id, "send", BACKOFF_MS)
            return
        event.notes += (Note("info", f"n{node} answers client {c.id}: {reply.status}"),)
        c.current.read_round = reply.read_round
        self._client_done(c, reply.status, event, reply.value, node)

    def _client_done(
        self, c: Client, status: str, event: StepEvent, value=None, node: int | None = None
    ) -> None:
        work = self.world.clients
        work.complete(c, status, (self.world.now, event.step), value, node)
        work.timers.pop((c.id, "attempt"), None)
        work.timers.pop((c.id, "send"), None)
        if c.auto:
            self._client_after(c.id, "think", work.think_time())
