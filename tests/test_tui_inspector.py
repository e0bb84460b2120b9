"""Pilot tests: the node inspector and the crashed-node panel."""

from __future__ import annotations

from snapshot_apps.support import pilot_test, screen_text, wait_for

from tui.app import ConsensusApp, make_app
from tui.widgets.inspector import Inspector

SIZE = (120, 40)


def new_app(algo: str = "raft") -> ConsensusApp:
    app = make_app(algo, 5, 1)
    app.cursor_blink = False
    return app


def inspector(app: ConsensusApp) -> Inspector:
    return app.screen.query_one(Inspector)


def inspected(app: ConsensusApp) -> str:
    return "\n".join(t.plain for t in inspector(app).lines)


def panel_text(app: ConsensusApp, node: int) -> str:
    """The lines a node panel draws."""
    return "\n".join(t.plain for t in app.screen.query_one(f"#node-{node}")._lines)


async def commit_values(app: ConsensusApp, pilot, values: list[str]) -> int:
    sim = app.sim
    sim.run_until(lambda: sim.leader() is not None)
    sim.run(100)
    leader = sim.leader()
    for value in values:
        sim.propose(value, leader)
    sim.run(500)
    app.refresh_view()
    await pilot.pause()
    return leader


@pilot_test
async def test_enter_opens_the_inspector_of_the_selected_node_and_escape_closes_it():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await commit_values(app, pilot, ["set x 1"])
        await pilot.press(str(leader), "enter")
        await wait_for(pilot, lambda: f"inspect n{leader} · LEADER" in screen_text(app))
        text = screen_text(app)
        assert "persistent (kept across a crash)" in text and "volatile (lost in a crash)" in text
        assert "followers (the leader's view)" in text and "node  next  match  last heard" in text
        assert "set x 1" in text and "x = 1" in text
        assert not app.screen.query_one("#nodes").display  # in place of the panels
        await pilot.press("escape")
        await wait_for(pilot, lambda: "inspect n" not in screen_text(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: "inspect n" in screen_text(app))
        await pilot.press("v")
        await wait_for(pilot, lambda: "inspect n" not in screen_text(app))


@pilot_test
async def test_a_log_of_200_entries_is_reachable_whole():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        values = [f"value-{i:03}" for i in range(200)]
        leader = await commit_values(app, pilot, values)
        assert len(app.sim.nodes[leader].describe()["log"]) > 200
        await pilot.press(str(leader), "enter")
        seen = set()
        for _ in range(40):
            seen |= {v for v in values if v in screen_text(app)}
            await pilot.press("pagedown")
        assert seen == set(values)
        assert "key-value store" in screen_text(app)  # the end, below the log and the chain
        await pilot.press("home")
        assert "persistent (kept across a crash)" in screen_text(app)
        await pilot.press("end")
        assert "key-value store" in screen_text(app)


@pilot_test
async def test_the_inspector_follows_steps_back_and_forward():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await commit_values(app, pilot, [])
        app.sim.propose("set late 1", leader)
        app.refresh_view()
        await pilot.press(str(leader), "enter")
        assert "○" in inspected(app) and "set late 1" in inspected(app)
        await pilot.press("b")
        assert "set late 1" not in inspected(app)
        await pilot.press("n")
        assert "set late 1" in inspected(app)
        await pilot.press("right_square_bracket")  # on to the commit
        assert "late = 1" in inspected(app)


@pilot_test
async def test_selecting_another_node_inspects_it():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter", "3")
        assert inspector(app).border_title == "inspect n3 · FOLLOWER"
        await pilot.press("tab")
        assert inspector(app).border_title == "inspect n4 · FOLLOWER"


@pilot_test
async def test_a_crashed_node_shows_its_persisted_log_in_the_inspector_and_its_panel():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await commit_values(app, pilot, ["set x 1", "set y 2"])
        follower = next(n for n in app.sim.node_ids if n != leader)
        await pilot.press(str(follower), "x")
        panel = panel_text(app, follower)
        assert f"term 1 vote n{leader}" in panel and "voted_for" not in panel
        assert "set x 1" in panel and "set y 2" in panel and "entries" not in panel
        await pilot.press("enter")
        text = inspected(app)
        assert f"term 1  vote n{leader}" in text
        assert "set x 1" in text and "set y 2" in text
        assert "volatile (lost in the crash)" in text
        assert inspector(app).border_title == f"inspect n{follower} · CRASHED"


@pilot_test
async def test_a_crashed_node_that_never_logged_says_so():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "x")
        panel = panel_text(app, 2)
        assert "term 0 vote -" in panel and "log empty" in panel


@pilot_test
async def test_paxos_inspector_shows_slots_and_promise():
    app = new_app("paxos")
    async with app.run_test(size=SIZE) as pilot:
        leader = await commit_values(app, pilot, ["set x 1"])
        await pilot.press(str(leader), "enter")
        text = inspected(app)
        assert "promised" in text and "phase phase2" in text
        assert "✓s1" in text and "set x 1" in text and "x = 1" in text
        await pilot.press("x")
        text = inspected(app)
        assert "persistent (what the crash kept)" in text and "set x 1" in text
