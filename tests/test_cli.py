"""The command line: help, version, exit codes, and errors without tracebacks."""

import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tui.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.output.startswith("consensus-tui ")


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ([], ["--algo", "--nodes", "--seed", "--scenario", "--keymap", "--bug"]),
        (["run"], ["--json"]),
        (["demo"], ["--algo", "--nodes", "--seed"]),
        (["fuzz"], ["--algo", "--runs", "--seed", "--nodes", "--bug", "--out"]),
        (["replay"], ["--headless", "--keymap"]),
        (["bench"], ["--json"]),
        (["lincheck"], ["--model", "--json", "--timeout"]),
        (["bugs"], []),
    ],
)
def test_help_explains_every_option(command, options):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    for option in options:
        assert option in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run 1s\nexplode n1\n", "bad.scn:2: unknown command 'explode'"),
        ("crash n7\n", "bad.scn:1: node n7 is out of range (n1..n5)"),
        ("net drop=3\n", "bad.scn:1: drop '3' is not a probability in 0..1"),
        ('propose "oops\n', "bad.scn:1: unterminated quote"),
    ],
)
def test_a_malformed_script_exits_2_with_file_line_message_and_runs_nothing(
    tmp_path, text, message
):
    path = tmp_path / "bad.scn"
    path.write_text(text)
    result = invoke("run", str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "step " not in result.output and "Traceback" not in result.output


def test_a_missing_script_exits_2(tmp_path):
    result = invoke("run", str(tmp_path / "none.scn"))
    assert result.exit_code == 2 and "cannot read script" in result.output


def test_replay_of_a_damaged_trace_exits_2(tmp_path):
    path = tmp_path / "t.json"
    path.write_text("{ not json")
    result = invoke("replay", str(path), "--headless")
    assert result.exit_code == 2 and "t.json:1: not valid JSON" in result.output


def test_bad_arguments_exit_2():
    assert invoke("--nodes", "12").exit_code == 2
    assert invoke("fuzz", "--runs", "0").exit_code == 2
    assert invoke("fuzz", "--algo", "zab").exit_code == 2


def test_headless_commands_do_not_load_textual():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from tui.cli import app\n"
        "CliRunner().invoke(app, ['bugs'])\n"
        "print(any(m.split('.')[0] == 'textual' for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_replay_headless_reproduces_a_saved_trace(tmp_path):
    from engines.core.sim import Simulator
    from engines.lab.trace import save_trace

    sim = Simulator("raft", 3, 4)
    sim.run(500)
    sim.propose("set x 1", sim.leader())
    sim.run(200)
    path = save_trace(sim, tmp_path / "t.json")
    result = invoke("replay", str(path), "--headless")
    assert result.exit_code == 0
    assert f"digest {sim.digest()} (matches the trace)" in result.output
    assert "invariants: SAFE" in result.output


def test_raft_toggles_on_the_command_line(monkeypatch):
    seen = {}
    monkeypatch.setattr("engines.lab.fuzz.first_failure", lambda *a, **k: seen.update(config=a[4]))
    assert invoke("fuzz", "--prevote", "--paxos-only").exit_code == 2  # unknown option
    assert invoke("fuzz", "--algo", "paxos", "--checkquorum").exit_code == 2
    result = runner.invoke(app, ["fuzz", "--runs", "1", "--prevote", "--checkquorum"])
    assert seen["config"] == {"prevote": True, "checkquorum": True}, result.output


def test_snapshot_every_on_the_command_line(monkeypatch):
    seen = {}
    monkeypatch.setattr("engines.lab.fuzz.first_failure", lambda *a, **k: seen.update(config=a[4]))
    paxos = invoke("fuzz", "--algo", "paxos", "--snapshot-every", "5")
    assert paxos.exit_code == 2 and "--snapshot-every is a Raft option" in paxos.output
    assert invoke("fuzz", "--snapshot-every", "0").exit_code == 2  # at least 1
    runner.invoke(app, ["fuzz", "--runs", "1", "--snapshot-every", "5"])
    assert seen["config"] == {"snapshot_every": 5}


def test_app_options_before_a_command_are_refused():
    result = invoke("--seed", "7", "demo")
    assert result.exit_code == 2 and "--seed is an option of the app" in result.output


def test_fuzz_out_that_cannot_be_a_folder_fails_before_fuzzing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = invoke("fuzz", "--runs", "1", "--out", str(blocker / "sub"))
    assert result.exit_code == 2 and "--out" in result.output and "runs" not in result.output


def test_the_fuzz_summary_shows_coverage():
    result = invoke("fuzz", "--runs", "10", "--seed", "2")  # seed 2's runs grow long logs
    assert result.exit_code == 0
    found = re.search(r"coverage: longest log (\d+), batch-limited sends (\d+)", result.output)
    assert found and int(found[1]) > 64 and int(found[2]) > 0


@pytest.mark.parametrize("code", [0, 1])
def test_the_app_exit_code_reaches_the_shell(monkeypatch, code):
    class App:
        return_code = None

        def run(self):
            self.return_code = code  # what Textual sets: 1 after an unhandled exception

    monkeypatch.setattr("tui.app.make_app", lambda *args, **kwargs: App())
    assert invoke().exit_code == code


def test_toggles_are_plain_flags_in_help():
    for command in ([], ["fuzz"]):
        lines = invoke(*command, "--help").output.splitlines()
        for flag in ("--prevote", "--checkquorum"):
            line = next(text for text in lines if flag in text)
            assert "<bool>" not in line, line


def test_a_bug_of_the_other_algorithm_names_its_algorithm(monkeypatch):
    monkeypatch.setattr("tui.app.make_app", lambda *args, **kwargs: pytest.fail("app started"))
    result = invoke("--bug", "ignore_promise")
    assert result.exit_code == 2
    assert "'ignore_promise' is a paxos bug, not a raft one" in result.output
    result = invoke("fuzz", "--algo", "paxos", "--bug", "figure8")
    assert result.exit_code == 2 and "'figure8' is a raft bug, not a paxos one" in result.output
