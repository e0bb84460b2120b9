"""Lessons: captions in scripts, the lesson header, the presets as lessons, and the app that
opens them at step 0 and shows the caption current at each step."""

from __future__ import annotations

import pytest
from snapshot_apps.support import pilot_test, screen_text, wait_for

from engines.lab.script import (
    PRESETS,
    TOPICS,
    Caption,
    ScriptError,
    caption_at,
    parse,
    parse_file,
    run,
    run_file,
)
from tui.app import make_app, preset_scenarios
from tui.screens.prompts import PresetPicker
from tui.widgets.caption import CaptionStrip

SIZE = (120, 40)
ALL_PRESETS = sorted(PRESETS.glob("*/*.scn"))

LESSON = """\
## Three nodes, nothing happened yet.
lesson elections "A test lesson"
algo raft
nodes 3
seed 2
run 1s
## A leader won:
## its term is 1.
expect leader any
propose "set x 1"
## x=1 is proposed.
run 200ms
"""


# --- captions in scripts --------------------------------------------------------------------
def test_a_caption_belongs_to_the_step_the_run_reached_at_its_line():
    result = run(parse(LESSON))
    first, second, third = result.captions
    assert first == Caption(0, "Three nodes, nothing happened yet.")
    assert second.text == "A leader won: its term is 1."  # consecutive lines make one
    assert second.step > 0 and result.sim.leader() is not None
    assert third.step == second.step + 1  # the propose was one step
    assert third.text == "x=1 is proposed."


def test_the_caption_at_a_step_is_the_last_one_at_or_before_it():
    captions = [Caption(0, "a"), Caption(5, "b"), Caption(9, "c")]
    assert [caption_at(captions, s).text for s in (0, 4, 5, 8, 9, 50)] == list("aabbcc")
    assert caption_at([Caption(3, "late")], 2) is None
    assert caption_at([], 7) is None


def test_a_caption_is_a_whole_line_and_a_plain_comment_is_not():
    script = parse("algo raft\n#  # not a caption\nrun 1s  ## nor this\n  ##  spaced  \n")
    captions = [c for c in script.commands if c.name == "##"]
    assert [c.args for c in captions] == [["spaced"]]


def test_the_lesson_header_gives_a_topic_and_a_summary():
    script = parse(LESSON)
    assert (script.topic, script.summary) == ("elections", "A test lesson")
    assert parse("algo raft\n").topic is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('lesson cooking "x"', "2: unknown lesson topic 'cooking' (choose elections, "),
        ("lesson elections", "2: expected 'lesson elections|replication|safety|reads|"),
        ('lesson elections ""', "2: expected 'lesson"),
    ],
)
def test_a_bad_lesson_line_names_its_line(line, message):
    with pytest.raises(ScriptError) as caught:
        parse(f"algo raft\n{line}\n", "s.scn")
    assert str(caught.value).startswith(f"s.scn:{message}")


# --- the presets as lessons -----------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_PRESETS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_preset_is_a_lesson_with_captions(path):
    script = parse_file(path)
    assert script.topic in TOPICS and script.summary
    assert script.topic == "bugs" if path.stem.startswith("bug_") else script.topic != "bugs"
    result = run_file(path)
    assert result.captions and result.captions[0].step == 0  # something to read at step 0
    assert len(result.captions) >= 3


def test_figure_8_holds_back_the_old_term_entry_then_commits_it_under_its_own_term():
    """The paper's Figure 8 (c): x=2 of term 2 on n1 n2 n3, a majority, and n1 leading term 4
    does not commit it; (e) n1 in term 6 commits it with w=6, an entry of term 6."""
    sim = run_file(PRESETS / "raft" / "figure8_exact.scn").sim
    notes = [(e.step, n) for e in sim.events for n in e.notes]
    held = [(s, n) for s, n in notes if n.kind == "commit_held"]
    step, first = held[0]
    assert first.node == 1 and first.fields == {"index": 2, "entry_term": 2, "term": 4}
    sim.goto(step)
    assert [sim.nodes[i].persistent.log[2].term for i in (1, 2, 3)] == [2, 2, 2]
    assert sim.nodes[1].commit_index == 0
    commits = [n for s, n in notes if n.kind == "commit" and n.node == 1 and s > step]
    assert commits[0].fields == {"index": 4, "term": 6}
    sim.goto(sim.max_step)
    assert sim.state_machine(1).chain[2].data == "set x 2"


def test_the_figure_8_captions_name_the_held_back_commit_when_it_happens():
    result = run_file(PRESETS / "raft" / "figure8_exact.scn")
    step = next(e.step for e in result.sim.events for n in e.notes if n.kind == "commit_held")
    assert "does NOT commit it" in caption_at(result.captions, step).text


def test_the_picker_lists_every_preset_under_its_topic_this_algorithms_first():
    presets = preset_scenarios("paxos")
    assert {p.path for p in presets} == set(ALL_PRESETS)
    topics = [p.topic for p in presets]
    assert topics == sorted(topics, key=list(TOPICS.values()).index)
    bugs = [p.name for p in presets if p.topic == "Bug lab"]
    assert bugs[0].startswith("paxos/") and bugs[-1].startswith("raft/")


# --- the app --------------------------------------------------------------------------------
@pilot_test
async def test_the_picker_shows_topics_and_summaries_and_opens_the_chosen_lesson():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetPicker))
        await pilot.pause()
        text = screen_text(app)
        assert "Elections" in text and "raft/election_3" in text
        first = preset_scenarios("raft")[0]
        assert first.summary[:40] in text
        await pilot.press("down", "enter")  # the heading is skipped: the second lesson
        await wait_for(pilot, lambda: app.sim.max_step > 0)
        assert app.sim.step_count == 0
        assert caption_text(app) != ""


def caption_text(app) -> str:
    strip = app.screen_stack[0].query_one(CaptionStrip)
    return " ".join(t.plain for t in strip.lines) if strip.display else ""


@pilot_test
async def test_a_preset_opens_at_step_0_ready_to_play_and_replays_the_script():
    path = PRESETS / "raft" / "figure8_exact.scn"
    end = run_file(path).sim
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.load_scenario(path)
        await wait_for(pilot, lambda: app.sim.max_step == end.step_count)
        assert app.sim.step_count == 0 and not app.playing
        assert "Figure 8 of the Raft paper" in caption_text(app)
        await pilot.press(">")
        assert app.sim.digest() == end.digest()


@pilot_test
async def test_a_bug_lesson_opened_at_step_0_goes_to_its_violation_ahead():
    path = PRESETS / "raft" / "bug_figure8.scn"
    ahead = run_file(path).sim.violation
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.load_scenario(path)
        await wait_for(pilot, lambda: app.sim.max_step > 0)
        assert app.sim.step_count == 0 and app.violation == ahead
        await pilot.press("exclamation_mark")
        assert app.sim.step_count == ahead.step


@pilot_test
async def test_the_caption_follows_the_step_forward_and_back(tmp_path):
    script = tmp_path / "lesson.scn"
    script.write_text(LESSON)
    captions = run_file(script).captions
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.load_scenario(script)
        await wait_for(pilot, lambda: app.sim.max_step > 0)
        assert caption_text(app).endswith("Three nodes, nothing happened yet.")
        app.goto(captions[1].step - 1)
        await pilot.pause()
        assert caption_text(app).endswith("Three nodes, nothing happened yet.")
        await pilot.press("n")
        assert caption_text(app).endswith("A leader won: its term is 1.")
        await pilot.press("n")
        assert caption_text(app).endswith("x=1 is proposed.")
        await pilot.press("b")
        assert caption_text(app).endswith("A leader won: its term is 1.")


@pilot_test
async def test_a_new_future_leaves_the_lesson_and_redo_brings_it_back(tmp_path):
    script = tmp_path / "lesson.scn"
    script.write_text(LESSON)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.load_scenario(script)
        await wait_for(pilot, lambda: app.sim.max_step > 0)
        await pilot.press("n", "x")  # crash n1 at step 1: not what the lesson did
        assert app.sim.last_fork is not None and caption_text(app) == ""
        await pilot.press("b")
        assert caption_text(app).endswith("Three nodes, nothing happened yet.")
        await pilot.press("ctrl+r")
        await pilot.press(">")
        assert caption_text(app).endswith("x=1 is proposed.")


@pilot_test
async def test_a_session_that_is_no_lesson_shows_no_caption_strip():
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        assert caption_text(app) == ""


@pilot_test
async def test_a_long_caption_is_cut_with_an_ellipsis_on_a_small_terminal(tmp_path):
    script = tmp_path / "long.scn"
    script.write_text("algo raft\nnodes 3\n## " + "a very long caption " * 30 + "\nrun 1s\n")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await app.load_scenario(script)
        await wait_for(pilot, lambda: caption_text(app) != "")
        await pilot.pause()
        strip = app.screen_stack[0].query_one(CaptionStrip)
        assert len(strip.lines) == 1 and strip.size.height == 4
        assert strip.render_line(3).text.rstrip().endswith("…")
