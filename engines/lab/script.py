"""Scenario scripts: a line-based language for experiments and their expected outcomes.

A script is parsed whole before anything runs, so a bad line is reported as `FILE:LINE: message`
and nothing happens. Header lines (algo, nodes, seed, protocol options and timing) come before
the rest. Actions are read with the syntax the action table defines (`engines/core/actions.py`);
the script adds waiting (`run`, `step`), expectations, marks and saving. A `## text` comment
is a caption: the run records it at the step it has reached there, so a lesson can say what to
watch at each moment (`caption_at`). The grammar is documented in docs/scenarios.md.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engines.core import protocols
from engines.core.actions import (
    ACTIONS,
    MAX_CLIENTS,
    MEMBERSHIP,
    Action,
    ActionError,
    Cluster,
    ScriptSyntaxError,
    describe_filter,
    filter_matches,
    parse_duration,
    read_filter,
    read_node,
    read_nodes,
)
from engines.core.sim import MAX_NODES, MIN_NODES, Simulator
from engines.lab import limits
from engines.lab.lincheck.search import Verdict
from engines.lab.workload import describe, linearizable
from engines.raft.config import matches, read_words

HEADER = {"algo", "nodes", "seed", "raft", "paxos", "bug", "lesson"}
COMMANDS = {"run", "step", "expect", "mark", "save"}  # besides the actions' own words
CAPTION = "##"  # a line that starts so is a caption, shown when the run reaches it
# A lesson's topic (`lesson TOPIC "summary"`), as the lesson picker heads it, in its order.
TOPICS = {
    "elections": "Elections",
    "replication": "Replication",
    "safety": "Safety",
    "reads": "Reads and clients",
    "paxos": "Paxos",
    "bugs": "Bug lab",
}
ACTION_WORDS = {spec.word: spec for spec in reversed(ACTIONS.values())}  # restart: NODE|all
DIGITS = tuple("0123456789")
PRESETS = Path(__file__).parent / "scenarios"  # the shipped scripts: PRESETS/<algo>/*.scn


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
    topic: str | None = None  # a lesson's topic, one of TOPICS
    summary: str = ""  # a lesson's one-line summary
    added: int = 0  # nodes the lines read so far add (`add n6`): later lines may name them

    @property
    def reach(self) -> int:
        """The highest node id a line may name: the header's nodes, and those added above."""
        return self.nodes + self.added

    def new_simulator(self) -> Simulator:
        return Simulator(self.algo, self.nodes, self.seed, self.config)

    @property
    def protocol(self) -> protocols.Protocol:
        return protocols.get(self.algo)


@dataclass
class Outcome:
    line: int
    text: str
    ok: bool
    observed: str
    expects_violation: bool = False


@dataclass(frozen=True)
class Caption:
    """A `## text` line of a script, and the step the run had reached when it got there."""

    step: int
    text: str


def caption_at(captions: list[Caption], step: int) -> Caption | None:
    """The caption current at `step`: the last one recorded at or before it."""
    at = bisect_right([c.step for c in captions], step)
    return captions[at - 1] if at else None


@dataclass
class ScriptResult:
    script: Script
    sim: Simulator
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None  # a run-time error that stopped the script, as FILE:LINE: message
    captions: list[Caption] = field(default_factory=list)  # in step order

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
        elif ch == "#" and not (tokens and text[i + 1 : i + 2] in DIGITS):
            break  # a comment; `#57` after a command is a message number
        elif ch == '"':
            word, i = _quoted(text, i + 1)
            tokens.append(word)
        else:
            j = i + 1
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
    try:
        limits.check_size(text, limits.MAX_INPUT_BYTES)
    except limits.LimitError as exc:
        raise ScriptError(str(path), 0, f"script too large: {exc}") from None
    return parse(text, str(path))


def parse(text: str, file: str = "<script>") -> Script:
    script = Script(file)
    started = False
    seen_header: set[str] = set()
    # Only "\n" ends a line (str.splitlines also splits at form feeds and U+2028, which
    # would put every later FILE:LINE off); "\r" before it is blank space to the tokenizer.
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        caption = raw.strip().removeprefix(CAPTION)
        if caption != raw.strip():
            script.commands.append(Command(number, CAPTION, [caption.strip()], raw.strip()))
            continue
        try:
            tokens = tokenize(raw)
            if not tokens:
                continue
            name, args = tokens[0], tokens[1:]
            if name in HEADER:
                if started:
                    raise ValueError(f"'{name}' must come before the first action")
                if name in seen_header and name not in ("raft", "paxos"):
                    raise ValueError(f"'{name}' is given twice")
                seen_header.add(name)
                _header(script, name, args)
            elif name in COMMANDS or name in ACTION_WORDS:
                started = started or name != "clients"  # a workload may start in the header
                script.commands.append(Command(number, name, args, raw.strip()))
            else:
                raise ValueError(f"unknown command '{name}'")
        except ValueError as exc:
            raise ScriptError(file, number, str(exc)) from None
    marks: set[str] = set()
    for command in script.commands:
        if command.name == CAPTION:
            continue  # its text is its argument
        try:
            command.args = _parse_command(script, command, marks)
        except ValueError as exc:
            raise ScriptError(file, command.line, str(exc)) from None
    _check_totals(script)
    return script


def _check_totals(script: Script) -> None:
    """The script's lines, steps and waits in all stay within the limits (engines/lab/limits)."""
    steps = waited = 0
    for count, command in enumerate(script.commands, start=1):
        if command.name == "step":
            steps += command.args[0]
        elif command.name == "run":
            waited += command.args[0]
        elif command.name == "expect":
            waited += command.args[0].within or 0
        try:
            limits.check_count("the number of commands", count, limits.MAX_COMMANDS)
            limits.check_count("the steps asked for in all", steps, limits.MAX_STEPS)
            limits.check_count("the time waited in all (ms)", waited, limits.MAX_SIM_MS)
        except limits.LimitError as exc:
            raise ScriptError(script.file, command.line, str(exc)) from None


def _header(script: Script, name: str, args: list[str]) -> None:
    if name == "algo":
        if script.config:
            raise ValueError("'algo' must come before 'bug' and protocol options")
        script.algo = _one(args, "algo raft|paxos")
        if script.algo not in protocols.ALGORITHMS:
            raise ValueError(f"unknown algorithm '{script.algo}' (choose raft or paxos)")
    elif name == "nodes":
        script.nodes = _int(_one(args, "nodes N"), "node count", MIN_NODES, MAX_NODES)
    elif name == "seed":
        script.seed = _int(_one(args, "seed N"), "seed", 0, 2**63)
    elif name == "bug":
        script.config["bug"] = _one(args, "bug NAME")
        protocols.check_config(script.algo, script.config)
    elif name == "lesson":
        _lesson(script, args)
    else:
        _option(script, name, args)


def _lesson(script: Script, args: list[str]) -> None:
    """`lesson TOPIC "summary"`: what the picker files the script under, and says of it."""
    if len(args) != 2 or not args[1].strip():
        raise ValueError(f"expected 'lesson {'|'.join(TOPICS)} \"one-line summary\"'")
    if args[0] not in TOPICS:
        raise ValueError(f"unknown lesson topic '{args[0]}' (choose {', '.join(TOPICS)})")
    script.topic, script.summary = args


def _option(script: Script, algo: str, args: list[str]) -> None:
    """`raft prevote on` (a toggle), or `raft election_timeout=150..300 heartbeat=50`."""
    if algo != script.algo:
        raise ValueError(f"'{algo}' options need 'algo {algo}' first")
    defaults = script.protocol.default_config
    if args and all("=" in word for word in args):
        settings = [_setting(script.protocol, word) for word in args]
    elif len(args) == 2 and args[1] in ("on", "off"):
        if not isinstance(defaults.get(args[0]), bool):
            known = ", ".join(k for k, v in defaults.items() if isinstance(v, bool)) or "none"
            raise ValueError(f"unknown {algo} option '{args[0]}' (known: {known})")
        settings = [{args[0]: args[1] == "on"}]
    else:
        raise ValueError(f"expected '{algo} OPTION on|off' or '{algo} SETTING=MS ...'")
    for setting in settings:
        if set(setting) & set(script.config):
            raise ValueError(f"'{algo} {', '.join(setting)}' is given twice")
        script.config |= setting
    protocols.check_config(algo, script.config)


def _setting(protocol: protocols.Protocol, word: str) -> dict[str, Any]:
    """`read=index` picks one of a text setting's values; anything else is a timing."""
    key, _, value = word.partition("=")
    if key in protocol.choices:
        return {key: value}  # check_config names the values allowed
    return _timing(protocol.name, protocol.default_config, word)


def _timing(algo: str, defaults: dict, word: str) -> dict[str, int]:
    """`heartbeat=50` sets one timing; `election_timeout=150..300` sets its _min and _max."""
    key, _, value = word.partition("=")
    low, dots, high = value.partition("..")
    names = {f"{key}_min": low, f"{key}_max": high} if dots else {key: value}
    if f"{key}_min" in defaults and not dots:
        raise ValueError(f"{algo} {key} is a range: {key}=MIN..MAX")
    if key in defaults and dots:
        raise ValueError(f"{algo} {key} is one number: {key}=MS")
    settings = {}
    for name, text in names.items():
        if name not in defaults or type(defaults[name]) is not int:
            known = _timing_names(defaults)
            raise ValueError(f"unknown {algo} timing '{key}' (known: {known})")
        settings[name] = _int(text, f"{algo} {key}", 1, 3_600_000)
    return settings


def _timing_names(defaults: dict) -> str:
    names = []
    for key, value in defaults.items():
        if type(value) is int and not key.endswith("_max"):
            names.append(key.removesuffix("_min") + ("=MIN..MAX" if key.endswith("_min") else ""))
    return ", ".join(names)


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1:
        raise ValueError(f"expected '{usage}'")
    return args[0]


def _int(word: str, what: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]+", word, re.ASCII):
        raise ValueError(f"{what} '{word}' is not a whole number")
    value = int(word)
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range {low}..{high}")
    return value


def _cluster(script: Script) -> Cluster:
    node_ids = tuple(range(1, script.reach + 1))
    return Cluster(node_ids, protocols.message_types(script.protocol))


def _parse_command(script: Script, command: Command, marks: set[str]) -> list[Any]:
    name, args = command.name, command.args
    if name == "run":
        return [parse_duration(_one(args, "run DURATION"))]
    if name == "step":
        if len(args) > 1:
            raise ValueError("expected 'step [N]'")
        return [_int(args[0], "step count", 1, limits.MAX_STEPS) if args else 1]
    if name == "save":
        return [_one(args, "save PATH")]
    if name == "mark":
        marks.add(_one(args, "mark NAME"))
        return [args[0]]
    if name == "expect":
        return [read_expectation(script, args, marks)]
    action = ACTION_WORDS[name].read(args, script.reach)
    if name in MEMBERSHIP and not script.protocol.membership:
        raise ValueError(f"{script.algo} has no membership changes ({name} is Raft's)")
    if action.kind == "add" and action.args["node"] > script.reach:
        if action.args["node"] != script.reach + 1:
            raise ValueError(f"the next new node is n{script.reach + 1} (ids are never reused)")
        script.added += 1
    return [_canonical_types(action, _cluster(script))]


def _canonical_types(action: Action, cluster: Cluster) -> Action:
    """Message type names (or short names) checked against the protocol, as full names."""
    args = dict(action.args)
    if "types" in args:
        args |= _checked_filter(args, cluster)
    if "match" in args:
        args["match"] = args["match"] | _checked_filter(args["match"], cluster)
    return Action(action.kind, args)


def _checked_filter(found: dict, cluster: Cluster) -> dict:
    try:
        types = ACTIONS["hold"].required["types"](found["types"], cluster)
    except ActionError as exc:
        raise ValueError(str(exc)) from None
    return {"types": types}


# --- expectations -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Count:
    """A number that must lie in low..high: `3`, `>=3`, `<= 3`, `2..4`."""

    low: int
    high: int | None  # None: no upper bound

    def holds(self, value: int) -> bool:
        return self.low <= value and (self.high is None or value <= self.high)

    def __str__(self) -> str:
        if self.high is None:
            return f">={self.low}"
        return str(self.low) if self.low == self.high else f"{self.low}..{self.high}"


def read_count(words: list[str], what: str) -> Count:
    text = "".join(words)
    match = re.fullmatch(r"(>=|<=)?([0-9]+)(?:\.\.([0-9]+))?", text, re.ASCII)
    if not match or (match[1] and match[3]):
        raise ValueError(f"{what} '{' '.join(words)}' should look like 3, >=3, <=3 or 2..4")
    number = int(match[2])
    if number > limits.MAX_STEPS or (match[3] and int(match[3]) > limits.MAX_STEPS):
        raise ValueError(f"{what} {text} is out of range")
    if match[1] == ">=":
        return Count(number, None)
    if match[1] == "<=":
        return Count(0, number)
    high = int(match[3]) if match[3] else number
    if high < number:
        raise ValueError(f"{what} range {text} is empty")
    return Count(number, high)


@dataclass
class Expectation:
    kind: str
    params: dict[str, Any]
    within: int | None = None  # ms: step until it holds, or fail at the deadline


def read_expectation(script: Script, args: list[str], marks: set[str]) -> Expectation:
    within = None
    if len(args) >= 2 and args[-2] == "within":
        within = parse_duration(args[-1])
        args = args[:-2]
    if not args:
        raise ValueError("expected 'expect leader|committed|chains|value|role|term|... '")
    kind, rest = args[0], args[1:]
    reader = EXPECTATION_READERS.get(kind)
    if reader is None:
        raise ValueError(f"cannot read 'expect {' '.join(args)}'")
    try:
        params = reader(script, rest, marks)
    except ScriptSyntaxError as exc:
        raise ValueError(str(exc)) from None
    if params is None:
        raise ValueError(f"cannot read 'expect {' '.join(args)}'")
    return Expectation(kind, params, within)


def _no_words(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    return {} if not rest else None


def _read_violation(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if len(rest) > 1:
        return None
    names = protocols.invariant_names(script.protocol)
    if rest and rest[0].lower() not in (n.lower() for n in names):
        raise ValueError(
            f"no {script.algo} invariant is called {rest[0]!r} (known: {', '.join(names)})"
        )
    return {"name": rest[0] if rest else None}


def _read_chains(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    return {} if rest == ["agree"] else None


def _read_terms(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    return {} if rest == ["agree"] else None


def _read_leader(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    among = None
    if "among" in rest:
        at = rest.index("among")
        among = read_nodes(rest[at + 1 :], script.reach)
        rest = rest[:at]
    if rest in (["any"], ["none"]):
        return {"mode": rest[0], "nodes": [], "among": among}
    if rest and rest[0] == "in":
        return {"mode": "in", "nodes": read_nodes(rest[1:], script.reach), "among": among}
    if len(rest) == 1:
        return {"mode": "in", "nodes": [read_node(rest[0], script.reach)], "among": among}
    return None


def _read_committed(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if "on" not in rest:
        return None
    at = rest.index("on")
    count, who = read_count(rest[:at], "block count"), rest[at + 1 :]
    if who in (["all"], ["majority"]):
        return {"count": count, "who": who[0]}
    if len(who) == 3 and who[:2] == ["at", "least"]:
        return {"count": count, "who": "at least", "k": _int(who[2], "K", 1, script.reach)}
    return {"count": count, "who": read_nodes(who, script.reach)}


def _read_value(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if len(rest) != 3:
        return None
    return {"node": read_node(rest[0], script.reach), "key": rest[1], "value": rest[2]}


def _read_role(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if len(rest) != 2:
        return None
    roles = (*script.protocol.roles, "crashed")
    if rest[1] not in roles:
        raise ValueError(f"role '{rest[1]}' is not one of {'|'.join(roles)}")
    return {"node": read_node(rest[0], script.reach), "role": rest[1]}


def _read_term(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if len(rest) < 2:
        return None
    return {"node": read_node(rest[0], script.reach), "count": read_count(rest[1:], "term")}


def _read_block(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if len(rest) != 3:
        return None
    index = _int(rest[1], "block index", 0, limits.MAX_STEPS)
    return {"node": read_node(rest[0], script.reach), "index": index, "value": rest[2]}


def _read_messages(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    if "since" not in rest or len(rest) < rest.index("since") + 3:
        raise ValueError("expected 'expect messages [TYPE...] [from NODE] [to NODE] since MARK N'")
    at = rest.index("since")
    mark = rest[at + 1]
    if mark not in marks:
        raise ValueError(f"no 'mark {mark}' comes before this line")
    found = read_filter(rest[:at], script.reach)
    found |= _checked_filter(found, _cluster(script))
    return {"filter": found, "mark": mark, "count": read_count(rest[at + 2 :], "message count")}


def _read_not(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    return {} if rest == ["linearizable"] else None


def _read_client(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    """`expect client C STATUS [VALUE]`: how the client's last operation ended."""
    if len(rest) not in (2, 3) or rest[1] not in CLIENT_STATUSES:
        return None
    client = _int(rest[0], "client", 1, MAX_CLIENTS)
    return {"client": client, "status": rest[1], "value": rest[2] if len(rest) == 3 else None}


CLIENT_STATUSES = ("ok", "fail", "unknown", "pending")


def _read_config(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    """`expect config NODE n1 n2 n3 [learners n4]`, joint as `n1 n2 n3 + n1 n2 n3 n4 n5`."""
    if not script.protocol.membership:
        raise ValueError(f"{script.algo} has no configurations (membership changes are Raft's)")
    if len(rest) < 2:
        return None
    wanted = read_words(rest[1:])
    if wanted is None or not wanted[0]:
        return None
    return {"node": read_node(rest[0], script.reach), "wanted": wanted}


def _read_time(script: Script, rest: list[str], marks: set[str]) -> dict | None:
    return {"ms": parse_duration(rest[0])} if len(rest) == 1 else None


EXPECTATION_READERS = {
    "safe": _no_words,
    "violation": _read_violation,
    "chains": _read_chains,
    "leader": _read_leader,
    "committed": _read_committed,
    "value": _read_value,
    "role": _read_role,
    "term": _read_term,
    "terms": _read_terms,
    "block": _read_block,
    "messages": _read_messages,
    "time": _read_time,
    "linearizable": _no_words,
    "not": _read_not,
    "client": _read_client,
    "config": _read_config,
}


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
        self.marks: dict[str, dict] = {}  # mark name -> messages sent when it was made

    def execute(self, command: Command) -> None:
        self.command = command
        if command.name == CAPTION:
            self.do_caption(*command.args)
        elif command.name in COMMANDS:
            getattr(self, f"do_{command.name}")(*command.args)
        else:
            self.do_action(*command.args)

    def node(self, ref: int | str) -> int:
        if ref != "leader":
            return ref
        leader = self.sim.leader()
        if leader is None:
            raise _Stop("'leader' used but no node leads now")
        return leader

    def do_action(self, action: Action) -> None:
        try:
            plain = self.sim.resolve(action)
            self.sim.act(plain)
        except ActionError as exc:
            raise _Stop(str(exc)) from None

    def out_of_steps(self) -> bool:
        return self.sim.step_count >= limits.MAX_STEPS

    def check_budget(self) -> None:
        if self.out_of_steps():
            raise _Stop(f"the script reached the limit of {limits.MAX_STEPS} steps")

    def do_run(self, ms: int) -> None:
        self.sim.run(ms, stop=self.out_of_steps)
        self.check_budget()

    def do_step(self, count: int) -> None:
        self.sim.run_until(self.out_of_steps, max_steps=count)
        self.check_budget()

    def do_caption(self, text: str) -> None:
        """Consecutive caption lines (nothing happened between them) make one caption."""
        captions, step = self.result.captions, self.sim.step_count
        if captions and captions[-1].step == step:
            text = f"{captions[-1].text} {text}".strip()
            captions.pop()
        captions.append(Caption(step, text))

    def do_mark(self, name: str) -> None:
        self.marks[name] = self.sim.messages_sent()

    def do_save(self, path: str) -> None:
        from engines.lab.trace import TraceError, save_trace

        try:
            save_trace(self.sim, path)
        except TraceError as exc:
            raise _Stop(str(exc)) from None

    def do_expect(self, expectation: Expectation) -> None:
        check = getattr(self, f"expect_{expectation.kind}")
        params = expectation.params
        if expectation.within is not None:
            deadline = self.sim.now + expectation.within
            self.sim.run_until(
                lambda: check(**params)[0] or self.out_of_steps(), time_limit=deadline
            )
            if not check(**params)[0] and self.sim.now < deadline:
                self.sim.run(deadline - self.sim.now, stop=self.out_of_steps)
            self.check_budget()
        ok, observed = check(**params)
        if expectation.within is not None and not ok:
            observed = f"by {self.sim.now} ms still {observed}"
        kind = expectation.kind
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

    def expect_leader(self, mode: str, nodes: list, among: list | None) -> tuple[bool, str]:
        scope = None if among is None else [self.node(n) for n in among]
        leader = self.sim.leader(scope)
        observed = f"leader is n{leader}" if leader else "no leader"
        if among is not None:
            observed += " among " + " ".join(f"n{n}" for n in scope)
        if mode == "any":
            return leader is not None, observed
        if mode == "none":
            return leader is None, observed
        return leader in [self.node(n) for n in nodes], observed

    def expect_committed(self, count: Count, who: Any, k: int = 0) -> tuple[bool, str]:
        heights = {i: self.sim.height(i) for i in self.sim.node_ids}
        holds = {i: count.holds(h or 0) for i, h in heights.items()}
        if who == "all":
            ok = all(holds.values())
        elif who == "majority":
            ok = sum(holds.values()) > len(heights) // 2
        elif who == "at least":
            ok = sum(holds.values()) >= k
        else:
            ok = all(holds[self.node(n)] for n in who)
        shown = " ".join(f"n{i}:{'down' if h is None else h}" for i, h in heights.items())
        return ok, f"committed {shown}"

    def expect_value(self, node: int | str, key: str, value: str) -> tuple[bool, str]:
        node = self.node(node)
        sm = self.sim.state_machine(node)
        if sm is None:
            return False, f"n{node} is down"
        actual = sm.kv.get(key)
        shown = "missing" if actual is None else repr(actual)
        return (actual is None if value == "missing" else actual == value), f"n{node} {key}={shown}"

    def expect_role(self, node: int | str, role: str) -> tuple[bool, str]:
        node = self.node(node)
        live = self.sim.nodes.get(node)
        actual = live.role_name() if live else "crashed"
        return actual == role, f"n{node} is {actual}"

    def expect_term(self, node: int | str, count: Count) -> tuple[bool, str]:
        node = self.node(node)
        live = self.sim.nodes.get(node)
        if live is None:
            return False, f"n{node} is down"
        return count.holds(live.term), f"n{node} is in term {live.term}"

    def expect_terms(self) -> tuple[bool, str]:
        terms = {i: n.term for i, n in sorted(self.sim.nodes.items())}
        shown = " ".join(f"n{i}:{t}" for i, t in terms.items())
        return len(set(terms.values())) <= 1, f"terms {shown}"

    def expect_block(self, node: int | str, index: int, value: str) -> tuple[bool, str]:
        node = self.node(node)
        sm = self.sim.state_machine(node)
        if sm is None:
            return False, f"n{node} is down"
        if index >= len(sm.chain):
            return False, f"n{node} has no block {index} (height {sm.height})"
        data = sm.chain[index].data
        return data == value, f"block {index} of n{node} holds {data!r}"

    def expect_messages(self, filter: dict, mark: str, count: Count) -> tuple[bool, str]:
        filter = {k: self.node(v) if k in ("src", "dst") and v else v for k, v in filter.items()}
        before, now = self.marks[mark], self.sim.messages_sent()
        sent = sum(
            n - before.get(key, 0)
            for key, n in now.items()
            if filter_matches(filter, key[1], key[2], key[0])
        )
        return count.holds(sent), f"{sent} {describe_filter(filter)} sent since mark {mark}"

    def expect_linearizable(self) -> tuple[bool, str]:
        """The clients' history so far, judged by the checker (engines/lab/lincheck)."""
        result = linearizable(self.sim)
        if result.blocked is None:
            return result.verdict is Verdict.LINEARIZABLE, f"{result.verdict} history"
        return False, f"not linearizable: {describe(self.sim, result.blocked)} cannot be placed"

    def expect_client(self, client: int, status: str, value: str | None) -> tuple[bool, str]:
        records = [r for r in self.sim.world.clients.records if r.command.client == client]
        if not records:
            return False, f"client {client} has invoked nothing"
        last = records[-1]
        ended = last.status or "pending"
        observed = f"client {client}'s {last.command.text()} is {ended}"
        if last.command.f == "get" and last.status == "ok":
            observed += f", returned {last.value!r}"
        returned = value is None or (last.value or "missing") == value
        return ended == status and returned, observed

    def expect_not(self) -> tuple[bool, str]:
        ok, observed = self.expect_linearizable()
        return not ok, observed

    def expect_config(self, node: int | str, wanted: tuple) -> tuple[bool, str]:
        node = self.node(node)
        live = self.sim.nodes.get(node)
        if live is None:
            return False, f"n{node} is down"
        config = live.configuration
        return matches(config, wanted), f"n{node}'s configuration is {config.words()}"

    def expect_time(self, ms: int) -> tuple[bool, str]:
        return self.sim.now == ms, f"the clock reads {self.sim.now} ms"
