"""Pilot tests: prompts survive keys that arrive together, no session is lost without a
question, and files are saved where the app says."""

from __future__ import annotations

import random

import pytest
from snapshot_apps.support import (
    burst,
    notifications,
    paste,
    pilot_test,
    screen_text,
    wait_for,
)
from textual.widgets import Input

from tui.app import ConsensusApp, make_app
from tui.screens.prompts import DiscardPrompt, PathPrompt, PresetPicker, ProposePrompt

SIZE = (120, 40)
PROMPT_KEYS = ["p", "l", "g", "s", "e", "E", "o", "O", "question_mark"]
DISCARD_KEYS = ["r", "a"]


def new_app(tmp_path, algo: str = "raft") -> ConsensusApp:
    app = make_app(algo, 5, 1, save_dir=tmp_path / "saved")
    app.cursor_blink = False
    return app


def actions(app: ConsensusApp) -> int:
    return len(app.sim.actions())


@pytest.mark.parametrize("key", PROMPT_KEYS + DISCARD_KEYS)
@pilot_test
async def test_every_prompt_survives_a_double_enter(tmp_path, key):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", key)
        await burst(pilot, *"12", "enter", "enter")
        assert app.is_running and actions(app) <= 1
        await burst(pilot, "escape", "escape", "escape")
        assert app.is_running


@pytest.mark.parametrize("key", PROMPT_KEYS + DISCARD_KEYS)
@pilot_test
async def test_every_prompt_survives_a_paste_with_enters(tmp_path, key):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", key)
        await paste(pilot, "1 2 | 3\r\n4 5\n")
        await burst(pilot, *"1\r2", "enter", "enter")
        assert app.is_running and actions(app) <= 1


@pilot_test
async def test_a_double_enter_proposes_once(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await burst(pilot, *"set x 1", "enter", "enter")
        assert [a.args["value"] for _, a in app.sim.actions()] == ["set x 1"]


@pilot_test
async def test_a_pasted_value_keeps_its_first_line(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await paste(pilot, "set x 1\nset y 2\n")
        assert isinstance(app.screen, ProposePrompt)  # a paste never submits by itself
        assert app.screen.query_one(Input).value == "set x 1"
        await pilot.press("enter")
        assert [a.args["value"] for _, a in app.sim.actions()] == ["set x 1"]


async def discard_question(app, pilot, *keys: str) -> None:
    """Press keys on a session with steps; the discard question must come up."""
    await pilot.press(*keys)
    await wait_for(pilot, lambda: "Discard it?" in screen_text(app))
    assert isinstance(app.screen, DiscardPrompt)
    assert "This session has 3 steps. Discard it?" in screen_text(app)


@pytest.mark.parametrize(
    "keys",
    [("r",), ("a",), ("q",), ("ctrl+q",), ("o", "enter")],
    ids=["reset", "algorithm", "quit", "ctrl+q", "preset"],
)
@pilot_test
async def test_every_discard_path_asks_and_no_keeps_the_session(tmp_path, keys):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        digest = app.sim.digest()
        await discard_question(app, pilot, *keys)
        await pilot.press("n")
        assert app.is_running and app.sim.digest() == digest and app.sim.step_count == 3


@pilot_test
async def test_opening_a_trace_asks_first(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s", "enter")  # a trace of step 0, in the save folder
        await wait_for(pilot, lambda: any(tmp_path.glob("saved/*.trace.json")))
        await pilot.press("n", "n", "n")
        await discard_question(app, pilot, "O", "tab", "enter")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.sim.step_count == 0)


@pilot_test
async def test_a_bug_from_the_palette_asks_first(tmp_path):
    app = new_app(tmp_path, "paxos")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "n")
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        titles["Bug: ignore_promise"].callback()
        await discard_question(app, pilot)
        await pilot.press("y")
        await wait_for(pilot, lambda: app.sim.config["bug"] == "ignore_promise")


@pytest.mark.parametrize("yes", [("y",), ("enter", "enter")])
@pilot_test
async def test_quit_after_yes(tmp_path, yes):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await discard_question(app, pilot, "n", "n", "n", "q")
        await burst(pilot, *yes)
    assert app.return_code == 0


@pilot_test
async def test_s_in_the_discard_question_saves_then_goes_on(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await discard_question(app, pilot, "n", "n", "n", "r")
        await pilot.press("s")
        assert isinstance(app.screen, PathPrompt)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.sim.step_count == 0)
        saved = tmp_path / "saved" / "raft-seed1-step3.trace.json"
        assert saved.is_file()
        assert f"trace saved to {saved}" in notifications(app)


@pilot_test
async def test_cancelling_the_save_keeps_the_session(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await discard_question(app, pilot, "n", "n", "n", "r")
        await pilot.press("s", "escape")
        await pilot.pause()
        assert app.sim.step_count == 3 and not (tmp_path / "saved").exists()


@pytest.mark.parametrize("key", ["s", "e", "E"])
@pilot_test
async def test_saving_over_a_file_asks(tmp_path, key):
    target = tmp_path / "old.txt"
    target.write_text("keep me")
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", key)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Replace it?" in screen_text(app))
        assert app.screen.question == f"{target} exists. Replace it?"
        await pilot.press("n")
        assert target.read_text() == "keep me"
        await pilot.press(key)
        app.screen.query_one(Input).value = str(target)
        await pilot.press("enter", "y")
        await wait_for(pilot, lambda: target.read_text() != "keep me")


@pytest.mark.parametrize("key", ["s", "e", "E"])
@pilot_test
async def test_a_missing_folder_is_an_error_not_created(tmp_path, key):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(key)
        app.screen.query_one(Input).value = "nowhere/x.json"  # in the save folder
        await pilot.press("enter")
        error = str(app.screen.query_one("Label.error").render())  # wrapped on screen
        assert (
            error
            == f"no folder {tmp_path / 'saved' / 'nowhere'}: create it first, or choose another"
        )
        assert isinstance(app.screen, PathPrompt) and not (tmp_path / "saved").exists()


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("s", "raft-seed1-step1.trace.json"),
        ("e", "raft-seed1-step1.diagram.svg"),
        ("E", "raft-seed1-step1.events.txt"),
    ],
)
@pilot_test
async def test_saves_go_to_the_save_folder_and_say_where(tmp_path, key, name):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", key)
        await pilot.press("enter")
        saved = tmp_path / "saved" / name
        await wait_for(pilot, lambda: saved.is_file())
        assert f"saved to {saved}" in notifications(app)


@pilot_test
async def test_preset_picker_double_enter_loads_once(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        assert isinstance(app.screen, PresetPicker)
        await burst(pilot, "enter", "enter")
        await wait_for(pilot, lambda: app.sim.max_step > 0)  # a lesson opens at step 0
        assert app.is_running and app.sim.step_count == 0


PROMPT_KEYS_TYPED = ["enter", "escape", "tab", "down", "backspace", "y", "n", "s", "1", "|"]


@pilot_test
async def test_a_thousand_random_keys_never_crash(tmp_path, monkeypatch):
    """Seeded random keys: on the main screen every binding of the default keymap, in a
    prompt or the palette mostly the keys they take; sometimes several keys at once.
    Quitting is counted instead of done; autoplay tops out at 5 events/s (faster, it would
    take the machine's time from the keys)."""
    from tui.app import MainScreen
    from tui.commands import COMMANDS

    monkeypatch.setattr("tui.app.SPEEDS", (1, 2, 3, 4, 5))  # as many levels as before 20/s
    bindings = sorted({k for c in COMMANDS for k in c.keys.split(",")} | {"ctrl+p"})
    rng = random.Random(12)
    app = new_app(tmp_path)
    quits = []

    async def leave() -> None:
        quits.append(app.sim.step_count)

    app.leave = leave
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(1000):
            in_prompt = not isinstance(app.screen, MainScreen) and rng.random() < 0.8
            key = rng.choice(PROMPT_KEYS_TYPED if in_prompt else bindings)
            if rng.random() < 0.1:
                await burst(pilot, key, "enter", "enter")
            else:
                await pilot.press(key)
            assert app.is_running
    assert app.return_code in (None, 0)


@pilot_test
async def test_the_command_palette_survives_a_double_enter(tmp_path):
    app = new_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"Crash")
        await wait_for(pilot, lambda: "Crash the selected node" in screen_text(app))
        await burst(pilot, "enter", "enter", "enter")
        await wait_for(pilot, lambda: actions(app) > 0)
        assert app.is_running and not app.sim.is_up(1)  # the command ran once: n1 is down
        assert actions(app) == 1
        await pilot.press("ctrl+p")
        await burst(pilot, "escape", "escape")
        assert app.is_running
