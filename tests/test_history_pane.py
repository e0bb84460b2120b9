"""The history pane's drawing: a lane per client, the operation that cannot be placed marked."""

from engines.lab.script import PRESETS, parse_file, run
from tui.history import history_lines, judge


def test_the_stale_read_is_marked_and_each_client_has_a_lane():
    sim = run(parse_file(PRESETS / "raft" / "bug_stale_read.scn")).sim
    judged = judge(sim)
    lines = history_lines(sim, 100, 10, judged)
    assert "not linearizable" in lines[0].plain
    assert [line.plain[:2] for line in lines[1:3]] == ["c1", "c2"]
    assert lines[-1].plain.startswith("cannot be placed: client 1 get x→1")
    blocked = [span for span in lines[1].spans if "reverse" in str(span.style)]
    assert len(blocked) == 1  # the read n1 answered from its own state
    assert all(len(line.plain) <= 100 for line in lines)


def test_a_linearizable_history_marks_nothing():
    sim = run(parse_file(PRESETS / "raft" / "read_index.scn")).sim
    lines = history_lines(sim, 80, 10, judge(sim))
    assert "linearizable" in lines[0].plain and "not" not in lines[0].plain
    assert not any("reverse" in str(s.style) for line in lines for s in line.spans)
