"""Pilot tests: the message list (move, detail, deliver, drop, duplicate, hold, release), the
fork notice and redo, and the network dialog for one link."""

from __future__ import annotations

import pytest
from snapshot_apps.support import notifications, pilot_test, screen_text
from textual.widgets import Input

from tui.app import ConsensusApp, make_app
from tui.screens.prompts import NetworkPrompt
from tui.widgets.panels import MessageDetail, MessageList

SIZE = (120, 40)


def new_app() -> ConsensusApp:
    app = make_app("raft", 5, 1)
    app.cursor_blink = False
    return app


def message_list(app: ConsensusApp) -> MessageList:
    return app.screen_stack[0].query_one(MessageList)


def detail_text(app: ConsensusApp) -> str:
    return "\n".join(t.plain for t in app.screen_stack[0].query_one(MessageDetail).lines)


async def in_flight_at_step_6(pilot) -> None:
    """Step 6 of seed 1: n3 and n4 campaign; RequestVotes and VoteReplies in flight."""
    await pilot.press(*"nnnnnn", "m")
    assert len(pilot.app.sim.in_flight()) == 8


async def back_and_forth_keeps(app: ConsensusApp, pilot) -> None:
    """Step back over the action just taken and forward again: the same state."""
    digest, step = app.sim.digest(), app.sim.step_count
    await pilot.press("b")
    assert app.sim.step_count == step - 1 and app.sim.digest() != digest
    await pilot.press("n")
    assert app.sim.step_count == step and app.sim.digest() == digest


@pilot_test
async def test_the_list_moves_and_the_detail_shows_every_field():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await in_flight_at_step_6(pilot)
        flying = app.sim.in_flight()
        assert message_list(app).selected == flying[0]
        await pilot.press("j", "down", "k")
        chosen = flying[1]
        assert message_list(app).selected == chosen
        text = detail_text(app)
        assert f"#{chosen.seq} RequestVote (RV) n3→n5" in text
        for name in ("term 1", "last_index 0", "last_term 0", "force False"):
            assert name in text
        assert "D deliver · X drop · C dup · H hold link · T hold type" in screen_text(app)
        await pilot.press("end")
        assert message_list(app).selected == flying[-1]
        await pilot.press("escape")  # leaves the list: the event log is back
        assert not message_list(app).has_focus and "events" in screen_text(app)


@pilot_test
async def test_the_list_scrolls_past_the_screen():
    app = new_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await in_flight_at_step_6(pilot)
        last = app.sim.in_flight()[-1]
        row = f"{last.deliver_at - app.sim.now}ms n3→n4"
        assert row not in screen_text(app)  # below the pane's six rows
        await pilot.press("end")
        assert message_list(app).selected == last
        assert row in screen_text(app) and f"#{last.seq} VoteReply" in screen_text(app)


@pilot_test
async def test_deliver_a_later_vote_reply_first():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await in_flight_at_step_6(pilot)
        reply = app.sim.in_flight()[6]  # n2→n4, due 12ms from now
        assert (reply.msg.type_name, reply.src, reply.dst) == ("VoteReply", 2, 4)
        await pilot.press(*"jjjjjj", "D")
        assert reply.seq not in [m.seq for m in app.sim.in_flight()]
        assert app.sim.events[-1].headline().endswith("delivered now, ahead of its turn")
        await back_and_forth_keeps(app, pilot)


@pilot_test
async def test_drop_and_duplicate():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await in_flight_at_step_6(pilot)
        first = app.sim.in_flight()[0]
        await pilot.press("X")
        assert first.seq not in [m.seq for m in app.sim.in_flight()]
        assert app.sim.events[-1].kind == "drop"
        await back_and_forth_keeps(app, pilot)
        before = len(app.sim.in_flight())
        await pilot.press("C")
        assert len(app.sim.in_flight()) == before + 1
        await back_and_forth_keeps(app, pilot)


@pytest.mark.parametrize(
    ("key", "hold"),
    [
        ("H", {"types": [], "src": 3, "dst": 2}),
        ("T", {"types": ["RequestVote"], "src": None, "dst": None}),
    ],
)
@pilot_test
async def test_hold_and_release(key, hold):
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await in_flight_at_step_6(pilot)
        await pilot.press(key)
        assert app.sim.holds() == [hold]
        assert app.sim.is_held(message_list(app).selected)
        assert "HELD" in screen_text(app) and "HELD" in detail_text(app)
        await back_and_forth_keeps(app, pilot)
        await pilot.press(*"nnn")  # the held message stays in flight
        assert app.sim.is_held(message_list(app).selected)
        await pilot.press(key)  # again: release
        assert app.sim.holds() == [] and app.sim.events[-1].action.kind == "release"
        assert "HELD" not in screen_text(app)
        await back_and_forth_keeps(app, pilot)


@pilot_test
async def test_message_keys_with_nothing_in_flight_only_say_so():
    app = make_app("raft", 3, 1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("D", "X", "C", "H", "T")
        assert app.sim.max_step == 0 and "no message in flight" in notifications(app)


@pilot_test
async def test_acting_earlier_says_it_forked_and_redo_brings_the_future_back():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"n" * 10)
        ten = app.sim.digest()
        await pilot.press(*"bbbb", "x")  # crash n1 at step 6
        assert "forked at step 6: 4 later steps set aside (ctrl+r brings them back)" in (
            notifications(app)
        )
        assert app.sim.max_step == 7 and not app.sim.is_up(1)
        await pilot.press("ctrl+r")
        assert (app.sim.step_count, app.sim.max_step) == (6, 10)
        assert "brought back 4 set-aside steps: at step 6 of 10" in notifications(app)
        await pilot.press(">")
        assert app.sim.digest() == ten and app.sim.is_up(1)
        await pilot.press("ctrl+r")  # once only
        assert "no set-aside future to bring back" in notifications(app)


@pilot_test
async def test_acting_again_forgets_the_set_aside_future():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"nnnnn", "b", "x", "x")
        await pilot.press("ctrl+r")
        assert app.sim.max_step == 6 and "no set-aside future" in notifications(app)


async def network_dialog(pilot, **values: str) -> None:
    await pilot.press("l")
    screen = pilot.app.screen
    assert isinstance(screen, NetworkPrompt)
    for id, value in values.items():
        screen.query_one(f"#{id}", Input).value = value
    await pilot.press("enter")


@pilot_test
async def test_the_network_dialog_sets_one_link_one_way_or_both():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await network_dialog(pilot, link="n1->n2", drop="1")
        net = app.sim.network
        assert net.link(1, 2).drop == 1 and net.link(2, 1).drop == 0 and net.default.drop == 0
        await network_dialog(pilot, link=" n3 <-> n4 ", latency="50..60")
        assert net.link(3, 4).latency_min == 50 and net.link(4, 3).latency_max == 60
        assert net.default.latency_min == 5
        assert app.sim.events[-1].headline() == "network n3 <-> n4 latency=50..60 drop=0 dup=0"
        assert "links set apart" in screen_text(app)


@pytest.mark.parametrize(
    ("link", "error"),
    [
        ("n1->n1", "a link joins two different nodes"),
        ("n1-n2", "expected 'n1->n2 or n1<->n2'"),
        ("n7->n1", "node n7 is out of range (n1..n5)"),
        ("leader->n2", "link: name two nodes"),
        ("[b]n1[/b]->n2", "'[b]n1[/b]' is not a node"),
    ],
)
@pilot_test
async def test_a_bad_link_keeps_the_dialog_open(link, error):
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await network_dialog(pilot, link=link)
        assert isinstance(app.screen, NetworkPrompt) and error in screen_text(app)
        assert app.sim.max_step == 0


@pilot_test
async def test_the_palette_has_every_message_command():
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await in_flight_at_step_6(pilot)
        titles = {c.title: c for c in app.get_system_commands(app.screen)}
        for title in ("Messages", "Drop message", "Duplicate message", "Hold its type", "Redo"):
            assert title in titles
        first = app.sim.in_flight()[0]
        await titles["Deliver message"].callback()
        await pilot.pause()
        assert app.sim.events[-1].action.args == {"seq": first.seq}
        await titles["Hold its link"].callback()
        await pilot.pause()
        assert app.sim.holds() == [{"types": [], "src": 3, "dst": 5}]
