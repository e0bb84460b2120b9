"""The fuzzer: random faults against an engine, a liveness check, and shrinking.

Each run draws its own fault rates and schedule from its seed (TigerBeetle's VOPR does the same).
A run has two phases. In the safety phase faults are on and every invariant is checked after
every step. In the liveness phase the faults stop, the network heals, every node restarts, and
every node must commit a fresh probe value within a bounded simulated time. A workload of
clients runs throughout, and at the end its history must be linearizable. The first failing
run is shrunk: ops are dropped, and waits and bursts shortened, while the same failure still
happens.

Runs are plain data (`Case`), so a case is reproducible and a shrunk one replays exactly.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

from engines.core import protocols
from engines.core.actions import (
    ACTIONS,
    ANY,
    FUZZ_WEIGHTS,
    LEADER_OR_FIRST,
    MEMBERSHIP,
    NEW,
    NEWEST,
    Action,
    ActionError,
)
from engines.core.sim import Simulator
from engines.lab.lincheck.search import Verdict
from engines.lab.workload import describe, linearizable

LEADER_WAIT_MS = 5_000
PROBE_WAIT_MS = 10_000
PROBE_RETRY_MS = 1_000
MAX_SHRINK_TRIES = 300
MAX_RUN_STEPS = 200_000  # a run that takes more steps stops and fails as "step budget"
MAX_SHRINK_STEPS = 2_000_000  # steps all of shrinking's tries may take together
CHUNK = 8  # runs a worker process takes at a time (a run is often a few milliseconds)
CHECK_BUDGET = 500  # the history check's budget (engines.lab.workload): past it, no verdict
LINEARIZABILITY = "linearizability"


@dataclass(frozen=True)
class Case:
    """One fuzz run: the cluster, and the safety phase as a list of ops.

    An op is ("run", {"ms": N}) or (action kind, action args)."""

    algo: str
    nodes: int
    seed: int
    config: dict[str, Any]
    ops: tuple[tuple[str, dict], ...]

    def describe(self) -> str:
        return f"{self.algo}, {self.nodes} nodes, seed {self.seed}, {len(self.ops)} ops"


@dataclass
class Outcome:
    case: Case
    sim: Simulator
    failure: str | None = None  # the violated invariant's name, or "liveness"
    detail: str = ""


@dataclass
class Coverage:
    """How far the runs reached: the longest log (Raft entries, Paxos slots) on any node at the
    end of a run, and the sends a batch limit cut short (AppendEntries of MAX_BATCH entries,
    CatchUp answers of CATCHUP_BATCH slots), as counted by the nodes up at the end of each run
    (a crash forgets a node's count). Read from node state, so the engines' hot path pays
    nothing but the count itself."""

    longest_log: int = 0
    batch_limited: int = 0

    @classmethod
    def of(cls, sim: Simulator) -> Coverage:
        """One run's coverage, read at its end."""
        nodes = sim.nodes.values()
        return cls(max([0, *(n.log_length() for n in nodes)]), sum(n.batch_limited for n in nodes))

    def add(self, run: Coverage) -> None:
        self.longest_log = max(self.longest_log, run.longest_log)
        self.batch_limited += run.batch_limited

    def describe(self) -> str:
        return f"longest log {self.longest_log}, batch-limited sends {self.batch_limited}"


@dataclass
class Report:
    runs: int = 0
    events: int = 0
    sim_ms: int = 0
    failed: Outcome | None = None
    shrunk: Outcome | None = None
    coverage: Coverage = field(default_factory=Coverage)


# --- generating -----------------------------------------------------------------------------
def generate(algo: str, seed: int, run: int, nodes: int | None, config: dict) -> Case:
    """Run number `run` of the campaign with this seed: each (seed, run) pair draws its own
    stream, so campaigns with neighbouring seeds share no runs."""
    rng = random.Random(f"fuzz/{algo}/{seed}/{run}")
    n = nodes or rng.randint(3, 7)
    ids = list(range(1, n + 1))
    # Each run weighs the kinds of op differently: some runs are crash storms, some partition
    # storms, some mostly load. Rare interleavings (Figure 8) need runs dense in one fault.
    weights = {kind: rng.uniform(0.2, 1.0) * base for kind, base in _op_weights(algo).items()}
    kinds, cumulative = list(weights), list(itertools.accumulate(weights.values()))
    loss = {"drop": round(rng.uniform(0, 0.3), 3), "dup": round(rng.uniform(0, 0.2), 3)}
    workload = {"count": rng.randint(2, 5), "keys": rng.randint(1, 3), "rate": rng.randint(5, 30)}
    ops: list[tuple[str, dict]] = [("set_network", loss), ("clients", workload)]
    for k in range(rng.randint(15, 60)):
        kind = rng.choices(kinds, cum_weights=cumulative)[0]
        ops.extend(
            SEQUENCES[kind](rng, k) if kind in SEQUENCES else [_random_op(rng, kind, ids, k)]
        )
    config = _with_compaction(algo, f"fuzz/{algo}/{seed}/{run}/compaction", config)
    return Case(algo, n, rng.randrange(2**31), _with_read_path(algo, rng, config), tuple(ops))


def _op_weights(algo: str) -> dict[str, float]:
    """The ops a run of this protocol draws from: membership changes only where there are."""
    if protocols.get(algo).membership:
        return OP_WEIGHTS
    return {kind: w for kind, w in OP_WEIGHTS.items() if kind not in MEMBERSHIP_KINDS}


MEMBERSHIP_KINDS = (*MEMBERSHIP, "reconfigure", "change_race")


def _with_read_path(algo: str, rng: random.Random, config: dict) -> dict:
    """Unless the campaign names them, each run reads by one of the protocol's read paths and
    changes its membership in one of its modes (single-server or joint)."""
    drawn = dict(config)
    for setting in ("read", "membership"):
        values = protocols.get(algo).choices.get(setting)
        if values and setting not in config:
            drawn[setting] = rng.choice(values)
    return drawn


SNAPSHOT_EVERY = (None, 3, 8, 20, 60)  # None: no compaction


def _with_compaction(algo: str, stream: str, config: dict) -> dict:
    """Unless the campaign names one, most runs of a protocol that compacts its log draw a
    threshold: small ones snapshot often and send many InstallSnapshots. From a stream of its
    own, so that the ops each run draws stay those it drew before compaction existed."""
    if "snapshot_every" not in protocols.get(algo).default_config or "snapshot_every" in config:
        return config
    every = random.Random(stream).choice(SNAPSHOT_EVERY)
    return config if every is None else config | {"snapshot_every": every}


# The fuzzer's own ops, beside the user actions it draws with the weights of the action table.
FUZZ_OPS = {
    "run": 3.0,
    "churn": 0.8,
    "rotate": 0.8,
    "flip_flop": 0.3,
    "burst": 0.3,
    "far_behind": 0.2,
    "reconfigure": 0.6,
    "change_race": 1.0,
}
OP_WEIGHTS = FUZZ_OPS | FUZZ_WEIGHTS
MAX_BURST = 150  # proposals in one burst: past two AppendEntries batches


def _flip_flop(rng: random.Random, k: int) -> list[tuple[str, dict]]:
    """A nemesis in the style of Jepsen's: two leaders in turn take a value while cut off,
    then the network flips between them twice. It builds Figure 8's interleaving."""

    def wait() -> tuple[str, dict]:
        return ("run", {"ms": rng.randint(300, 700)})

    return [
        ("churn", {"value": f"flip {k}"}), wait(),
        ("churn", {"value": f"flop {k}"}), ("rotate", {}), wait(),
        ("rotate", {}), wait(),
    ]  # fmt: skip


def _far_behind(rng: random.Random, k: int) -> list[tuple[str, dict]]:
    """A long partition: one follower is cut off while the others take a burst of values, then
    it rejoins more than a batch behind and catches up in batches (AppendEntries of MAX_BATCH
    entries in Raft, CatchUp answers in Paxos)."""
    return [
        ("strand", {"pick": rng.randrange(64)}),
        _burst(rng, k),
        ("run", {"ms": rng.randint(500, 2_000)}),
        ("heal", {}),
        ("run", {"ms": rng.randint(200, 1_000)}),
    ]


def _burst(rng: random.Random, k: int) -> tuple[str, dict]:
    """Many proposals in a row, to the leader: logs grow past a batch between two heartbeats."""
    return ("burst", {"count": rng.randint(10, MAX_BURST), "tag": k})


def _reconfigure(rng: random.Random, k: int) -> list[tuple[str, dict]]:
    """A server joins as a learner, is promoted once it had time to catch up, and often one
    server (any, the leader too) is removed: the changes the fuzzer's faults then cut into."""
    via = {"via": LEADER_OR_FIRST}
    ops = [
        ("add", {"node": NEW} | via),
        ("run", {"ms": rng.randint(30, 400)}),
        ("promote", {"nodes": NEWEST} | via),
    ]
    if rng.random() < 0.6:
        ops += [
            ("run", {"ms": rng.randint(1, 300)}),
            ("remove", {"nodes": ANY, "pick": rng.randrange(64)} | via),
        ]
    return ops


def _change_race(rng: random.Random, k: int) -> list[tuple[str, dict]]:
    """A server joins, then two changes race across a leader change (see `_race`)."""
    return [
        ("add", {"node": NEW, "via": LEADER_OR_FIRST}),
        ("run", {"ms": rng.randint(200, 400)}),
        ("race", {"seed": rng.randrange(2**31)}),
    ]


def _race(sim: Simulator, seed: int) -> None:
    """A nemesis that builds the interleaving of Ongaro's 2015 bug, on nodes drawn from
    `seed`: the leader, cut off with the newest server, promotes it; on the other side a
    node whose AppendEntries are held wins an election and at once removes a server; then
    that server joins the old leader's side, and both sides hold elections again."""
    rng, old = random.Random(seed), sim.leader()
    newest = sim.node_ids[-1]
    if old is None or old == newest:
        return
    rest = [i for i in sim.node_ids if i not in (old, newest)]
    if len(rest) < 2:
        return
    new, removed = rng.sample(rest, 2)
    sim.partition([[old, newest], rest])
    _take(sim, Action("promote", {"nodes": [newest], "via": old}))
    sim.hold(["AppendEntries"], new)
    sim.campaign(new)
    sim.run(rng.randint(30, 80), stop=lambda: _halted(sim))
    _take(sim, Action("remove", {"nodes": [removed], "via": new}))
    sim.run(rng.randint(10, 60), stop=lambda: _halted(sim))
    sim.release(["AppendEntries"], new)
    # The old side takes as many others as a majority of the promoted configuration needs.
    others = [i for i in rest if i not in (new, removed)]
    joining = rng.sample(others, max(0, min(len(others), (len(rest) + 1) // 2 - 2)))
    side = [old, newest, removed, *joining]
    sim.partition([side, [i for i in sim.node_ids if i not in side]])
    for node in rng.sample([old, new], 2) * 2:
        if not _halted(sim):
            _take(sim, Action("campaign", {"node": node}))
            sim.run(rng.randint(30, 80), stop=lambda: _halted(sim))


SEQUENCES = {
    "flip_flop": _flip_flop,
    "far_behind": _far_behind,
    "reconfigure": _reconfigure,
    "change_race": _change_race,
}


def _random_op(rng: random.Random, kind: str, ids: list[int], k: int) -> tuple[str, dict]:
    if kind == "burst":
        return _burst(rng, k)
    if kind == "run":
        # Short waits catch an entry half-replicated; long ones let elections finish.
        return ("run", {"ms": rng.randint(1, 30) if rng.random() < 0.5 else rng.randint(30, 400)})
    if kind in ("churn", "rotate"):
        # Churn: the leader is cut off, then takes a value it cannot replicate: uncommitted
        # entries of different terms at one index are what Figure 8 is made of.
        return (kind, {"value": f"churn {k}"} if kind == "churn" else {})
    return (kind, ACTIONS[kind].draw(rng, ids, k))


# --- executing ------------------------------------------------------------------------------
def execute(case: Case) -> Outcome:
    sim = Simulator(
        case.algo, case.nodes, case.seed, case.config, keep_events=False, checkpoints=False
    )
    outcome = Outcome(case, sim)
    for kind, args in case.ops:
        _apply_op(sim, kind, args)
        if sim.violation:
            outcome.failure, outcome.detail = sim.violation.invariant, str(sim.violation)
            return outcome
        if _spent(sim):
            return _over_budget(outcome)
    _liveness_phase(outcome)
    if _spent(sim) and not outcome.failure:
        return _over_budget(outcome)
    if not outcome.failure:
        _check_history(outcome)
    return outcome


def _check_history(outcome: Outcome) -> None:
    """A history that is not linearizable fails the run; one the budget cannot judge passes."""
    result = linearizable(outcome.sim, CHECK_BUDGET)
    if result.verdict is Verdict.NOT_LINEARIZABLE:
        outcome.failure = LINEARIZABILITY
        outcome.detail = (
            f"not linearizable: on key {result.key}, {describe(outcome.sim, result.blocked)} "
            f"cannot be placed after {len(result.prefix)} operations"
        )


def _spent(sim: Simulator) -> bool:
    return sim.step_count >= MAX_RUN_STEPS


def _over_budget(outcome: Outcome) -> Outcome:
    outcome.failure = "step budget"
    outcome.detail = f"step budget: the run took {MAX_RUN_STEPS} steps without finishing"
    return outcome


def _halted(sim: Simulator) -> bool:
    return sim.violation is not None or _spent(sim)


def _apply_op(sim: Simulator, kind: str, args: dict) -> None:
    if kind == "run":
        sim.run(args["ms"], stop=lambda: _halted(sim))
    elif kind == "churn":
        leader = sim.leader()
        if leader is not None:
            sim.isolate(leader)
            sim.propose(args["value"], leader)
    elif kind == "burst":
        for i in range(args["count"]):
            if _halted(sim):  # a violation ends the run at its step; so does the budget
                break
            value = f"burst {args['tag']}.{i}"
            _take(sim, Action("propose", {"value": value, "node": LEADER_OR_FIRST}))
    elif kind == "strand":
        # A follower, picked among the live nodes that do not lead, is cut off.
        leader = sim.leader()
        followers = [i for i in sorted(sim.nodes) if i != leader]
        if followers:
            sim.isolate(followers[args["pick"] % len(followers)])
    elif kind == "race":
        _race(sim, args["seed"])
    elif kind == "rotate":
        # The cut-off side rejoins and the current leader is cut off instead.
        leader = sim.leader()
        sim.heal()
        if leader is not None:
            sim.isolate(leader)
    else:
        _take(sim, Action(kind, args))


def _take(sim: Simulator, action: Action) -> None:
    """Take a drawn action; one that finds nothing to act on (no crashed node to restart, no
    message to deliver, no hold to release) is skipped."""
    try:
        plain = sim.resolve(action)
        if plain is not None:
            sim.act(plain)
    except ActionError:
        pass


def _liveness_phase(outcome: Outcome) -> None:
    sim = outcome.sim
    sim.heal()
    sim.restart_all()
    if sim.holds():
        sim.release()
    sim.set_network(drop=0.0, dup=0.0, latency_min=5, latency_max=20)
    probe = f"probe {outcome.case.seed}"
    deadline = sim.now + PROBE_WAIT_MS
    while not _halted(sim) and sim.now < deadline:
        sim.run_until(
            lambda: sim.leader() is not None or _halted(sim),
            time_limit=min(deadline, sim.now + LEADER_WAIT_MS),
        )
        if _everyone_has(sim, probe) or sim.leader() is None:
            break
        sim.propose(probe, sim.leader())
        sim.run_until(
            lambda: _everyone_has(sim, probe) or _halted(sim),
            time_limit=min(deadline, sim.now + PROBE_RETRY_MS),
        )
        if _everyone_has(sim, probe):
            break
    if sim.violation:
        outcome.failure, outcome.detail = sim.violation.invariant, str(sim.violation)
    elif not _everyone_has(sim, probe) and not _spent(sim):
        missing = [f"n{i}" for i in sim.members() if not _has(sim, i, probe)]
        outcome.failure = "liveness"
        outcome.detail = (
            f"liveness: {', '.join(missing)} did not commit the probe within "
            f"{PROBE_WAIT_MS // 1000}s of simulated time after the faults stopped"
        )


def _has(sim: Simulator, node: int, value: str) -> bool:
    sm = sim.state_machine(node)
    return sm is not None and any(b.data == value for b in sm.chain[-8:])


def _everyone_has(sim: Simulator, value: str) -> bool:
    """Every member of the cluster (the leader's configuration) has the value."""
    return all(_has(sim, i, value) for i in sim.members())


# --- shrinking ------------------------------------------------------------------------------
def shrink(failed: Outcome) -> Outcome:
    """Shorten bursts, drop ops, then shorten waits and bursts, while the run still fails the
    same way, within a budget of tries and of steps."""
    best = failed
    tries = steps = 0

    def budget_left() -> bool:
        return tries < MAX_SHRINK_TRIES and steps < MAX_SHRINK_STEPS

    def attempt(ops: list) -> bool:
        nonlocal best, tries, steps
        tries += 1
        candidate = execute(replace(best.case, ops=tuple(ops)))
        steps += candidate.sim.step_count
        if candidate.failure == failed.failure:
            best = candidate
            return True
        return False

    def halve(kinds: dict[str, str]) -> None:
        """Halve the named argument of each op of these kinds while the run still fails."""
        for index in range(len(best.case.ops)):
            kind, args = best.case.ops[index]
            while kind in kinds and args[kinds[kind]] > 1 and budget_left():
                ops = list(best.case.ops)
                ops[index] = (kind, args | {kinds[kind]: args[kinds[kind]] // 2})
                if not attempt(ops):
                    break
                kind, args = best.case.ops[index]

    halve({"burst": "count"})  # first: bursts make every later try slow
    chunk = max(1, len(best.case.ops) // 2)
    while chunk >= 1 and budget_left():
        start = 0
        while start < len(best.case.ops) and budget_left():
            ops = list(best.case.ops)
            if not attempt(ops[:start] + ops[start + chunk :]):
                start += chunk
        chunk //= 2
    halve({"run": "ms", "burst": "count"})
    return best


# --- the campaign ---------------------------------------------------------------------------
def fuzz(
    algo: str, runs: int, seed: int, nodes: int | None = None, config: dict | None = None
) -> Iterator[Outcome]:
    """Yield each run's outcome in order; the caller stops at the first failure."""
    for run in range(runs):
        yield execute(generate(algo, seed, run, nodes, config or {}))


@dataclass(frozen=True)
class RunSummary:
    """What a worker sends back of one run: little, whatever the run's size."""

    run: int
    events: int
    sim_ms: int
    failure: str | None
    coverage: Coverage


def summarize(job: tuple[str, int, int, int | None, dict]) -> RunSummary:
    """Run number `run` of a campaign, in whichever process (or machine) gets the job."""
    algo, seed, run, nodes, config = job
    outcome = execute(generate(algo, seed, run, nodes, config))
    sim = outcome.sim
    return RunSummary(run, sim.step_count, sim.now, outcome.failure, Coverage.of(sim))


def first_failure(
    algo: str,
    runs: int,
    seed: int,
    nodes: int | None = None,
    config: dict | None = None,
    on_run: Callable[[RunSummary], None] | None = None,
    pool: Executor | None = None,
) -> Report:
    """Runs 0, 1, ... until the first that fails, which is then run again here and shrunk.
    With `pool` (a process pool, or a Dask client's executor) runs go to its workers; the
    report is the same: runs are taken in order, and those after the first failure are
    dropped."""
    config = config or {}
    jobs = [(algo, seed, run, nodes, config) for run in range(runs)]
    report = Report()
    for summary in (
        map(summarize, jobs) if pool is None else pool.map(summarize, jobs, chunksize=CHUNK)
    ):
        report.runs += 1
        report.events += summary.events
        report.sim_ms += summary.sim_ms
        report.coverage.add(summary.coverage)
        if on_run:
            on_run(summary)
        if summary.failure:
            report.failed = execute(generate(algo, seed, summary.run, nodes, config))
            report.shrunk = shrink(report.failed)
            break
    return report
