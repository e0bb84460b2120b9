"""Scenario scripts: a line-based language for experiments and their expected outcomes.

A script is parsed whole before anything runs, so a bad line is reported as `FILE:LINE: message`
and nothing happens. Header lines (algo, nodes, seed, protocol options) come before actions.
The vocabulary is documented in docs/scenarios.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.core import protocols
from engines.core.network import MAX_LATENCY_MS
from engines.core.sim import Simulator

HEADER = {"algo", "nodes", "seed", "raft", "paxos", "bug"}
ACTIONS = {
    "net",
    "run",
    "step",
    "propose",
    "crash",
    "restart",
    "partition",
    "isolate",
    "heal",
    "campaign",
    "expect",
    "save",
}
PRESETS = Path(__file__).parent / "scenarios"  # the shipped scripts: PRESETS/<algo>/*.scn
MAX_RUN_MS = 3_600_000
MAX_STEPS = 10_000_000
NODE_RE = re.compile(r"n(\d+)$")


class ScriptError(Exception):
    """A script that cannot run: str() is `FILE:LINE: message`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")
        self.file, self.line, self.message = file, line, message


@dataclass
class Command:
    line: int
    name: str
    args: list[Any]
    text: str


@dataclass
class Script:
    file: str
    algo: str = "raft"
    nodes: int = 5
    seed: int = 1
    config: dict[str, Any] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)

    def new_simulator(self) -> Simulator:
        return Simulator(self.algo, self.nodes, self.seed, self.config)


@dataclass
class Outcome:
    line: int
    text: str
    ok: bool
    observed: str
    expects_violation: bool = False


@dataclass
class ScriptResult:
    script: Script
    sim: Simulator
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # a run-time error that stopped the script, as FILE:LINE: message

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def ok(self) -> bool:
        """Every expectation held, and any invariant violation was one the script expected."""
        expected_violation = any(o.expects_violation and o.ok for o in self.outcomes)
        safe = self.sim.violation is None or expected_violation
        return not self.failures and self.error is None and safe


# --- tokenizing -----------------------------------------------------------------------------
def tokenize(text: str) -> list[str]:
    """Split on blanks; double quotes group (\\" and \\\\ escape inside); # starts a comment."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            break
        elif ch == '"':
            word, i = _quoted(text, i + 1)
            tokens.append(word)
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '"#':
                j += 1
            tokens.append(text[i:j])
            i = j
    return tokens


def _quoted(text: str, i: int) -> tuple[str, int]:
    out = []
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in '"\\':
            i += 1
            ch = text[i]
        out.append(ch)
        i += 1
    raise ValueError("unterminated quote")


# --- parsing --------------------------------------------------------------------------------
def parse_file(path: str | Path) -> Script:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(str(path), 0, f"cannot read script: {exc}") from None
    return parse(text, str(path))


def parse(text: str, file: str = "<script>") -> Script:
    script = Script(file)
    started = False
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            tokens = tokenize(raw)
        except ValueError as exc:
            raise ScriptError(file, number, str(exc)) from None
        if not tokens:
            continue
        name, args = tokens[0], tokens[1:]
        try:
            if name in HEADER:
                if started:
                    raise ValueError(f"'{name}' must come before the first action")
                _header(script, name, args)
            elif name in ACTIONS:
                started = True
                script.commands.append(Command(number, name, args, raw.strip()))
            else:
                raise ValueError(f"unknown command '{name}'")
        except ValueError as exc:
            raise ScriptError(file, number, str(exc)) from None
    for command in script.commands:
        try:
            command.args = _parse_args(script, command.name, command.args)
        except ValueError as exc:
            raise ScriptError(file, command.line, str(exc)) from None
    return script


def _header(script: Script, name: str, args: list[str]) -> None:
    if name == "algo":
        if script.config:
            raise ValueError("'algo' must come before 'bug' and protocol options")
        script.algo = _one(args, "algo raft|paxos")
        if script.algo not in protocols.ALGORITHMS:
            raise ValueError(f"unknown algorithm '{script.algo}' (choose raft or paxos)")
    elif name == "nodes":
        script.nodes = _int(_one(args, "nodes N"), "node count", 3, 9)
    elif name == "seed":
        script.seed = _int(_one(args, "seed N"), "seed", 0, 2**63)
    elif name == "bug":
        script.config["bug"] = _bug(script.algo, _one(args, "bug NAME"))
    else:
        _option(script, name, args)


def _option(script: Script, algo: str, args: list[str]) -> None:
    if algo != script.algo:
        raise ValueError(f"'{algo}' options need 'algo {algo}' first")
    if len(args) != 2 or args[1] not in ("on", "off"):
        raise ValueError(f"expected '{algo} OPTION on|off'")
    defaults = protocols.get(algo).default_config
    if not isinstance(defaults.get(args[0]), bool):
        known = ", ".join(k for k, v in defaults.items() if isinstance(v, bool)) or "none"
        raise ValueError(f"unknown {algo} option '{args[0]}' (known: {known})")
    script.config[args[0]] = args[1] == "on"


def _bug(algo: str, name: str) -> str:
    protocols.check_config(algo, {"bug": name})
    return name


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise ValueError(f"expected '{usage}'")
    return args[0]


def _int(word: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"\d+", word):
        raise ValueError(f"{what} '{word}' is not a whole number")
    value = int(word)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range {low}..{high}")
    return value


def parse_duration(word: str) -> int:
    """`300ms`, `2s`, `1.5s` to milliseconds."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s)", word)
    if not match:
        raise ValueError(f"duration '{word}' should look like 300ms or 2s")
    ms = float(match[1]) * (1000 if match[2] == "s" else 1)
    if not 0 < ms <= MAX_RUN_MS:
        raise ValueError(f"duration {word} is out of range (1ms..1h)")
    return int(ms)


def _node(script: Script, word: str, allow_leader: bool = True) -> int | str:
    if word == "leader" and allow_leader:
        return "leader"
    match = NODE_RE.match(word)
    if not match:
        raise ValueError(f"'{word}' is not a node (n1..n{script.nodes} or leader)")
    node = int(match[1])
    if not 1 <= node <= script.nodes:
        raise ValueError(f"node {word} is out of range (n1..n{script.nodes})")
    return node


def _nodes(script: Script, words: list[str]) -> list[int | str]:
    if not words:
        raise ValueError("expected at least one node")
    nodes = [_node(script, w) for w in words]
    if len(set(nodes)) != len(nodes):
        raise ValueError("a node is listed twice")
    return nodes


def _parse_args(script: Script, name: str, args: list[str]) -> list[Any]:
    parser = globals()[f"_args_{name}"]
    return parser(script, args)


def _args_net(script: Script, args: list[str]) -> list[Any]:
    if not args:
        raise ValueError("expected 'net latency=MIN..MAX drop=P dup=P'")
    settings: dict[str, Any] = {}
    for word in args:
        key, _, value = word.partition("=")
        if key == "latency":
            match = re.fullmatch(r"(\d+)\.\.(\d+)", value)
            if not match or not int(match[1]) <= int(match[2]) <= MAX_LATENCY_MS:
                raise ValueError(
                    f"latency {value!r} should look like 5..20 (MIN <= MAX <= {MAX_LATENCY_MS} ms)"
                )
            settings["latency_min"], settings["latency_max"] = int(match[1]), int(match[2])
        elif key in ("drop", "dup"):
            try:
                p = float(value)
            except ValueError:
                raise ValueError(f"{key} '{value}' is not a number") from None
            if not 0 <= p <= 1:
                raise ValueError(f"{key} {value} is out of range 0..1")
            settings[key] = p
        else:
            raise ValueError(f"unknown network setting '{key}' (latency, drop, dup)")
    return [settings]


def _args_run(script: Script, args: list[str]) -> list[Any]:
    return [parse_duration(_one(args, "run DURATION"))]


def _args_step(script: Script, args: list[str]) -> list[Any]:
    if len(args) > 1:
        raise ValueError("expected 'step [N]'")
    return [_int(args[0], "step count", 1, MAX_STEPS) if args else 1]


def _args_propose(script: Script, args: list[str]) -> list[Any]:
    if len(args) == 1:
        return [args[0], None]
    if len(args) == 3 and args[1] == "to":
        return [args[0], _node(script, args[2])]
    raise ValueError("expected 'propose VALUE [to NODE]' (quote values with spaces: \"a b\")")


def _args_crash(script: Script, args: list[str]) -> list[Any]:
    return [_node(script, _one(args, "crash NODE"))]


def _args_restart(script: Script, args: list[str]) -> list[Any]:
    word = _one(args, "restart NODE|all")
    return ["all"] if word == "all" else [_node(script, word, allow_leader=False)]


def _args_isolate(script: Script, args: list[str]) -> list[Any]:
    return [_node(script, _one(args, "isolate NODE"))]


def _args_campaign(script: Script, args: list[str]) -> list[Any]:
    return [_node(script, _one(args, "campaign NODE"))]


def _args_heal(script: Script, args: list[str]) -> list[Any]:
    if args:
        raise ValueError("'heal' takes no arguments")
    return []


def _args_partition(script: Script, args: list[str]) -> list[Any]:
    groups: list[list[str]] = [[]]
    for word in args:
        if word == "|":
            groups.append([])
        else:
            groups[-1].append(word)
    if any(not g for g in groups):
        raise ValueError("expected 'partition NODE... | NODE...' with no empty group")
    parsed = [_nodes(script, g) for g in groups]
    flat = [n for g in parsed for n in g]
    if len(set(flat)) != len(flat):
        raise ValueError("a node is in two groups")
    return parsed


def _args_save(script: Script, args: list[str]) -> list[Any]:
    return [_one(args, "save PATH")]


def _args_expect(script: Script, args: list[str]) -> list[Any]:
    if not args:
        raise ValueError("expected 'expect leader|committed|chains|value|safe ...'")
    kind, rest = args[0], args[1:]
    if kind == "safe" and not rest:
        return ["safe"]
    if kind == "violation" and len(rest) <= 1:
        return ["violation", rest[0] if rest else None]
    if kind == "chains" and rest == ["agree"]:
        return ["chains"]
    if kind == "leader" and rest:
        if rest in (["any"], ["none"]):
            return ["leader", rest[0], []]
        if rest[0] == "in":
            return ["leader", "in", _nodes(script, rest[1:])]
        return ["leader", "is", [_node(script, _one(rest, "expect leader NODE"))]]
    if kind == "committed" and len(rest) >= 3 and rest[1] == "on":
        at_least = rest[0].startswith(">=")
        count = _int(rest[0].removeprefix(">="), "block count", 0, MAX_STEPS)
        who = rest[2:]
        target = who[0] if who in (["all"], ["majority"]) else _nodes(script, who)
        return ["committed", at_least, count, target]
    if kind == "value" and len(rest) == 3:
        return ["value", _node(script, rest[0]), rest[1], rest[2]]
    raise ValueError(f"cannot read 'expect {' '.join(args)}'")


# --- running --------------------------------------------------------------------------------
class _Stop(Exception):
    pass


def run_file(path: str | Path) -> ScriptResult:
    """Parse and run a script file. Raises ScriptError for a bad script (nothing runs)."""
    return run(parse_file(path))


def run(script: Script) -> ScriptResult:
    result = ScriptResult(script, script.new_simulator())
    runner = _Runner(result)
    for command in script.commands:
        try:
            runner.execute(command)
        except _Stop as stop:
            result.error = f"{script.file}:{command.line}: {stop}"
            break
    return result


class _Runner:
    def __init__(self, result: ScriptResult) -> None:
        self.result = result
        self.sim = result.sim

    def execute(self, command: Command) -> None:
        self.command = command
        getattr(self, f"do_{command.name}")(*command.args)

    def node(self, ref: int | str) -> int:
        if ref != "leader":
            return ref
        leader = self.sim.leader()
        if leader is None:
            raise _Stop("'leader' used but no node leads now")
        return leader

    def do_net(self, settings: dict) -> None:
        self.sim.set_network(**settings)

    def do_run(self, ms: int) -> None:
        self.sim.run(ms)

    def do_step(self, count: int) -> None:
        self.sim.run_until(lambda: False, max_steps=count)

    def do_propose(self, value: str, ref: int | str | None) -> None:
        target = self.node(ref) if ref is not None else (self.sim.leader() or 1)
        self.sim.propose(value, target)

    def do_crash(self, ref: int | str) -> None:
        self.sim.crash(self.node(ref))

    def do_restart(self, ref: int | str) -> None:
        if ref == "all":
            self.sim.restart_all()
        else:
            self.sim.restart(ref)

    def do_isolate(self, ref: int | str) -> None:
        self.sim.isolate(self.node(ref))

    def do_campaign(self, ref: int | str) -> None:
        self.sim.campaign(self.node(ref))

    def do_heal(self) -> None:
        self.sim.heal()

    def do_partition(self, *groups: list) -> None:
        self.sim.partition([[self.node(n) for n in g] for g in groups])

    def do_save(self, path: str) -> None:
        from engines.lab.trace import save_trace

        try:
            save_trace(self.sim, path)
        except OSError as exc:
            raise _Stop(f"cannot save trace to {path}: {exc.strerror}") from None

    def do_expect(self, kind: str, *args: Any) -> None:
        ok, observed = getattr(self, f"expect_{kind}")(*args)
        outcome = Outcome(self.command.line, self.command.text, ok, observed, kind == "violation")
        self.result.outcomes.append(outcome)

    # Each expectation returns (held, what was observed).
    def expect_safe(self) -> tuple[bool, str]:
        v = self.sim.violation
        return v is None, "no invariant violated" if v is None else str(v)

    def expect_violation(self, name: str | None) -> tuple[bool, str]:
        """For the bug lab: the named invariant (any, without a name) has been violated."""
        v = self.sim.violation
        if v is None:
            return False, "no invariant violated"
        return name is None or v.invariant.lower() == name.lower(), str(v)

    def expect_chains(self) -> tuple[bool, str]:
        chains = {i: self.sim.nodes[i].sm.chain for i in sorted(self.sim.nodes)}
        if not chains:
            return True, "no live node holds a chain"
        longest = max(chains.values(), key=len)
        bad = [i for i, c in chains.items() if longest[len(c) - 1].hash != c[-1].hash]
        heights = " ".join(f"n{i}:{len(c) - 1}" for i, c in chains.items())
        if bad:
            return False, f"chains of {', '.join(f'n{i}' for i in bad)} diverge ({heights})"
        return True, f"chains agree ({heights})"

    def expect_leader(self, mode: str, nodes: list) -> tuple[bool, str]:
        leader = self.sim.leader()
        observed = f"leader is n{leader}" if leader else "no leader"
        if mode == "any":
            return leader is not None, observed
        if mode == "none":
            return leader is None, observed
        return leader in [self.node(n) for n in nodes], observed

    def expect_committed(self, at_least: bool, count: int, target: Any) -> tuple[bool, str]:
        heights = {i: self.sim.height(i) for i in self.sim.node_ids}
        holds = {
            i: (h or 0) >= count if at_least else (h or 0) == count for i, h in heights.items()
        }
        if target == "all":
            ok = all(holds.values())
        elif target == "majority":
            ok = sum(holds.values()) > len(heights) // 2
        else:
            ok = all(holds[self.node(n)] for n in target)
        shown = " ".join(f"n{i}:{'down' if h is None else h}" for i, h in heights.items())
        return ok, f"committed {shown}"

    def expect_value(self, ref: int | str, key: str, value: str) -> tuple[bool, str]:
        node = self.node(ref)
        sm = self.sim.state_machine(node)
        if sm is None:
            return False, f"n{node} is down"
        actual = sm.kv.get(key)
        shown = "missing" if actual is None else repr(actual)
        return (actual is None if value == "missing" else actual == value), f"n{node} {key}={shown}"
