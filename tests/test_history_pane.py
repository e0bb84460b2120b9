"""The history pane: a lane per client, the operation that cannot be placed marked; a selected
operation detailed and its events marked in the diagram; the SVG export; starting clients
from the command line and from the app."""

import pytest
from snapshot_apps.support import pilot_test, screen_text, wait_for
from typer.testing import CliRunner

from engines.core.actions import Action
from engines.core.sim import Simulator
from engines.lab.script import PRESETS, parse_file, run
from engines.lab.workload import trail
from tui import cli
from tui.app import make_app
from tui.exports import history_svg
from tui.history import history_lines, judge, selected_lines, selection_marks
from tui.screens.prompts import ClientsPrompt
from tui.widgets.history import HistoryPane


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


# --- an operation's events, the selection and the diagram's marks -----------------------------
SIZE = (140, 44)


def with_clients(algo: str, ms: int = 600) -> Simulator:
    sim = Simulator(algo, 3, 1)
    sim.clients(2)
    sim.run(ms)
    return sim


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_an_operations_trail_is_its_sends_the_messages_carrying_it_and_its_answer(algo):
    sim = with_clients(algo)
    record = next(r for r in sim.world.clients.records if r.status == "ok")
    found = trail(sim, record)
    assert found.sent[0] == record.invoked_step
    assert all(sim.events[s - 1].kind == "client" for s in found.sent[1:])
    pids = {pid for _, pid in record.sends}
    carried = [sim.events[s - 1] for s in found.carried]
    assert carried, "a write or a log read travels in the log's messages"
    assert all(pids & set(e.msg.proposal_ids()) for e in carried)
    assert not any(e.msg.heartbeat for e in carried)
    answer = sim.events[found.completed - 1]
    assert answer.step == record.completed_step and answer.node == record.node


def test_a_readindex_read_is_carried_by_the_heartbeat_round_that_confirmed_it():
    sim = Simulator("raft", 3, 1, {"read": "index"})
    sim.clients(2)
    sim.run(800)
    read = next(r for r in sim.world.clients.records if r.read_round and r.status == "ok")
    found = trail(sim, read)
    carried = [sim.events[s - 1] for s in found.carried if s <= read.completed_step]
    assert {e.msg.type_name for e in carried} == {"AppendEntries", "AppendReply"}
    assert all(read.node in (e.src, e.node) and e.msg.round >= read.read_round for e in carried)
    assert found.completed in found.carried  # the acknowledgement that confirmed the round


def test_a_stale_read_answered_at_once_is_sent_and_answered_in_one_step():
    sim = run(parse_file(PRESETS / "raft" / "bug_stale_read.scn")).sim
    stale = next(r for r in sim.world.clients.records if r.call == judge(sim).blocked)
    found = trail(sim, stale)
    assert found.completed == stale.invoked_step and found.carried == ()
    assert selection_marks(found) == {stale.invoked_step - 1: "answered"}


def test_an_operation_of_the_future_has_no_events_yet():
    sim = with_clients("raft")
    record = next(r for r in sim.world.clients.records if r.status == "ok")
    sim.goto(record.invoked_step)
    again = next(r for r in sim.world.clients.records if r.call == record.call)
    assert again.status == "" and trail(sim, again).completed is None
    assert trail(sim, again).carried == ()


@pytest.mark.parametrize("read", ["log", "index"])
def test_the_pane_extends_a_trail_step_by_step_as_a_search_from_scratch_finds_it(read):
    sim = Simulator("raft", 3, 1, {"read": read})
    sim.clients(2)
    sim.run(250)
    pane = HistoryPane(id="history")
    call = sim.world.clients.records[-1].call  # pending or just answered
    for _ in range(3):  # playing on: it completes, then its entry reaches the followers
        for _ in range(40):
            sim.step()
            record = next(r for r in sim.world.clients.records if r.call == call)
            assert pane.selected_trail(sim, record) == trail(sim, record)
        sim.goto(sim.step_count - 25)  # and back
        record = next(r for r in sim.world.clients.records if r.call == call)
        assert pane.selected_trail(sim, record) == trail(sim, record)


def test_the_selected_operation_in_full_and_its_marks():
    sim = with_clients("raft")
    record = next(r for r in sim.world.clients.records if r.command.f == "get" and r.status)
    found = trail(sim, record)
    what, when = (line.plain for line in selected_lines(record, found))
    command = record.command
    assert what.startswith(f"client {command.client} op {command.op}: get {command.key} → ok")
    assert f"invoked step {record.invoked_step}" in when
    assert f"answered step {record.completed_step}" in when
    marks = selection_marks(found)
    assert marks[record.invoked_step - 1] == "sent"
    assert marks[record.completed_step - 1] == "answered"
    assert {marks[s - 1] for s in found.carried} <= {"carried", "answered"}


def test_the_history_svg_shows_every_operation():
    sim = with_clients("raft", 300)
    svg = history_svg(sim).replace("&#160;", " ")
    assert svg.startswith("<svg") and "clients&#x27; history" in svg
    records = sim.world.clients.records
    assert f"{len(records)} operations" in svg and "linearizable" in svg
    for record in records:
        command = record.command
        assert f"c{command.client}" in svg
        assert f"├{' '.join([command.f, command.key, *command.args])}"[:5] in svg


def test_cli_clients_starts_the_app_with_the_workload(monkeypatch):
    started = []
    monkeypatch.setattr(cli, "_run_app", started.append)
    result = CliRunner().invoke(cli.app, ["--clients", "3", "--keys", "2", "--nodes", "3"])
    assert result.exit_code == 0, result.output
    sim = started[0].sim
    assert sim.actions() == [(1, Action("clients", {"count": 3, "keys": 2}))]
    sim.run(400)
    assert {r.command.client for r in sim.world.clients.records} == {1, 2, 3}
    assert {r.command.key for r in sim.world.clients.records} <= {"x", "y"}


@pytest.mark.parametrize(
    "args, problem",
    [
        (["--keys", "2"], "--keys needs --clients K"),
        (["--clients", "2", "--scenario", "x.scn"], "--clients clashes with --scenario"),
        (["--clients", "17"], "17 is not in the range"),
    ],
)
def test_cli_clients_refuses_what_does_not_fit(args, problem):
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 2 and problem in result.output


def new_app(**kwargs):
    app = make_app("raft", 3, 1, **kwargs)
    app.cursor_blink = False
    return app


@pilot_test
async def test_the_clients_key_starts_and_stops_a_workload_as_a_step():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("w")
        assert isinstance(app.screen, ClientsPrompt)
        await pilot.press(*"3 keys=99 rate=5", "enter")
        assert "keys 99 is not" in screen_text(app)  # the prompt stays open and says why
        await pilot.press(*["backspace"] * 9, *"2 rate=5", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, ClientsPrompt))
        assert app.sim.actions() == [(1, Action("clients", {"count": 3, "keys": 2, "rate": 5}))]
        app.sim.run(300)
        assert {r.command.client for r in app.sim.world.clients.records} == {1, 2, 3}
        await pilot.press("w", "enter")  # offered as it runs: changes nothing
        assert any("run that workload already" in n.message for n in app._notifications)
        await pilot.press("w", *["backspace"] * 20, *"off", "enter")
        assert app.sim.world.clients.running() == 0 and len(app.sim.actions()) == 2
        await pilot.press("w", "escape")
        assert len(app.sim.actions()) == 2


@pilot_test
async def test_selecting_operations_marks_their_events_in_the_diagram(tmp_path):
    app = new_app(clients={"count": 2}, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        app.sim.run(600)
        await pilot.press("u")  # shows the history and the diagram, selects the latest
        screen = app.main_screen
        records = app.sim.world.clients.records
        assert app.history_shown and app.diagram_shown and screen.history.has_focus
        assert screen.history.cursor == records[-1].call
        await pilot.press("up", "up")
        record = records[-3]
        assert screen.history.cursor == record.call
        marks = screen.diagram.rows.marks
        assert marks == selection_marks(trail(app.sim, record))
        assert marks[record.invoked_step - 1] == "sent"
        text = screen_text(app)
        assert f"client {record.command.client} op {record.command.op}:" in text
        assert "operation ⇢ sent • carried ⇠ answered" in text
        steps = app.sim.step_count
        await pilot.press("right")  # time still steps with the pane focused
        assert app.sim.step_count == steps + 1
        await pilot.press("ctrl+e", "enter")  # with the selected operation's lines
        await wait_for(pilot, lambda: list(tmp_path.glob("*.history.svg")))
        saved = next(tmp_path.glob("*.history.svg"))
        assert any(str(saved) in n.message for n in app._notifications)
        exported = saved.read_text().replace("&#160;", " ")
        assert f"client {record.command.client} op {record.command.op}:" in exported
        saved.unlink()
        await pilot.press("escape")
        assert not screen.history.has_focus and screen.diagram.rows.marks == {}
        await pilot.press("u", "c")  # hiding the pane leaves it too
        assert not app.history_shown and not screen.history.has_focus
        assert screen.diagram.rows.marks == {}
        await pilot.press("ctrl+e", "enter")  # hidden, unselected: the lanes alone
        await wait_for(pilot, lambda: list(tmp_path.glob("*.history.svg")))
        exported = next(tmp_path.glob("*.history.svg")).read_text().replace("&#160;", " ")
        assert f"c{record.command.client}" in exported and " op " not in exported
