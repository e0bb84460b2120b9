"""Pilot tests: every binding of the default keymap, its effect on the engine and on screen."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from echo import ECHO
from rich.console import Console
from snapshot_apps.broken import BROKEN
from snapshot_apps.support import notifications, pilot_test, screen_text, wait_for
from textual.widget import Widget
from textual.widgets import Input, Static

from engines.core import protocols
from engines.lab.trace import load_trace
from tui import app as app_module
from tui.app import SPEEDS, ConsensusApp, make_app
from tui.commands import COMMANDS
from tui.screens.help import HelpScreen
from tui.screens.prompts import NetworkPrompt, PartitionPrompt, PresetPicker, ProposePrompt
from tui.widgets.nodes import NodePanel
from tui.widgets.panels import Banner, EventLog, StatusBar

protocols.register(ECHO)
protocols.register(BROKEN)

SIZE = (120, 40)


def status(app: ConsensusApp) -> str:
    return app.screen_stack[0].query_one(StatusBar).lines[0].plain


def panel(app: ConsensusApp, node: int) -> NodePanel:
    return app.screen_stack[0].query_one(f"#node-{node}", NodePanel)


def log_text(app: ConsensusApp) -> str:
    return "\n".join(t.plain for t in app.screen_stack[0].query_one(EventLog).lines)


def new_app(algo="raft", nodes=5, **kwargs) -> ConsensusApp:
    app = make_app(algo, nodes, 1, **kwargs)
    app.cursor_blink = False
    return app


async def elect(app: ConsensusApp, pilot) -> int:
    """Run until a leader exists, then show it."""
    sim = app.sim
    sim.run_until(lambda: sim.leader() is not None, max_steps=5000)
    sim.run(100)
    app.refresh_view()
    await pilot.pause()
    return sim.leader()


@pilot_test
async def test_start_screen_shows_every_node_and_safe():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "FOLLOWER" in screen_text(app))
        text = screen_text(app)
        for node in range(1, 6):
            assert f"n{node}" in text
        assert "FOLLOWER" in text
        assert "SAFE" in status(app)
        assert "RAFT" in status(app) and "seed 1" in status(app) and "step 0/0" in status(app)
        assert panel(app, 1).has_class("-selected")


@pilot_test
async def test_step_and_step_back_keys():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "right")
        assert app.sim.step_count == 3
        assert "step 3/3" in status(app)
        assert str(app.sim.events[-1]).split(";")[0] in log_text(app)
        await pilot.press("b")
        assert app.sim.step_count == 2 and "step 2/3" in status(app)
        await pilot.press("left", "left")
        assert app.sim.step_count == 0
        assert log_text(app).startswith("no events yet")


@pilot_test
async def test_play_pause_and_speed_keys():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("plus", "plus")
        assert "100/s" in status(app)
        await pilot.press("minus")
        assert "50/s" in status(app)
        await pilot.press("space")
        assert app.playing and "▶ 50/s" in status(app)
        await wait_for(pilot, lambda: app.sim.step_count >= 2)
        await pilot.press("space")
        assert not app.playing and "paused" in status(app)
        steps = app.sim.step_count
        await pilot.pause(0.1)
        assert app.sim.step_count == steps


@pilot_test
async def test_speed_levels_span_one_to_max():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*["minus"] * len(SPEEDS))
        assert app.speed == 1 and "1/s" in status(app)
        await pilot.press(*["equals_sign"] * len(SPEEDS))
        assert app.speed == 0 and "max" in status(app)
        assert max(SPEEDS) >= 200


@pilot_test
async def test_max_speed_autoplay_steps_back_any_time():
    app = new_app(nodes=9)
    async with app.run_test(size=SIZE) as pilot:
        app.speed_index = len(SPEEDS) - 1
        await pilot.press("space")
        await wait_for(pilot, lambda: app.sim.step_count > 500)
        await pilot.press("b")
        assert not app.playing
        at = app.sim.step_count
        await pilot.press("b")
        assert app.sim.step_count == at - 1


@pilot_test
async def test_max_speed_takes_many_steps_per_redraw_and_shows_the_last_one():
    app = new_app(nodes=9, clients={"count": 3})
    redraws = []
    redraw = app.refresh_view
    app.refresh_view = lambda follow=False: (redraws.append(app.sim.step_count), redraw(follow))
    async with app.run_test(size=SIZE) as pilot:
        app.action_toggle_diagram()
        app.speed_index = len(SPEEDS) - 1
        redraws.clear()
        await pilot.press("space")
        await wait_for(pilot, lambda: app.sim.step_count > 3000)
        await pilot.press("space")
        at = app.sim.step_count
        assert len(redraws) < at / 20  # no redraw per step: many steps between two frames
        assert redraws[-1] == at and f"step {at}/{at}" in status(app)
        log = app.screen_stack[0].query_one(EventLog)
        assert log.lines[-1].plain.split()[0] == str(at)  # the newest event is the last step's


@pilot_test
async def test_keys_act_while_playing_at_max_speed():
    app = new_app(nodes=9)
    async with app.run_test(size=SIZE) as pilot:
        app.action_toggle_diagram()
        app.speed_index = len(SPEEDS) - 1
        await pilot.press("space")
        await wait_for(pilot, lambda: app.sim.step_count > 500)
        await pilot.press("3")
        assert app.selected == 3 and app.playing and "sel n3" in status(app)
        await pilot.press("space")
        assert not app.playing and "paused" in status(app)
        at = app.sim.step_count
        await pilot.pause(0.1)
        assert app.sim.step_count == at  # pause stopped the stepping


@pilot_test
async def test_playing_the_strip_and_the_message_list_keep_their_layout():
    """A strip that changes height, or a scrollbar that comes and goes, lays out the whole
    screen again at each frame: playing, the strip does not shrink and the message list keeps
    its scrollbar; paused, the strip fits the step again."""
    app = new_app(nodes=9, clients={"count": 3})
    seen = []
    redraw = app.refresh_view

    def record(follow=False):
        redraw(follow)
        screen = app.screen_stack[0]
        bar = screen.network.styles.overflow_y
        seen.append((app.playing, screen.strip.styles.height.value, bar))

    app.refresh_view = record
    async with app.run_test(size=SIZE) as pilot:
        app.speed_index = SPEEDS.index(0)
        await pilot.press("space")

        # Frames, not steps: on a loaded machine (or a faster engine) 3000 steps can pass in
        # fewer frames than the test needs to see.
        def played_enough() -> bool:
            return app.sim.step_count > 3000 and sum(1 for on, _, _ in seen if on) > 3

        await wait_for(pilot, played_enough)
        await pilot.press("space")
        playing = [(height, bar) for on, height, bar in seen if on]
        heights = [height for height, _ in playing]
        assert len(heights) > 3 and heights == sorted(heights)
        assert {bar for _, bar in playing} == {"scroll"}
        strip = app.screen_stack[0].strip
        assert strip.styles.height.value == len(strip._lines) and seen[-1][2] == "auto"


class SlowToGo(Widget):
    """A widget that takes its time to go, as every widget does on a loaded machine: autoplay
    gets turns while the screens close."""

    async def on_unmount(self) -> None:
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("speed", [0, 5])
@pilot_test
async def test_the_end_of_a_test_while_playing_stops_autoplay_before_the_screens_go(speed):
    app = new_app(nodes=9)
    async with app.run_test(size=SIZE) as pilot:
        await app.screen_stack[0].mount(SlowToGo())
        app.speed_index = SPEEDS.index(speed)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.sim.step_count > 0)
    assert not app.playing  # and no redraw on screens that are going, which raised NoScreen


@pilot_test
async def test_quitting_while_playing_at_max_speed():
    app = new_app(nodes=9)
    async with app.run_test(size=SIZE) as pilot:
        await app.screen_stack[0].mount(SlowToGo())
        app.speed_index = SPEEDS.index(0)
        await pilot.press("space")
        await wait_for(pilot, lambda: app.sim.step_count > 500)
        await pilot.press("q", "y")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


@pilot_test
async def test_violation_pauses_autoplay_and_shows_the_banner():
    app = new_app("broken", 3)
    async with app.run_test(size=SIZE) as pilot:
        app.sim.propose("a", 1)
        app.sim.propose("b", 2)
        await pilot.press("space")
        await wait_for(pilot, lambda: not app.playing)
        v = app.sim.violation
        assert v is not None and app.sim.step_count == v.step
        banner = app.screen_stack[0].query_one(Banner)
        assert banner.display and "chain-agreement" in banner.lines[0].plain
        assert f"step {v.step}" in screen_text(app)
        assert "UNSAFE" in status(app)
        assert "≠#1" in screen_text(app)  # the first differing block is highlighted
        await pilot.press("b")
        assert app.sim.violation is None and "VIOLATION AHEAD" in banner.lines[0].plain


@pilot_test
async def test_select_keys():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        assert app.selected == 3 and panel(app, 3).has_class("-selected")
        assert not panel(app, 1).has_class("-selected")
        assert "▶" in str(panel(app, 3).border_title)
        await pilot.press("tab")
        assert app.selected == 4
        await pilot.press("shift+tab", "shift+tab")
        assert app.selected == 2
        await pilot.press("9")  # no n9 in a 5-node cluster
        assert app.selected == 2


@pytest.mark.parametrize("nodes", [3, 9])
@pilot_test
async def test_every_select_key_up_to_the_cluster_size(nodes):
    app = new_app(nodes=nodes)
    async with app.run_test(size=SIZE) as pilot:
        for node in range(1, 10):
            await pilot.press(str(node))
            assert app.selected == min(node, nodes)


@pilot_test
async def test_propose_prompt_submits_and_escape_cancels():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await elect(app, pilot)
        await pilot.press(str(leader), "p")
        assert isinstance(app.screen, ProposePrompt)
        await pilot.press("escape")
        assert not isinstance(app.screen, ProposePrompt)
        steps = app.sim.step_count
        await pilot.press("p", "enter")  # empty: refused, prompt stays
        assert isinstance(app.screen, ProposePrompt) and "type a value" in screen_text(app)
        await pilot.press(*"set x 1", "enter")
        assert not isinstance(app.screen, ProposePrompt)
        assert app.sim.step_count == steps + 1
        assert app.sim.events[-1].action.args == {"value": "set x 1", "node": leader}
        assert "propose 'set x 1'" in log_text(app)
        app.sim.run(500)
        app.refresh_view()
        assert all(app.sim.nodes[i].sm.kv == {"x": "1"} for i in app.sim.node_ids)
        assert "kv x=1" in screen_text(app)


@pilot_test
async def test_values_are_shown_literally():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await elect(app, pilot)
        value = "[red]x[/red] [b]y\x1b[31m\x07 " + "z" * 80
        await pilot.press(str(leader), "p")
        app.screen.query_one(Input).value = value
        await pilot.press("enter")
        proposed_at = app.sim.step_count
        app.sim.run(500)
        app.refresh_view()
        await pilot.pause()
        text = screen_text(app)
        assert "t1 [red]x[/red] [b]y\\x1b[31m\\x…" in text  # literal, escaped, cut ...
        assert "zzzzz" not in text
        assert value in [e[2] for e in app.sim.nodes[leader].describe()["log"]]  # ... kept whole
        app.sim.goto(proposed_at + 3)  # back to the proposal, in the event log
        app.refresh_view()
        await pilot.pause()
        assert "propose '[red]x[/red] [b]y\\x1b[31m\\x07 zz" in screen_text(app)


@pilot_test
async def test_crash_key_toggles_crash_and_restart():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "x")
        assert not app.sim.is_up(2)
        assert panel(app, 2).has_class("-down") and "CRASHED" in str(panel(app, 2).border_title)
        assert "persistent state" in screen_text(app)
        await pilot.press("x")
        assert app.sim.is_up(2) and not panel(app, 2).has_class("-down")
        assert "restart n2" in log_text(app)


@pilot_test
async def test_campaign_key_starts_an_election():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4", "t")
        assert app.sim.nodes[4].describe()["role"] == "candidate"
        assert "CANDIDATE" in str(panel(app, 4).border_title)
        assert "campaign n4" in log_text(app)


@pilot_test
async def test_partition_prompt_typed_groups_and_presets():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        leader = await elect(app, pilot)
        await pilot.press("g")
        assert isinstance(app.screen, PartitionPrompt)
        await pilot.press(*"1 2 | 2", "enter")
        assert isinstance(app.screen, PartitionPrompt) and "n2 is in two groups" in screen_text(app)
        app.screen.query_one(Input).value = "1 2 | 3 4 5"
        await pilot.press("enter")
        assert app.sim.network.groups() == [[1, 2], [3, 4, 5]]
        assert "n1 n2 | n3 n4 n5" in status(app)
        assert panel(app, 1).border_subtitle == "group A"
        assert panel(app, 5).border_subtitle == "group B"
        await pilot.press("g", "tab", "enter")  # first preset: isolate the leader
        others = [i for i in range(1, 6) if i != leader]
        assert sorted(app.sim.network.groups()) == sorted([[leader], others])
        await pilot.press("g", "tab", "down", "enter")  # split, leader in the minority
        groups = app.sim.network.groups()
        assert (
            len(groups) == 2 and leader in min(groups, key=len) and len(min(groups, key=len)) == 2
        )


@pilot_test
async def test_isolate_and_heal_keys():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "i")
        assert [3] in app.sim.network.groups()
        assert panel(app, 3).border_subtitle
        await pilot.press("n" * 1)
        await pilot.press("h")
        assert app.sim.network.groups() == [[1, 2, 3, 4, 5]]
        assert "net whole" in status(app) and panel(app, 3).border_subtitle == ""


@pilot_test
async def test_cut_messages_are_marked_in_the_network_panel():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("1", "t")  # n1 sends RequestVote to everyone
        await pilot.press("i")  # ... and is cut off before they arrive
        text = screen_text(app)
        assert "n1→n2" in text and "CUT" in text and "RequestVote" in text


@pilot_test
async def test_network_settings_prompt():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l")
        assert isinstance(app.screen, NetworkPrompt)
        app.screen.query_one("#drop", Input).value = "2"
        await pilot.press("enter")
        assert "drop 2.0 is not a probability" in screen_text(app) or "drop=2" in screen_text(app)
        app.screen.query_one("#drop", Input).value = "0.25"
        app.screen.query_one("#latency", Input).value = "10..40"
        await pilot.press("enter")
        link = app.sim.network.default
        assert (link.latency_min, link.latency_max, link.drop, link.dup) == (10, 40, 0.25, 0)
        assert "10..40ms drop 0.25" in screen_text(app)
        await pilot.press("l", "escape")
        assert app.sim.network.default.drop == 0.25


@pilot_test
async def test_switch_algorithm_keeps_seed_and_size():
    app = new_app(nodes=7)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "a")
        assert "This session has 2 steps. Discard it?" in screen_text(app)
        await pilot.press("n")  # no: the session stays
        assert app.sim.protocol.name == "raft" and app.sim.step_count == 2
        await pilot.press("a", "y")
        await wait_for(pilot, lambda: app.sim.protocol.name == "paxos")
        assert app.sim.step_count == 0
        assert len(app.sim.node_ids) == 7 and app.sim.seed == 1
        assert "PAXOS" in status(app) and "ACCEPTOR" in screen_text(app)
        await pilot.press("a")  # nothing to lose at step 0: no question
        await wait_for(pilot, lambda: app.sim.protocol.name == "raft")


@pilot_test
async def test_reset_key():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        digest = app.sim.digest()
        await pilot.press("n", "n", "2", "x", "r", "escape")
        assert app.sim.step_count == 3  # escape keeps the session
        await pilot.press("r", "enter")
        await wait_for(pilot, lambda: app.sim.step_count == 0)
        assert app.sim.digest() == digest
        assert "step 0/0" in status(app)


@pilot_test
async def test_open_preset_loads_a_script(tmp_path, monkeypatch):
    (tmp_path / "raft").mkdir()
    (tmp_path / "raft" / "split.scn").write_text(
        "# A leader, then a cut\nalgo raft\nnodes 3\nseed 4\nrun 1s\npartition n1 | n2 n3\n"
    )
    (tmp_path / "raft" / "broken.scn").write_text("# Broken\nalgo raft\nfly away\n")
    monkeypatch.setattr(app_module, "SCENARIOS", tmp_path)
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        assert isinstance(app.screen, PresetPicker)
        assert "raft/split" in screen_text(app) and "A leader, then a cut" in screen_text(app)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: len(app.sim.node_ids) == 3)
        assert app.sim.seed == 4 and app.sim.step_count == 0  # at its start, ready to play
        await pilot.press(">")
        assert app.sim.network.groups() == [[1], [2, 3]]
        assert app.query("NodePanel").nodes and len(app.screen.query(NodePanel)) == 3
        await pilot.press("o", "enter")  # the broken one: an error, the session stays
        await pilot.pause()
        assert app.sim.seed == 4


@pilot_test
async def test_scenario_option_opens_the_app_at_the_end_paused(tmp_path):
    script = tmp_path / "s.scn"
    script.write_text('algo paxos\nnodes 3\nseed 2\nrun 1s\npropose "set a 1"\nrun 200ms\n')
    app = make_app(scenario=script)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "kv a=1" in screen_text(app))
        assert app.sim.protocol.name == "paxos" and not app.playing and app.sim.step_count > 0


@pilot_test
async def test_save_trace_prompt_writes_a_trace_that_replays(tmp_path):
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "1", "x", "n")
        await pilot.press("s")
        field = app.screen.query_one(Input)
        assert field.value == "raft-seed1-step4.trace.json"
        field.value = str(tmp_path / "t.json")
        await pilot.press("enter")
        data = json.loads((tmp_path / "t.json").read_text())
        assert data["final_step"] == 4
        assert load_trace(tmp_path / "t.json").digest() == app.sim.digest()


def scrolled_text(screen) -> str:
    """Every Static of a scrolling page, as plain text, however far down it lies."""
    console = Console(width=200, file=io.StringIO(), record=True)
    for static in screen.query(Static):
        console.print(static.content)
    return console.export_text()


@pilot_test
async def test_help_lists_every_key():
    app = new_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = scrolled_text(app.screen)  # the whole page: it is taller than the screen
        for command in COMMANDS:
            if not command.id.startswith("node.select_"):
                assert command.id in text
        assert "node.select_1..9" in text and "ctrl+p" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@pilot_test
async def test_quit_key():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


@pilot_test
async def test_command_palette_has_every_action():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for command in COMMANDS:
            if command.id not in (
                "node.select_6",
                "node.select_7",
                "node.select_8",
                "node.select_9",
            ):
                assert command.label in titles
        assert "Select n6" not in titles  # only the nodes of this cluster
        await pilot.press("ctrl+p")
        await pilot.press(*"Crash", "enter")
        await wait_for(pilot, lambda: not app.sim.is_up(1))


@pilot_test
async def test_bug_commands_in_the_palette():
    app = new_app("paxos")
    async with app.run_test(size=SIZE) as pilot:
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Bug: ignore_promise" in titles
        titles["Bug: ignore_promise"].callback()  # at step 0 there is nothing to ask about
        await wait_for(pilot, lambda: app.sim.config["bug"] == "ignore_promise")
        assert "bug ignore_promise" in status(app)


@pilot_test
async def test_acting_at_an_earlier_step_forks_the_future():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"n" * 6, *"b" * 3)
        assert "step 3/6" in status(app)
        await pilot.press("i")
        assert app.sim.step_count == 4 and app.sim.max_step == 4
        assert "step 4/4" in status(app)


@pytest.mark.parametrize("keymap", ["vim"])
@pilot_test
async def test_vim_keymap(keymap):
    app = new_app(keymap=keymap)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("l", "l", "h")
        assert app.sim.step_count == 1
        await pilot.press("j", "j")
        assert app.selected == 3
        await pilot.press("I")
        assert [3] in app.sim.network.groups()
        await pilot.press("H")
        assert len(app.sim.network.groups()) == 1
        await pilot.press("i")
        assert isinstance(app.screen, ProposePrompt)
        await pilot.press("escape", "f1")
        assert isinstance(app.screen, HelpScreen)
        assert "l / →" in screen_text(app)


@pilot_test
async def test_resizing_never_crashes():
    app = new_app(nodes=9)
    async with app.run_test(size=SIZE) as pilot:
        app.sim.run(1000)
        for size in [(80, 24), (40, 12), (20, 6), (200, 60), (81, 25), (1, 1), (120, 40)]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            screen_text(app)
        assert app.is_running


@pilot_test
async def test_echo_protocol_panels():
    app = new_app("echo", 3)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"n" * 10)
        assert "pings_received" in screen_text(app)


@pilot_test
async def test_paxos_campaign_propose_and_chosen_marks():
    app = new_app("paxos")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "t")
        assert app.sim.nodes[3].describe()["role"] == "proposer"
        assert "PROPOSER" in str(panel(app, 3).border_title)
        assert "phase 1" in screen_text(app)
        app.sim.run(300)
        await pilot.press("p", *"set k v", "enter")
        app.sim.run(300)
        app.refresh_view()
        await pilot.pause()
        assert app.sim.leader() == 3 and "LEADER" in str(panel(app, 3).border_title)
        assert "✓s1" in screen_text(app) and "kv k=v" in screen_text(app)
        assert "ballot 1.3" in screen_text(app)


@pilot_test
async def test_an_existing_simulator_opens_at_its_step():
    from engines.core.sim import Simulator

    sim = Simulator("raft", 3, 5)
    sim.run(800)
    app = make_app(sim=sim)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: f"step {sim.step_count}/" in status(app))
        assert app.sim is sim and "seed 5" in status(app)


def notices(app: ConsensusApp) -> str:
    return "\n".join(n.message for n in app._notifications)


@pilot_test
@pytest.mark.parametrize("content", ["[" * 100_000 + "]" * 100_000, '{"seed": ' + "9" * 5000 + "}"])
async def test_opening_a_hostile_trace_keeps_the_session(tmp_path, content):
    path = tmp_path / "bad.trace.json"
    path.write_text(content)
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        before = app.sim
        await pilot.press("O")
        app.screen.query_one(Input).value = str(path)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")  # yes, replace this session with the trace
        await wait_for(pilot, lambda: "The current session is unchanged" in notices(app))
        assert app.sim is before


@pilot_test
async def test_saving_to_a_path_with_a_nul_only_earns_a_message(tmp_path):
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "s")
        app.screen.query_one(Input).value = "a\x00b.json"
        await pilot.press("enter")
        await pilot.pause()
        assert "cannot save trace" in notices(app) and app.is_running


@pilot_test
async def test_an_action_that_changes_nothing_says_so_and_keeps_the_future():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"n" * 6, *"b" * 3)
        refused = [
            (("h",), "the network is whole: nothing to heal"),
            (("l", "enter"), "those are the network settings already"),
        ]
        for keys, reason in refused:
            await pilot.press(*keys)
            assert reason in notifications(app)
            assert app.sim.step_count == 3 and app.sim.max_step == 6
        await pilot.press("2", "x", "3", "i")  # two real actions: the future is forked
        assert app.sim.max_step == 5
        refused = [
            (("2", "t"), "n2 is down: restart it first"),
            (("2", "p", "a", "enter"), "n2 is down: restart it first"),
            (("3", "i"), "n3 is already cut off alone"),
            (("g", *"1 2 4 5 | 3", "enter"), "the network is already split that way"),
        ]
        for keys, reason in refused:
            await pilot.press(*keys)
            assert reason in notifications(app)
            assert app.sim.step_count == app.sim.max_step == 5


@pilot_test
async def test_a_partition_event_shows_the_groups_it_left():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g", *"1 2 | 3", "enter")
        assert "partition n1 n2 | n3; groups now n1 n2 | n3 | n4 | n5" in log_text(app)
        await pilot.press("h", "4", "i")
        assert "isolate n4; groups now n1 n2 n3 n5 | n4" in log_text(app)


@pilot_test
async def test_the_diagram_stays_shown_after_a_preset_of_another_size():
    from engines.lab.script import PRESETS

    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("d")
        await app.load_scenario(PRESETS / "raft" / "election_3.scn")
        await pilot.press("f")  # the filter needs the new pane's index
        assert app.main_screen.diagram.has_class("-shown") and len(app.sim.node_ids) == 3
        assert "space-time · no heartbeats" in screen_text(app)
