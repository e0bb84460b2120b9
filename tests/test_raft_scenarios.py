"""The shipped Raft scenarios: every one holds its expectations (a bug-lab preset expects its
violation, and is safe once the bug is taken out), and the demo prints a valid chain."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from engines.core.chain import chain_is_valid
from engines.lab.demo import VALUES, demo
from engines.lab.script import PRESETS, parse_file, run, run_file
from engines.raft.node import BUGS
from tui.cli import app

FOLDER = PRESETS / "raft"
SCENARIOS = sorted(FOLDER.glob("*.scn"))
BUG_PRESETS = sorted(FOLDER.glob("bug_*.scn"))
HISTORY_PRESETS = {"bug_stale_read.scn"}  # no invariant breaks: what the clients see does
LESSONS = {  # bug preset -> the invariant it breaks
    "bug_figure8.scn": "Leader Completeness",
    "bug_forget_vote.scn": "Persistence",
    "bug_no_prevlog_check.scn": "Log Matching",
    "bug_vote_any_log.scn": "Leader Completeness",
    "bug_accept_stale_append.scn": "Committed Prefix",
    "bug_snapshot_truncates.scn": "Committed Prefix",
    "bug_reconfig_before_commit.scn": "Election Safety",
    "bug_apply_config_on_commit.scn": "Election Safety",
}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenario_holds(path):
    result = run_file(path)
    failures = [f"line {o.line}: {o.text} -> {o.observed}" for o in result.failures]
    assert result.ok, failures or result.error or str(result.sim.violation)
    assert len(result.outcomes) >= 2


def test_every_canonical_scenario_ships():
    names = {p.stem for p in SCENARIOS}
    assert {
        "election_3",
        "election_5",
        "split_vote",
        "figure8",
        "leader_crash",
        "old_leader_rejoins",
        "majority_minority",
        "prevote",
        "checkquorum",
        "restart_vote",
        "lossy_network",
        "split_vote_exact",  # the interleavings driven message by message
        "figure8_exact",
        "election_one_round",
        "candidate_fallback",
        "message_count",
        "snapshot_catch_up",  # a follower behind the leader's snapshot
    } <= names


@pytest.mark.parametrize("path", [p for p in BUG_PRESETS if p.name not in HISTORY_PRESETS])
def test_bug_preset_shows_its_violation(path):
    result = run_file(path)
    assert result.sim.violation is not None
    assert result.sim.violation.invariant == LESSONS[path.name]
    script = parse_file(path)
    del script.config["bug"]
    assert run(script).sim.violation is None  # the same steps are safe with the rule in place


def test_every_bug_has_a_preset():
    assert {p.stem.removeprefix("bug_") for p in BUG_PRESETS} == set(BUGS)
    assert {p.name for p in BUG_PRESETS} == set(LESSONS) | HISTORY_PRESETS


def test_option_scenarios_depend_on_their_option():
    """PreVote and CheckQuorum scenarios fail with the option off: they test the option."""
    for name, option in (("prevote", "prevote"), ("checkquorum", "checkquorum")):
        script = parse_file(FOLDER / f"{name}.scn")
        script.config[option] = False
        assert not run(script).ok


def test_the_catch_up_preset_needs_compaction():
    """Without a snapshot the leader still holds every entry: no InstallSnapshot is sent."""
    script = parse_file(FOLDER / "snapshot_catch_up.scn")
    del script.config["snapshot_every"]
    assert [o.text for o in run(script).failures] == [
        "expect messages InstallSnapshot from n1 to n3 since back >= 1"
    ]


def test_cli_runs_a_scenario_and_a_bug_preset():  # the preset expects its violation
    runner = CliRunner()
    assert runner.invoke(app, ["run", str(FOLDER / "figure8.scn")]).exit_code == 0
    assert runner.invoke(app, ["run", str(FOLDER / "bug_figure8.scn")]).exit_code == 0


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_demo_commits_the_three_values_into_a_valid_chain(algo):
    result = demo(algo, 5, 1)
    assert result.ok
    assert [b.data for b in result.chain[1:]] == list(VALUES)
    assert chain_is_valid(result.chain)
    assert result.groups == [[1, 2, 3, 4, 5]]
    text = "\n".join(result.lines)
    assert "Index: 0\nTimestamp: 0ms\nData: Genesis Block\nPrevious Hash: \nHash: " in text
    assert "All 5 nodes hold identical chains: n1 n2 n3 n4 n5" in text


def test_demo_cli_prints_the_chain():
    result = CliRunner().invoke(app, ["demo", "--algo", "raft", "--nodes", "3"])
    assert result.exit_code == 0
    assert result.output.count("Index: ") == 4
    assert "Data: Third distributed system data" in result.output
