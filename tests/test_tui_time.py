"""Pilot tests: moving through time with the keys of the default keymap."""

from __future__ import annotations

from snapshot_apps.broken import BROKEN
from snapshot_apps.support import notifications, pilot_test, screen_text, wait_for
from textual.widgets import Input

from engines.core import protocols
from tui.app import ConsensusApp, make_app
from tui.screens.prompts import GotoPrompt
from tui.widgets.panels import Banner

protocols.register(BROKEN)

SIZE = (120, 40)


def new_app(algo: str = "raft", nodes: int = 5) -> ConsensusApp:
    app = make_app(algo, nodes, 1)
    app.cursor_blink = False
    return app


def last_event(app: ConsensusApp):
    return app.sim.events[-1]


def kinds(event) -> set[str]:
    return {note.tone for note in event.notes} | {event.kind}


async def type_step(pilot, text: str) -> None:
    await pilot.press("colon")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GotoPrompt))
    pilot.app.screen.query_one(Input).value = text
    await pilot.press("enter")


@pilot_test
async def test_go_to_step_start_and_end():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_step(pilot, "40")
        assert app.sim.step_count == 40 and "step 40/40" in screen_text(app)
        await type_step(pilot, "12")
        assert app.sim.step_count == 12 and "step 12/40" in screen_text(app)
        await pilot.press("less_than_sign")
        assert app.sim.step_count == 0 and "step 0/40" in screen_text(app)
        await pilot.press("greater_than_sign")
        assert app.sim.step_count == 40


@pilot_test
async def test_go_to_step_refuses_what_is_not_a_step():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_step(pilot, "ten")
        assert isinstance(app.screen, GotoPrompt)
        await wait_for(pilot, lambda: "'ten' is not a step number" in screen_text(app))
        app.screen.query_one(Input).value = "999999"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "at most 100000 steps past the end" in screen_text(app))
        await pilot.press("escape")
        assert app.sim.step_count == 0


@pilot_test
async def test_next_and_previous_notable_event():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("right_square_bracket")  # the first election starts
        first = app.sim.step_count
        assert "role" in kinds(last_event(app))
        assert all(not {"role", "commit", "action"} & kinds(e) for e in app.sim.events[:-1])
        await pilot.press("right_square_bracket")
        second = app.sim.step_count
        assert second > first and {"role", "commit"} & kinds(last_event(app))
        await pilot.press("left_square_bracket")
        assert app.sim.step_count == first
        await pilot.press("left_square_bracket")
        assert app.sim.step_count == 0  # nothing notable before the first one


@pilot_test
async def test_next_notable_event_stops_at_an_action_and_a_commit():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        sim = app.sim
        sim.run_until(lambda: sim.leader() is not None)
        sim.run(100)
        sim.propose("set x 1", sim.leader())
        action = sim.step_count
        sim.goto(action - 1)
        app.refresh_view()
        await pilot.press("right_square_bracket")
        assert sim.step_count == action and last_event(app).kind == "action"
        await pilot.press("right_square_bracket")
        assert "commit" in kinds(last_event(app))


@pilot_test
async def test_the_violation_is_one_key_away():
    app = new_app("broken", 3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("exclamation_mark")
        assert "no safety violation" in notifications(app)
        app.sim.propose("a", 1)
        app.sim.propose("b", 2)
        await pilot.press("right_square_bracket")
        violation = app.sim.violation
        assert violation is not None and app.sim.step_count == violation.step
        banner = app.screen.query_one(Banner)
        assert f"at step {violation.step}:" in banner.lines[0].plain
        await pilot.press("less_than_sign")
        assert app.sim.violation is None and banner.display
        text = banner.lines[0].plain
        assert f"VIOLATION AHEAD: chain-agreement at step {violation.step} (! goes there)" in text
        await pilot.press("exclamation_mark")
        assert app.sim.step_count == violation.step and app.sim.violation == violation
        await pilot.press("n", "n", "exclamation_mark")  # from after it, too
        assert app.sim.step_count == violation.step


@pilot_test
async def test_a_fork_before_the_violation_forgets_it():
    app = new_app("broken", 3)
    async with app.run_test(size=SIZE) as pilot:
        app.sim.propose("a", 1)
        app.sim.propose("b", 2)
        app.sim.run_until(lambda: app.sim.violation is not None, max_steps=100)
        await pilot.press("less_than_sign", "h")  # heal at step 0: a new future
        assert not app.screen.query_one(Banner).display
        await pilot.press("exclamation_mark")
        assert "no safety violation" in notifications(app)


@pilot_test
async def test_the_next_notable_event_stops_at_the_end_of_the_timeline():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        sim = app.sim
        sim.run_until(lambda: sim.leader() is not None)
        sim.run(100)  # heartbeats only, after the election
        end = sim.step_count
        sim.goto(end - 3)
        app.refresh_view()
        await pilot.press("right_square_bracket")
        assert sim.step_count == sim.max_step == end
        assert f"nothing notable before the end: now at step {end}" in notifications(app)
