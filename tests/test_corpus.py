"""A seeded corpus of malformed scripts, traces and keymaps, made by mutating valid ones.

Every case must end in the loader's own one-line error (or run), never a traceback; limits,
lowered here, bound how long any case can run. Where the problem has a line, the message
names it as FILE:LINE.
"""

import json
import random
import re
from pathlib import Path

import pytest

from engines.core.sim import Simulator
from engines.lab import limits
from engines.lab.script import PRESETS, ScriptError, parse, run
from engines.lab.trace import TraceError, read_trace, trace_dict
from tui.keymap import KeymapError, load_keymap

CASES = 300
HOSTILE = [
    "\x00", "\x1b", "\x1b]0;x\x07", "\x0c", "\x0b", "\u2028", "\ufeff", "٣", "２", '"', "\\",
    "#", "|", "=", "..", "[", "{", "]", "}", "\t", "\r", "é", "-1", "0", "1e9", "99999999999",
    "9" * 30, ".5", "ms", "s", "leader", "all", "n0", "n10", " ",
]  # fmt: skip
WORDS = [
    "run 10ms", "run 3600s", "step 999999", "step 0", "crash n1", "restart all", "heal",
    "partition n1 | n2 n3", "partition |", "expect violation Nope", "expect safe",
    "expect leader any within 1s", "mark m", "expect messages since m 3", "nodes 3",
    "algo paxos", "seed 5", "bug figure8", "raft election_timeout=300..150", 'propose "set a 1"',
    "hold AppendEntries", "release", "deliver #3", "drop #99", "save", "set_network drop=2",
]  # fmt: skip


def mutate_text(rng: random.Random, text: str, words: list[str]) -> str:
    for _ in range(rng.randint(1, 3)):
        lines = text.split("\n")
        at = rng.randrange(len(lines))
        choice = rng.randrange(6)
        if choice == 0 and text:  # drop or replace a character
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice(["", *HOSTILE]) + text[i + 1 :]
        elif choice == 1:  # insert something hostile
            i = rng.randrange(len(text) + 1)
            text = text[:i] + rng.choice(HOSTILE) + text[i:]
        elif choice == 2:  # a line repeated, or dropped
            lines[at : at + 1] = [lines[at]] * rng.choice([0, 2, 3])
            text = "\n".join(lines)
        elif choice == 3:  # a line of the language, in the wrong place
            lines.insert(at, rng.choice(words))
            text = "\n".join(lines)
        elif choice == 4:  # a number swapped for a hostile one
            text = re.sub(r"[0-9]+", rng.choice(HOSTILE[-12:]), text, count=1)
        else:  # cut short
            text = text[: rng.randrange(len(text) + 1)]
    return text


def has_line(message: str, file: str) -> bool:
    return bool(re.match(rf"{re.escape(file)}:[0-9]+: ", message))


@pytest.fixture
def small_limits(monkeypatch):
    monkeypatch.setattr(limits, "MAX_STEPS", 1_000)
    monkeypatch.setattr(limits, "MAX_SIM_MS", 20_000)


def test_malformed_scripts(small_limits):
    bases = [p.read_text() for p in sorted(PRESETS.glob("*/*.scn"))]
    rng = random.Random("corpus/scripts")
    for case in range(CASES):
        text = mutate_text(rng, rng.choice(bases), WORDS)
        file = f"case{case}.scn"
        try:
            result = run(parse(text, file))
        except ScriptError as exc:
            assert exc.line >= 1 and has_line(str(exc), file), (case, text, exc)
            assert "\n" not in str(exc), case
            continue
        assert result.sim.step_count <= limits.MAX_STEPS + 1, case
        if result.error:
            assert has_line(result.error, file) and "\n" not in result.error, case


def base_traces() -> list[dict]:
    traces = []
    for algo, seed in (("raft", 1), ("paxos", 2)):
        sim = Simulator(algo, 3, seed)
        sim.run(300)
        sim.propose("set a 1", 1)
        sim.partition([[1], [2, 3]])
        sim.run(100)
        sim.crash(2)
        sim.heal()
        sim.run(100)
        traces.append(trace_dict(sim))
    return traces


def hostile_value(rng: random.Random):
    deep = "x"
    for _ in range(rng.randint(1, 40)):
        deep = [deep]
    return rng.choice(
        [None, -1, 0, 1.0, 1e308, True, "", "x" * 1000, [], {}, [[]], 10**30, 2**63, deep]
    )


def mutate_trace(rng: random.Random, data: dict) -> str:
    data = json.loads(json.dumps(data))
    for _ in range(rng.randint(1, 3)):
        target = data
        if isinstance(data.get("actions"), list) and data["actions"] and rng.random() < 0.5:
            target = rng.choice(data["actions"])
            if not isinstance(target, dict):
                break
            if rng.random() < 0.5 and isinstance(target.get("args"), dict) and target["args"]:
                target = target["args"]
        key = rng.choice([*target, "extra"])
        if rng.random() < 0.2:
            target.pop(key, None)
        else:
            target[key] = hostile_value(rng)
    text = json.dumps(data, indent=1)
    return mutate_text(rng, text, ['"step": 1', "{", "]"]) if rng.random() < 0.3 else text


def test_malformed_traces(small_limits, tmp_path):
    bases = base_traces()
    rng = random.Random("corpus/traces")
    for case in range(CASES):
        text = mutate_trace(rng, rng.choice(bases))
        path = tmp_path / f"case{case}.json"
        path.write_text(text, encoding="utf-8")
        try:
            sim, _ = read_trace(path)
        except TraceError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message, (case, message)
            if "JSON" in message or "nested" in message:
                assert has_line(message, str(path)), (case, message)
            continue
        assert sim.step_count <= limits.MAX_STEPS, case


def test_malformed_keymaps(tmp_path):
    keymaps = Path(__file__).parent.parent / "keymaps"
    bases = [p.read_text() for p in sorted(keymaps.glob("*.toml"))]
    words = ['nope = "x"', "[sim]", "[zzz]", 'step = "ctrl+"', 'sim.step = "a"', "quit = 3"]
    words += ["a = " + "[" * 30 + "]" * 30, ".".join("k" * 40) + " = 1", 'play = ["n"]']
    rng = random.Random("corpus/keymaps")
    for case in range(CASES):
        text = mutate_text(rng, rng.choice(bases), words)
        path = tmp_path / f"case{case}.toml"
        path.write_text(text, encoding="utf-8")
        try:
            load_keymap(path)
        except KeymapError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message, (case, message)
            if "unknown binding id" in message or "invalid TOML" in message:
                assert has_line(message, str(path)), (case, message)
