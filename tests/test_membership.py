"""Raft membership changes, one rule at a time (Ongaro's dissertation, chapter 4; the paper's
section 6): configurations and their quorums, a configuration in force when appended, learners,
one change at a time, the 2015 fix, a leader that removes itself, joint consensus, and the
simulator, scripts, traces and fuzzer that drive them."""

from __future__ import annotations

import pytest
from test_raft import deliver, leader, make, notes, sends

from engines.core.actions import MEMBERSHIP, Action, ActionError
from engines.core.node import Note
from engines.core.sim import Simulator
from engines.lab import fuzz
from engines.lab.script import PRESETS, ScriptError, parse, parse_file, run
from engines.lab.trace import load_trace, save_trace
from engines.raft.config import ConfigEntry, Configuration
from engines.raft.messages import AppendEntries, AppendReply, Entry, RequestVote, VoteReply
from tui.actions import no_op

RAFT = PRESETS / "raft"


def config_entry(term: int, voters, learners=(), old=None) -> ConfigEntry:
    return ConfigEntry(term, Configuration.of(voters, learners, old))


def refusals(effects) -> list[str]:
    return [e.fields["reason"] for e in effects if type(e) is Note and e.kind == "config_refused"]


def committed_leader(n: int = 3, **config):
    """A leader whose no-op of its term is committed, so that it may change the configuration."""
    node = leader(n=n, **config)
    for peer in node.peers:
        deliver(node, peer, AppendReply(1, True, node.last_index))
    assert node.commit_index == node.last_index
    return node


# --- the configuration value ----------------------------------------------------------------------
def test_a_quorum_is_a_majority_of_the_voters_learners_do_not_count():
    config = Configuration.of([1, 2, 3], learners=[4, 5])
    assert config.is_quorum({1, 2})
    assert not config.is_quorum({1, 4, 5})
    assert config.members == (1, 2, 3, 4, 5)
    assert config.words() == "n1 n2 n3 learners n4 n5"


def test_a_joint_quorum_needs_majorities_of_both_the_old_and_the_new_voters():
    joint = Configuration.of([1, 2, 3, 4, 5], old=[1, 2, 3])
    assert joint.is_quorum({1, 2, 4})
    assert not joint.is_quorum({1, 4, 5})  # 3 of the new 5, 1 of the old 3
    assert joint.quorum_value({1: 9, 2: 3, 3: 3, 4: 9, 5: 9}) == 3
    assert joint.words() == "n1 n2 n3 + n1 n2 n3 n4 n5"


# --- in force when appended -----------------------------------------------------------------------
def test_a_follower_uses_a_configuration_as_soon_as_it_is_appended_and_drops_it_when_cut():
    node = make(node_id=2)
    entry = config_entry(1, [1, 2, 3, 4])
    deliver(node, 1, AppendEntries(1, 0, 0, (Entry(1), entry), 0))
    assert node.commit_index == 0 and node.configuration.voters == (1, 2, 3, 4)
    assert node.peers == [1, 3, 4]
    deliver(node, 3, AppendEntries(2, 1, 1, (Entry(2),), 0))  # a new leader overwrites it
    assert node.configuration.voters == (1, 2, 3)


def test_a_candidate_counts_votes_by_its_own_configuration():
    node = make(n=3)
    deliver(node, 2, AppendEntries(1, 0, 0, (config_entry(1, [1, 2, 3, 4, 5]),), 0))
    node.on_timer(300, "election")
    term = node.term
    deliver(node, 2, VoteReply(term, True))
    assert node.role == "candidate"  # 2 of 5: the founders' 2 of 3 no longer suffices
    deliver(node, 4, VoteReply(term, True))
    assert node.role == "leader"


def test_votes_are_judged_by_the_candidates_configuration():
    """A server grants its vote to a candidate outside its own configuration (camunda 57386:
    refusing it can deadlock), and a learner votes when asked (etcd PR 10998)."""
    node = make(node_id=4, n=3)  # n4 is not in the founders' configuration
    effects = deliver(node, 1, RequestVote(1, 0, 0))
    assert sends(effects)[0][1].granted


# --- learners and promotion -----------------------------------------------------------------------
def test_a_learner_replicates_but_never_campaigns():
    node = make(node_id=4, n=3)
    node.on_timer(300, "election")
    assert node.role == "follower" and not sends(node.take_effects())
    node.on_campaign(300)
    assert "not a voter" in notes(node.take_effects())[0]


def test_a_new_server_joins_as_a_learner_and_is_promoted_only_once_caught_up():
    node = committed_leader()
    node.on_membership(20, "add", [4])
    assert node.configuration.learners == (4,)
    assert 4 in node.next_index  # replicating to it at once
    for peer in (2, 3):
        deliver(node, peer, AppendReply(1, True, node.last_index))
    node.take_effects()
    node.on_membership(30, "promote", [4])
    assert refusals(node.take_effects()) == ["behind"]
    deliver(node, 4, AppendReply(1, True, node.last_index))
    node.on_membership(40, "promote", [4])
    assert node.configuration.voters == (1, 2, 3, 4)


# --- one change at a time, and the 2015 fix -------------------------------------------------------
def test_one_configuration_change_at_a_time():
    node = committed_leader()
    node.on_membership(20, "add", [4])
    node.on_membership(21, "add", [5])
    assert refusals(node.take_effects()) == ["pending"]


def test_single_server_mode_changes_one_voter_at_a_time():
    node = committed_leader(n=5)
    node.on_membership(20, "remove", [4, 5])
    assert refusals(node.take_effects()) == ["one_at_a_time"]


def test_a_new_leader_changes_nothing_until_an_entry_of_its_term_commits():
    node = leader()  # its no-op is not committed
    node.on_membership(20, "remove", [3])
    assert refusals(node.take_effects()) == ["term_uncommitted"]
    bugged = leader(bug="reconfig_before_commit")
    bugged.on_membership(20, "remove", [3])
    assert not refusals(bugged.take_effects()) and bugged.configuration.voters == (1, 2)


def test_only_the_leader_changes_the_configuration():
    node = make()
    node.on_membership(20, "add", [4])
    assert refusals(node.take_effects()) == ["not_leader"]


# --- removal --------------------------------------------------------------------------------------
def test_a_leader_that_removes_itself_leads_until_the_change_commits_then_steps_down():
    node = committed_leader()
    node.on_membership(20, "remove", [1])
    assert node.role == "leader" and node.configuration.voters == (2, 3)
    index = node.last_index
    deliver(node, 2, AppendReply(1, True, index))
    assert node.role == "leader"  # n2 alone is not a majority of n2 n3: n1 no longer counts
    effects = deliver(node, 3, AppendReply(1, True, index))
    assert node.role == "follower"
    assert any("configuration that removes it committed" in t for t in notes(effects))
    node.on_timer(900, "election")
    assert node.role == "follower"  # outside its configuration, it never campaigns


def test_a_leader_deposed_before_its_removal_commits_still_campaigns_without_its_own_vote():
    """4.2.2: n1 removed itself, then lost its term before the removal committed. Its log may
    be the only one n2 and n3 can elect, so it still campaigns; it wins on their votes alone
    (its own does not count in n2 n3), and steps down once the removal commits."""
    node = committed_leader()
    node.on_membership(20, "remove", [1])
    deliver(node, 2, RequestVote(2, 1, 1))  # n2's log lacks the removal: refused, but term 2
    assert node.role == "follower" and node.configuration.voters == (2, 3)
    node.on_timer(900, "election")
    assert node.role == "candidate" and node.term == 3
    deliver(node, 2, VoteReply(3, True))
    assert node.role == "candidate"  # n1's own vote does not count: 1 of n2 n3
    deliver(node, 3, VoteReply(3, True))
    assert node.role == "leader"
    for peer in (2, 3):
        deliver(node, peer, AppendReply(3, True, node.last_index))
    assert node.role == "follower"  # its removal committed under its own term's entry
    node.on_timer(2000, "election")
    assert node.role == "follower"  # now it never campaigns


def test_a_removed_server_is_replicated_to_until_its_removal_commits():
    node = committed_leader()
    node.on_membership(20, "remove", [3])
    assert 3 in node.peers  # it should learn it was removed
    deliver(node, 2, AppendReply(1, True, node.last_index))
    assert 3 not in node.peers and 3 not in node.next_index


@pytest.mark.parametrize("prevote", [False, True])
def test_a_removed_server_that_missed_its_removal_disrupts_only_without_prevote(prevote):
    """Cut off while it is removed, n5 never learns it left and campaigns with ever higher
    terms (dissertation 4.2.3). The others are not in its configuration's way with PreVote:
    they refuse pre-votes while their leader is alive, and the leader's term stays put."""
    sim = Simulator("raft", 5, 1, {"prevote": prevote})
    sim.campaign(1)
    sim.run(200)
    sim.isolate(5)
    sim.remove([5], 1)
    sim.run(300)
    sim.heal()
    sim.run(3000)
    assert sim.nodes[5].configuration.is_voter(5)  # it still believes it votes
    assert (sim.nodes[1].term == 1) == prevote and sim.violation is None


def test_the_cluster_shrinks_to_one_voter_which_commits_alone():
    sim = Simulator("raft", 3, 1)
    sim.campaign(1)
    sim.run(200)
    sim.remove([3], 1)
    sim.run(200)
    sim.remove([2], 1)
    sim.run(200)
    assert sim.nodes[1].configuration.voters == (1,)
    sim.crash(2)
    sim.propose("alone", 1)
    sim.run(50)
    assert sim.height(1) == 1 and sim.violation is None


# --- joint consensus ------------------------------------------------------------------------------
def test_joint_mode_goes_through_old_plus_new_then_new_alone():
    node = committed_leader(membership="joint")
    node.on_membership(20, "add", [4])
    for peer in (2, 3, 4):
        deliver(node, peer, AppendReply(1, True, node.last_index))
    node.on_membership(30, "promote", [4])
    assert node.configuration == Configuration.of([1, 2, 3, 4], old=[1, 2, 3])
    for peer in (2, 3):
        deliver(node, peer, AppendReply(1, True, node.last_index))
    assert node.configuration == Configuration.of([1, 2, 3, 4])  # appended when joint committed
    assert type(node.persistent.log[-1]) is ConfigEntry


# --- the simulator, scripts and traces ------------------------------------------------------------
def test_the_app_refuses_a_change_the_leader_would_refuse_without_taking_a_step():
    """A refused change would change nothing but the timeline: the app says why instead."""
    sim = Simulator("raft", 3, 1)
    sim.run(600)
    leader = sim.leader()
    sim.add(4, leader)
    steps = sim.step_count
    reason = no_op(sim, "promote", {"nodes": [4], "via": leader})
    assert reason.startswith(f"n{leader} refuses to promote n4: ")
    assert sim.step_count == steps
    assert no_op(sim, "remove", {"nodes": [2], "via": leader}).endswith(
        "an earlier configuration change is not committed yet (one at a time, 4.1)"
    )
    sim.run(600)
    assert no_op(sim, "promote", {"nodes": [4], "via": leader}) == ""


def test_added_nodes_take_the_next_ids_up_to_nine_never_reused():
    sim = Simulator("raft", 7, 1)
    sim.run(600)
    with pytest.raises(ActionError, match="the next new node is n8"):
        sim.add(9, sim.leader())
    sim.add(8, sim.leader())
    sim.add(9, sim.leader())
    with pytest.raises(ActionError, match="is not a node id"):
        sim.act(Action("add", {"node": 10, "via": sim.leader()}))
    assert sim.resolve(Action("add", {"node": "new", "via": 1})) is None  # the fuzzer skips it


def test_paxos_refuses_membership_changes_with_a_clear_error():
    sim = Simulator("paxos", 3, 1)
    with pytest.raises(ActionError, match="paxos has no membership changes"):
        sim.add(4, 1)
    with pytest.raises(ScriptError, match="paxos has no membership changes"):
        parse("algo paxos\nnodes 3\nadd n4\n")


def test_a_script_names_added_nodes_only_after_adding_them():
    parse("nodes 3\nadd n4\ncrash n4\nexpect config n4 n1 n2 n3 learners n4\n")
    with pytest.raises(ScriptError, match=":3: node n4 is out of range"):
        parse("nodes 3\nrun 1s\ncrash n4\nadd n4\n")
    with pytest.raises(ScriptError, match=":2: the next new node is n4"):
        parse("nodes 3\nadd n5\n")


def test_step_back_and_traces_stay_exact_across_membership_changes(tmp_path):
    sim = Simulator("raft", 3, 4)
    sim.run(500)
    sim.add(4, sim.leader())
    sim.run(300)
    sim.promote([4], sim.leader())
    sim.run(300)
    sim.remove([sim.leader()], sim.leader())
    sim.run(1500)
    digests = {}
    for step in range(0, sim.step_count + 1, 37):
        sim.goto(step)
        digests[step] = sim.digest()
    sim.goto(sim.max_step)
    end = sim.digest()
    for step, digest in sorted(digests.items(), reverse=True):
        sim.goto(step)
        assert sim.digest() == digest, step
        assert len(sim.node_ids) == (3 if step < sim.actions()[0][0] else 4)
    sim.goto(sim.max_step)
    assert sim.digest() == end and sim.violation is None
    assert load_trace(save_trace(sim, tmp_path / "membership.json")).digest() == end


# --- presets and the bug lab ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "membership_add_two",
        "membership_remove_leader",
        "membership_replace_crashed",
        "membership_joint",
    ],
)
def test_membership_preset_holds(name):
    result = run(parse_file(RAFT / f"{name}.scn"))
    assert result.ok, [o.observed for o in result.failures] or result.error


def test_healthy_raft_refuses_the_2015_change_and_elects_one_leader_in_term_3():
    script = parse_file(RAFT / "bug_reconfig_before_commit.scn")
    del script.config["bug"]
    result = run(script)
    assert result.sim.violation is None
    reasons = [n.fields.get("reason") for e in result.sim.events for n in e.notes]
    assert "term_uncommitted" in reasons
    leaders = [i for i, n in result.sim.nodes.items() if n.is_leader and n.term == 3]
    assert leaders == [1] and result.sim.nodes[2].role == "candidate"


def test_healthy_raft_uses_the_configuration_in_its_log_after_a_restart():
    script = parse_file(RAFT / "bug_apply_config_on_commit.scn")
    del script.config["bug"]
    result = run(script)
    assert result.sim.violation is None
    assert result.sim.nodes[3].configuration.voters == (1, 2, 3)
    assert result.sim.nodes[3].role == "candidate" and result.sim.nodes[2].is_leader


def test_the_fuzzer_changes_membership_in_both_modes():
    modes, changed = set(), 0
    for run_number in range(30):
        case = fuzz.generate("raft", 1, run_number, None, {})
        modes.add(case.config["membership"])
        changed += any(kind in MEMBERSHIP for kind, _ in case.ops)
    assert modes == {"single", "joint"} and changed >= 15
    assert not any(
        kind in fuzz.MEMBERSHIP_KINDS
        for run_number in range(30)
        for kind, _ in fuzz.generate("paxos", 1, run_number, None, {}).ops
    )


def test_the_command_line_chooses_the_membership_mode(tmp_path):
    from typer.testing import CliRunner

    from tui.cli import app

    runner = CliRunner()
    args = ["fuzz", "--runs", "2", "--workers", "1", "--out", str(tmp_path)]
    assert runner.invoke(app, [*args, "--membership", "joint"]).exit_code == 0
    bad = runner.invoke(app, [*args, "--membership", "both"])
    assert bad.exit_code == 2 and "single|joint" in bad.output
    assert runner.invoke(app, ["--algo", "paxos", "--membership", "joint"]).exit_code == 2
