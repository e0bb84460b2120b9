"""What a step changed on each node (tui.changes), from real simulator steps, and the app's
strip and change marks while stepping forward and back."""

from __future__ import annotations

from snapshot_apps.support import pilot_test

from engines.core.sim import Simulator
from engines.lab.script import PRESETS, run_file
from tui.app import make_app
from tui.changes import UNCHANGED, ChangeTracker, Shot, node_changes, shots_of
from tui.widgets.nodes import stale_reason
from tui.widgets.strip import WhatHappened


def around(sim: Simulator, step: int) -> tuple[dict[int, Shot], dict[int, Shot]]:
    """The shots of every node at step - 1 and at step."""
    sim.goto(step - 1)
    before = shots_of(sim)
    sim.step()
    return before, shots_of(sim)


def first_step(sim: Simulator, kind: str, node: int | None = None) -> int:
    """The first step with a note of this kind (by this node), in the whole recorded run."""
    sim.goto(sim.max_step)
    return next(
        e.step
        for e in sim.events
        if any(n.kind == kind and (node is None or n.node == node) for n in e.notes)
    )


def elected() -> Simulator:
    sim = Simulator("raft", 3, 1)
    sim.run_until(lambda: sim.leader() is not None, max_steps=5000)
    return sim


def test_nothing_is_marked_without_a_step_before():
    assert node_changes(None, Shot(True, {"term": 1})) == UNCHANGED


def test_an_election_marks_the_candidates_role_term_and_vote_then_the_winners_role():
    sim = elected()
    leader = sim.leader()
    campaign = first_step(sim, "role")  # the first role change: a node becomes candidate
    won = next(
        e.step
        for e in sim.events
        if any(n.kind == "role" and n.fields["role"] == "leader" for n in e.notes)
    )
    before, after = around(sim, campaign)
    candidate = next(n for n, s in after.items() if s.role == "candidate")
    changes = node_changes(before[candidate], after[candidate])
    assert {"role", "term", "voted_for"} <= changes.fields
    before, after = around(sim, won)
    changes = node_changes(before[leader], after[leader])
    assert "role" in changes.fields
    assert 1 in changes.entries  # its no-op, appended on election


def test_a_commit_marks_the_commit_index_and_the_new_block():
    sim = elected()
    leader = sim.leader()
    sim.propose("set x 1", leader)
    sim.run(200)
    commits = [e.step for e in sim.events if any(n.kind == "commit" for n in e.notes)]
    before, after = around(sim, commits[-1])  # x=1 committed (the no-op makes no block)
    changes = node_changes(before[leader], after[leader])
    assert "commit_index" in changes.fields
    assert changes.blocks  # the committed entries applied to the chain
    assert changes.deleted == ()
    others = [n for n in after if n != leader]
    assert all(node_changes(before[n], after[n]) == UNCHANGED for n in others)


def test_the_old_leaders_deleted_tail_is_kept_for_the_step_that_deleted_it():
    """The old leader n1 rejoins: its uncommitted entry 3 of term 1 gives way to the new
    leader's entry 3 of a later term."""
    sim = run_file(PRESETS / "raft" / "old_leader_rejoins.scn").sim
    step = first_step(sim, "entries_deleted", 1)
    before, after = around(sim, step)
    changes = node_changes(before[1], after[1])
    assert [(e[0], e[1]) for e in changes.deleted] == [(3, 1)]
    assert 3 in changes.entries  # the new leader's entry in its place
    assert all(e[1] > 1 for e in after[1].state["log"] if e[0] == 3)
    sim.step()  # the next step shows no deletion any more
    assert node_changes(after[1], shots_of(sim)[1]).deleted == ()


def test_compacted_entries_are_not_marked_deleted():
    """A snapshot drops the log up to its point (section 7): those entries live on in the
    snapshot, so the panel shows the snapshot point, not a deletion."""
    sim = run_file(PRESETS / "raft" / "snapshot_catch_up.scn").sim
    step = first_step(sim, "snapshot_taken", 1)
    before, after = around(sim, step)
    assert after[1].state["snapshot"][0] > before[1].state["log"][0][0]
    assert node_changes(before[1], after[1]).deleted == ()


def test_a_crash_marks_the_role_and_keeps_the_log():
    sim = elected()
    leader = sim.leader()
    before = shots_of(sim)
    sim.crash(leader)
    changes = node_changes(before[leader], shots_of(sim)[leader])
    assert changes.fields == {"role"}
    assert changes.entries == frozenset() and changes.deleted == ()


def test_a_paxos_slot_accepted_is_marked():
    sim = Simulator("paxos", 3, 1)
    sim.run(1000)
    leader = sim.leader()
    sim.propose("set x 1", leader)  # the leader accepts it in slot 1 at once
    before, after = around(sim, sim.step_count)
    assert node_changes(before[leader], after[leader]).entries == {1}


def test_entries_below_the_window_are_not_news():
    """A shot holds the recent entries only: entries older than the earlier window are not
    called added when a truncation brings them into the later one."""
    old = Shot(True, {"log": [[i, 1, f"v{i}", None] for i in range(5, 9)]})
    new = Shot(True, {"log": [[i, 1, f"v{i}", None] for i in range(3, 7)]})
    changes = node_changes(old, new)
    assert changes.entries == frozenset()
    assert [e[0] for e in changes.deleted] == [7, 8]


def test_the_tracker_compares_with_the_step_before_and_forgets_a_rewritten_future():
    sim = elected()
    tracker = ChangeTracker()
    tracker.shoot(sim)
    sim.step()
    assert tracker.knows(sim, sim.step_count - 1)
    tracker.changes(sim)
    tracker.forget_after(sim.step_count - 1)
    assert not tracker.knows(sim, sim.step_count)
    assert not tracker.knows(Simulator("raft", 3, 1), sim.step_count - 1)  # another session


def test_a_leader_cut_off_from_the_majority_is_stale():
    sim = elected()
    leader = sim.leader()
    assert stale_reason(sim, shots_of(sim), leader) == ""
    sim.isolate(leader)
    assert stale_reason(sim, shots_of(sim), leader) == "reaches 1 of n1 n2 n3, needs 2"
    sim.run(2000)  # the others elect a leader of a higher term
    shots = shots_of(sim)
    assert shots[leader].role == "leader"
    newer = sim.leader([n for n in sim.node_ids if n != leader])
    assert stale_reason(sim, shots, leader).endswith(f"in term {shots[newer].state['term']}")
    assert stale_reason(sim, shots, newer) == ""


def strip(app) -> str:
    return app.screen_stack[0].query_one(WhatHappened).lines[0].plain


@pilot_test
async def test_the_strip_and_the_marks_follow_the_step_back():
    """Stepping back to a step shows its reason and its marks as stepping forward did."""
    sim = run_file(PRESETS / "raft" / "old_leader_rejoins.scn").sim
    step = first_step(sim, "entries_deleted", 1)
    sim.goto(step - 1)
    app = make_app(sim=sim)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")
        await pilot.pause()
        forward = app.screen_stack[0].query_one("#node-1").view
        assert strip(app).startswith(f"step {step} ")
        assert "n1 deleted entry 3 (term 1)" in strip(app)
        assert [e[0] for e in forward.changes.deleted] == [3]
        await pilot.press("n", "b")
        await pilot.pause()
        back = app.screen_stack[0].query_one("#node-1").view
        assert strip(app).startswith(f"step {step} ")
        assert "n1 deleted entry 3 (term 1)" in strip(app)
        assert back.changes == forward.changes
        await pilot.press("b")
        await pilot.pause()
        assert strip(app).startswith(f"step {step - 1} ")
        assert app.screen_stack[0].query_one("#node-1").view.changes.deleted == ()


def legend_text(protocol: str) -> str:
    import io

    from rich.console import Console

    from engines.core import protocols
    from tui.screens.legend import legend_table

    out = io.StringIO()
    Console(width=120, file=out).print(legend_table(protocols.get(protocol)))
    return out.getvalue()


def test_the_legend_explains_every_glyph_and_abbreviation_the_widgets_draw():
    text = legend_text("raft") + legend_text("paxos")
    tokens = "● ○ · ✗ ≠ █ ░ ★ ◆ ✓ ◇ ✖ ↺ │ ┊ ├ ▶ ╌ ┄ ═ ╪ ┃ ← →"
    tokens += " match mine votes STALE CUT LOST HELD DOWN genesis dup pending PreVote CheckQuorum"
    tokens += " AE✓ AE✗ V✗ PV✓ RV P1a P1b P2a P2b NACK CHSN HB CTCH TN FWD group kv"
    missing = [token for token in tokens.split(" ") if token not in text]
    assert missing == []


@pilot_test
async def test_the_legend_has_its_own_key_and_is_in_the_help_screen():
    from tui.screens.help import HelpScreen
    from tui.screens.legend import LegendScreen

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("k")
        await pilot.pause()
        assert isinstance(app.screen, LegendScreen)
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        statics = [str(s.render()) for s in app.screen.query("Static")]
        assert any("What the screen shows" in s for s in statics)


@pilot_test
async def test_the_status_bar_says_whether_prevote_and_checkquorum_are_on():
    from tui.widgets.panels import StatusBar

    for config, shown in (
        ({"prevote": True}, ["PreVote"]),
        ({"checkquorum": True}, ["CheckQuorum"]),
        ({"prevote": True, "checkquorum": True}, ["PreVote", "CheckQuorum"]),
        ({}, []),
    ):
        app = make_app(config=config)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.pause()
            status = app.screen_stack[0].query_one(StatusBar).lines[0].plain
            assert [name for name in ("PreVote", "CheckQuorum") if name in status] == shown
