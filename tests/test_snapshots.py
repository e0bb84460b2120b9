"""Snapshot tests of the app (pytest-textual-snapshot). Deterministic: a fixed seed, no
autoplay (states are reached by stepping the engine or pressing keys), no clock, animations
and cursor blink off. Refresh with `uv run pytest tests/test_snapshots.py --snapshot-update`
after looking at the report, and commit the SVGs."""

from __future__ import annotations

from snapshot_apps.broken import BROKEN

from engines.core import protocols
from tui.app import ConsensusApp, make_app

protocols.register(BROKEN)

SIZE = (120, 40)


def app_for(
    algo: str = "raft", nodes: int = 5, seed: int = 1, config: dict | None = None
) -> ConsensusApp:
    app = make_app(algo, nodes, seed, config=config)
    app.cursor_blink = False
    app.animation_level = "none"
    return app


def engine(act):
    """A run_before that drives the engine directly, then shows the result."""

    async def run_before(pilot) -> None:
        act(pilot.app.sim)
        pilot.app.refresh_view()
        await pilot.pause()

    return run_before


def elect_and_commit(sim) -> None:
    sim.run(1000)
    leader = sim.leader()
    for value in ("set x 1", "set y 2", "hello"):
        sim.propose(value, leader)
        sim.run(60)
    sim.run(200)


def test_raft_start(snap_compare):
    assert snap_compare(app_for(), terminal_size=SIZE)


def test_raft_elected_with_commits(snap_compare):
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=engine(elect_and_commit))


def test_raft_crashed_node(snap_compare):
    def act(sim):
        elect_and_commit(sim)
        sim.crash(sim.leader())
        sim.run(40)

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=engine(act))


def inspect(act, node):
    """A run_before that acts on the engine, then opens the inspector of node(sim)."""

    async def run_before(pilot) -> None:
        app = pilot.app
        act(app.sim)
        app.selected = node(app.sim)
        app.action_inspect()
        await pilot.pause()

    return run_before


def test_inspector_on_a_leader(snap_compare):
    def act(sim):
        elect_and_commit(sim)
        sim.propose("set pending [b]1[/b]", sim.leader())  # not committed yet

    leader = inspect(act, lambda sim: sim.leader())
    assert snap_compare(app_for(), terminal_size=SIZE, run_before=leader)


def test_inspector_on_a_crashed_node(snap_compare):
    crashed = []

    def act(sim):
        elect_and_commit(sim)
        crashed.append(sim.leader())
        sim.crash(crashed[0])
        sim.run(40)

    assert snap_compare(
        app_for(), terminal_size=SIZE, run_before=inspect(act, lambda sim: crashed[0])
    )


def test_raft_partition(snap_compare):
    def act(sim):
        elect_and_commit(sim)
        leader = sim.leader()
        others = [n for n in sim.node_ids if n != leader]
        sim.partition([[leader, others[0]], others[1:]])
        sim.propose("set lost 1", leader)  # cannot commit in the minority
        sim.run(700)

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=engine(act))


def test_propose_prompt(snap_compare):
    assert snap_compare(
        app_for(),
        terminal_size=SIZE,
        run_before=engine(elect_and_commit),
        press=["2", "p", *"set z [red]3[/red]"],
    )


def test_help_screen(snap_compare):
    assert snap_compare(app_for(), terminal_size=SIZE, press=["question_mark"])


def test_paxos_stable_leader(snap_compare):
    assert snap_compare(app_for("paxos"), terminal_size=SIZE, run_before=engine(elect_and_commit))


def test_paxos_dueling_proposers(snap_compare):
    def act(sim):
        elect_and_commit(sim)
        sim.campaign(3)
        sim.campaign(4)
        for _ in range(5):  # both still in phase 1, promises for both ballots in flight
            sim.step()
        assert [sim.nodes[n].describe()["role"] for n in (3, 4)] == ["proposer"] * 2

    assert snap_compare(app_for("paxos"), terminal_size=SIZE, run_before=engine(act))


def test_safety_violation_banner(snap_compare):
    def act(sim):
        sim.propose("a", 1)
        sim.propose("b", 2)
        sim.run_until(lambda: sim.violation is not None, max_steps=100)

    assert snap_compare(app_for("broken", 3), terminal_size=SIZE, run_before=engine(act))


def test_bug_lab_violation(snap_compare):
    """Raft with votes granted regardless of log freshness (found by the fuzzer, shrunk):
    a node that missed a committed entry wins an election and the banner names the rule."""

    def act(sim):
        sim.partition([[2], [1, 3]])
        sim.campaign(2)
        sim.run_until(lambda: sim.step_count >= 14)
        sim.heal()
        sim.propose("set x 1", 1)
        sim.run_until(lambda: sim.violation is not None, max_steps=300)

    app = app_for("raft", 3, seed=887934370, config={"bug": "vote_any_log"})
    assert snap_compare(app, terminal_size=SIZE, run_before=engine(act))


def test_nine_nodes(snap_compare):
    assert snap_compare(app_for("raft", 9), terminal_size=SIZE, run_before=engine(elect_and_commit))


def test_small_terminal(snap_compare):
    assert snap_compare(app_for(), terminal_size=(80, 24), run_before=engine(elect_and_commit))


def test_small_terminal_paxos_nine_nodes(snap_compare):
    assert snap_compare(
        app_for("paxos", 9), terminal_size=(80, 24), run_before=engine(elect_and_commit)
    )


def test_history_pane_with_a_stale_read(snap_compare):
    """The stale_read lesson: the deposed leader's answer cannot be placed (reversed, red)."""
    from engines.lab.script import PRESETS

    app = make_app(scenario=PRESETS / "raft" / "bug_stale_read.scn")
    app.cursor_blink = False
    app.animation_level = "none"
    assert snap_compare(app, terminal_size=SIZE, press=["c"])


def test_message_detail(snap_compare):
    """The message list focused on an AppendEntries with entries, in full beside it; a
    held link tagged."""

    def act(sim):
        elect_and_commit(sim)
        leader = sim.leader()
        sim.propose("set [b]x[/b] 3", leader)
        sim.hold([], leader, 2)
        sim.run(6)

    async def run_before(pilot) -> None:
        app = pilot.app
        act(app.sim)
        await pilot.press("m")
        flying = app.sim.in_flight()
        entries = next(i for i, m in enumerate(flying) if getattr(m.msg, "entries", ()))
        await pilot.press(*["j"] * entries)

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=run_before)


def test_fork_notice(snap_compare):
    assert snap_compare(app_for(), terminal_size=SIZE, press=[*"nnnnnnnnnn", *"bbbb", "x"])


def test_history_pane_with_a_selected_operation_marked_in_the_diagram(snap_compare):
    """Three clients from the start (as --clients 3 does), the history pane focused (u) and
    moved back to an earlier write: its line says who, what and when, and the diagram marks
    the client's send, the AppendEntries carrying it and the answer."""
    app = make_app("raft", 3, 1, clients={"count": 3})
    app.cursor_blink = False
    app.animation_level = "none"

    async def run_before(pilot) -> None:
        sim = pilot.app.sim
        sim.run(450)
        records = sim.world.clients.records
        put = max(i for i, r in enumerate(records) if r.command.f == "put" and r.status)
        await pilot.press("u", *["up"] * (len(records) - 1 - put))

    assert snap_compare(app, terminal_size=(140, 44), run_before=run_before)


def test_lesson_picker(snap_compare):
    """`o`: the shipped presets under their lesson topics, each with its one-line summary."""
    assert snap_compare(app_for(), terminal_size=SIZE, press=["o"])


def test_lesson_with_its_caption(snap_compare):
    """The Figure 8 lesson at the step where n1, leading term 4, holds x=2 of term 2 back
    although it is on n1 n2 n3: the caption says why, the event log gives the rule."""
    from engines.lab.script import PRESETS, run_file

    lesson = PRESETS / "raft" / "figure8_exact.scn"
    events = run_file(lesson).sim.events
    held = next(e.step for e in events for n in e.notes if n.kind == "commit_held")

    async def run_before(pilot) -> None:
        await pilot.app.load_scenario(lesson)
        pilot.app.goto(held)
        await pilot.pause()

    assert snap_compare(app_for(), terminal_size=SIZE, run_before=run_before)


# --- the app explains why: the strip, the change marks, the legend ------------------------------
def preset_at(path, step_of):
    """The app on a preset, gone to the step step_of(sim) names (the marks of that step
    compare it with the step before)."""
    app = make_app(scenario=path)
    app.cursor_blink = False
    app.animation_level = "none"

    async def run_before(pilot) -> None:
        pilot.app.goto(step_of(pilot.app.sim))
        await pilot.pause()

    return app, run_before


def step_with(kind: str, node: int | None = None):
    """The first step with a note of this kind (by this node)."""

    def find(sim) -> int:
        sim.goto(sim.max_step)  # the whole recorded run, wherever the preset opened
        notes = ((e.step, n) for e in sim.events for n in e.notes)
        return next(s for s, n in notes if n.kind == kind and node in (None, n.node))

    return find


def test_split_vote_with_tallies(snap_compare):
    """Term 1 of the split vote: n1 and n2 each hold 2 votes of the 3 they need."""
    from engines.lab.script import PRESETS

    app, run_before = preset_at(PRESETS / "raft" / "split_vote_exact.scn", lambda sim: 16)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_old_leader_tail_deleted(snap_compare):
    """The old leader n1 rejoins: the step that deletes its uncommitted tail shows the entries
    struck through, what replaced them marked, and the reason in the strip."""
    from engines.lab.script import PRESETS

    path = PRESETS / "raft" / "old_leader_rejoins.scn"
    app, run_before = preset_at(path, step_with("entries_deleted", 1))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_figure8_commit_held_back(snap_compare):
    """n1 returns as leader of term 2 with a long tail of term 1: the first batch puts index 65
    on a majority, and n1 holds it back until an entry of its own term is (section 5.4.2)."""

    def act(sim):
        sim.campaign(1)
        sim.run(100)
        sim.isolate(1)
        for i in range(70):  # more than one AppendEntries batch (64) of term 1
            sim.propose(f"set k{i} {i}", 1)
        sim.run(50)
        sim.crash(1)
        sim.restart(1)
        sim.heal()
        sim.campaign(1)
        held = step_with("commit_held")
        sim.run_until(lambda: any(n.kind == "commit_held" for n in sim.events[-1].notes))
        assert held(sim) == sim.step_count

    config = {"election_timeout_min": 1000, "election_timeout_max": 2000}
    assert snap_compare(app_for(config=config), terminal_size=SIZE, run_before=engine(act))


def test_paxos_leader_adopts_pmax(snap_compare):
    """n2's phase 1 after the leader's crash: slot 1 takes the value accepted in the highest
    ballot among the promises."""
    from engines.lab.script import PRESETS

    path = PRESETS / "paxos" / "leader_crash_recovery.scn"
    app, run_before = preset_at(path, step_with("adopted"))
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_legend(snap_compare):
    assert snap_compare(app_for(), terminal_size=SIZE, press=["k"])


def test_raft_snapshot_point_in_a_panel(snap_compare):
    """Log compaction: n2's log starts after its snapshot point (▣ index 7, term 1), n1's is
    all snapshot, and n3, down, is the follower that will catch up by InstallSnapshot."""
    from engines.lab.script import PRESETS

    app = make_app(scenario=PRESETS / "raft" / "snapshot_catch_up.scn")
    app.cursor_blink = False
    app.animation_level = "none"
    assert snap_compare(app, terminal_size=SIZE, run_before=engine(lambda sim: sim.goto(54)))


def test_joint_configuration(snap_compare):
    """Joint consensus from 3 to 5, cut off from n2 and n3: n1, n4 and n5 hold the joint
    configuration old+new, n2 and n3 still the old one; the new panels n4 and n5 appeared."""

    def act(sim):
        sim.campaign(1)
        sim.run(200)
        sim.add(4, 1)
        sim.run(100)
        sim.add(5, 1)
        sim.run(200)
        sim.partition([[1, 4, 5], [2, 3]])
        sim.promote([4, 5], 1)
        sim.propose("set a 1", 1)
        sim.run(100)

    app = app_for("raft", 3, config={"membership": "joint"})
    assert snap_compare(app, terminal_size=SIZE, run_before=engine(act))


def test_learner_catching_up(snap_compare):
    """A learner added behind 100 entries: it holds the first batch, the leader's match shows
    how far it is, and its panel says it replicates but never votes."""

    def act(sim):
        sim.campaign(1)
        sim.run(200)
        for i in range(100):
            sim.propose(f"set k{i % 4} {i}", 1)
        sim.run(300)
        sim.add(4, 1)
        sim.run_until(lambda: 0 < sim.nodes[4].last_index < 100, max_steps=500)

    assert snap_compare(app_for("raft", 3), terminal_size=SIZE, run_before=engine(act))
