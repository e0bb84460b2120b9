"""Benchmarks: engine speed, step-back latency and history memory under a steady client load,
a long session, and the linearizability checker's speed on a generated history.

Speeds are also given as a fraction of a bare CPython heap-of-events pump (one heappop, one
method call and one heappush per event) run in the same process, so that figures compare
across machines. The engine layer never reads the clock itself, so the caller passes one in
(`clock`, a function returning seconds, e.g. time.process_time). Memory is measured with
tracemalloc, except in the long session, which runs in a process of its own and reports its
peak resident size (tracing would slow it several-fold).
"""

from __future__ import annotations

import heapq
import random
import statistics
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from engines.core.protocols import ALGORITHMS
from engines.core.sim import Simulator
from engines.lab.lincheck.generate import random_history
from engines.lab.lincheck.history import operations
from engines.lab.lincheck.search import Verdict, check

Clock = Callable[[], float]
NODES = 5
SEED = 1
LOAD_EVERY_MS = 10  # one client proposal to the leader every 10 ms of simulated time
HISTORY_STEPS = 100_000
LINCHECK_INVOCATIONS = 10_000
LINCHECK_CLIENTS = 10
LINCHECK_KEYS = 5
PUMP_EVENTS = 2_000_000
PUMP_QUEUE = 64  # events pending in the pump's heap, about a 5-node cluster's queue
LONG_STEPS = 1_000_000
REPEATS = 3
LONG_WINDOW = 4_000  # the rates at the start and at the end: windows of this many steps,
LONG_WINDOWS = 15  # this many of each, in turns (short ones: the box's load comes in bursts)
WARM_UP = 2_000  # steps: elect a leader, reach steady state
ELECTION_SEEDS = 200
ELECTION_ENTRIES = 5  # committed while two followers are down, so their logs fall behind
ELECTION_CATCH_UP_MS = 200  # simulated time for the three left to commit them
ELECTION_LIMIT_MS = 60_000  # a run that elects nobody in a simulated minute reports the minute


class _Target:
    def handle(self, time: int) -> int:
        return time + 7


def measure_pump(clock: Clock, events: int = PUMP_EVENTS) -> float:
    """Events per second of the bare loop every discrete-event simulator runs: pop the next
    event, call its handler, push the event it schedules."""
    target = _Target()
    queue = [(t, t, target) for t in range(PUMP_QUEUE)]
    pop, push = heapq.heappop, heapq.heappush
    started = clock()
    for _ in range(events):
        time, seq, handler = pop(queue)
        push(queue, (handler.handle(time), seq, handler))
    return events / (clock() - started)


def under_load(sim: Simulator, steps: int, between: Callable[[], None] | None = None) -> None:
    """Advance `steps` steps, proposing to the current leader every LOAD_EVERY_MS. `between`
    is called between every two steps."""
    # The harness's own calls are not the engine's speed: it reads the step count from the
    # world, not through a property, and calls what it calls by names read once.
    world = sim.world  # no step back here: the world stays the same
    target = world.step + steps
    count = 0
    next_proposal = sim.now
    run_until, leader_of, propose = sim.run_until, sim.leader, sim.propose
    while world.step < target:
        next_proposal += LOAD_EVERY_MS
        # `between` returns None: it never stops the run. Without it nothing is called
        # between two steps.
        run_until(between, next_proposal, target - world.step)
        leader = leader_of()
        if leader is not None and world.step < target:
            count += 1
            propose(f"set k{count % 16} v{count}", leader)


def measure_speed(algo: str, steps: int, check: bool, clock: Clock) -> dict[str, float]:
    sim = Simulator(algo, NODES, SEED, check=check)
    under_load(sim, WARM_UP)
    start_step, start_ms, started = sim.step_count, sim.now, clock()
    under_load(sim, steps)
    wall = clock() - started
    return {
        "events_per_s": (sim.step_count - start_step) / wall,
        "sim_seconds_per_s": (sim.now - start_ms) / 1000 / wall,
    }


def measure_memory(algo: str, steps: int = HISTORY_STEPS) -> float:
    """Peak traced memory, in MB, to run and keep `steps` steps of history."""
    tracemalloc.start()
    sim = Simulator(algo, NODES, SEED)
    under_load(sim, steps)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def measure_step_back(algo: str, clock: Clock, steps: int = HISTORY_STEPS) -> float:
    """Milliseconds for one step back at step `steps`: the median of five in a row.

    Measured in a run of its own: tracing memory would slow the first restore several-fold."""
    sim = Simulator(algo, NODES, SEED)
    under_load(sim, steps)
    return sorted(step_back_times(sim, clock))[2]


def step_back_times(sim: Simulator, clock: Clock) -> list[float]:
    """Milliseconds for each of five steps back in a row. The first restores a checkpoint
    from scratch; the others take back the lists it made, as a user stepping back does."""
    times = []
    for _ in range(5):
        started = clock()
        sim.step_back()
        times.append((clock() - started) * 1000)
    return times


def measure_lincheck(clock: Clock, invocations: int = LINCHECK_INVOCATIONS) -> float:
    """Seconds to check a generated linearizable history (10 clients, 5 keys, 2% timeouts)."""
    events = random_history(random.Random(SEED), invocations, LINCHECK_CLIENTS, LINCHECK_KEYS)
    ops = operations(events, "<generated>", keyed=True, with_cas=True)
    started = clock()
    result = check(ops)
    wall = clock() - started
    assert result.verdict is Verdict.LINEARIZABLE, "the generator makes linearizable histories"
    return wall


def measure_long(algo: str, clock: Clock, steps: int = LONG_STEPS) -> dict[str, float]:
    """A long checked session: its peak memory and what its checkpoints keep, the longest
    time between two steps, step back at its end (the median of five in a row, and the
    first, in ms), and the rate at its end against the rate at the start.

    The machine may be shared, and its load changes over a minute-long session: the end
    and start rates are measured at the same time, in turns, LONG_WINDOWS windows of
    LONG_WINDOW steps each, the long session carrying on against a fresh session's start
    (after the same warm-up); the figure is the ratio of their medians."""
    import resource  # Unix only, like the process this runs in

    sim = Simulator(algo, NODES, SEED)
    under_load(sim, WARM_UP)
    pauses = _Pauses(clock)
    session_started = clock()
    under_load(sim, steps - WARM_UP, pauses)
    events_per_s = (steps - WARM_UP) / (clock() - session_started)
    backs = step_back_times(sim, clock)
    memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = sim.history_size()
    fresh = Simulator(algo, NODES, SEED)
    under_load(fresh, WARM_UP)
    fresh_pauses = _Pauses(clock)  # not reported: the same clock reads in both windows
    window = min(LONG_WINDOW, steps // 20)
    start_rates, end_rates = [], []
    for _ in range(LONG_WINDOWS):
        start_rates.append(_window_rate(fresh, window, clock, fresh_pauses))
        end_rates.append(_window_rate(sim, window, clock, pauses))
    end_vs_start = statistics.median(end_rates) / statistics.median(start_rates)
    return {
        "events_per_s": round(events_per_s),
        "end_rate_vs_start": round(end_vs_start, 3),
        "longest_pause_ms": round(pauses.longest * 1000, 2),
        "memory_mb": round(memory_mb, 1),
        "checkpoint_mb": round(size["checkpoint_bytes"] / 2**20, 1),
        "stored_items": size["stored_items"],
        "step_back_ms": round(sorted(backs)[2], 2),
        "first_step_back_ms": round(backs[0], 2),
    }


class _Pauses:
    """Called between every two steps: the longest time between two (a window's start and
    what ran before it in between do not count)."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.longest, self.last = clock, 0.0, clock()

    def __call__(self) -> None:
        now = self.clock()
        self.longest, self.last = max(self.longest, now - self.last), now


def _window_rate(sim: Simulator, steps: int, clock: Clock, pauses: _Pauses) -> float:
    """Steps per second over `steps` more steps."""
    started = pauses.last = clock()
    under_load(sim, steps, pauses)
    return steps / (clock() - started)


def long_session(algo: str, clock: Clock, steps: int = LONG_STEPS) -> dict[str, float]:
    """measure_long in a fresh process, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(measure_long, algo, clock, steps).result()


def known_leader(sim: Simulator) -> int | None:
    """The leader a majority of the cluster knows: it leads, and a majority (itself counted)
    names it as leader in its term."""
    lead = sim.leader()
    if lead is None:
        return None
    term = sim.nodes[lead].term
    knowing = sum(1 for n in sim.nodes.values() if n.term == term and n.leader == lead)
    return lead if knowing > len(sim.node_ids) // 2 else None


def election_after_crash(seed: int) -> int:
    """Simulated ms from a leader's crash until a new leader is known by a majority, in the
    pattern of MIT 6.824's TestPersist2: two followers crash and miss entries the rest commit,
    then the leader crashes as the two restart. Their logs are behind, so they cannot win;
    their vote requests, with ever higher terms, must not hold off the two that can."""
    sim = Simulator("raft", NODES, seed, check=False, keep_events=False, checkpoints=False)
    sim.run_until(lambda: known_leader(sim) is not None, time_limit=ELECTION_LIMIT_MS)
    lead = sim.leader()
    stale = [i for i in sim.node_ids if i != lead][:2]
    for node in stale:
        sim.crash(node)
    for k in range(ELECTION_ENTRIES):
        sim.propose(f"set k{k} v{k}", lead)
    sim.run(ELECTION_CATCH_UP_MS)
    crashed_at = sim.now
    sim.crash(lead)
    for node in stale:
        sim.restart(node)
    sim.run_until(lambda: known_leader(sim) is not None, time_limit=crashed_at + ELECTION_LIMIT_MS)
    return sim.now - crashed_at


def measure_elections(seeds: int = ELECTION_SEEDS) -> dict[str, int]:
    """Election time after a leader crash (`election_after_crash`) over seeds 1..`seeds`:
    median, 90th percentile and worst, in simulated ms."""
    times = sorted(election_after_crash(seed) for seed in range(1, seeds + 1))
    return {
        "median_ms": times[len(times) // 2],
        "p90_ms": times[min(len(times) - 1, len(times) * 9 // 10)],
        "max_ms": times[-1],
    }


def fractions(speeds: dict[str, float], pump: float) -> dict[str, float]:
    """Each events_per_s figure also as a fraction of the pump's rate."""
    return speeds | {
        f"{key}_of_pump": round(value / pump, 4)
        for key, value in speeds.items()
        if key.startswith("events_per_s")
    }


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return sorted(runs, key=lambda run: run["events_per_s"])[len(runs) // 2]


def run_all(
    clock: Clock,
    steps: int = 50_000,
    history_steps: int = HISTORY_STEPS,
    lincheck_invocations: int = LINCHECK_INVOCATIONS,
    long_steps: int | None = None,
    done: Callable[[str], None] = lambda figure: None,
    pump_events: int = PUMP_EVENTS,
    election_seeds: int = ELECTION_SEEDS,
) -> dict:
    """Every figure; the long session only with `long_steps`. `done` hears of each figure
    measured, for a progress display."""
    # The machine may be shared: each speed is the median of REPEATS runs, taken in turns.
    pump = statistics.median(measure_pump(clock, pump_events) for _ in range(REPEATS))
    report: dict = {"pump_events_per_s": round(pump)}
    done("pump")
    for algo in ALGORITHMS:
        runs = [measure_speed(algo, steps, c, clock) for _ in range(REPEATS) for c in (True, False)]
        checked, unchecked = _median(runs[0::2]), _median(runs[1::2])
        speeds = {
            "events_per_s": round(checked["events_per_s"]),
            "events_per_s_unchecked": round(unchecked["events_per_s"]),
        }
        report[algo] = fractions(speeds, pump) | {
            "sim_seconds_per_s": round(checked["sim_seconds_per_s"], 1)
        }
        done(algo)
    # The history figures are the worse of the two algorithms.
    backs = [measure_step_back(algo, clock, history_steps) for algo in ALGORITHMS]
    report["step_back_ms_at_100k"] = round(max(backs), 2)
    report["memory_mb_at_100k"] = round(
        max(measure_memory(a, history_steps) for a in ALGORITHMS), 1
    )
    report["lincheck_s_10k_ops"] = round(measure_lincheck(clock, lincheck_invocations), 3)
    done("history")
    report["raft_election_after_crash"] = measure_elections(election_seeds)
    done("elections")
    if long_steps:
        for algo in ALGORITHMS:
            report[f"{algo}_long"] = fractions(long_session(algo, clock, long_steps), pump)
            done(f"{algo} long")
    return report
