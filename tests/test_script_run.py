"""Running scenario scripts: expectations, `leader`, saving, and the run command's report."""

import json

import pytest
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


def outcomes_of(result) -> list[tuple[bool, str]]:
    return [(o.ok, o.observed) for o in result.outcomes]


def test_the_clock_reads_the_sum_of_the_runs_even_when_nothing_is_due():
    result = run_text(
        "nodes 3\nrun 100ms\nrun 0ms\nrun 7ms\nrun 3ms\nexpect time 110ms\nexpect time 1s\n"
    )
    assert outcomes_of(result) == [
        (True, "the clock reads 110 ms"),
        (False, "the clock reads 110 ms"),
    ]


def test_many_short_runs_elect_a_leader():  # the clock bug of issue 10: time did not move
    result = run_text("nodes 3\n" + "run 100ms\n" * 20 + "expect time 2s\nexpect leader any\n")
    assert result.ok, outcomes_of(result)


def test_run_0ms_lets_no_time_pass():
    result = run_text("nodes 3\nrun 0ms\nexpect time 0ms\n")
    assert result.ok and result.sim.step_count == 0


def test_within_ends_the_clock_where_the_expectation_held():
    result = run_text("nodes 3\nexpect leader any within 1s\n")
    held_at = result.sim.now
    assert result.ok and 0 < held_at < 1000
    again = run_text(f"nodes 3\nexpect leader any within 1s\nexpect time {held_at}ms\n")
    assert again.ok


def test_within_fails_at_the_deadline_saying_what_was_last_seen():
    result = run_text("nodes 3\nhold\nexpect leader any within 400ms\nexpect time 400ms\n")
    assert outcomes_of(result) == [
        (False, "by 400 ms still no leader"),
        (True, "the clock reads 400 ms"),
    ]


def test_role_term_leader_among_and_messages_hold_and_fail():
    result = run_text(
        "nodes 3\nhold\nmark m\ncampaign n1\n"
        "deliver RequestVote from n1 to n2\ndeliver VoteReply from n2 to n1\n"
        "expect role n1 leader\nexpect role n3 leader\n"
        "expect term n1 1\nexpect term n3 >= 1\nexpect terms agree\n"
        "expect leader n1 among n1 n2\nexpect leader none among n2 n3\nexpect leader n2\n"
        "expect messages RequestVote from n1 since m 2\nexpect messages VoteReply since m <= 0\n"
        "expect messages AE from leader to n3 since m 1\n"
        "crash n3\nexpect role n3 crashed\nexpect term n3 0\n"
    )
    assert outcomes_of(result) == [
        (True, "n1 is leader"),
        (False, "n3 is follower"),
        (True, "n1 is in term 1"),
        (False, "n3 is in term 0"),
        (False, "terms n1:1 n2:1 n3:0"),
        (True, "leader is n1 among n1 n2"),
        (True, "no leader among n2 n3"),
        (False, "leader is n1"),
        (True, "2 RequestVote from n1 sent since mark m"),
        (False, "1 VoteReply sent since mark m"),
        (True, "1 AppendEntries from n1 to n3 sent since mark m"),
        (True, "n3 is crashed"),
        (False, "n3 is down"),
    ]


def test_leader_among_considers_only_those_nodes():
    result = run_text(
        "nodes 3\ncampaign n1\nrun 100ms\nisolate n1\ncampaign n2\nrun 100ms\n"
        "expect leader n2\nexpect leader n1 among n1\nexpect leader n2 among n2 n3\n"
        "expect leader none among n3\nexpect leader n1 among n1 n2\n"
    )
    assert outcomes_of(result) == [  # n1, cut off, still leads term 1; n2 leads term 2
        (True, "leader is n2"),
        (True, "leader is n1 among n1"),
        (True, "leader is n2 among n2 n3"),
        (True, "no leader among n3"),
        (False, "leader is n2 among n1 n2"),
    ]


def test_committed_on_at_least_and_block_hold_and_fail():
    result = run_text(
        'nodes 3\nrun 1s\npropose "set x 1"\nrun 300ms\n'
        "expect committed >= 1 on at least 3\nexpect committed 2 on at least 1\n"
        'expect block n1 1 "set x 1"\nexpect block n2 1 "set x 2"\nexpect block n3 2 x\n'
    )
    assert outcomes_of(result) == [
        (True, "committed n1:1 n2:1 n3:1"),
        (False, "committed n1:1 n2:1 n3:1"),
        (True, "block 1 of n1 holds 'set x 1'"),
        (False, "block 1 of n2 holds 'set x 1'"),
        (False, "n3 has no block 2 (height 1)"),
    ]


def test_block_reads_a_paxos_chain_too():
    result = run_text(
        'algo paxos\nnodes 3\nrun 1s\npropose "set x 1"\nexpect block n2 1 "set x 1" within 1s\n'
    )
    assert result.ok, outcomes_of(result)


def test_header_timing_reaches_the_nodes():
    result = run_text("nodes 3\nraft election_timeout=2000..3000\nrun 1900ms\nexpect leader none\n")
    assert result.ok  # with the default 150..300 ms a leader would long be elected


@pytest.mark.parametrize("kind", ["deliver", "drop", "duplicate"])
def test_a_message_action_that_matches_nothing_exits_1_naming_the_filter(tmp_path, kind):
    path = tmp_path / "s.scn"
    path.write_text(f"nodes 3\n{kind} AE from n1 to n2\nexpect safe\n")
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 1
    assert f"{path}:2: no message in flight matches AppendEntries from n1 to n2" in result.output


def test_release_with_nothing_held_exits_1(tmp_path):
    path = tmp_path / "s.scn"
    path.write_text("nodes 3\nhold RV\nrelease AE\n")
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3: nothing is held by the filter AppendEntries" in result.output


def test_wait_until_a_past_time_says_the_clock_is_past_it():
    result = run_text("nodes 3\nrun 100ms\nwait until 50ms\n")
    assert result.error == "t.scn:3: cannot wait until 50 ms: the clock reads 100 ms"
