"""Running scenario scripts: expectations, `leader`, saving, and the run command's report."""

import json

from typer.testing import CliRunner

from engines.lab.script import parse, run
from engines.lab.trace import load_trace
from tui.cli import app


def run_text(text: str):
    return run(parse(text, "t.scn"))


def test_expectations_report_what_was_observed():
    result = run_text(
        'algo raft\nseed 3\nrun 1s\nexpect leader any\npropose "set x 1"\nrun 500ms\n'
        "expect committed 1 on all\nexpect committed >=2 on n1\nexpect value n2 x 1\n"
        "expect value n2 y missing\nexpect chains agree\nexpect safe\nexpect leader none\n"
    )
    by_line = {o.line: o for o in result.outcomes}
    assert [line for line, o in by_line.items() if not o.ok] == [8, 13]
    assert by_line[8].observed.startswith("committed n1:1")
    assert by_line[13].observed.startswith("leader is n")
    assert not result.ok


def test_leader_resolves_to_the_live_leader_and_crash_leader_elects_another():
    result = run_text(
        "seed 2\nrun 1s\ncrash leader\nrun 1500ms\nexpect leader any\n"
        'propose "set k v" to leader\nrun 500ms\nexpect committed 1 on majority\nexpect safe\n'
    )
    assert result.ok, [o for o in result.failures]


def test_leader_with_no_leader_stops_the_script_with_its_line():
    result = run_text("run 10ms\ncrash leader\nexpect safe\n")
    assert result.error == "t.scn:2: 'leader' used but no node leads now"
    assert not result.ok and result.outcomes == []


def test_save_writes_a_trace_that_replays(tmp_path):
    path = tmp_path / "out.json"
    result = run_text(f"run 1s\npropose x\nrun 300ms\nsave {path}\n")
    assert load_trace(path).digest() == result.sim.digest()


def test_run_command_exit_codes_and_json(tmp_path):
    good, bad = tmp_path / "good.scn", tmp_path / "bad.scn"
    good.write_text("run 1s\nexpect leader any\nexpect safe\n")
    bad.write_text("run 1s\nexpect leader none\n")
    runner = CliRunner()
    ok = runner.invoke(app, ["run", str(good)])
    assert ok.exit_code == 0 and "2 passed, 0 failed" in ok.output and "digest" in ok.output
    failed = runner.invoke(app, ["run", str(bad)])
    assert failed.exit_code == 1
    assert f"FAIL {bad}:2: expect leader none  (leader is n" in failed.output
    data = json.loads(runner.invoke(app, ["run", str(good), "--json"]).output)
    assert data["ok"] and data["expectations"][0]["line"] == 2 and len(data["chains"]) == 5


def test_chains_agree_with_every_node_down_holds_vacuously():
    result = run_text("nodes 3\ncrash n1\ncrash n2\ncrash n3\nexpect chains agree\n")
    assert result.outcomes[0].ok and result.outcomes[0].observed == "no live node holds a chain"


def test_algo_after_protocol_settings_is_refused():
    import pytest

    from engines.lab.script import ScriptError

    with pytest.raises(ScriptError, match="'algo' must come before 'bug' and protocol options"):
        parse("raft prevote on\nalgo paxos\n", "t.scn")
