"""Simulated clients, read paths and clock drift: what clients see, judged by the checker."""

import pytest

from engines.core.actions import Action, ActionError
from engines.core.chain import StateMachine, apply_kv
from engines.core.clients import ATTEMPT_MS, GIVE_UP_MS
from engines.core.sim import Simulator
from engines.lab.lincheck.search import Verdict
from engines.lab.script import PRESETS, ScriptError, parse, parse_file, run
from engines.lab.trace import load_trace, save_trace
from engines.lab.workload import history, linearizable


def elected(algo="raft", config=None, nodes=5) -> Simulator:
    sim = Simulator(algo, nodes, 3, config)
    sim.run(1000)
    assert sim.leader() is not None
    return sim


def client(sim, c, f, key, *args, node=None):
    action = {"client": c, "f": f, "key": key, "args": list(args)}
    return sim.act(Action("client", action | ({"node": node} if node else {})))


def last(sim, c):
    return [r for r in sim.world.clients.records if r.command.client == c][-1]


def test_a_session_applies_each_operation_once():
    sm = StateMachine()
    sm.apply("p1", "c1.1 put x 1", 0)
    sm.apply("p2", "c2.1 put x 2", 0)
    sm.apply("p3", "c1.1 put x 1", 0)  # client 1's retry of the same operation
    assert sm.kv == {"x": "2"} and sm.result(1, 1) == (True, None)
    sm.apply("p4", "c1.2 cas x 1 3", 0)
    assert sm.kv == {"x": "2"} and sm.result(1, 2) == (False, None)  # cas fails: no effect
    sm.apply("p5", "c1.3 get x", 0)
    assert sm.result(1, 3) == (True, "2") and sm.result(1, 2) is None
    replay, sessions = {}, {}
    for block in sm.chain[1:]:
        apply_kv(replay, block.data, sessions)
    assert replay == sm.kv


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_a_client_is_redirected_to_the_leader_and_answered(algo):
    sim = elected(algo)
    follower = next(i for i in sim.node_ids if i != sim.leader())
    client(sim, 1, "put", "x", "7", node=follower)
    sim.run(500)
    assert last(sim, 1).status == "ok" and last(sim, 1).node == sim.leader()
    client(sim, 1, "get", "x", node=follower)
    sim.run(500)
    assert (last(sim, 1).status, last(sim, 1).value) == ("ok", "7")


def test_an_operation_without_a_majority_ends_unknown_after_retries():
    sim = elected()
    leader = sim.leader()
    for node in sim.node_ids[:3]:
        sim.crash(node)
    client(sim, 1, "put", "x", "1", node=leader)
    sim.run(GIVE_UP_MS + ATTEMPT_MS)
    record = last(sim, 1)
    assert record.status == "unknown" and record.completed_at - record.invoked_at >= GIVE_UP_MS
    (op,) = history(sim)
    assert not op.known  # the checker may place it anywhere after its invocation, or never


def test_a_busy_client_and_a_wrong_operation_are_refused_before_anything_is_recorded():
    sim = elected()
    client(sim, 1, "put", "x", "1")
    steps = sim.step_count
    with pytest.raises(ActionError, match="still waiting"):
        client(sim, 1, "get", "x")
    with pytest.raises(ActionError, match="takes 2 values"):
        client(sim, 2, "cas", "x", "1")
    assert sim.step_count == steps


@pytest.mark.parametrize(
    ("algo", "config"),
    [("raft", {}), ("raft", {"read": "index"}), ("raft", {"read": "lease"}), ("paxos", {})],
)
def test_a_workload_under_faults_is_linearizable_and_replays_exactly(algo, config, tmp_path):
    sim = elected(algo, config)
    sim.act(Action("clients", {"count": 4, "keys": 2, "rate": 20}))
    sim.run(1500)
    sim.isolate(sim.leader())
    sim.run(1500)
    sim.heal()
    sim.run(1000)
    records = sim.world.clients.records
    assert len(records) > 50 and {r.status for r in records} >= {"ok"}
    assert linearizable(sim).verdict is Verdict.LINEARIZABLE
    replayed = load_trace(save_trace(sim, tmp_path / "t.json"))
    assert replayed.world.clients.records == records
    half = sim.step_count // 2
    fresh = Simulator(algo, 5, 3, config)
    fresh.replay(sim.timeline, half)
    sim.goto(half)  # stepping back restores the history of that moment
    assert sim.world.clients.records == fresh.world.clients.records
    assert sim.digest() == fresh.digest()


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_stopping_the_workload_stops_new_operations(algo):
    sim = elected(algo)
    sim.act(Action("clients", {"count": 3}))
    sim.run(1000)
    sim.act(Action("clients", {"count": 0}))
    sim.run(1000)
    count = len(sim.world.clients.records)
    sim.run(2000)
    assert len(sim.world.clients.records) == count > 0


def test_read_index_needs_a_round_a_majority_answers():
    sim = elected(config={"read": "index"})
    leader = sim.leader()
    sim.isolate(leader)
    client(sim, 1, "get", "x", node=leader)
    sim.run(ATTEMPT_MS - 10)
    assert last(sim, 1).status == ""  # the cut-off leader cannot confirm it leads


def test_a_lease_read_is_answered_at_once_and_a_round_is_not_needed():
    sim = elected(config={"read": "lease"})
    client(sim, 1, "get", "x", node=sim.leader())
    assert last(sim, 1).status == "ok"  # answered in the step it arrived
    index = elected(config={"read": "index"})
    client(index, 1, "get", "x", node=index.leader())
    assert last(index, 1).status == ""


def test_a_log_read_is_an_entry():
    sim = elected()
    leader = sim.leader()
    client(sim, 1, "get", "x", node=leader)
    assert sim.nodes[leader].persistent.log[-1].value == "c1.1 get x"


def test_a_drifting_clock_runs_its_timers_at_its_rate():
    sim = elected()
    follower = next(i for i in sim.node_ids if i != sim.leader())
    sim.isolate(follower)
    due = sim.timer_deadline(follower, "election")
    sim.act(Action("drift", {"node": follower, "rate": 2.0}))
    left = due - sim.now
    assert sim.timer_deadline(follower, "election") == sim.now + (left + 1) // 2
    start, local = sim.now, sim._clock(follower)
    sim.run(100)
    assert sim._clock(follower) - local == 2 * (sim.now - start)


def test_the_stale_read_presets_need_their_bug():
    for algo in ("raft", "paxos"):
        script = parse_file(PRESETS / algo / "bug_stale_read.scn")
        assert run(script).ok
        del script.config["bug"]
        lines = [c for c in script.commands if c.name == "expect"]
        assert not lines[-1].args[0].params  # the last line is "expect not linearizable"
        result = run(script)
        assert result.failures and result.failures[-1].text == "expect not linearizable"


def test_the_lease_breaks_only_with_the_drift():
    text = (PRESETS / "raft" / "lease_drift.scn").read_text()
    assert run(parse(text)).ok
    steady = run(parse("\n".join(line for line in text.split("\n") if "drift n" not in line)))
    failed = [o.text for o in steady.failures]
    assert "expect not linearizable" in failed


def test_script_lines_for_clients_read_and_their_errors():
    script = parse("clients 3 keys=2 rate=20\nalgo raft\nraft read=lease\nrun 1s\n")
    assert script.config == {"read": "lease"}
    assert script.commands[0].args == [Action("clients", {"count": 3, "keys": 2, "rate": 20})]
    assert parse("clients off\n").commands[0].args == [Action("clients", {"count": 0})]
    cas = parse("client 3 cas x 1 2 to n2\n").commands[0].args[0]
    assert cas == Action(
        "client", {"client": 3, "f": "cas", "key": "x", "args": ["1", "2"], "node": 2}
    )
    for bad, message in [
        ("client 1 put x", "expected 'client C put KEY VALUE"),
        ("client 1 del x", "expected 'client C"),
        ("clients 3 speed=2", "expected 'clients K"),
        ("clients 99", "client count 99"),
        ("raft read=fast", "read='fast' is not one of log|index|lease"),
        ("drift n1 fast", "expected 'drift NODE RATE'"),
        ("drift n1 20", "clock rate 20.0 is not in 0.1..10"),
        ("expect not linearisable", "cannot read"),
        ("expect client 1 done", "cannot read"),
    ]:
        with pytest.raises(ScriptError, match=message):
            parse(bad + "\n")


def test_expect_linearizable_names_the_read_that_cannot_be_placed():
    result = run(parse_file(PRESETS / "raft" / "bug_stale_read.scn"))
    observed = result.outcomes[-1].observed
    assert "client 1 get x -> '1'" in observed and "from n1" in observed


def test_a_checkpoint_does_not_pickle_the_finished_records():
    """A checkpoint shares the finished records with the live world: its pickle stays the
    same size while they grow four-fold (pickling them all grew it with them: 20k -> 74k
    bytes from 10k to 40k steps)."""
    sim = Simulator("raft", 5, 1, check=False)
    sim.clients(count=3)
    sizes = {}
    for steps in (10_000, 40_000):
        sim.run_until(None, max_steps=steps - sim.world.step)
        sizes[steps] = len(sim.checkpoints[max(sim.checkpoints)].data)
    assert len(sim.world.clients.records) > 2_000
    assert sizes[40_000] < 1.2 * sizes[10_000]


def test_stepping_back_restores_the_records_pending_at_the_checkpoints():
    """The checkpoints share the record objects with the live world; those pending at a
    checkpoint finish after it, and a restore must put back what they held then."""

    def session() -> Simulator:
        sim = Simulator("raft", 5, 1)
        sim.clients(count=3)
        return sim

    fresh, wanted, pending = session(), {}, 0
    for step in (1_024, 2_048, 2_100):
        fresh.run_until(None, max_steps=step - fresh.world.step)
        wanted[step] = fresh.digest()
        pending += sum(c.current is not None for c in fresh.world.clients.clients.values())
    assert pending > 0
    sim = session()
    sim.run_until(None, max_steps=4_000)
    for step in reversed(wanted):
        sim.goto(step)
        assert sim.digest() == wanted[step], step
