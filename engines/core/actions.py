"""The table of user actions: each one defined once.

An action is something done to the cluster from outside its protocol: a client value, a crash,
a network fault, the choice of which message happens next. The simulator takes it as one step
and records it in the timeline, so it replays and steps back exactly. For every kind, `ACTIONS`
holds its arguments and their validation, how it is described, its script syntax (read and
written), and how often the fuzzer draws it. Scripts, traces, the fuzzer and the simulator all
read this table; adding an action means adding one entry here and one handler in the simulator.

Arguments are plain JSON values, as a trace stores them. Scripts and the fuzzer may also name
nodes and messages by reference (`leader`, a crashed node, the oldest matching message), which
`resolve` turns into plain arguments just before the action is taken.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engines.core.chain import ARITY
from engines.core.network import MAX_LATENCY_MS
from engines.core.node import node_names

LEADER = "leader"  # a node reference: whichever live node leads when the action is taken
LEADER_OR_FIRST = "leader?"  # the same, or n1 when no node leads (a proposal's default target)
DOWN = "down"  # a node reference (fuzzer): one of the crashed nodes, chosen by "pick"
ANY = "any"  # a node reference (fuzzer): one of the cluster's nodes, chosen by "pick"
NEW = "new"  # a node reference (fuzzer): the next new node's id
NEWEST = "newest"  # a nodes reference (fuzzer): the node added last, to promote it
MAX_NODES = 9  # the most nodes a cluster has, counting those added (ids are never reused)
MEMBERSHIP = ("add", "promote", "remove")  # the configuration changes, for protocols with them
NODE_WORD = re.compile(r"n([0-9]+)", re.ASCII)


class ActionError(ValueError):
    """An action that cannot be taken: its arguments, or the state it needs, are wrong."""


@dataclass(frozen=True)
class Action:
    """A user action. `args` holds plain JSON values so traces can store it."""

    kind: str
    args: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return ACTIONS[self.kind].describe(self.args)

    def script_line(self) -> str:
        """The script line that takes this action."""
        return ACTIONS[self.kind].write(self.args)


@dataclass(frozen=True)
class Cluster:
    """What validating an action needs to know of the cluster it is for."""

    node_ids: tuple[int, ...]
    message_types: dict[str, str]  # type name and short name -> type name


# --- argument types: check(value, cluster) returns the canonical value or raises ----------------
def _node(value: Any, cluster: Cluster) -> int:
    if type(value) is not int or value not in cluster.node_ids:
        raise ActionError(f"{value!r} is not a node of this cluster")
    return value


def _text(value: Any, cluster: Cluster) -> str:
    if not isinstance(value, str):
        raise ActionError(f"{value!r} is not a text value")
    return value


def _groups(value: Any, cluster: Cluster) -> list[list[int]]:
    if not isinstance(value, list) or not value:
        raise ActionError("a partition needs a list of groups")
    groups = []
    for group in value:
        if not isinstance(group, list) or not group:
            raise ActionError("every group of a partition names at least one node")
        groups.append([_node(n, cluster) for n in group])
    members = [n for g in groups for n in g]
    if len(members) != len(set(members)):
        raise ActionError("a node is in two groups")
    return groups


def _link(value: Any, cluster: Cluster) -> list[int]:
    if not isinstance(value, list) or len(value) != 2:
        raise ActionError("a link names two nodes")
    src, dst = (_node(n, cluster) for n in value)
    if src == dst:
        raise ActionError("a link joins two different nodes")
    return [src, dst]


def _flag(value: Any, cluster: Cluster) -> bool:
    if type(value) is not bool:
        raise ActionError(f"{value!r} is not true or false")
    return value


def _latency(value: Any, cluster: Cluster) -> int:
    if type(value) is not int or not 0 <= value <= MAX_LATENCY_MS:
        raise ActionError(f"latency {value!r} is not a whole number of ms in 0..{MAX_LATENCY_MS}")
    return value


def _probability(value: Any, cluster: Cluster) -> float:
    if type(value) not in (int, float) or not 0 <= value <= 1:
        raise ActionError(f"{value!r} is not a probability in 0..1")
    return float(value)


def _message_types(value: Any, cluster: Cluster) -> list[str]:
    if not isinstance(value, list):
        raise ActionError("message types must be a list")
    names = []
    for name in value:
        if not isinstance(name, str) or name not in cluster.message_types:
            known = ", ".join(sorted(set(cluster.message_types.values())))
            raise ActionError(f"{name!r} is not a message type here (known: {known})")
        names.append(cluster.message_types[name])
    return names


def _new_node(value: Any, cluster: Cluster) -> int:
    """A node to add: one of the cluster's, or a new one (the simulator checks which)."""
    if type(value) is not int or not 1 <= value <= MAX_NODES:
        raise ActionError(f"{value!r} is not a node id (1..{MAX_NODES})")
    return value


def _node_list(value: Any, cluster: Cluster) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ActionError("expected a list of nodes")
    nodes = [_node(n, cluster) for n in value]
    if len(set(nodes)) != len(nodes):
        raise ActionError("a node is listed twice")
    return nodes


def _maybe_node(value: Any, cluster: Cluster) -> int | None:
    return None if value is None else _node(value, cluster)


def _message_number(value: Any, cluster: Cluster) -> int:
    if type(value) is not int or value < 1:
        raise ActionError(f"{value!r} is not a message number")
    return value


def _time(value: Any, cluster: Cluster) -> int:
    if type(value) is not int or value < 0:
        raise ActionError(f"{value!r} is not a time in ms")
    return value


MAX_CLIENTS = 16
MAX_KEYS = 26
MAX_RATE = 100  # operations per second per client
DRIFT_BOUND = 1.05  # the fuzzer's clocks run at most this much fast or slow (leases rely on it)
WORD = re.compile(r"[!-~]{1,32}", re.ASCII)  # a key or value: printable, no blanks


def _bounded(what: str, low: int, high: int) -> Check:
    def check(value: Any, cluster: Cluster) -> int:
        if type(value) is not int or not low <= value <= high:
            raise ActionError(f"{what} {value!r} is not a whole number in {low}..{high}")
        return value

    return check


def _function(value: Any, cluster: Cluster) -> str:
    if value not in ARITY:
        raise ActionError(f"{value!r} is not a client operation (put, get, cas)")
    return value


def _word(value: Any, cluster: Cluster) -> str:
    if not isinstance(value, str) or not WORD.fullmatch(value):
        raise ActionError(f"{value!r} is not a key or value (1..32 printable characters)")
    return value


def _words(value: Any, cluster: Cluster) -> list[str]:
    if not isinstance(value, list) or len(value) > 2:
        raise ActionError("a client operation takes at most two values")
    return [_word(v, cluster) for v in value]


def _rate(value: Any, cluster: Cluster) -> float:
    if type(value) not in (int, float) or not 0.1 <= value <= 10:
        raise ActionError(f"clock rate {value!r} is not in 0.1..10")
    return float(value)


Check = Callable[[Any, Cluster], Any]
NETWORK_SETTINGS: dict[str, Check] = {
    "latency_min": _latency,
    "latency_max": _latency,
    "drop": _probability,
    "dup": _probability,
}
FILTER: dict[str, Check] = {"types": _message_types, "src": _maybe_node, "dst": _maybe_node}


# --- the table ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActionSpec:
    kind: str
    word: str  # the script command that takes it
    usage: str  # its script syntax, for docs and errors
    required: dict[str, Check]
    optional: dict[str, Check]
    describe: Callable[[dict], str]
    write: Callable[[dict], str]  # the script line for these (resolved) arguments
    read: Callable[[list[str], int], Action]  # script words after the command, node count
    fuzz_weight: float  # how often the fuzzer draws it, against the other kinds
    draw: Callable[[random.Random, list[int], int], dict] | None = None  # fuzzer's arguments
    known: dict[str, Check] = field(init=False, repr=False, compare=False)  # both, merged

    def __post_init__(self) -> None:
        # merged once: every action taken is checked, a client proposal every few steps
        object.__setattr__(self, "known", self.required | self.optional)

    def check(self, args: Any, cluster: Cluster) -> dict[str, Any]:
        """Canonical arguments, or ActionError naming what is wrong."""
        if not isinstance(args, dict):
            raise ActionError(f"{self.kind}: the arguments must be an object")
        known = self.known
        if not (args.keys() <= known.keys() and self.required.keys() <= args.keys()):
            unknown = sorted(set(args) - set(known))
            missing = sorted(set(self.required) - set(args))
            wrong = f"unknown {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
            raise ActionError(f"{self.kind}: {wrong} (expected '{self.usage}')")
        checked = {}
        for key, value in args.items():
            try:
                checked[key] = known[key](value, cluster)
            except ActionError as exc:
                raise ActionError(f"{self.kind} {key}: {exc}") from None
        return checked


def node_name(node_id: int) -> str:
    return f"n{node_id}"


# --- script syntax: reading ---------------------------------------------------------------------
class ScriptSyntaxError(ValueError):
    """A script line that does not read; the script parser adds FILE:LINE."""


def parse_duration(word: str) -> int:
    """`300ms`, `2s`, `1.5s` to whole milliseconds (ASCII digits only; at least 1 ms unless 0)."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s)", word, re.ASCII)
    if not match:
        raise ScriptSyntaxError(f"duration '{word}' should look like 300ms or 2s")
    ms = float(match[1]) * (1000 if match[2] == "s" else 1)
    if ms != int(ms):
        raise ScriptSyntaxError(f"duration {word} is not a whole number of milliseconds")
    if ms > MAX_DURATION_MS:
        raise ScriptSyntaxError(f"duration {word} is out of range (0ms..1h)")
    return int(ms)


MAX_DURATION_MS = 3_600_000


def read_node(word: str, nodes: int, allow_leader: bool = True) -> int | str:
    if word == LEADER and allow_leader:
        return LEADER
    match = NODE_WORD.fullmatch(word)
    if not match:
        raise ScriptSyntaxError(f"'{word}' is not a node (n1..n{nodes} or leader)")
    node = int(match[1])
    if not 1 <= node <= nodes:
        raise ScriptSyntaxError(f"node {word} is out of range (n1..n{nodes})")
    return node


def read_nodes(words: list[str], nodes: int) -> list[int | str]:
    if not words:
        raise ScriptSyntaxError("expected at least one node")
    found = [read_node(w, nodes) for w in words]
    if len(set(found)) != len(found):
        raise ScriptSyntaxError("a node is listed twice")
    return found


def _one(words: list[str], usage: str) -> str:
    if len(words) != 1:
        raise ScriptSyntaxError(f"expected '{usage}'")
    return words[0]


def read_link(words: list[str], nodes: int, usage: str) -> dict:
    """`NODE -> NODE` (one way) or `NODE <-> NODE` (both ways)."""
    if len(words) != 3 or words[1] not in ("->", "<->"):
        raise ScriptSyntaxError(f"expected '{usage}'")
    src, dst = read_node(words[0], nodes), read_node(words[2], nodes)
    if src == dst:
        raise ScriptSyntaxError("a link joins two different nodes")
    return {"link": [src, dst], "oneway": words[1] == "->"}


def read_filter(words: list[str], nodes: int) -> dict:
    """`[TYPE...] [from NODE] [to NODE]`; types are checked against the protocol later."""
    found: dict[str, Any] = {"types": [], "src": None, "dst": None}
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("from", "to"):
            if i + 1 == len(words):
                raise ScriptSyntaxError(f"'{word}' needs a node")
            key = "src" if word == "from" else "dst"
            if found[key] is not None:
                raise ScriptSyntaxError(f"'{word}' is given twice")
            found[key] = read_node(words[i + 1], nodes)
            i += 2
        elif found["src"] is None and found["dst"] is None:
            found["types"].append(word)
            i += 1
        else:
            raise ScriptSyntaxError(f"message types come before 'from' and 'to' ('{word}')")
    return found


def _read_settings(words: list[str]) -> dict:
    if not words:
        raise ScriptSyntaxError("expected network settings: latency=MIN..MAX drop=P dup=P")
    settings: dict[str, Any] = {}
    for word in words:
        key, _, value = word.partition("=")
        if key in settings or (key == "latency" and "latency_min" in settings):
            raise ScriptSyntaxError(f"'{key}' is given twice")
        if key == "latency":
            match = re.fullmatch(r"([0-9]+)\.\.([0-9]+)", value, re.ASCII)
            if not match or not int(match[1]) <= int(match[2]) <= MAX_LATENCY_MS:
                raise ScriptSyntaxError(
                    f"latency {value!r} should look like 5..20 (MIN <= MAX <= {MAX_LATENCY_MS} ms)"
                )
            settings["latency_min"], settings["latency_max"] = int(match[1]), int(match[2])
        elif key in ("drop", "dup"):
            if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value, re.ASCII) or float(value) > 1:
                raise ScriptSyntaxError(f"{key} '{value}' is not a probability in 0..1")
            settings[key] = float(value)
        else:
            raise ScriptSyntaxError(f"unknown network setting '{key}' (latency, drop, dup)")
    return settings


def _read_propose(words: list[str], nodes: int) -> Action:
    if len(words) == 1:
        return Action("propose", {"value": words[0], "node": LEADER_OR_FIRST})
    if len(words) == 3 and words[1] == "to":
        return Action("propose", {"value": words[0], "node": read_node(words[2], nodes)})
    raise ScriptSyntaxError(
        "expected 'propose VALUE [to NODE]' (quote values with spaces: \"a b\")"
    )


def _read_restart(words: list[str], nodes: int) -> Action:
    word = _one(words, "restart NODE|all")
    if word == "all":
        return Action("restart_all")
    return Action("restart", {"node": read_node(word, nodes, allow_leader=False)})


def _read_partition(words: list[str], nodes: int) -> Action:
    groups: list[list[str]] = [[]]
    for word in words:
        if word == "|":
            groups.append([])
        else:
            groups[-1].append(word)
    if any(not g for g in groups):
        raise ScriptSyntaxError("expected 'partition NODE... | NODE...' with no empty group")
    parsed = [read_nodes(g, nodes) for g in groups]
    flat = [n for g in parsed for n in g]
    if len(set(flat)) != len(flat):
        raise ScriptSyntaxError("a node is in two groups")
    return Action("partition", {"groups": parsed})


def _read_net(words: list[str], nodes: int) -> Action:
    if len(words) >= 3 and words[1] in ("->", "<->"):
        link = read_link(words[:3], nodes, "net NODE -> NODE SETTINGS")
        return Action("set_network", link | _read_settings(words[3:]))
    return Action("set_network", _read_settings(words))


def _read_message_op(kind: str) -> Callable[[list[str], int], Action]:
    def read(words: list[str], nodes: int) -> Action:
        if len(words) == 1 and re.fullmatch(r"#[0-9]+", words[0], re.ASCII):
            return Action(kind, {"seq": int(words[0][1:])})
        if not words:
            raise ScriptSyntaxError(f"expected '{kind} TYPE from NODE to NODE' or '{kind} #N'")
        return Action(kind, {"match": read_filter(words, nodes)})

    return read


def _read_node_op(kind: str) -> Callable[[list[str], int], Action]:
    def read(words: list[str], nodes: int) -> Action:
        return Action(kind, {"node": read_node(_one(words, f"{kind} NODE"), nodes)})

    return read


def _read_nothing(kind: str) -> Callable[[list[str], int], Action]:
    def read(words: list[str], nodes: int) -> Action:
        if words:
            raise ScriptSyntaxError(f"'{kind}' takes no arguments")
        return Action(kind)

    return read


def _read_membership(kind: str) -> Callable[[list[str], int], Action]:
    """`add NODE [via NODE]`, `remove NODE... [via NODE]`, `promote NODE... [via NODE]`: the
    change goes to the leader unless `via` names the node to ask."""

    def read(words: list[str], nodes: int) -> Action:
        via: int | str = LEADER_OR_FIRST
        if len(words) >= 2 and words[-2] == "via":
            via, words = read_node(words[-1], nodes), words[:-2]
        if kind == "add":
            word = _one(words, "add NODE [via NODE]")
            return Action(
                kind, {"node": read_node(word, MAX_NODES, allow_leader=False), "via": via}
            )
        return Action(kind, {"nodes": read_nodes(words, nodes), "via": via})

    return read


def _read_wait(words: list[str], nodes: int) -> Action:
    if len(words) != 2 or words[0] != "until":
        raise ScriptSyntaxError("expected 'wait until TIME'")
    return Action("wait", {"until": parse_duration(words[1])})


def _read_clients(words: list[str], nodes: int) -> Action:
    """`clients K [keys=N] [rate=R]`, or `clients off` (the same as `clients 0`)."""
    usage = "clients K [keys=N] [rate=OPS_PER_S] | clients off"
    if not words:
        raise ScriptSyntaxError(f"expected '{usage}'")
    if words == ["off"]:
        return Action("clients", {"count": 0})
    args: dict[str, Any] = {"count": _whole(words[0], "client count")}
    for word in words[1:]:
        key, _, value = word.partition("=")
        if key not in ("keys", "rate") or key in args:
            raise ScriptSyntaxError(f"expected '{usage}' ('{word}')")
        args[key] = _whole(value, key)
    return Action("clients", _script_checked(ACTIONS["clients"].check, args))


def _script_checked(check: Callable, *args: Any) -> Any:
    """Values a script line gives, checked as the action will check them."""
    try:
        return check(*args, None)
    except ActionError as exc:
        raise ScriptSyntaxError(str(exc)) from None


def _whole(word: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,6}", word, re.ASCII):
        raise ScriptSyntaxError(f"{what} '{word}' is not a whole number")
    return int(word)


def _read_client(words: list[str], nodes: int) -> Action:
    """`client 2 put x 1`, `client 1 get x`, `client 3 cas x 1 2`, each with `to NODE`."""
    usage = "client C put KEY VALUE | get KEY | cas KEY OLD NEW [to NODE]"
    args: dict[str, Any] = {}
    if len(words) >= 2 and words[-2] == "to":
        args["node"] = read_node(words[-1], nodes)
        words = words[:-2]
    if len(words) < 3 or words[1] not in ARITY or len(words) != 3 + ARITY[words[1]]:
        raise ScriptSyntaxError(f"expected '{usage}'")
    client = _whole(words[0], "client")
    return Action(
        "client", {"client": client, "f": words[1], "key": words[2]} | args | {"args": words[3:]}
    )


def _read_drift(words: list[str], nodes: int) -> Action:
    if len(words) != 2 or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", words[1], re.ASCII):
        raise ScriptSyntaxError("expected 'drift NODE RATE' (2 runs twice as fast, 1 exact)")
    rate = _script_checked(_rate, float(words[1]))
    return Action("drift", {"node": read_node(words[0], nodes), "rate": rate})


# --- script syntax: writing and describing ------------------------------------------------------
def _arrow(args: dict) -> str:
    src, dst = args["link"]
    return f"{node_name(src)} {'->' if args.get('oneway') else '<->'} {node_name(dst)}"


def describe_filter(args: dict) -> str:
    """`AppendEntries from n1 to n2`, or `every message` for an empty filter."""
    words = [" ".join(args.get("types") or []) or "every message"]
    words += _filter_ends(args)
    return " ".join(words)


def _filter_ends(args: dict) -> list[str]:
    words = []
    if args.get("src") is not None:
        words.append(f"from {node_name(args['src'])}")
    if args.get("dst") is not None:
        words.append(f"to {node_name(args['dst'])}")
    return words


def _write_filter(kind: str, args: dict) -> str:
    return " ".join([kind, *(args.get("types") or []), *_filter_ends(args)])


def _settings(args: dict) -> str:
    words = []
    if "latency_min" in args:
        words.append(f"latency={args['latency_min']}..{args['latency_max']}")
    words += [f"{k}={args[k]:g}" for k in ("drop", "dup") if k in args]
    return " ".join(words)


def _link_words(args: dict) -> str:
    return f"{_arrow(args)} " if "link" in args else ""


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- fuzzer draws -------------------------------------------------------------------------------
def _any_node(rng: random.Random, ids: list[int]) -> int | str:
    """Faults aimed at whoever leads when the op runs find leader-change bugs far sooner."""
    return LEADER_OR_FIRST if rng.random() < 0.4 else rng.choice(ids)


def _draw_propose(rng: random.Random, ids: list[int], k: int) -> dict:
    key = rng.randint(1, 4)
    value = rng.choice([f"set k{key} v{k}", f"del k{key}", f"data {k}"])
    return {"value": value, "node": _any_node(rng, ids)}


def _draw_restart(rng: random.Random, ids: list[int], k: int) -> dict:
    if rng.random() < 0.7:
        return {"node": DOWN, "pick": rng.randrange(64)}
    return {"node": rng.choice(ids)}


def _draw_partition(rng: random.Random, ids: list[int], k: int) -> dict:
    shuffled = rng.sample(ids, len(ids))
    cut = rng.randint(1, len(ids) - 1)
    return {"groups": [sorted(shuffled[:cut]), sorted(shuffled[cut:])]}


LATENCIES = [(5, 20), (20, 120), (50, 250)]


def _draw_network(rng: random.Random, ids: list[int], k: int) -> dict:
    low, high = rng.choice(LATENCIES)
    settings = {"latency_min": low, "latency_max": high}
    if rng.random() < 0.5:  # one link, one way: asymmetric delay and loss
        settings |= {"link": rng.sample(ids, 2), "oneway": True}
        settings["drop"] = round(rng.uniform(0, 0.6), 2)
    return settings


def _draw_cut(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"link": rng.sample(ids, 2), "oneway": rng.random() < 0.7}


def _draw_hold(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"types": [], "src": rng.choice(ids), "dst": None}


def _draw_release(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"types": [], "src": None, "dst": None}


def _draw_pick(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"pick": rng.randrange(1 << 16)}


def _draw_drift(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"node": rng.choice(ids), "rate": round(rng.uniform(1 / DRIFT_BOUND, DRIFT_BOUND), 3)}


def _describe_clients(args: dict) -> str:
    count = args["count"]
    if not count:
        return "clients stop"
    return f"{'1 client runs' if count == 1 else f'{count} clients run'} the workload"


def _write_clients(args: dict) -> str:
    if args["count"] == 0:
        return "clients off"
    extra = [f"{k}={args[k]}" for k in ("keys", "rate") if k in args]
    return " ".join(["clients", str(args["count"]), *extra])


def _write_client(args: dict) -> str:
    words = ["client", str(args["client"]), args["f"], args["key"], *args["args"]]
    if args.get("node") is not None:
        words += ["to", node_name(args["node"])]
    return " ".join(words)


def _draw_add(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"node": NEW, "via": LEADER_OR_FIRST}


def _draw_member(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"nodes": ANY, "pick": rng.randrange(64), "via": LEADER_OR_FIRST}


def _draw_node(rng: random.Random, ids: list[int], k: int) -> dict:
    return {"node": _any_node(rng, ids)}


# --- the table ----------------------------------------------------------------------------------
def _node_op(kind: str, verb: str, weight: float) -> ActionSpec:
    """An action on one node: crash, isolate, campaign."""
    return ActionSpec(
        kind,
        kind,
        f"{kind} NODE",
        {"node": _node},
        {},
        lambda a: f"{verb} {node_name(a['node'])}",
        lambda a: f"{kind} {node_name(a['node'])}",
        _read_node_op(kind),
        weight,
        _draw_node,
    )


def _message_op(kind: str, verb: str, weight: float) -> ActionSpec:
    """An action on one message in flight, named by its number."""
    return ActionSpec(
        kind,
        kind,
        f"{kind} TYPE from NODE to NODE | {kind} #NUMBER",
        {"seq": _message_number},
        {},
        lambda a: f"{verb} message #{a['seq']}",
        lambda a: f"{kind} #{a['seq']}",
        _read_message_op(kind),
        weight,
        _draw_pick,
    )


def _filter_op(kind: str, weight: float, draw: Callable) -> ActionSpec:
    """Hold or release the messages a filter matches."""
    return ActionSpec(
        kind,
        kind,
        f"{kind} [TYPE...] [from NODE] [to NODE]",
        FILTER,
        {},
        lambda a: f"{kind} {describe_filter(a)}",
        lambda a: _write_filter(kind, a),
        lambda words, nodes: Action(kind, read_filter(words, nodes)),
        weight,
        draw,
    )


def _simple(kind: str, weight: float) -> ActionSpec:
    """An action without arguments: heal, restart all."""
    word = "restart" if kind == "restart_all" else kind
    text = kind.replace("_", " ")
    return ActionSpec(
        kind,
        word,
        text,
        {},
        {},
        lambda a: text,
        lambda a: text,
        _read_restart if word == "restart" else _read_nothing(kind),
        weight,
        lambda rng, ids, k: {},
    )


def _membership_op(kind: str, weight: float, draw: Callable) -> ActionSpec:
    """A configuration change asked of a node (the leader): add a learner, promote, remove."""
    one = kind == "add"
    usage = f"{kind} NODE [via NODE]" if one else f"{kind} NODE... [via NODE]"

    def nodes(a: dict) -> str:
        return node_name(a["node"]) if one else node_names(a["nodes"])

    return ActionSpec(
        kind,
        kind,
        usage,
        {"node": _new_node, "via": _node} if one else {"nodes": _node_list, "via": _node},
        {},
        lambda a: f"ask {node_name(a['via'])} to {kind} {nodes(a)}",
        lambda a: f"{kind} {nodes(a)} via {node_name(a['via'])}",
        _read_membership(kind),
        weight,
        draw,
    )


def _spec_table() -> dict[str, ActionSpec]:
    specs = [
        ActionSpec(
            "propose",
            "propose",
            "propose VALUE [to NODE]",
            {"value": _text, "node": _node},
            {},
            lambda a: f"propose {a['value']!r} to {node_name(a['node'])}",
            lambda a: f"propose {_quote(a['value'])} to {node_name(a['node'])}",
            _read_propose,
            2.0,
            _draw_propose,
        ),
        _node_op("crash", "crash", 1.0),
        ActionSpec(
            "restart",
            "restart",
            "restart NODE|all",
            {"node": _node},
            {},
            lambda a: f"restart {node_name(a['node'])}",
            lambda a: f"restart {node_name(a['node'])}",
            _read_restart,
            1.0,
            _draw_restart,
        ),
        _simple("restart_all", 0.0),
        _node_op("isolate", "isolate", 0.3),
        _node_op("campaign", "campaign", 0.6),
        ActionSpec(
            "partition",
            "partition",
            "partition NODE... | NODE... [| NODE...]",
            {"groups": _groups},
            {},
            lambda a: "partition " + " | ".join(node_names(g) for g in a["groups"]),
            lambda a: "partition " + " | ".join(node_names(g) for g in a["groups"]),
            _read_partition,
            0.8,
            _draw_partition,
        ),
        _simple("heal", 0.5),
        ActionSpec(
            "cut",
            "cut",
            "cut NODE -> NODE | cut NODE <-> NODE",
            {"link": _link},
            {"oneway": _flag},
            lambda a: f"cut {_arrow(a)}",
            lambda a: f"cut {_arrow(a)}",
            lambda words, nodes: Action("cut", read_link(words, nodes, "cut NODE -> NODE")),
            0.4,
            _draw_cut,
        ),
        ActionSpec(
            "set_network",
            "net",
            "net [NODE ->|<-> NODE] latency=MIN..MAX drop=P dup=P",
            {},
            NETWORK_SETTINGS | {"link": _link, "oneway": _flag},
            lambda a: f"network {_link_words(a)}{_settings(a)}",
            lambda a: f"net {_link_words(a)}{_settings(a)}",
            _read_net,
            0.5,
            _draw_network,
        ),
        _filter_op("hold", 0.15, _draw_hold),
        _filter_op("release", 0.3, _draw_release),
        _message_op("deliver", "deliver now", 0.6),
        _message_op("drop", "drop", 0.3),
        _message_op("duplicate", "duplicate", 0.2),
        ActionSpec(
            "clients",
            "clients",
            "clients K [keys=N] [rate=OPS_PER_S] | clients off",
            {"count": _bounded("client count", 0, MAX_CLIENTS)},
            {"keys": _bounded("keys", 1, MAX_KEYS), "rate": _bounded("rate", 1, MAX_RATE)},
            _describe_clients,
            _write_clients,
            _read_clients,
            0.0,
        ),
        ActionSpec(
            "client",
            "client",
            "client C put KEY VALUE | get KEY | cas KEY OLD NEW [to NODE]",
            {
                "client": _bounded("client", 1, MAX_CLIENTS),
                "f": _function,
                "key": _word,
                "args": _words,
            },
            {"node": _node},
            lambda a: _write_client(a).replace("client", "client invokes", 1),
            _write_client,
            _read_client,
            0.0,
        ),
        ActionSpec(
            "drift",
            "drift",
            "drift NODE RATE",
            {"node": _node, "rate": _rate},
            {},
            lambda a: f"{node_name(a['node'])}'s clock runs at {a['rate']:g}x",
            lambda a: f"drift {node_name(a['node'])} {a['rate']:g}",
            _read_drift,
            0.2,
            _draw_drift,
        ),
        _membership_op("add", 0.25, _draw_add),
        _membership_op("promote", 0.4, _draw_member),
        _membership_op("remove", 0.2, _draw_member),
        ActionSpec(
            "wait",
            "wait",
            "wait until TIME",
            {"until": _time},
            {},
            lambda a: f"time passes until {a['until']} ms",
            lambda a: f"wait until {a['until']}ms",
            _read_wait,
            0.0,
        ),
    ]
    return {spec.kind: spec for spec in specs}


ACTIONS = _spec_table()
FUZZ_WEIGHTS = {kind: spec.fuzz_weight for kind, spec in ACTIONS.items() if spec.fuzz_weight}


def checked(action: Action, cluster: Cluster) -> Action:
    """The action with canonical arguments, or ActionError (a kind or argument that is wrong)."""
    spec = ACTIONS.get(action.kind)
    if spec is None:
        raise ActionError(f"unknown action {action.kind!r}")
    return Action(action.kind, spec.check(action.args, cluster))


def grown(cluster: Cluster, action: Action) -> Cluster:
    """The cluster after this action: `add` of the next new id adds a node."""
    node = action.args.get("node") if action.kind == "add" else None
    if node != len(cluster.node_ids) + 1 or node > MAX_NODES:
        return cluster
    return Cluster((*cluster.node_ids, node), cluster.message_types)


def filter_matches(filter_args: dict, src: int, dst: int, type_name: str) -> bool:
    """Whether a message from src to dst of this type passes a hold or pick filter."""
    types = filter_args.get("types")
    return (
        (not types or type_name in types)
        and filter_args.get("src") in (None, src)
        and filter_args.get("dst") in (None, dst)
    )


def filter_covers(outer: dict, inner: dict) -> bool:
    """Whether every message `inner` matches is matched by `outer` (release covers a hold)."""
    outer_types, inner_types = outer.get("types") or [], inner.get("types") or []
    return (
        (not outer_types or (inner_types and set(inner_types) <= set(outer_types)))
        and outer.get("src") in (None, inner.get("src"))
        and outer.get("dst") in (None, inner.get("dst"))
    )
