"""The command line: a thin Typer layer over the engines and the app.

Textual is imported only inside the commands that open the app, so headless commands start
fast and never load it.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Optional

import typer

from engines.core.actions import MAX_CLIENTS, MAX_KEYS, MAX_RATE
from engines.core.clients import DEFAULT_KEYS, DEFAULT_RATE

app = typer.Typer(
    help="A keyboard-driven terminal laboratory for Raft and Multi-Paxos.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
)


class Algo(StrEnum):
    raft = "raft"
    paxos = "paxos"


FLAG = ""  # the metavar of a flag: Typer would show `<bool>`, as if it took a value
AlgoOption = Annotated[Algo, typer.Option("--algo", "-a", help="Consensus algorithm to run.")]
NodesOption = Annotated[
    int, typer.Option("--nodes", "-n", min=3, max=9, help="Number of nodes in the cluster (3..9).")
]
SeedOption = Annotated[
    int,
    typer.Option(
        "--seed", "-s", min=0, max=2**63, help="Root seed: same seed and actions, same run."
    ),
]
BugOption = Annotated[
    Optional[str],  # noqa: UP045 (Typer reads the annotation)
    typer.Option(
        "--bug", help="Switch on a named bug from the bug lab (see 'consensus-tui bugs')."
    ),
]


def say(message: str, err: bool = False) -> None:
    """Print a line whose values may come from a file: control characters (ESC, OSC, ...)
    are shown as escapes, never sent to the terminal."""
    from tui.escapes import visible

    typer.echo(visible(message), err=err)


BENCH_STEPS = 50_000  # bench's steps per speed measurement, unless --steps says


def fail(message: str, code: int = 2) -> None:
    say(message, err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"consensus-tui {version('consensus-tui')}")
        raise typer.Exit()


PrevoteOption = Annotated[
    bool,
    typer.Option(
        "--prevote", metavar=FLAG, help="Raft: PreVote, so a rejoining node cannot disrupt."
    ),
]
CheckquorumOption = Annotated[
    bool,
    typer.Option(
        "--checkquorum",
        metavar=FLAG,
        help="Raft: a leader that lost touch with a majority steps down.",
    ),
]

SnapshotEveryOption = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option(
        min=1,
        metavar="N",
        help="Raft: compact the log once N applied entries follow the last snapshot "
        "(default: never).",
    ),
]


MembershipOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(
        help="Raft: membership changes single (one voter at a time) or joint (joint "
        "consensus); the app's default is single, the fuzzer's to draw one per run."
    ),
]


def _config(
    algo: str,
    bug: str | None,
    prevote: bool = False,
    checkquorum: bool = False,
    read: str | None = None,
    snapshot_every: int | None = None,
    membership: str | None = None,
) -> dict:
    """Protocol settings from the command line; exits 2 on a bug, toggle, read path,
    snapshot threshold or membership mode that does not fit."""
    from engines.core.protocols import check_config

    config: dict = {"bug": bug} if bug is not None else {}
    if read is not None:
        config["read"] = read
    if snapshot_every is not None:
        if algo != "raft":
            fail("error: --snapshot-every is a Raft option")
        config["snapshot_every"] = snapshot_every
    if membership is not None:
        config["membership"] = membership
    for name, on in (("prevote", prevote), ("checkquorum", checkquorum)):
        if on and algo != "raft":
            fail(f"error: --{name} is a Raft option")
        if on:
            config[name] = True
    try:
        check_config(algo, config)
    except ValueError as exc:
        fail(f"error: {exc}")
    return config


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    algo: AlgoOption = Algo.raft,
    nodes: NodesOption = 5,
    seed: SeedOption = 1,
    scenario: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Open the app with this scenario script run to its end, paused."),
    ] = None,
    keymap: Annotated[
        str, typer.Option(help="Keymap: 'default', 'vim', or the path of a TOML keymap file.")
    ] = "default",
    bug: BugOption = None,
    prevote: PrevoteOption = False,
    checkquorum: CheckquorumOption = False,
    clients: Annotated[
        int,
        typer.Option(
            min=0, max=MAX_CLIENTS, help="Start with K clients running the workload (0: none)."
        ),
    ] = 0,
    keys: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1, max=MAX_KEYS, help=f"With --clients: keys they use (default {DEFAULT_KEYS})."
        ),
    ] = None,
    rate: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(
            min=1,
            max=MAX_RATE,
            help=f"With --clients: operations a second per client (default {DEFAULT_RATE}).",
        ),
    ] = None,
    snapshot_every: SnapshotEveryOption = None,
    membership: MembershipOption = None,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, metavar=FLAG, help="Print the version."
        ),
    ] = False,
) -> None:
    """Open the app (when no command is given)."""
    _collect_garbage_less_often()
    if ctx.invoked_subcommand is not None:
        _refuse_app_options(ctx)
        return
    if scenario is not None:
        _refuse_with_scenario(ctx)
    config = _config(
        algo.value, bug, prevote, checkquorum, snapshot_every=snapshot_every, membership=membership
    )
    workload = _workload(clients, keys, rate)
    from engines.lab.script import ScriptError
    from tui.app import make_app
    from tui.keymap import KeymapError

    try:
        tui_app = make_app(algo.value, nodes, seed, scenario, keymap, config, clients=workload)
    except (KeymapError, ScriptError) as exc:
        fail(f"error: {exc}")
    _run_app(tui_app)


def _workload(clients: int, keys: int | None, rate: int | None) -> dict | None:
    """The clients action the app starts with, if any; exits 2 for settings with no clients."""
    settings = {k: v for k, v in (("keys", keys), ("rate", rate)) if v is not None}
    if not clients:
        if settings:
            fail(f"error: --{next(iter(settings))} needs --clients K")
        return None
    return {"count": clients} | settings


def _run_app(tui_app) -> None:
    """Run the app to its end. An unexpected error inside it (Textual prints it) sets a
    non-zero return code: pass it on, so a crash never looks like success to the shell."""
    tui_app.run()
    raise typer.Exit(tui_app.return_code or 0)


def progress_bar():
    """Rich's progress bars on the error stream, shown only when it is a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _collect_garbage_less_often() -> None:
    """A session keeps a large, long-lived history (events, checkpoints, chains). CPython's
    full collections walk all of it, and at the default rate they cost about 15% of engine
    speed; a tenth as many keep memory in check. A process setting, so it lives here, where
    every command (the app, run, fuzz, bench) starts."""
    gen0, gen1, _ = gc.get_threshold()
    gc.set_threshold(gen0, gen1, 100)


def _refuse_with_scenario(ctx: typer.Context) -> None:
    """A scenario sets its own algorithm, size and seed: a clash must not pass in silence."""
    for name in ("algo", "nodes", "seed", "clients"):
        source = ctx.get_parameter_source(name)
        if source is not None and source.name != "DEFAULT":
            fail(f"error: --{name} clashes with --scenario, which sets it in the script")


def _refuse_app_options(ctx: typer.Context) -> None:
    """The app's options mean nothing to a command: say so rather than ignore them."""
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if source is not None and source.name != "DEFAULT":
            option = name.replace("_", "-")
            fail(f"error: --{option} is an option of the app; put a command's options after it")


@app.command()
def run(
    script: Annotated[Path, typer.Argument(help="Scenario script to run headless.")],
    as_json: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="Print one JSON object.")
    ] = False,
    bug: BugOption = None,
) -> None:
    """Run a scenario script headless and check its expectations.

    Exit 0 when every expectation held and no invariant was violated, 1 when one failed,
    2 for a script that cannot run (printed as FILE:LINE: message).
    """
    from engines.lab.script import ScriptError, parse_file
    from engines.lab.script import run as run_script

    try:
        parsed = parse_file(script)
    except ScriptError as exc:
        fail(str(exc))
    parsed.config |= _config(parsed.algo, bug)
    result = run_script(parsed)
    sim = result.sim
    summary = {
        "ok": result.ok,
        "step": sim.step_count,
        "time_ms": sim.now,
        "digest": sim.digest(),
        "chains": {f"n{i}": sim.height(i) for i in sim.node_ids},
        "violation": str(sim.violation) if sim.violation else None,
        "error": result.error,
        "expectations": [
            {"line": o.line, "expect": o.text, "ok": o.ok, "observed": o.observed}
            for o in result.outcomes
        ],
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
    else:
        _print_run(summary, script)
    raise typer.Exit(0 if result.ok else 1)


def _print_expectations(summary: dict, script: Path | str) -> None:
    """Each expectation as `ok` or `FAIL`, its FILE:LINE and what was observed; then the
    error that stopped the script, if one did."""
    for e in summary["expectations"]:
        mark = "ok  " if e["ok"] else "FAIL"
        say(f"{mark} {script}:{e['line']}: {e['expect']}  ({e['observed']})")
    if summary["error"]:
        say(f"error: {summary['error']}")


def _print_tally(summary: dict) -> None:
    failed = sum(not e["ok"] for e in summary["expectations"])
    say(f"{len(summary['expectations']) - failed} passed, {failed} failed")


def _print_run(summary: dict, script: Path) -> None:
    _print_expectations(summary, script)
    if summary["violation"]:
        say(f"UNSAFE: {summary['violation']}")
    chains = " ".join(f"{n}:{'down' if h is None else h}" for n, h in summary["chains"].items())
    say(
        f"step {summary['step']}  time {summary['time_ms']}ms  digest {summary['digest'][:16]}"
        f"  chains {chains}"
    )
    _print_tally(summary)


@app.command()
def demo(algo: AlgoOption = Algo.raft, nodes: NodesOption = 5, seed: SeedOption = 1) -> None:
    """Commit the seed example's three values for real, then print the chain."""
    from engines.lab.demo import run_demo

    for line in run_demo(algo.value, nodes, seed):
        typer.echo(line)


@app.command()
def replay(
    trace: Annotated[Path, typer.Argument(help="Trace file saved by the app or a script.")],
    headless: Annotated[
        bool,
        typer.Option(
            metavar=FLAG, help="Print the final digest and invariant state instead of the app."
        ),
    ] = False,
    keymap: Annotated[str, typer.Option(help="Keymap for the app.")] = "default",
) -> None:
    """Open a saved trace at its last step (or check it headless).

    Exit 0 when the replay reproduces the trace's digest, 1 when it does not, 2 when the file
    cannot be read as a trace.
    """
    from engines.lab.trace import TraceError, read_trace

    with progress_bar() as progress:
        task = progress.add_task(f"replay {trace.name}", total=None)

        def replayed(step: int, final: int) -> None:
            progress.update(task, completed=step, total=final)

        try:
            sim, recorded = read_trace(trace, replayed)
        except TraceError as exc:
            fail(f"error: {exc}")
    matches = sim.digest() == recorded
    if headless:
        typer.echo(f"step {sim.step_count}  time {sim.now}ms")
        typer.echo(
            f"digest {sim.digest()} ({'matches' if matches else 'DOES NOT match'} the trace)"
        )
        say(f"invariants: {sim.violation or 'SAFE'}")
        raise typer.Exit(0 if matches else 1)
    if not matches:
        fail(f"error: {trace}: the replay does not reproduce the trace's digest", 1)
    from tui.app import make_app
    from tui.keymap import KeymapError

    try:
        tui_app = make_app(sim=sim, keymap=keymap)
    except KeymapError as exc:
        fail(f"error: {exc}")
    _run_app(tui_app)


@app.command()
def bugs() -> None:
    """List the bug lab: one deliberately broken rule per line (ALGO NAME description)."""
    from engines.core.protocols import all_bugs

    for algo, name, description in all_bugs():
        typer.echo(f"{algo} {name} {description}")


@app.command()
def fuzz(
    algo: AlgoOption = Algo.raft,
    runs: Annotated[int, typer.Option(min=1, help="How many runs to try.")] = 100,
    seed: SeedOption = 1,
    nodes: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=3, max=9, help="Cluster size; by default each run draws 3..7."),
    ] = None,
    bug: BugOption = None,
    prevote: PrevoteOption = False,
    checkquorum: CheckquorumOption = False,
    read: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Raft: read path log|index|lease; by default each run draws one."),
    ] = None,
    snapshot_every: SnapshotEveryOption = None,
    membership: MembershipOption = None,
    out: Annotated[Path, typer.Option(help="Folder for the shrunk failing trace.")] = Path(
        "traces"
    ),
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Processes to spread the runs over; by default every core."),
    ] = None,
    dask: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Send the runs to this Dask scheduler (tcp://HOST:8786); needs the extra "
            "consensus-tui[cluster]."
        ),
    ] = None,
) -> None:
    """Random faults with invariants checked after every step, then a liveness check, with
    clients running throughout whose history must be linearizable.

    On the first failure (in run order, however many workers) the run is shrunk here, its
    trace saved, and the command exits 1. Exit 0 when every run passes, 2 for bad arguments.
    """
    import os
    import time

    from engines.lab.fuzz import first_failure
    from engines.lab.trace import TraceError, save_trace

    config = _config(algo.value, bug, prevote, checkquorum, read, snapshot_every, membership)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"error: --out {out}: {exc.strerror}")
    with _run_pool(dask, workers or os.cpu_count() or 1) as pool, progress_bar() as progress:
        task = progress.add_task(f"fuzz {algo.value}", total=runs)
        started = finished = time.perf_counter()

        def ran(summary) -> None:
            nonlocal finished
            finished = time.perf_counter()  # the last run's end: shrinking is not fuzzing
            failed = f", run {summary.run} failed: shrinking" if summary.failure else ""
            progress.update(task, advance=1, description=f"fuzz {algo.value}{failed}")

        report = first_failure(algo.value, runs, seed, nodes, config, on_run=ran, pool=pool)
    wall = max(finished - started, 1e-9)
    typer.echo(
        f"runs {report.runs}  runs/s {report.runs / wall:.1f}  "
        f"sim s/s {report.sim_ms / 1000 / wall:.1f}  events {report.events}"
    )
    typer.echo(f"coverage: {report.coverage.describe()}")
    if report.failed is None:
        typer.echo(f"all {report.runs} runs passed")
        return
    shrunk = report.shrunk
    name = f"{algo.value}-seed{seed}-run{report.runs}{'-' + bug if bug else ''}.json"
    typer.echo(
        f"FAILED run {report.runs} ({report.failed.case.describe()}): {report.failed.detail}"
    )
    typer.echo(
        f"shrunk to {len(shrunk.case.ops)} ops, {shrunk.sim.step_count} steps: {shrunk.detail}"
    )
    try:
        path = save_trace(shrunk.sim, out / name)
    except TraceError as exc:  # a run too long for a trace (a step budget spent)
        typer.echo(f"trace not saved: {exc}")
        raise typer.Exit(1) from None
    typer.echo(f"trace saved: {path}")
    typer.echo(f"open it with: consensus-tui replay {path}")
    raise typer.Exit(1)


@contextmanager
def _run_pool(dask: str | None, workers: int):
    """Where fuzz runs go: a Dask scheduler, a pool of `workers` processes, or (one worker)
    this process."""
    if dask:
        try:
            from distributed import Client
        except ImportError:
            fail("error: --dask needs the cluster extra: pip install 'consensus-tui[cluster]'")
        try:
            client = Client(dask, timeout=10)
        except OSError as exc:
            fail(f"error: --dask {dask}: {exc}")
        with client:
            yield client.get_executor()
    elif workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            yield pool
            pool.shutdown(cancel_futures=True)
    else:
        yield None


class HistoryModel(StrEnum):
    register = "register"
    cas_register = "cas-register"
    kv = "kv"


@app.command()
def lincheck(
    history: Annotated[Path, typer.Argument(help="History: JSON lines or Jepsen's EDN.")],
    model: Annotated[
        HistoryModel, typer.Option(help="register, cas-register, or kv ([key value] tuples).")
    ] = HistoryModel.cas_register,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    timeout: Annotated[
        float, typer.Option(min=0, help="Seconds of search before the verdict is unknown.")
    ] = 10.0,
) -> None:
    """Check that a history is linearizable (see docs/histories.md).

    Exit 0 linearizable, 1 not linearizable, 2 for a history that cannot be read (printed as
    FILE:LINE: problem), 3 unknown (the time budget ran out).
    """
    import time

    from engines.lab.lincheck.history import HistoryError
    from engines.lab.lincheck.models import MODELS
    from engines.lab.lincheck.readers import read_history
    from engines.lab.lincheck.search import Verdict, check

    try:
        ops = read_history(history, MODELS[model.value])
    except HistoryError as exc:
        fail(str(exc))
    deadline = time.perf_counter() + timeout
    result = check(ops, lambda: time.perf_counter() > deadline)
    if as_json:
        summary = {"file": str(history), "model": model.value} | result.summary()
        typer.echo(json.dumps(summary, default=repr))
    else:
        _print_lincheck(history, result, timeout)
    exit_codes = {Verdict.LINEARIZABLE: 0, Verdict.NOT_LINEARIZABLE: 1, Verdict.UNKNOWN: 3}
    raise typer.Exit(exit_codes[result.verdict])


def _print_lincheck(history: Path, result, timeout: float) -> None:
    from engines.lab.lincheck.search import Verdict

    size = f"{result.operations} operations, {result.keys} key{'s' * (result.keys != 1)}"
    if result.verdict is not Verdict.NOT_LINEARIZABLE:
        budget = f", the {timeout:g} s budget ran out" if result.verdict is Verdict.UNKNOWN else ""
        typer.echo(f"{history}: {result.verdict} ({size}{budget})")
        return
    on_key = "" if result.key is None else f" on key {result.key!r}"
    typer.echo(f"{history}: NOT linearizable ({size})")
    typer.echo(f"cannot place: {result.blocked.describe()}")
    ending = ", ending:" if result.prefix else ""
    typer.echo(f"after a linearizable prefix of {len(result.prefix)} operations{on_key}{ending}")
    for op in result.prefix[-5:]:
        typer.echo(f"  {op.describe()}")


@app.command()
def bench(
    as_json: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="Print one JSON object.")
    ] = False,
    steps: Annotated[
        int, typer.Option(min=1000, help="Steps per speed measurement.")
    ] = BENCH_STEPS,
    long: Annotated[
        bool,
        typer.Option("--long", metavar=FLAG, help="Add a 1,000,000-step session per algorithm."),
    ] = False,
    in_app: Annotated[
        bool,
        typer.Option(
            "--app",
            metavar=FLAG,
            help="Instead: the app at maximum speed (headless, 9 nodes, diagram on) against "
            "the engine alone, and how soon a key acts.",
        ),
    ] = False,
) -> None:
    """Measure engine speed, step-back time and history memory (5 nodes, steady client load),
    the linearizability checker on a 10,000-operation history (10 clients, 5 keys), and Raft's
    election time after a leader crash (median and p90 over 200 seeds, simulated ms).

    Speeds are CPU time, and also a fraction of a bare heap-of-events pump run alongside."""
    import time

    from engines.lab.bench import LONG_STEPS, run_all

    if in_app and (long or steps != BENCH_STEPS):
        fail("bench: --app measures the app alone: it takes no --long or --steps")
    figures = ["pump", "raft", "paxos", "history", "elections"] + ["raft long", "paxos long"] * long
    if in_app:
        from tui import appbench

        figures = [*(["turn"] * appbench.REPEATS), "keys"]
    with progress_bar() as progress:
        task = progress.add_task("bench", total=len(figures))

        def done(figure: str) -> None:
            progress.update(task, advance=1, description=f"bench: {figure} done")

        if in_app:
            report = appbench.measure(done)
        else:
            report = run_all(
                time.process_time, steps, long_steps=LONG_STEPS if long else None, done=done
            )
    if as_json:
        typer.echo(json.dumps(report))
        return
    if in_app:
        for name, figure in report.items():
            typer.echo(f"{name:26} {figure}")
        return
    for name, value in report.items():
        for key, figure in value.items() if isinstance(value, dict) else [("", value)]:
            typer.echo(f"{name:11} {key:34} {figure}")


class Reads(StrEnum):
    linearizable = "linearizable"
    serializable = "serializable"


@app.command()
def live(
    ctx: typer.Context,
    nodes: Annotated[
        int,
        typer.Option(
            "--nodes", "-n", min=3, max=7, help="Members: 3 to 7 (3 or 5 make the usual clusters)."
        ),
    ] = 3,
    etcd: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The etcd binary (by default `etcd` on PATH)."),
    ] = None,
    script: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Run this scenario script against the cluster, headless."),
    ] = None,
    reads: Annotated[
        Reads, typer.Option(help="How the clients read: through the leader, or from any member.")
    ] = Reads.linearizable,
    clients: Annotated[
        int, typer.Option(min=0, max=16, help="Clients running the workload from the start.")
    ] = 0,
    history: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Save the clients' history here (JSON lines, for `lincheck`)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", metavar=FLAG, help="With --script: print one JSON object.")
    ] = False,
    keymap: Annotated[
        str, typer.Option(help="Keymap: 'default', 'vim', or the path of a TOML keymap file.")
    ] = "default",
) -> None:
    """A real etcd cluster on 127.0.0.1 (see docs/live.md): the app over it, or a script.

    With --script: exit 0 when every expectation held and the history is linearizable (or
    expected not to be), 1 when not, 2 for a script or cluster that cannot run."""
    from tui.live.cluster import EtcdMissing
    from tui.live.session import NoLeader, Session

    parsed = _live_script(ctx, script) if script is not None else None
    keys = _live_keymap(keymap) if parsed is None else None
    size = parsed.nodes if parsed is not None else nodes
    seed = parsed.seed if parsed is not None else 1
    _leave_on_hangup()
    try:
        session = Session.start(size, etcd, reads.value, seed)
    except (EtcdMissing, NoLeader, OSError) as exc:
        fail(f"error: {exc}")
    with session:
        if parsed is None:
            code = _live_app(session, clients, keys)
        else:
            code = _live_run(parsed, session, as_json)
        if history is not None:
            try:
                history.write_text(session.history.json_lines(), encoding="utf-8")
            except OSError as exc:
                say(f"error: --history {history}: {exc.strerror}", err=True)
                code = 2
    raise typer.Exit(code)


def _leave_on_hangup() -> None:
    """A closed terminal (SIGHUP) or a kill (SIGTERM) leaves through the session's `with`,
    which kills every member and removes the data folders."""
    import signal

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(signum, leave)


def _live_script(ctx: typer.Context, path: Path):
    from engines.lab.script import ScriptError, parse_file
    from tui.live.script import check_live

    clashes = {
        "nodes": "--nodes clashes with --script, which sets it with its 'nodes' line",
        "clients": "--clients clashes with --script, which starts them with 'clients K'",
        "keymap": "--keymap is for the app: a script has no keys",
    }
    for name, problem in clashes.items():
        source = ctx.get_parameter_source(name)
        if source is not None and source.name != "DEFAULT":
            fail(f"error: {problem}")
    try:
        parsed = parse_file(path)
        check_live(parsed)
    except ScriptError as exc:
        fail(str(exc))
    return parsed


def _live_keymap(spec: str) -> dict[str, str]:
    """Read before any process starts: a bad keymap costs nothing."""
    from tui.keymap import KeymapError, load_keymap

    try:
        return load_keymap(spec)
    except KeymapError as exc:
        fail(f"error: {exc}")


def _live_app(session, clients: int, keymap: dict[str, str]) -> int:
    from tui.live_app import LiveApp

    if clients:
        session.start_clients({"count": clients})
    tui_app = LiveApp(session.poller, session.node_ids, session, keymap)
    tui_app.run()
    return tui_app.return_code or 0


def _live_run(parsed, session, as_json: bool) -> int:
    from tui.live.script import run_live

    result = run_live(parsed, session)
    summary = result.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
    else:
        _print_live(summary, parsed.file)
    return 0 if result.ok else 1


def _print_live(summary: dict, script: str) -> None:
    for change in summary["leader_changes"]:
        who = (
            f"{change['leader']} leads in term {change['term']}"
            if change["leader"]
            else "no leader"
        )
        say(f"at {change['at_s']:7.3f}s  {who}")
    _print_expectations(summary, script)
    if summary["verdict"] is None:
        say("history: no client operation recorded")
    else:
        say(f"history: {summary['operations']} operations, {summary['verdict']}")
    if summary["cannot_place"]:
        say(f"cannot place: {summary['cannot_place']}")
    changes = sum(c["leader"] is not None for c in summary["leader_changes"])
    say(f"time {summary['seconds']:.1f}s  leaders seen {changes}")
    _print_tally(summary)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def serve(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on; anything but loopback lets other machines in."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    public_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The address browsers use, when it is not http://HOST:PORT."),
    ] = None,
) -> None:
    """Serve the app as a web page: each browser tab gets its own session.

    The app's options (--algo, --nodes, --scenario, --keymap, ...) go after the command's and
    apply to every session. Exit 2 for bad options, a port that cannot be bound, or without
    the extra consensus-tui\\[serve].
    """
    from tui.serve import INSTALL_LINE, is_loopback, serve

    _check_app_options(ctx, ctx.args)
    if not is_loopback(host):
        say(f"serving on {host}: any machine that reaches it can open sessions", err=True)
    try:
        serve(ctx.args, host, port, public_url)
    except ImportError:
        fail(f"error: serve needs the serve extra: {INSTALL_LINE}")
    except OSError as exc:
        fail(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}")


def _check_app_options(ctx: typer.Context, args: list[str]) -> None:
    """Check the app options now, as the app would, so a mistake is told once here (exit 2)
    rather than in every browser tab: Typer parses them, then the checks the app makes of its
    settings, keymap and scenario script."""
    from engines.lab.script import ScriptError, parse_file
    from tui.keymap import KeymapError, load_keymap

    with ctx.find_root().command.make_context("consensus-tui", list(args)) as parsed:
        extra = parsed._protected_args + parsed.args  # a command's name, then its arguments
        if extra:
            fail(f"error: serve takes the app's options, not {extra[0]!r}")
        given = parsed.params
        if given["scenario"] is not None:
            _refuse_with_scenario(parsed)
        _config(
            str(given["algo"]),
            given["bug"],
            given["prevote"],
            given["checkquorum"],
            snapshot_every=given["snapshot_every"],
            membership=given["membership"],
        )
        _workload(given["clients"], given["keys"], given["rate"])
        try:
            load_keymap(given["keymap"])
            if given["scenario"] is not None:
                parse_file(given["scenario"])
        except (KeymapError, ScriptError) as exc:
            fail(f"error: {exc}")
