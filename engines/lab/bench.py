"""Benchmarks: engine speed, step-back latency and history memory under a steady client load,
and the linearizability checker's speed on a generated history.

The engine layer never reads the wall clock itself, so the caller passes one in (`clock`, a
function returning seconds, e.g. time.perf_counter). Memory is measured with tracemalloc.
"""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Callable

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


def under_load(sim: Simulator, steps: int) -> None:
    """Advance `steps` steps, proposing to the current leader every LOAD_EVERY_MS."""
    target = sim.step_count + steps
    count = 0
    next_proposal = sim.now
    while sim.step_count < target:
        next_proposal += LOAD_EVERY_MS
        sim.run_until(lambda: sim.step_count >= target, time_limit=next_proposal)
        leader = sim.leader()
        if leader is not None and sim.step_count < target:
            count += 1
            sim.propose(f"set k{count % 16} v{count}", leader)


def measure_speed(algo: str, steps: int, check: bool, clock: Clock) -> dict[str, float]:
    sim = Simulator(algo, NODES, SEED, check=check)
    under_load(sim, 2_000)  # warm up: elect a leader, reach steady state
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
    times = []
    for _ in range(5):
        started = clock()
        sim.step_back()
        times.append((clock() - started) * 1000)
    return sorted(times)[2]


def measure_lincheck(clock: Clock, invocations: int = LINCHECK_INVOCATIONS) -> float:
    """Seconds to check a generated linearizable history (10 clients, 5 keys, 2% timeouts)."""
    events = random_history(random.Random(SEED), invocations, LINCHECK_CLIENTS, LINCHECK_KEYS)
    ops = operations(events, "<generated>", keyed=True, with_cas=True)
    started = clock()
    result = check(ops)
    wall = clock() - started
    assert result.verdict is Verdict.LINEARIZABLE, "the generator makes linearizable histories"
    return wall


def run_all(
    clock: Clock,
    steps: int = 50_000,
    history_steps: int = HISTORY_STEPS,
    lincheck_invocations: int = LINCHECK_INVOCATIONS,
) -> dict:
    report: dict = {}
    for algo in ALGORITHMS:
        checked = measure_speed(algo, steps, True, clock)
        unchecked = measure_speed(algo, steps, False, clock)
        report[algo] = {
            "events_per_s": round(checked["events_per_s"]),
            "events_per_s_unchecked": round(unchecked["events_per_s"]),
            "sim_seconds_per_s": round(checked["sim_seconds_per_s"], 1),
        }
    # The history figures are the worse of the two algorithms.
    backs = [measure_step_back(algo, clock, history_steps) for algo in ALGORITHMS]
    report["step_back_ms_at_100k"] = round(max(backs), 2)
    report["memory_mb_at_100k"] = round(
        max(measure_memory(a, history_steps) for a in ALGORITHMS), 1
    )
    report["lincheck_s_10k_ops"] = round(measure_lincheck(clock, lincheck_invocations), 3)
    return report
