"""Issue 15, section 3: bad scripts, traces and keymaps get one line and exit 2; no traceback,
no hang, no garbage accepted. Each test reproduces one defect the audit found."""

import json

import pytest
from typer.testing import CliRunner

from engines.core.sim import Simulator
from engines.lab import limits
from engines.lab.script import ScriptError, parse, run
from engines.lab.trace import TraceError, read_trace, save_trace, trace_dict
from tui.cli import app
from tui.keymap import KeymapError, load_keymap

runner = CliRunner()


def good_trace() -> dict:
    sim = Simulator("raft", 3, 1)
    sim.run(300)
    return trace_dict(sim)


def write(tmp_path, name: str, content: str):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def refused(path) -> str:
    with pytest.raises(TraceError) as info:
        read_trace(path)
    return str(info.value)


# --- tracebacks -----------------------------------------------------------------------------
def test_save_with_a_nul_in_the_path_stops_the_script_with_its_line(tmp_path):
    result = run(parse('run 10ms\nsave "a\x00b.json"\n', "s.scn"))
    assert result.error.startswith("s.scn:2: cannot save trace")


def test_save_trace_with_a_nul_raises_trace_error():
    with pytest.raises(TraceError, match="cannot save trace"):
        save_trace(Simulator("raft", 3, 1), "a\x00b.json")


def test_a_trace_nested_100k_deep_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    assert refused(path) == f"{path}:1: nested deeper than {limits.MAX_DEPTH} levels"


def test_a_5000_digit_seed_is_refused(tmp_path):
    text = json.dumps(good_trace()).replace('"seed": 1', '"seed": ' + "9" * 5000)
    assert "above the limit of 19" in refused(write(tmp_path, "seed.json", text))


def test_a_seed_above_2_63_is_refused(tmp_path):
    text = json.dumps(good_trace() | {"seed": 2**63 + 1})
    assert "out of range" in refused(write(tmp_path, "seed.json", text))


def test_the_cli_refuses_a_seed_replay_would_refuse():
    assert runner.invoke(app, ["demo", "--seed", "9" * 30]).exit_code == 2


def test_a_keymap_nested_50k_deep_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, "k.toml", "a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(KeymapError, match=r"k.toml: .*above the keymap limit"):
        load_keymap(path)
    path = write(tmp_path, "k.toml", "# deep\na = " + "[" * 40 + "]" * 40 + "\n")
    with pytest.raises(KeymapError, match=r"k.toml:2: nested deeper"):
        load_keymap(path)


def test_a_long_dotted_keymap_key_is_refused_before_toml_reads_it(tmp_path):
    path = write(tmp_path, "k.toml", "[sim]\n" + ".".join(["k"] * 5_000) + " = 'x'\n")
    with pytest.raises(KeymapError, match=r"k.toml:2: nested deeper"):
        load_keymap(path)


# --- hangs ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, line, message",
    [
        ("step 10000000\n", 1, "step count 10000000 is out of range"),
        ("step 400000\nstep 400000\n", 2, "the steps asked for in all 800000"),
        ("run 3600s\n" * 20, 1, "the time waited in all (ms) 3600000"),
        ("run 300s\nexpect leader any within 360s\n", 2, "the time waited in all"),
        ("nodes 3\n" + "crash n1\nrestart n1\n" * 50_000, limits.MAX_COMMANDS + 2, "commands"),
    ],
)
def test_scripts_asking_for_too_much_are_refused_before_running(text, line, message):
    with pytest.raises(ScriptError) as info:
        parse(text, "s.scn")
    assert info.value.line == line and message in info.value.message


def test_a_script_stops_at_the_step_limit_with_its_line(monkeypatch):
    monkeypatch.setattr(limits, "MAX_STEPS", 2_000)
    result = run(parse("run 100ms\nrun 500s\nrun 1s\n", "s.scn"))
    assert result.error == "s.scn:2: the script reached the limit of 2000 steps"
    assert result.sim.step_count == 2_000 and not result.ok


def test_crash_restart_pairs_leave_no_dead_timers_behind():
    sim = Simulator("raft", 3, 1)
    sim.run(100)
    sizes = []
    for _ in range(300):
        sim.crash(1)
        sim.restart(1)
        sizes.append(len(sim.world.queue))
    assert max(sizes[-50:]) <= max(sizes[:50])


def test_a_small_trace_claiming_10m_steps_is_refused_before_replaying(tmp_path):
    text = json.dumps(good_trace() | {"final_step": 10_000_000})
    assert len(text) < 1_000
    assert "final_step 10000000 is above the limit" in refused(write(tmp_path, "t.json", text))


def test_save_refuses_a_session_replay_would_refuse(tmp_path, monkeypatch):
    sim = Simulator("raft", 3, 1)
    sim.run(500)
    monkeypatch.setattr(limits, "MAX_STEPS", sim.step_count - 1)
    with pytest.raises(TraceError, match="cannot save this session"):
        save_trace(sim, tmp_path / "t.json")
    assert not (tmp_path / "t.json").exists()


# --- garbage accepted -----------------------------------------------------------------------
def test_unknown_invariant_names_in_expect_violation_are_refused():
    with pytest.raises(ScriptError, match="s.scn:2: no raft invariant is called 'Nonsense'"):
        parse("run 1s\nexpect violation Nonsense\n", "s.scn")
    parse('expect violation "log matching"\n', "s.scn")
    parse('algo paxos\nexpect violation "chosen values never change"\n', "s.scn")


def test_every_invariant_a_checker_reports_is_one_it_names():
    import ast
    from pathlib import Path

    from engines.core import protocols

    for algo in ("raft", "paxos"):
        source = Path(f"engines/{algo}/invariants.py").read_text()
        literals = {
            node.args[0].value
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "Violation"
            and isinstance(node.args[0], ast.Constant)
        }
        assert literals <= set(protocols.invariant_names(protocols.get(algo))), algo


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d | {"version": 1.0}, "version 1.0 is not supported"),
        (lambda d: d | {"colour": "red"}, "unknown field 'colour'"),
        (lambda d: d | {"network": {"drop": 0.5}}, "network header"),
        (
            lambda d: d | {"actions": [{"step": 1, "kind": "partition", "args": {"groups": [[]]}}]},
            "at least one node",
        ),
    ],
)
def test_trace_garbage_is_refused(tmp_path, change, message):
    assert message in refused(write(tmp_path, "t.json", json.dumps(change(good_trace()))))


# --- terminal injection and lines -----------------------------------------------------------
def test_run_escapes_control_characters_from_script_values(tmp_path):
    path = write(tmp_path, "s.scn", 'expect value n1 k "\x1b]0;pwn\x07\x1b[31m"\n')
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 1 and "\x1b" not in result.output and "\x07" not in result.output
    assert "\\x1b]0;pwn\\x07" in result.output
    path = write(tmp_path, "s.scn", "\x1b[2Jbogus\n")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "\x1b" not in result.output


def test_a_keymap_error_names_the_line_under_its_table(tmp_path):
    text = '[sim]\nstep = "l"\n\n[node]\nstep = "j"\n'
    with pytest.raises(KeymapError, match=r"k.toml:5: unknown binding id 'node.step'"):
        load_keymap(write(tmp_path, "k.toml", text))
