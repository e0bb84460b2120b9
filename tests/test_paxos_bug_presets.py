"""The Paxos bug-lab presets: each shows its named violation, and the same steps are safe once
the bug is taken out."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engines.lab.script import PRESETS, Command, Expectation, parse_file, run
from engines.paxos.node import BUGS
from tui.app import preset_scenarios
from tui.cli import app

FOLDER = PRESETS / "paxos"
ALL_PRESETS = sorted(FOLDER.glob("bug_*.scn"))
HISTORY_PRESETS = {"bug_stale_read.scn"}  # no invariant breaks: what the clients see does
PRESETS = [p for p in ALL_PRESETS if p.name not in HISTORY_PRESETS]
LESSONS = {  # bug preset -> the invariant it breaks
    "bug_ignore_promise.scn": "one value chosen per slot",
    "bug_ignore_accepted.scn": "chosen values never change",
    "bug_forget_promise.scn": "promise never decreases",
}


def test_every_bug_has_a_preset():
    assert {p.stem.removeprefix("bug_") for p in ALL_PRESETS} == set(BUGS)
    assert {p.name for p in PRESETS} == set(LESSONS)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_runs_headless_with_exit_0(path):
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert f"UNSAFE: {LESSONS[path.name]} violated" in result.output


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_shows_its_violation(path):
    script = parse_file(path)
    assert script.config["bug"] == path.stem.removeprefix("bug_")
    result = run(script)
    assert result.ok
    assert result.sim.violation.invariant == LESSONS[path.name]


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.stem)
def test_preset_without_its_bug_is_safe(path):
    """The same steps with the rule in place: every expectation holds, and `expect safe`
    stands where the violation was expected."""
    script = parse_file(path)
    del script.config["bug"]
    script.commands = [_safe_instead(c) for c in script.commands]
    result = run(script)
    assert result.ok, [f"{o.line}: {o.text} ({o.observed})" for o in result.failures]
    assert result.sim.violation is None
    assert any(o.text == "expect safe" and o.ok for o in result.outcomes)


def _safe_instead(command: Command) -> Command:
    if command.name == "expect" and command.args[0].kind == "violation":
        return Command(command.line, "expect", [Expectation("safe", {})], "expect safe")
    return command


def test_presets_are_listed_in_the_picker_with_their_lesson():
    listed = {p.path.name: p for p in preset_scenarios("paxos")}
    for path in PRESETS:
        assert listed[path.name].topic == "Bug lab"
        assert listed[path.name].summary.startswith("Bug lab, ")
