"""Traces replay to the same digest; damaged files give clear errors."""

import json

import pytest
from echo import ECHO

from engines.core import protocols
from engines.core.sim import Simulator
from engines.lab.trace import TraceError, load_trace, save_trace

protocols.register(ECHO)


def session() -> Simulator:
    sim = Simulator("echo", 3, 5)
    sim.set_network(drop=0.1, dup=0.1)
    sim.run(200)
    sim.propose("set x 1", 2)
    sim.partition([[1], [2, 3]])
    sim.run(200)
    sim.crash(3)
    sim.heal()
    sim.run(100)
    sim.restart(3)
    sim.run(100)
    return sim


def test_a_saved_trace_replays_to_the_same_state(tmp_path):
    sim = session()
    path = save_trace(sim, tmp_path / "t.json")
    data = json.loads(path.read_text())
    assert data["format"] == "consensus-tui-trace" and data["version"] == 1
    assert (data["algo"], data["nodes"], data["seed"]) == ("echo", 3, 5)
    kinds = [a["kind"] for a in data["actions"]]
    assert [k for k in kinds if k != "wait"] == [
        "set_network",
        "propose",
        "partition",
        "crash",
        "heal",
        "restart",
    ]
    assert "wait" in kinds  # idle time at the end of a run is part of the record
    replayed = load_trace(path)
    assert replayed.step_count == sim.step_count and replayed.digest() == sim.digest()


def test_a_trace_saved_at_an_earlier_step_holds_only_that_past(tmp_path):
    sim = session()
    sim.goto(5)
    data = json.loads(save_trace(sim, tmp_path / "t.json").read_text())
    assert data["final_step"] == 5 and all(a["step"] <= 5 for a in data["actions"])
    assert load_trace(tmp_path / "t.json").digest() == sim.digest()


def with_action(data: dict, kind: str, args: dict, step: int = 3) -> dict:
    return data | {"actions": [{"step": step, "kind": kind, "args": args}]}


def write(tmp_path, data) -> str:
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def good(tmp_path) -> dict:
    return json.loads(save_trace(session(), tmp_path / "good.json").read_text())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d | {"version": 9}, "version 9 is not supported"),
        (lambda d: d | {"format": "other"}, "not a consensus-tui-trace file"),
        (lambda d: d | {"final_digest": "0" * 64}, "digest mismatch at step"),
        (lambda d: {k: v for k, v in d.items() if k != "seed"}, "missing field 'seed'"),
        (lambda d: d | {"nodes": 40}, "node count 40 is out of range"),
        (lambda d: d | {"algo": "zab"}, "unknown algorithm 'zab'"),
        (lambda d: d | {"actions": [{"step": 3, "kind": "explode", "args": {}}]}, "unknown action"),
        (lambda d: with_action(d, "propose", {"value": 5, "node": 1}), "5 is not a text value"),
        (lambda d: with_action(d, "crash", {"node": 99}), "crash node: 99 is not a node"),
        (lambda d: with_action(d, "crash", {"node": "2"}), "crash node: '2' is not a node"),
        (lambda d: with_action(d, "partition", {"groups": [[1, 99]]}), "99 is not a node"),
        (lambda d: with_action(d, "partition", {"groups": [[1], [1]]}), "a node is in two groups"),
        (lambda d: with_action(d, "set_network", {"drop": "x"}), "drop: 'x' is not a probability"),
        (lambda d: with_action(d, "heal", {}, step=0), "action step 0 is repeated or outside"),
        (lambda d: d | {"actions": d["actions"][:1] * 2}, "is repeated or outside"),
        (lambda d: d | {"final_step": 10**12}, "above the limit"),
        (lambda d: d | {"config": {"bug": "nope"}}, "unknown echo bug|unknown action"),
        (lambda d: d | {"final_digest": 7}, "final_digest must be a string"),
    ],
)
def test_damaged_traces_give_clear_errors(tmp_path, change, message):
    path = write(tmp_path, change(good(tmp_path)))
    with pytest.raises(TraceError, match=message) as info:
        load_trace(path)
    assert str(info.value).startswith(path)


def test_invalid_json_names_the_line(tmp_path):
    path = write(tmp_path, '{\n "format": \n')
    with pytest.raises(TraceError, match=r"bad.json:3: not valid JSON"):
        load_trace(path)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read trace"):
        load_trace(tmp_path / "nope.json")
