"""Fingerprints of fixed runs, pinned: a speed or memory change must not change what happens.

Every run reproduces from its seed and actions, so the same runs must reach the same states at
the same steps, and step back to them exactly, after any optimisation. A deliberate change to a
protocol's behaviour changes these fingerprints: re-pin them in the same commit and say why.
"""

from __future__ import annotations

import hashlib

import pytest

from engines.core.sim import Simulator
from engines.lab.bench import under_load
from engines.lab.fuzz import execute, generate

FUZZ_RUNS = 12
FUZZ_SEED = 7

# Steps and a digest of each run's end state: runs 0..11 of `fuzz --seed 7` (faults, clients,
# read paths, compaction and membership changes, as the fuzzer draws them).
FUZZ_FINGERPRINTS = {
    "raft": (15079, "ecdf1de3c77f3dd93fd725cf8c2d24309ea2a4faa9aef9601ea99ed4ca4e63fb"),
    "paxos": (39377, "57a7a6d61adfef3d6b2a14feb29109070720148669ce3108b541218feac8f22b"),
}

# A checkpointed session under load, with a crash, a restart, a partition and a heal: the
# digest at three steps, each reached by stepping back from the end.
SESSION_DIGESTS = {
    "raft": {
        1234: "01efd058309eaadbc59d125d51fb8d09745c0c36d7b5dbb3f53c4d8a25eea467",
        5000: "70c4a613bd5678b7bd8d6e2a34eb1ad2eecc43924b32af071fb88e1018cf42eb",
        10004: "51ce4b9957bf0ec1faa8bda3adee6a2affe48fb5bb375a44395321a867cf754a",
    },
    "paxos": {
        1234: "f897be327263a58beeb11078ca5b1512b5e1e010eb10313b8efd6f4cfd45b4c9",
        5000: "cdf47c7d43efae961359afc8352b62b0beb4a3462bd244e6b4ba127d4173bbdd",
        10004: "2a66e73a8eca8fe7859a53a826a26d92b87a263904f08675c1f9816562786314",
    },
}
SESSION_CONFIG = {"raft": {"snapshot_every": 50}, "paxos": {}}


@pytest.mark.parametrize("algo", sorted(FUZZ_FINGERPRINTS))
def test_fuzz_runs_reach_the_same_states_as_before(algo):
    fingerprint = hashlib.sha256()
    steps = 0
    for run in range(FUZZ_RUNS):
        outcome = execute(generate(algo, FUZZ_SEED, run, None, {}))
        line = f"{outcome.sim.step_count} {outcome.sim.digest()} {outcome.failure}\n"
        fingerprint.update(line.encode())
        steps += outcome.sim.step_count
    assert (steps, fingerprint.hexdigest()) == FUZZ_FINGERPRINTS[algo]


@pytest.mark.parametrize(
    ("algo", "bug", "run", "step", "invariant"),
    [
        ("raft", "forget_vote", 23, 311, "Persistence"),
        ("paxos", "ignore_promise", 0, 503, "one value chosen per slot"),
    ],
)
def test_a_bug_is_caught_at_the_same_step_as_before(algo, bug, run, step, invariant):
    outcome = execute(generate(algo, 3, run, None, {"bug": bug}))
    assert (outcome.sim.step_count, outcome.failure) == (step, invariant)


@pytest.mark.parametrize("algo", sorted(SESSION_DIGESTS))
def test_a_long_session_steps_back_to_the_same_states_as_before(algo):
    sim = Simulator(algo, 5, 11, SESSION_CONFIG[algo])
    under_load(sim, 3000)
    sim.crash(2)
    under_load(sim, 2000)
    sim.restart(2)
    sim.partition([[1, 2], [3, 4, 5]])
    under_load(sim, 2000)
    sim.heal()
    under_load(sim, 3000)
    reached = {}
    for step in sorted(SESSION_DIGESTS[algo], reverse=True):
        sim.goto(step)
        reached[step] = sim.digest()
    assert reached == SESSION_DIGESTS[algo]
