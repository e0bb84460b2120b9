"""Scenario-script parsing: every bad line is reported as FILE:LINE: message."""

import pytest

from engines.lab.script import ScriptError, parse, parse_duration, tokenize


def error_of(text: str) -> str:
    with pytest.raises(ScriptError) as info:
        parse(text, "s.scn")
    return str(info.value)


def test_tokenize_quotes_comments_and_escapes():
    assert tokenize('propose "set x hello world" to n2  # note') == [
        "propose",
        "set x hello world",
        "to",
        "n2",
    ]
    assert tokenize(r'propose "say \"hi\" # not a comment"') == [
        "propose",
        'say "hi" # not a comment',
    ]
    assert tokenize("   # only a comment") == []


def test_parse_reads_header_and_commands():
    script = parse("algo paxos\nnodes 7\nseed 42\n\nrun 2s\npropose x to leader\nexpect safe\n")
    assert (script.algo, script.nodes, script.seed) == ("paxos", 7, 42)
    assert [c.name for c in script.commands] == ["run", "propose", "expect"]
    assert script.commands[0].args == [2000]
    assert script.commands[1].line == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("run 1s\nfrobnicate n1", "s.scn:2: unknown command 'frobnicate'"),
        ("crash n6", "s.scn:1: node n6 is out of range (n1..n5)"),
        ("nodes 3\ncrash n4", "s.scn:2: node n4 is out of range (n1..n3)"),
        ("crash bob", "s.scn:1: 'bob' is not a node (n1..n5 or leader)"),
        ("nodes 12", "s.scn:1: node count 12 is out of range 3..9"),
        ("net drop=1.5", "s.scn:1: drop '1.5' is not a probability in 0..1"),
        ("net latency=20..5", "s.scn:1: latency '20..5' should look like 5..20"),
        ('propose "unterminated', "s.scn:1: unterminated quote"),
        ("run fast", "s.scn:1: duration 'fast' should look like 300ms or 2s"),
        ("run 1s\nseed 3", "s.scn:2: 'seed' must come before the first action"),
        ("algo zab", "s.scn:1: unknown algorithm 'zab' (choose raft or paxos)"),
        ("partition n1 n2 | n2 n3", "s.scn:1: a node is in two groups"),
        (
            "partition n1 | | n2",
            "s.scn:1: expected 'partition NODE... | NODE...' with no empty group",
        ),
        ("expect committed 3 on n9", "s.scn:1: node n9 is out of range (n1..n5)"),
        ("expect nothing", "s.scn:1: cannot read 'expect nothing'"),
        ("step -1", "s.scn:1: step count '-1' is not a whole number"),
    ],
)
def test_bad_lines_name_file_line_and_problem(text, message):
    assert error_of(text).startswith(message)


def test_durations():
    assert parse_duration("300ms") == 300
    assert parse_duration("1.5s") == 1500
    assert parse_duration("0ms") == 0
    for bad in ("0.5ms", "1.0005s", "２s", "1h", "-1ms"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_header_timing_sets_the_protocol_config():
    raft = parse("raft election_timeout=400..800 heartbeat=40\nrun 1s\n")
    assert raft.config == {
        "election_timeout_min": 400,
        "election_timeout_max": 800,
        "heartbeat": 40,
    }
    paxos = parse("algo paxos\npaxos leader_timeout=200..400 heartbeat=30 retry=70\n")
    assert paxos.config == {
        "leader_timeout_min": 200,
        "leader_timeout_max": 400,
        "heartbeat": 30,
        "retry": 70,
    }


def test_new_lines_read_into_actions_and_expectations():
    script = parse(
        "cut n1 -> n2\ncut n2 <-> n3\nnet n1 -> n2 latency=5..300 drop=0.3 dup=0.1\n"
        "hold RV AppendEntries from n1 to n2\nrelease\ndeliver RequestVote from n1 to n2\n"
        "drop #7\nduplicate AE to n3\nwait until 2s\nmark m\n"
        "expect messages AE from leader since m <= 3 within 1s\n"
    )
    actions = [c.args[0] for c in script.commands[:9]]
    assert actions[0].args == {"link": [1, 2], "oneway": True}
    assert actions[1].args == {"link": [2, 3], "oneway": False}
    assert actions[2].args == {
        "link": [1, 2],
        "oneway": True,
        "latency_min": 5,
        "latency_max": 300,
        "drop": 0.3,
        "dup": 0.1,
    }
    assert actions[3].args == {"types": ["RequestVote", "AppendEntries"], "src": 1, "dst": 2}
    assert actions[4].args == {"types": [], "src": None, "dst": None}
    assert actions[5].args["match"] == {"types": ["RequestVote"], "src": 1, "dst": 2}
    assert actions[6].args == {"seq": 7}
    assert actions[7].args["match"] == {"types": ["AppendEntries"], "src": None, "dst": 3}
    assert actions[8].args == {"until": 2000}
    expectation = script.commands[10].args[0]
    assert (expectation.kind, expectation.within) == ("messages", 1000)
    assert expectation.params["filter"]["src"] == "leader"
    assert str(expectation.params["count"]) == "0..3"


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        ("3", "3"),
        (">=3", ">=3"),
        (">= 3", ">=3"),
        ("<=3", "0..3"),
        ("<= 3", "0..3"),
        ("2..4", "2..4"),
    ],
)
def test_counts_read_with_or_without_a_space(count, shown):
    script = parse(f"expect committed {count} on at least 2\nexpect term n1 {count}\n")
    assert str(script.commands[0].args[0].params["count"]) == shown
    assert str(script.commands[1].args[0].params["count"]) == shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("raft election_timeout=3..1", "s.scn:1: raft election_timeout range 3..1 is empty"),
        ("raft election_timeout=2", "s.scn:1: raft election_timeout is a range: election_t"),
        ("raft heartbeat=10..20", "s.scn:1: raft heartbeat is one number: heartbeat=MS"),
        ("raft timeout=5", "s.scn:1: unknown raft timing 'timeout' (known: election_timeout=MIN"),
        ("raft heartbeat=0", "s.scn:1: raft heartbeat 0 is out of range"),
        ("raft heartbeat=50\nraft heartbeat=60", "s.scn:2: 'raft heartbeat' is given twice"),
        ("paxos retry=5", "s.scn:1: 'paxos' options need 'algo paxos' first"),
        ("algo paxos\npaxos retry=x", "s.scn:2: paxos retry 'x' is not a whole number"),
        ("algo paxos\npaxos leader_timeout=9..5", "s.scn:2: paxos leader_timeout range 9..5"),
        ("cut n1", "s.scn:1: expected 'cut NODE -> NODE'"),
        ("cut n1 => n2", "s.scn:1: expected 'cut NODE -> NODE'"),
        ("cut n1 -> n1", "s.scn:1: a link joins two different nodes"),
        ("net n1 -> n2", "s.scn:1: expected network settings: latency=MIN..MAX"),
        ("net n1 <-> n2 speed=3", "s.scn:1: unknown network setting 'speed'"),
        ("net latency=1..2 latency=3..4", "s.scn:1: 'latency' is given twice"),
        ("hold Bogus", "s.scn:1: 'Bogus' is not a message type here (known: AppendEntries"),
        ("hold from n1 RequestVote", "s.scn:1: message types come before 'from' and 'to'"),
        ("release to", "s.scn:1: 'to' needs a node"),
        ("hold from n1 from n2", "s.scn:1: 'from' is given twice"),
        ("deliver", "s.scn:1: expected 'deliver TYPE from NODE to NODE' or 'deliver #N'"),
        ("drop", "s.scn:1: expected 'drop TYPE from NODE to NODE' or 'drop #N'"),
        ("duplicate", "s.scn:1: expected 'duplicate TYPE from NODE to NODE' or 'duplicate #N'"),
        ("deliver #x", "s.scn:1: expected 'deliver TYPE from NODE to NODE' or 'deliver #N'"),
        ("drop AE from n9", "s.scn:1: node n9 is out of range (n1..n5)"),
        ("wait 5ms", "s.scn:1: expected 'wait until TIME'"),
        ("run 1s 2s", "s.scn:1: expected 'run DURATION'"),
        ("mark", "s.scn:1: expected 'mark NAME'"),
        ("expect", "s.scn:1: expected 'expect leader|committed|chains|value|role|term|"),
        ("expect safe now", "s.scn:1: cannot read 'expect safe now'"),
        ("expect leader any among", "s.scn:1: expected at least one node"),
        ("expect leader in n1 among n9", "s.scn:1: node n9 is out of range (n1..n5)"),
        ("expect committed 3", "s.scn:1: cannot read 'expect committed 3'"),
        ("expect committed >=3..4 on all", "s.scn:1: block count '>=3..4' should look like 3"),
        ("expect committed 4..2 on all", "s.scn:1: block count range 4..2 is empty"),
        ("expect committed 1 on at least 9", "s.scn:1: K 9 is out of range 1..5"),
        ("expect role n1", "s.scn:1: cannot read 'expect role n1'"),
        ("expect role n1 boss", "s.scn:1: role 'boss' is not one of leader|follower|candidate"),
        ("algo paxos\nexpect role n1 candidate", "s.scn:2: role 'candidate' is not one of leader"),
        ("expect term n1", "s.scn:1: cannot read 'expect term n1'"),
        ("expect term n1 high", "s.scn:1: term 'high' should look like 3, >=3, <=3 or 2..4"),
        ("expect terms", "s.scn:1: cannot read 'expect terms'"),
        ("expect block n1 1", "s.scn:1: cannot read 'expect block n1 1'"),
        ("expect block n1 x v", "s.scn:1: block index 'x' is not a whole number"),
        ("expect messages since m 1", "s.scn:1: no 'mark m' comes before this line"),
        ("expect messages RV 1\nmark m", "s.scn:1: expected 'expect messages [TYPE...]"),
        ("mark m\nexpect messages Bogus since m 1", "s.scn:2: 'Bogus' is not a message type"),
        ("mark m\nexpect messages since m lots", "s.scn:2: message count 'lots' should look"),
        ("expect time 5", "s.scn:1: duration '5' should look like 300ms or 2s"),
        ("expect safe within soon", "s.scn:1: duration 'soon' should look like 300ms or 2s"),
        ("expect within 1s", "s.scn:1: expected 'expect leader|committed|chains|value|role|"),
    ],
)
def test_bad_new_lines_name_file_line_and_problem(text, message):
    assert error_of(text).startswith(message)
