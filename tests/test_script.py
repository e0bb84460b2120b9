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
