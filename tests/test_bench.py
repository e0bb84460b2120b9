"""The benchmark command reports every figure (tiny sizes: this is not a timed test)."""

import itertools
import json

from typer.testing import CliRunner

from engines.lab import bench
from tui.cli import app


def test_run_all_reports_every_key_with_a_fake_clock():
    ticks = itertools.count()
    report = bench.run_all(
        lambda: next(ticks) / 1000,
        steps=2000,
        history_steps=3000,
        lincheck_invocations=300,
        pump_events=1000,
        election_seeds=5,
    )
    assert report["pump_events_per_s"] > 0
    for algo in ("raft", "paxos"):
        assert set(report[algo]) == {
            "events_per_s",
            "events_per_s_unchecked",
            "events_per_s_of_pump",
            "events_per_s_unchecked_of_pump",
            "sim_seconds_per_s",
        }
        assert report[algo]["events_per_s"] > 0
    assert report["step_back_ms_at_100k"] > 0 and report["memory_mb_at_100k"] > 0
    assert report["lincheck_s_10k_ops"] > 0
    elections = report["raft_election_after_crash"]
    assert 0 < elections["median_ms"] <= elections["p90_ms"] <= elections["max_ms"]


def test_a_new_leader_is_known_after_the_crash_within_a_few_timeouts():
    """Simulated time, not wall-clock: the stale candidates do not hold the election off."""
    times = [bench.election_after_crash(seed) for seed in range(1, 11)]
    assert max(times) < 4 * 300  # a few maximum election timeouts


def test_under_load_commits_client_values():
    from engines.core.sim import Simulator

    sim = Simulator("raft", 5, 1)
    bench.under_load(sim, 3000)
    assert sim.step_count == 3000 and sim.violation is None
    assert min(sim.state_machine(i).height for i in sim.node_ids) > 10


def test_bench_json_shape(monkeypatch):
    fake = {"raft": {}, "paxos": {}, "step_back_ms_at_100k": 1.0, "memory_mb_at_100k": 2.0}
    monkeypatch.setattr(bench, "run_all", lambda clock, steps, **options: fake)
    result = CliRunner().invoke(app, ["bench", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == fake


def test_long_session_reports_memory_pauses_and_drift():
    import time

    long = bench.long_session("paxos", time.process_time, steps=12_000)
    assert set(long) == {
        "events_per_s",
        "end_rate_vs_start",
        "longest_pause_ms",
        "memory_mb",
        "checkpoint_mb",
        "stored_items",
        "step_back_ms",
        "first_step_back_ms",
    }
    assert long["memory_mb"] > 0 and long["end_rate_vs_start"] > 0 and long["stored_items"] > 0
