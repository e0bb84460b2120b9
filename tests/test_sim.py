"""The simulator, driven by the echo protocol from tests/echo.py."""

import enum
import io
import pickle

import pytest
from echo import ECHO, Echo, Gossip, Ping

from engines.core import protocols
from engines.core.sim import CHECKPOINT_EVERY, Simulator, _Checkpointer

protocols.register(ECHO)


def make(seed: int = 7, nodes: int = 3, **config) -> Simulator:
    return Simulator("echo", nodes, seed, config)


def deliveries(sim: Simulator, kind: str = "deliver") -> list:
    return [e for e in sim.events if e.kind == kind and e.msg is not None]


def test_step_processes_one_event_and_describes_it():
    sim = make()
    event = sim.step()
    assert sim.step_count == 1 and event.step == 1
    assert event.kind == "timer" and str(event) == f"n{event.node} ping timer fired"
    sim.run_until(lambda: bool(deliveries(sim)), max_steps=100)
    last = deliveries(sim)[-1]
    assert str(last).startswith(f"n{last.src} -> n{last.node} Ping(n=1) delivered")


def test_time_only_moves_forward_and_events_come_in_time_order():
    sim = make()
    sim.run(1000)
    times = [e.time for e in sim.events]
    assert times == sorted(times) and sim.now <= 1000 and sim.now > 900


def test_latency_stays_in_the_configured_range():
    sim = make()
    sim.set_network(latency_min=30, latency_max=40)
    sim.run(1000)
    delays = {e.time - e.sent_at for e in deliveries(sim) if e.sent_at > 0}
    assert delays and min(delays) >= 30 and max(delays) <= 40


def test_drop_loses_about_the_configured_share():
    sim = make()
    sim.set_network(drop=0.3)
    sim.run(5000)
    lost = sum(e.detail == "lost" for e in deliveries(sim, "drop"))
    total = lost + len(deliveries(sim))
    assert 0.2 < lost / total < 0.4


def test_duplicate_delivers_some_messages_twice():
    sim = make()
    sim.set_network(dup=0.5)
    sim.run(2000)
    pings = [(e.src, e.node, e.msg.n) for e in deliveries(sim) if isinstance(e.msg, Ping)]
    assert len(pings) > len(set(pings))


def test_per_link_settings_touch_only_that_link():
    sim = make()
    sim.set_network(link=[1, 2], drop=1.0)
    sim.run(2000)
    lost = {(e.src, e.node) for e in deliveries(sim, "drop")}
    assert lost == {(1, 2), (2, 1)}


def test_partition_cuts_messages_sent_after_and_already_in_flight():
    sim = make()
    sim.run_until(lambda: any(m.src != 3 and m.dst == 3 for m in sim.in_flight()), max_steps=500)
    in_flight_to_3 = [m for m in sim.in_flight() if m.dst == 3 and m.src != 3]
    sim.partition([[1, 2], [3]])
    assert not any(sim.will_cross(m) for m in in_flight_to_3)
    start = sim.step_count
    sim.run(1000)
    after = sim.events[start:]
    crossing = [e for e in after if e.msg and (e.src == 3) != (e.node == 3)]
    assert crossing and all(e.kind == "drop" and e.detail == "partition" for e in crossing)
    assert any(e.kind == "deliver" and {e.src, e.node} == {1, 2} for e in after)


def test_unlisted_nodes_are_cut_off_alone_and_heal_removes_every_cut():
    sim = make(nodes=5)
    sim.partition([[1, 2]])
    assert sim.network.groups() == [[1, 2], [3], [4], [5]]
    sim.heal()
    assert sim.network.groups() == [[1, 2, 3, 4, 5]]
    start = sim.step_count
    sim.run(500)
    assert not any(e.kind == "drop" for e in sim.events[start:])


def test_isolate_cuts_one_node_from_the_rest():
    sim = make(nodes=5)
    sim.isolate(2)
    assert sim.network.groups() == [[1, 3, 4, 5], [2]]


def test_crash_cancels_timers_drops_mail_and_keeps_persistent_state():
    sim = make()
    sim.run(450)
    sent_before = sim.nodes[2].persistent.pings_sent
    assert sent_before > 0
    sim.crash(2)
    assert not sim.is_up(2) and sim.timer_deadline(2, "ping") is None
    assert not any(m.dst == 2 for m in sim.in_flight())
    start = sim.step_count
    sim.run(300)
    assert not any(e.node == 2 and e.kind in ("deliver", "timer") for e in sim.events[start:])
    assert any(e.detail == "n2 is down" for e in sim.events[start:])
    sim.restart(2)
    node = sim.nodes[2]
    assert node.persistent.pings_sent == sent_before  # persistent state survived
    assert node.pings_received == 0  # volatile state was lost
    assert sim.timer_deadline(2, "ping") is not None


def test_restart_all_brings_back_every_crashed_node():
    sim = make()
    sim.crash(1)
    sim.crash(3)
    sim.restart_all()
    assert all(sim.is_up(i) for i in (1, 2, 3))


def test_proposal_to_a_crashed_node_is_rejected_in_the_event_log():
    sim = make()
    sim.crash(1)
    event = sim.propose("x", 1)
    assert "n1 is down: proposal rejected" in str(event)


def test_actions_are_recorded_with_their_steps():
    sim = make()
    sim.run(100)
    sim.crash(2)
    step = sim.step_count
    assert sim.actions()[-1][0] == step and sim.actions()[-1][1].kind == "crash"


def test_same_seed_and_actions_give_same_events_and_digest():
    def session(seed: int) -> Simulator:
        sim = make(seed)
        sim.set_network(drop=0.1, dup=0.1)
        sim.run(300)
        sim.propose("set x 1", 1)
        sim.partition([[1], [2, 3]])
        sim.run(300)
        sim.crash(3)
        sim.heal()
        sim.run(300)
        return sim

    a, b, c = session(7), session(7), session(8)
    assert [str(e) for e in a.events] == [str(e) for e in b.events]
    assert a.digest() == b.digest()
    assert a.digest() != c.digest()


def test_random_streams_are_separate_per_node():
    """Traffic on one node does not reshuffle the random draws of another."""
    a, b = make(), make()
    a.propose("x", 1)
    draws_a = [a.world.node_rngs[3].random() for _ in range(3)]
    draws_b = [b.world.node_rngs[3].random() for _ in range(3)]
    assert draws_a == draws_b


def test_step_back_is_exact_at_every_step():
    sim = make()
    sim.set_network(drop=0.2, dup=0.2)
    digests = {0: Simulator("echo", 3, 7).digest(), sim.step_count: sim.digest()}
    every, half = CHECKPOINT_EVERY, CHECKPOINT_EVERY // 2  # across checkpoints and between
    for _ in range(every + 88):
        sim.step()
        digests[sim.step_count] = sim.digest()
    targets = (every + 88, every + 1, every, every - 1, half + 44, half + 1, half, half - 1, 1, 0)
    for target in targets:
        sim.goto(target)
        assert sim.step_count == target and sim.digest() == digests[target]
    sim.goto(every + 89)
    assert sim.digest() == digests[every + 89]


def test_stepping_forward_after_back_replays_recorded_actions():
    sim = make()
    sim.run(200)
    sim.crash(2)
    sim.run(200)
    end, digest = sim.step_count, sim.digest()
    sim.goto(3)
    sim.goto(end)
    assert not sim.is_up(2) and sim.digest() == digest


def test_acting_at_an_earlier_step_forks_a_new_future():
    sim = make()
    sim.run(200)
    crash_step = sim.step_count + 1
    sim.crash(2)
    sim.run(200)
    sim.goto(crash_step - 10)
    sim.propose("fork", 1)
    assert sim.max_step == sim.step_count
    assert [a.kind for _, a in sim.actions()] == ["propose"]
    sim.run(200)
    assert sim.is_up(2)


def test_in_flight_lists_messages_soonest_first():
    sim = make()
    sim.run_until(lambda: len(sim.in_flight()) >= 2, max_steps=100)
    flight = sim.in_flight()
    assert [m.deliver_at for m in flight] == sorted(m.deliver_at for m in flight)
    m = flight[0]
    assert m.msg.type_name == "Ping" and m.msg.summary() == f"n={m.msg.n}"


def test_gossip_applies_the_same_block_everywhere():
    sim = make()
    sim.propose("set k v", 1)
    sim.run(100)
    chains = [sim.nodes[i].sm.chain for i in (1, 2, 3)]
    assert chains[0] == chains[1] == chains[2] and len(chains[0]) == 2
    assert sim.nodes[2].sm.kv == {"k": "v"}
    assert any(isinstance(e.msg, Gossip) for e in deliveries(sim))


def test_bad_network_settings_are_refused_before_recording():
    sim = make()
    with pytest.raises(ValueError, match="drop"):
        sim.set_network(drop=2.0)
    assert sim.actions() == []


def test_echo_replies_to_ping():
    sim = make()
    sim.run(300)
    assert any(isinstance(e.msg, Echo) for e in deliveries(sim))


def test_network_change_is_checked_against_every_link_before_recording():
    sim = make()
    sim.set_network(link=[1, 2], latency_min=50, latency_max=60)
    recorded = len(sim.actions())
    with pytest.raises(ValueError, match="latency range"):
        sim.set_network(latency_max=30)  # would leave link 1-2 with 50..30
    assert len(sim.actions()) == recorded


# --- time that really passes ----------------------------------------------------------------
def test_run_moves_the_clock_by_exactly_its_duration_even_when_nothing_is_due():
    sim = make(period=10_000)  # nothing happens for ten seconds
    for _ in range(20):
        sim.run(100)
    assert sim.now == 2000
    assert {a.kind for _, a in sim.actions()} == {"wait"}


def test_a_raft_cluster_waiting_in_small_slices_elects_a_leader():
    sim = Simulator("raft", 3, 1)
    for _ in range(20):
        sim.run(100)
    assert sim.now == 2000 and sim.leader() is not None


def test_idle_time_steps_back_and_replays_exactly(tmp_path):
    from engines.lab.trace import load_trace, save_trace

    sim = make(period=10_000)
    sim.run(300)
    sim.propose("set x 1", 1)
    sim.run(700)
    digests = {step: None for step in range(sim.step_count + 1)}
    for step in sorted(digests, reverse=True):
        sim.goto(step)
        digests[step] = (sim.now, sim.digest())
    sim.goto(len(digests) - 1)
    assert (sim.now, sim.digest()) == digests[len(digests) - 1]
    assert sim.now == 1000
    replayed = load_trace(save_trace(sim, tmp_path / "idle.json"))
    assert (replayed.now, replayed.digest()) == (sim.now, sim.digest())


# --- single messages ------------------------------------------------------------------------
def first_ping_sim() -> Simulator:
    """Three echo nodes with two pings of n1's in flight, numbered in send order."""
    sim = make(period=50)
    sim.run_until(lambda: any(m.src == 1 for m in sim.in_flight()))
    return sim


def pings_from(sim: Simulator, src: int) -> list:
    return [m for m in sim.in_flight() if m.src == src and isinstance(m.msg, Ping)]


def assert_steps_back_exactly(sim: Simulator, steps: int) -> None:
    """Stepping back over the last `steps` steps and forward again reproduces every digest."""
    end = sim.step_count
    after = {}
    for step in range(end, end - steps - 1, -1):
        sim.goto(step)
        after[step] = sim.digest()
    for step in range(end - steps, end + 1):
        sim.goto(step)
        assert sim.digest() == after[step], step


def test_deliver_takes_a_chosen_message_now_ahead_of_older_ones():
    sim = first_ping_sim()
    first, second = sorted(pings_from(sim, 1), key=lambda m: m.deliver_at)
    now = sim.now
    event = sim.deliver(second.seq)
    assert (event.kind, event.src, event.node, event.time) == ("deliver", 1, second.dst, now)
    assert "ahead of its turn" in event.headline()
    assert second.seq not in {m.seq for m in sim.in_flight()}
    assert first.seq in {m.seq for m in sim.in_flight()}
    assert any(m.src == second.dst and isinstance(m.msg, Echo) for m in sim.in_flight())
    assert_steps_back_exactly(sim, 3)


def test_drop_loses_one_message_and_duplicate_sends_it_twice():
    sim = first_ping_sim()
    lost, copied = pings_from(sim, 1)[:2]
    event = sim.drop(lost.seq)
    assert (event.kind, event.detail) == ("drop", "dropped by the user")
    sim.duplicate(copied.seq)
    copies = [m for m in sim.in_flight() if (m.src, m.dst, m.msg) == (1, copied.dst, copied.msg)]
    assert len(copies) == 2
    sim.run(100)

    def arrivals(m):
        return [e for e in deliveries(sim) if (e.src, e.node, e.msg) == (1, m.dst, m.msg)]

    assert lost.dst != copied.dst
    assert len(arrivals(copied)) == 2 and not arrivals(lost)
    assert_steps_back_exactly(sim, 6)


def test_held_messages_stay_in_flight_until_released_then_arrive_in_order():
    sim = make(period=50)
    sim.hold(["Ping"], src=1)
    sim.run(300)
    held = [m for m in sim.in_flight() if m.src == 1 and isinstance(m.msg, Ping)]
    assert held and all(sim.is_held(m) for m in held)
    assert not [e for e in deliveries(sim) if e.src == 1 and isinstance(e.msg, Ping)]
    assert [e for e in deliveries(sim) if e.src == 2 and isinstance(e.msg, Ping)]
    sim.release(["PING"])  # the short name works too; the release covers the hold
    assert sim.holds() == []
    sim.run(1)
    arrived = [e.msg.n for e in deliveries(sim) if e.src == 1 and isinstance(e.msg, Ping)]
    assert arrived and arrived == sorted(arrived)
    assert_steps_back_exactly(sim, 12)


def test_a_held_message_can_still_be_delivered_by_hand():
    sim = make(period=50)
    sim.hold()  # every message
    sim.run(200)
    waiting = sim.in_flight()
    assert waiting and all(sim.is_held(m) for m in waiting)
    event = sim.deliver(waiting[-1].seq)
    assert event.kind == "deliver"


def test_a_one_way_cut_blocks_one_direction_only():
    sim = make(period=50)
    sim.cut(1, 2)
    sim.run(500)
    assert not [e for e in deliveries(sim) if (e.src, e.node) == (1, 2)]
    assert [e for e in deliveries(sim) if (e.src, e.node) == (2, 1)]
    assert [e for e in deliveries(sim, "drop") if (e.src, e.node) == (1, 2)]
    assert not sim.network.is_whole
    sim.heal()
    assert sim.network.is_whole
    sim.run(300)
    assert [e for e in deliveries(sim) if (e.src, e.node) == (1, 2) and e.time > 500]
    assert_steps_back_exactly(sim, 10)


def test_network_settings_can_differ_per_direction_of_one_link():
    sim = make(period=20)
    sim.set_network(link=[1, 2], oneway=True, drop=1.0)
    sim.run(1000)
    assert not [e for e in deliveries(sim) if (e.src, e.node) == (1, 2)]
    assert [e for e in deliveries(sim) if (e.src, e.node) == (2, 1)]
    assert sim.network.link(1, 2).drop == 1.0 and sim.network.link(2, 1).drop == 0.0


def test_messages_sent_are_counted_by_type_and_ends():
    sim = make(period=100)
    sim.run(1000)
    sent = sim.messages_sent()
    pings = sum(n for (kind, src, _), n in sent.items() if kind == "Ping" and src == 1)
    assert pings == 2 * sim.nodes[1].persistent.pings_sent


def test_acting_in_the_past_sets_the_future_aside_and_redo_brings_it_back_once():
    sim = make()
    sim.run(300)
    sim.propose("set x 1", 1)
    sim.run(300)
    end, digest_at_end = sim.step_count, sim.digest()
    sim.goto(10)
    sim.crash(2)
    fork = sim.last_fork
    assert fork.describe() == f"forked at step 10: {end - 10} later steps set aside"
    sim.run(50)  # stepping on in the new future keeps the set-aside one
    sim.redo()
    assert sim.step_count == 10 and sim.max_step == end
    sim.goto(end)
    assert sim.digest() == digest_at_end
    with pytest.raises(ValueError, match="no set-aside future"):
        sim.redo()


def test_a_new_action_after_a_fork_forgets_the_set_aside_future():
    sim = make()
    sim.run(300)
    sim.goto(5)
    sim.crash(2)
    sim.run(20)
    sim.restart(2)
    assert sim.last_fork is None
    with pytest.raises(ValueError):
        sim.redo()


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_a_discarded_session_leaves_no_cyclic_garbage(algo):
    """Checkpoints gc.freeze() what is alive: cyclic garbage would never be freed."""
    import gc

    from engines.lab.bench import under_load

    gc.unfreeze()  # earlier tests' garbage is not this session's: collect it first
    gc.collect()
    sim = Simulator(algo, 5, 1)
    under_load(sim, 3000)
    sim.goto(1000)
    sim.goto(2000)
    gc.unfreeze()  # frozen objects are out of the collector's sight: bring them back
    gc.set_debug(gc.DEBUG_SAVEALL)  # keep what the collections find, to look at it
    try:
        gc.collect()  # what the session dropped while its checkpoints froze the heap
        del sim
        gc.collect()  # and what the session leaves once discarded
        # Only engine objects count: other tests' threads may leave garbage meanwhile.
        ours = [o for o in gc.garbage if type(o).__module__.startswith("engines.")]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == []


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_stepping_back_again_and_again_from_one_checkpoint_stays_exact(algo):
    """A restore takes back the lists the previous restore of that checkpoint made (a Raft
    truncation in between must not leak into them): every digest equals the first run's."""
    from engines.lab.bench import under_load

    sim = Simulator(algo, 5, 3)
    sim.set_network(drop=0.1, dup=0.1)
    digests = {}
    for _ in range(12):
        under_load(sim, 100)
        digests[sim.step_count] = sim.digest()
        if sim.leader():
            sim.isolate(sim.leader())  # new leaders overwrite uncommitted entries
            digests[sim.step_count] = sim.digest()
        under_load(sim, 100)
        sim.heal()
        digests[sim.step_count] = sim.digest()
    end = sim.step_count
    for target in sorted(digests, reverse=True)[:12] + [1100, 600, 1100, 1099, 1098]:
        if target in digests:
            sim.goto(target)
            assert sim.digest() == digests[target], target
    for _ in range(5):
        sim.goto(end)
        assert sim.digest() == digests[end]
        sim.step_back()
        sim.step_back()
    sim.goto(end)
    assert sim.digest() == digests[end]


class Mode(enum.Enum):  # a class of a metaclass other than `type`
    FAST = 1


def test_a_checkpoint_pickles_classes_of_any_metaclass_and_their_members():
    # The checkpoint's pickler looks every type up in a table of its own: a class whose
    # metaclass is not `type` (an Enum, an ABC) must still be saved by name, as pickle does.
    out = io.BytesIO()
    _Checkpointer(out, [], {}).dump([Mode, Mode.FAST])
    assert pickle.loads(out.getvalue()) == [Mode, Mode.FAST]
