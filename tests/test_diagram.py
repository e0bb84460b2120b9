"""The space-time diagram, traces and exports: the index and the drawing without the app, then
pilot tests of the pane (toggle, follow, filter, scroll back), of saving and reopening traces
(digests and diagram rows compared), of damaged traces, and of the two exports."""

from __future__ import annotations

import json

from rich.cells import cell_len
from snapshot_apps.support import pilot_test, screen_text, wait_for
from textual.widgets import Input

from engines.core import sim as sim_module
from engines.core.sim import Simulator
from engines.paxos.messages import Accept, Accepted, Nack, Prepare, Promise
from engines.raft.messages import AppendEntries, AppendReply, RequestVote, SnapshotReply, VoteReply
from tui import spacetime
from tui.app import ConsensusApp, make_app
from tui.exports import diagram_svg, event_log_text
from tui.screens.prompts import PathPrompt
from tui.spacetime import ALL, MARK, QUIET, DiagramIndex, Layout, draw_row, emphasis, focus
from tui.widgets.diagram import DiagramPane, DiagramView

SIZE = (120, 40)


# --- labels and the index ----------------------------------------------------------------------
def test_labels_name_the_message_and_the_outcome_of_replies():
    assert spacetime.label(AppendEntries(1, 0, 0, (), 0)) == "AE"
    assert spacetime.label(AppendReply(1, True, 3)) == "AE✓"
    assert spacetime.label(AppendReply(1, False, 3)) == "AE✗"
    assert spacetime.label(RequestVote(1, 0, 0)) == "RV"
    assert spacetime.label(VoteReply(1, True)) == "V"
    assert spacetime.label(VoteReply(1, False)) == "V✗"
    assert spacetime.label(SnapshotReply(1, 7)) == "SNAP✓"
    ballot = (1, 2)
    assert spacetime.label(Prepare(ballot, 0)) == "P1a"
    assert spacetime.label(Promise(ballot, ())) == "P1b"
    assert spacetime.label(Accept(ballot, 1, None)) == "P2a"
    assert spacetime.label(Accepted(ballot, 1)) == "P2b"
    assert spacetime.label(Nack(ballot, (2, 3))) == "NACK"


def busy_raft(nodes: int = 5, seed: int = 1) -> Simulator:
    """An election, a crash and restart, a partition and a heal, proposals."""
    sim = Simulator("raft", nodes, seed)
    sim.run(800)
    leader = sim.leader()
    sim.propose("set x 1", leader)
    sim.run(100)
    sim.crash(leader)
    sim.run(400)
    sim.restart(leader)
    sim.partition([[1, 2], [3, 4, 5][: nodes - 2]])
    sim.run(300)
    sim.isolate(1)
    sim.heal()
    sim.run(300)
    return sim


def fresh_index(sim: Simulator, mode: str = ALL) -> DiagramIndex:
    index = DiagramIndex(sim.node_ids, mode)
    index.sync(sim.events)
    return index


def test_the_index_keeps_up_with_steps_back_and_forks():
    sim = busy_raft()
    index = fresh_index(sim)
    for target in (sim.step_count - 1, 300, 5, 0):
        sim.goto(target)
        index.sync(sim.events)
        assert index.events == sim.events
        assert fresh_index(sim).lanes == index.lanes and fresh_index(sim).tags == index.tags
    sim.run(500)
    sim.crash(2)  # a fork from an earlier step
    sim.run(100)
    index.sync(sim.events)
    assert index.events == sim.events and index.rows == fresh_index(sim).rows


def test_incremental_sync_touches_only_new_and_replaced_events(monkeypatch):
    """The cost stays flat: after a step, one event is indexed; after a step back, only the
    events the simulator replayed since its last checkpoint."""
    sim = Simulator("raft", 5, 1)
    sim.run(3000)
    index = fresh_index(sim)
    added = []
    monkeypatch.setattr(index, "_add", lambda event, add=index._add: (added.append(1), add(event)))
    sim.step()
    index.sync(sim.events)
    assert len(added) == 1
    added.clear()
    sim.step_back()
    index.sync(sim.events)
    assert len(added) <= sim_module.CHECKPOINT_EVERY


def test_lanes_follow_crashes_restarts_partitions_and_heals():
    sim = busy_raft()
    index = fresh_index(sim)
    by_kind = {e.action.kind: i for i, e in enumerate(index.events) if e.action}
    crashed = index.events[by_kind["crash"]].node
    assert index.lanes[by_kind["crash"]].down == {crashed}
    assert index.lanes[by_kind["restart"]].down == frozenset()
    assert index.lanes[by_kind["partition"]].groups == (0, 0, 1, 1, 1)
    assert index.lanes[by_kind["isolate"]].groups == (0, 1, 2, 2, 2)
    assert index.lanes[by_kind["heal"]].groups is None


def test_the_filter_hides_heartbeats_or_shows_one_type_and_always_the_marks():
    sim = busy_raft()
    index = fresh_index(sim, QUIET)
    shown = [index.events[i] for i in index.rows]
    assert len(shown) < len(sim.events) / 2
    assert not any(e.msg is not None and e.msg.heartbeat for e in shown if not e.notes)
    assert not any(e.kind == "timer" and e.detail == "heartbeat" for e in shown)
    beats = [e for e in sim.events if e.msg is not None and e.msg.heartbeat]
    assert beats and all(fresh_index(sim).beats[e.step - 1] for e in beats)
    acks = [e for i, e in enumerate(sim.events) if index.beats[i] and e.msg and not e.msg.heartbeat]
    assert acks and all(spacetime.label(e.msg) == "AE✓" for e in acks)  # replies to heartbeats
    index.set_mode(ALL)
    modes = [ALL]
    while (mode := index.next_mode()) != ALL:
        modes.append(mode)
        index.set_mode(mode)
    assert modes[:2] == [ALL, QUIET] and "RequestVote" in modes and "AppendReply" in modes
    index.set_mode("RequestVote")
    tags = {index.tags[i] for i in index.rows}
    assert tags == {"RequestVote", MARK}
    actions = [i for i, e in enumerate(sim.events) if e.kind == "action"]
    assert set(actions) <= set(index.rows)


def test_every_row_is_exactly_as_wide_as_the_layout():
    sim = busy_raft(9, seed=4)
    sim.propose("set 键 値 and a very long value " * 3 + "\x1b[31m", 3)  # wide and control
    sim.run(100)
    index = fresh_index(sim)
    current, path = focus(index)
    for width in (40, 64, 80, 130):
        layout = Layout.fit(width, index)
        for row in range(index.row_count):
            segments = draw_row(index, index.event_at(row), layout, *emphasis(row, current, path))
            assert sum(cell_len(s.text) for s in segments) == width
            assert "\x1b" not in "".join(s.text for s in segments)


def test_the_current_step_stays_in_view_when_the_filter_hides_it():
    sim = Simulator("raft", 5, 1)
    sim.run(1000)
    sim.run_until(lambda: sim.events[-1].kind == "timer" and sim.events[-1].detail == "heartbeat")
    index = fresh_index(sim, QUIET)
    current, _ = focus(index)
    assert current == len(index.rows) == index.row_count - 1
    assert index.event_at(current) == len(sim.events) - 1


def test_exports_are_whole_and_plain():
    sim = busy_raft()
    log = event_log_text(sim)
    lines = log.splitlines()
    assert lines[0].startswith("# consensus-tui session: raft, 5 nodes, seed 1")
    assert len([t for t in lines if not t.startswith("#")]) == sim.step_count
    assert "crash n" in log and "heal" in log
    svg, drawn, total = diagram_svg(sim, QUIET)
    assert svg.startswith("<svg") and drawn == total == fresh_index(sim, QUIET).row_count
    assert "no&#160;heartbeats" in svg and ">RV<" in svg


def test_the_diagram_labels_install_snapshot():
    """The catch-up preset: the leader's snapshot to the follower that fell behind."""
    from engines.lab.script import PRESETS, run_file

    sim = run_file(PRESETS / "raft" / "snapshot_catch_up.scn").sim
    svg = diagram_svg(sim, ALL)[0]
    assert ">SNAP<" in svg and ">SNAP✓<" in svg


# --- the pane in the app -----------------------------------------------------------------------
def new_app(algo="raft", nodes=5, **kwargs) -> ConsensusApp:
    app = make_app(algo, nodes, 1, **kwargs)
    app.cursor_blink = False
    app.messages = []
    notify = app.notify

    def record(message, *args, **kwargs):  # what the user was told, in order
        app.messages.append(message)
        return notify(message, *args, **kwargs)

    app.notify = record
    return app


def pane(app: ConsensusApp) -> DiagramPane:
    return app.screen_stack[0].query_one(DiagramPane)


def view(app: ConsensusApp) -> DiagramView:
    return pane(app).rows


def current_step(app: ConsensusApp) -> int:
    v = view(app)
    return v.index.events[v.index.event_at(v.current)].step


async def advance(app: ConsensusApp, pilot, run) -> None:
    run(app.sim)
    app.refresh_view()
    await pilot.pause()


@pilot_test
async def test_d_toggles_the_pane_and_narrow_screens_give_it_the_body():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        assert not pane(app).display
        await pilot.press("d")
        assert pane(app).display and "space-time" in screen_text(app)
        assert "n1" in screen_text(app) and "what happened" in screen_text(app)
        assert app.screen.query_one("#main").display  # beside the panels at 120 columns
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not app.screen.query_one("#main").region.height  # the whole body at 80
        assert pane(app).region.width == 80
        await pilot.press("d")
        assert not pane(app).display and app.screen.query_one("#main").region.height


@pilot_test
async def test_the_pane_follows_steps_forward_and_back_and_marks_the_current_one():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", *"n" * 8)
        assert current_step(app) == 8 and view(app).index.row_count == 8
        await pilot.press("b", "b")
        assert current_step(app) == 6 and view(app).index.row_count == 6
        rows = [line for line in screen_text(app).splitlines() if "▶" in line]
        assert any("▶   6" in line for line in rows)
        await advance(app, pilot, lambda sim: sim.run(2000))
        v = view(app)
        assert current_step(app) == app.sim.step_count
        assert v.scroll_offset.y == v.max_scroll_y > 0  # the newest rows are on screen


@pilot_test
async def test_a_sent_message_is_traced_from_its_send_row():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await advance(app, pilot, lambda sim: sim.run_until(lambda: sim.leader() is not None))
        sim = app.sim
        sim.run_until(lambda: sim.events[-1].kind == "deliver")
        await advance(app, pilot, lambda sim: None)
        v = view(app)
        last = sim.events[-1]
        send_row, lane = v.path
        assert v.index.node_ids[lane] == last.src
        assert v.index.events[v.index.event_at(send_row)].time == last.sent_at


@pilot_test
async def test_f_cycles_the_filter_and_the_title_says_which():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await advance(app, pilot, lambda sim: sim.run(1500))
        await pilot.press("f")  # shows the pane too
        assert pane(app).display and "no heartbeats" in str(pane(app).border_title)
        index = view(app).index
        assert all(not index.beats[i] or index.tags[i] == MARK for i in index.rows)
        await pilot.press("f")
        assert "only RequestVote" in str(pane(app).border_title)
        for _ in range(len(index.types)):
            await pilot.press("f")
        assert "all events" in str(pane(app).border_title)
        assert index.row_count == app.sim.step_count


@pilot_test
async def test_scrolling_back_holds_the_view_until_end():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("pageup")  # hidden: a hint, nothing else
        await pilot.press("d")
        await advance(app, pilot, lambda sim: sim.run(2000))
        v = view(app)
        bottom = v.scroll_offset.y
        await pilot.press("pageup", "pageup")
        assert v.scroll_offset.y < bottom and not v.following
        assert "scrolled back" in str(pane(app).border_subtitle)
        held = v.scroll_offset.y
        await advance(app, pilot, lambda sim: sim.run(200))  # autoplay adds rows below
        assert v.scroll_offset.y == held
        await pilot.press("home")
        assert v.scroll_offset.y == 0
        await pilot.press("pagedown")
        assert v.scroll_offset.y > 0
        await pilot.press("end")
        assert v.following and v.scroll_offset.y == v.max_scroll_y
        await pilot.press("pageup", "n")  # a step brings the current one back
        assert v.following and v.scroll_offset.y == v.max_scroll_y


def diagram_rows(app: ConsensusApp) -> list[str]:
    """Every row of the pane's diagram as text, drawn 100 columns wide."""
    index = view(app).index
    layout = Layout.fit(100, index)
    current, path = focus(index)
    return [
        "".join(
            s.text for s in draw_row(index, index.event_at(r), layout, *emphasis(r, current, path))
        )
        for r in range(index.row_count)
    ]


async def type_path(pilot, app: ConsensusApp, path) -> None:
    field = app.screen.query_one("#name", Input)
    field.value = str(path)
    await pilot.press("enter")
    await pilot.pause()


@pilot_test
async def test_save_then_open_the_trace_reproduces_the_session(tmp_path):
    app = new_app(save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await advance(app, pilot, lambda sim: sim.run(800))
        await pilot.press("2", "x")  # crash n2
        await advance(app, pilot, lambda sim: (sim.propose("set k v", sim.leader()), sim.run(300)))
        await pilot.press("h", *"n" * 5)
        before = app.sim
        digest, rows = before.digest(), diagram_rows(app)
        await pilot.press("s")
        assert (
            app.screen.query_one("#name", Input).value
            == f"raft-seed1-step{before.step_count}.trace.json"
        )
        await type_path(pilot, app, "saved.trace.json")
        await pilot.press("r", "y")  # a new session, then the saved one again
        await wait_for(pilot, lambda: app.sim.step_count == 0)
        await pilot.press("O")
        assert isinstance(app.screen, PathPrompt)
        assert "saved.trace.json" in screen_text(app)  # offered from the save folder
        await type_path(pilot, app, "saved.trace.json")
        await wait_for(pilot, lambda: app.sim.step_count == before.step_count)
        assert app.sim is not before and app.sim.digest() == digest
        assert diagram_rows(app) == rows
        for sim in (before, app.sim):  # stepping back gives the same states on both
            sim.goto(sim.step_count - 40)
        assert before.digest() == app.sim.digest()
        app.refresh_view()
        await pilot.pause()
        reloaded = diagram_rows(app)
        app.sim = before
        app.refresh_view()
        await pilot.pause()
        assert diagram_rows(app) == reloaded


@pilot_test
async def test_a_damaged_or_foreign_trace_leaves_the_session_untouched(tmp_path):
    good = Simulator("raft", 5, 1)
    good.run(300)
    from engines.lab.trace import trace_dict

    data = trace_dict(good)
    files = {
        "garbage.json": "{not json",
        "foreign.json": json.dumps({"hello": "world"}),
        "tampered.json": json.dumps(data | {"final_digest": "0" * 64}),
        "bad-action.json": json.dumps(
            data | {"actions": [{"step": 3, "kind": "explode", "args": {}}]}
        ),
    }
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d", *"n" * 7)
        sim, digest = app.sim, app.sim.digest()
        for name, text in files.items():
            (tmp_path / name).write_text(text)
            await pilot.press("O")
            await type_path(pilot, app, tmp_path / name)
            await wait_for(pilot, lambda: "Discard it?" in screen_text(app))
            await pilot.press("y")
            await wait_for(pilot, lambda: "unchanged" in app.messages[-1])
            assert not isinstance(app.screen, PathPrompt)
            assert app.sim is sim and sim.digest() == digest and sim.step_count == 7
            assert "session is unchanged" in app.messages[-1] and name in app.messages[-1]
        await pilot.press("O")
        await type_path(pilot, app, tmp_path / "missing.json")  # the prompt stays open
        assert isinstance(app.screen, PathPrompt) and "no such file" in screen_text(app)


@pilot_test
async def test_exports_write_the_diagram_svg_and_the_event_log(tmp_path):
    app = new_app("paxos")
    async with app.run_test(size=SIZE) as pilot:
        await advance(app, pilot, lambda sim: sim.run(1000))
        await pilot.press("d", "f")
        await pilot.press("e")
        name = app.screen.query_one("#name", Input).value
        assert name == f"paxos-seed1-step{app.sim.step_count}.diagram.svg"
        (tmp_path / "out").mkdir()
        await type_path(pilot, app, tmp_path / "out" / "d.svg")
        svg = (tmp_path / "out" / "d.svg").read_text()
        assert svg.startswith("<svg") and "no&#160;heartbeats" in svg and ">P1a<" in svg
        await pilot.press("E")
        assert app.screen.query_one("#name", Input).value.endswith(".events.txt")
        await type_path(pilot, app, tmp_path / "log.txt")
        log = (tmp_path / "log.txt").read_text()
        assert log == event_log_text(app.sim)
        await pilot.press("e")
        await type_path(pilot, app, tmp_path / "log.txt" / "x.svg")  # a file, not a folder
        assert isinstance(app.screen, PathPrompt) and "no folder" in screen_text(app)


@pilot_test
async def test_a_replayed_trace_opens_with_its_whole_history(tmp_path):
    from engines.lab.trace import load_trace, save_trace

    original = busy_raft()
    save_trace(original, tmp_path / "t.json")
    app = new_app(sim=load_trace(tmp_path / "t.json"))  # what `consensus-tui replay` does
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        assert view(app).index.row_count == original.step_count
        replayed = diagram_rows(app)
        app.sim = original
        app.refresh_view()
        await pilot.pause()
        assert diagram_rows(app) == replayed
