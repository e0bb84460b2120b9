"""The fuzzer finds every bug of the bug lab, shrinks it, and passes the correct engines."""

import socket

import pytest
from typer.testing import CliRunner

from engines.core.protocols import all_bugs
from engines.lab import fuzz
from engines.lab.fuzz import execute, first_failure, generate
from engines.lab.lincheck.search import Verdict
from engines.lab.trace import load_trace, save_trace
from engines.lab.workload import linearizable
from engines.paxos.node import CATCHUP_BATCH
from engines.raft.node import MAX_BATCH
from tui.cli import app

# A bound on the runs each bug needs from seed 1; the issue allows up to 500. Measured on
# 2026-12-01, with each run's seed drawn from (campaign seed, run number), bursts and
# far-behind followers among the ops, and a client workload in every run (figure8 195 and
# forget_vote 48 since both landed together): see the README for
# the figures. Every bug is caught by a safety check; stale_read by the history check. The
# bounds leave
# room for engine timing changes; the fuzzer stops at the first failure, so a loose bound
# costs no time.
RUNS_TO_FIND = {
    "figure8": 300,
    "forget_vote": 100,
    "no_prevlog_check": 20,
    "vote_any_log": 20,
    "accept_stale_append": 20,
    "ignore_promise": 30,
    "ignore_accepted": 30,
    "forget_promise": 20,
    "stale_read": 50,  # the bound, for both algorithms
    "snapshot_truncates": 20,  # found in run 7 (issue 14 allows 200); most runs compact
    # Membership (2026-12-02, with membership changes and compaction among the ops): 37 and 2; the
    # issue asks for each within 200.
    "reconfig_before_commit": 200,
    "apply_config_on_commit": 200,
}


def test_every_bug_has_a_measured_run_count():
    assert {name for _, name, _ in all_bugs()} == set(RUNS_TO_FIND)


@pytest.mark.parametrize(("algo", "bug"), [(a, n) for a, n, _ in all_bugs()])
def test_the_fuzzer_catches_each_bug_and_shrinks_it(algo, bug, tmp_path):
    report = first_failure(algo, RUNS_TO_FIND[bug], 1, config={"bug": bug})
    assert report.failed is not None and report.runs <= RUNS_TO_FIND[bug]
    assert report.failed.failure != "liveness"  # caught by a safety check
    shrunk = report.shrunk
    assert shrunk.failure == report.failed.failure
    assert len(shrunk.case.ops) <= len(report.failed.case.ops)
    replayed = load_trace(save_trace(shrunk.sim, tmp_path / "t.json"))
    if shrunk.failure == fuzz.LINEARIZABILITY:  # what the clients saw, not a log invariant
        assert linearizable(replayed).verdict is Verdict.NOT_LINEARIZABLE
    else:
        assert replayed.violation.invariant == shrunk.failure


@pytest.mark.parametrize("algo", ["raft", "paxos"])
def test_correct_engines_pass_both_phases(algo):
    report = first_failure(algo, 25, 1)
    assert report.failed is None and report.runs == 25 and report.events > 0


@pytest.mark.parametrize(("algo", "batch"), [("raft", MAX_BATCH), ("paxos", CATCHUP_BATCH)])
def test_a_campaign_reaches_the_batch_limits(algo, batch):
    """Bursts and far-behind followers grow logs past one batch: some AppendEntries carry
    MAX_BATCH entries (Raft), some CatchUp answers CATCHUP_BATCH slots (Paxos). Seed 2's
    campaign draws such runs."""
    report = first_failure(algo, 10, 2)
    assert report.failed is None
    assert report.coverage.longest_log > batch and report.coverage.batch_limited > 0


@pytest.mark.parametrize("read", ["log", "index", "lease"])
def test_raft_stays_linearizable_on_each_read_path(read):
    """The README gives the figure for 2,000 runs; the suite keeps to a few dozen."""
    outcomes = list(fuzz.fuzz("raft", 30, 1, config={"read": read}))
    assert [o.failure for o in outcomes] == [None] * 30
    assert sum(len(o.sim.world.clients.records) for o in outcomes) > 500


def test_each_raft_run_draws_a_read_path_unless_the_campaign_names_one():
    drawn = {generate("raft", 1, run, None, {}).config["read"] for run in range(30)}
    assert drawn == {"log", "index", "lease"}
    named = {"read": "index", "membership": "joint"}
    config = generate("raft", 1, 0, None, named).config
    assert {k: config[k] for k in named} == named
    assert "read" not in generate("paxos", 1, 0, None, {}).config


def test_most_raft_runs_compact_their_logs_unless_the_campaign_says():
    drawn = [generate("raft", 1, run, None, {}).config.get("snapshot_every") for run in range(40)]
    assert None in drawn and len(set(drawn)) == len(fuzz.SNAPSHOT_EVERY)
    named = generate("raft", 1, 0, None, {"snapshot_every": 7})
    assert named.config["snapshot_every"] == 7
    assert "snapshot_every" not in generate("paxos", 1, 0, None, {}).config


def test_a_run_is_reproducible_from_its_seed():
    case = generate("raft", 7, 3, None, {})
    assert case == generate("raft", 7, 3, None, {})
    assert execute(case).sim.digest() == execute(case).sim.digest()


def test_fuzz_command_exit_codes(tmp_path):
    runner = CliRunner()
    clean = runner.invoke(app, ["fuzz", "--algo", "paxos", "--runs", "3", "--seed", "1"])
    assert clean.exit_code == 0 and "all 3 runs passed" in clean.output
    assert "runs/s" in clean.output and "events" in clean.output
    args = ["fuzz", "--algo", "raft", "--runs", "20", "--seed", "1", "--bug", "no_prevlog_check"]
    found = runner.invoke(app, [*args, "--out", str(tmp_path)])
    assert found.exit_code == 1 and "Log Matching" in found.output
    assert "consensus-tui replay " in found.output and list(tmp_path.glob("*.json"))
    assert runner.invoke(app, ["fuzz", "--bug", "no_such_bug"]).exit_code == 2


def test_campaigns_with_neighbouring_seeds_share_no_runs():
    first = {repr(c) for c in (generate("raft", 1, r, None, {}) for r in range(20))}
    second = {repr(c) for c in (generate("raft", 2, r, None, {}) for r in range(20))}
    assert not first & second and len(first) == 20


def test_a_run_stops_at_its_step_budget(monkeypatch):
    monkeypatch.setattr(fuzz, "MAX_RUN_STEPS", 50)
    outcome = execute(generate("raft", 1, 0, None, {}))
    assert outcome.failure == "step budget" and outcome.sim.step_count <= 51


def test_shrinking_stops_at_its_step_budget(monkeypatch):
    report = first_failure("raft", 20, 1, config={"bug": "no_prevlog_check"})
    steps = []
    monkeypatch.setattr(fuzz, "MAX_SHRINK_STEPS", 1)
    monkeypatch.setattr(fuzz, "execute", lambda case: steps.append(1) or execute(case))
    fuzz.shrink(report.failed)
    assert len(steps) == 1


def _same_report(pool) -> tuple:
    """A failing campaign and a passing one, as plain data."""
    failing = first_failure("raft", 20, 1, config={"bug": "no_prevlog_check"}, pool=pool)
    passing = first_failure("paxos", 24, 3, pool=pool)
    return tuple(
        (r.runs, r.events, r.sim_ms, r.coverage)
        + ((r.failed.case, r.failed.detail, r.shrunk.case, r.shrunk.detail) if r.failed else ())
        for r in (failing, passing)
    )


def test_a_campaign_reports_the_same_with_one_worker_two_and_a_dask_cluster():
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    alone = _same_report(None)
    assert alone[0][4:] and not alone[1][4:]  # one campaign fails, one passes
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        assert _same_report(pool) == alone
    import distributed  # the dev group installs the [cluster] extra: this never skips

    with distributed.Client(processes=False, n_workers=2, dashboard_address=None) as client:
        assert _same_report(client.get_executor()) == alone


def _closed_port() -> int:
    """A loopback port nothing listens on: one the system just handed out and took back."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_fuzz_command_prints_the_same_on_one_worker_two_and_dask(tmp_path):
    args = ["fuzz", "--runs", "20", "--bug", "no_prevlog_check", "--out", str(tmp_path)]

    def printed(*more: str) -> list[str]:
        result = CliRunner().invoke(app, [*args, *more])
        assert result.exit_code == 1, result.output
        return [line for line in result.output.splitlines() if not line.startswith("runs ")]

    alone = printed("--workers", "1")
    assert printed("--workers", "2") == alone
    import distributed  # the dev group installs the [cluster] extra: this never skips

    with distributed.LocalCluster(processes=False, n_workers=2, dashboard_address=None) as cluster:
        assert printed("--dask", cluster.scheduler_address) == alone
    dead = f"tcp://127.0.0.1:{_closed_port()}"
    bad = CliRunner().invoke(app, ["fuzz", "--runs", "1", "--dask", dead])
    assert bad.exit_code == 2 and "--dask" in bad.output
