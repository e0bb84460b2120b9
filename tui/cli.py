"""The command line: a thin Typer layer over the engines and the app.

Textual is imported only inside the commands that open the app, so headless commands start
fast and never load it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(
    help="A keyboard-driven terminal laboratory for Raft and Multi-Paxos.",
    add_completion=False,
    no_args_is_help=False,
    pretty_exceptions_enable=False,
)


class Algo(StrEnum):
    raft = "raft"
    paxos = "paxos"


AlgoOption = Annotated[Algo, typer.Option("--algo", "-a", help="Consensus algorithm to run.")]
NodesOption = Annotated[
    int, typer.Option("--nodes", "-n", min=3, max=9, help="Number of nodes in the cluster (3..9).")
]
SeedOption = Annotated[
    int, typer.Option("--seed", "-s", min=0, help="Root seed: same seed and actions, same run.")
]
BugOption = Annotated[
    Optional[str],  # noqa: UP045 (Typer reads the annotation)
    typer.Option(
        "--bug", help="Switch on a named bug from the bug lab (see 'consensus-tui bugs')."
    ),
]


def fail(message: str, code: int = 2) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"consensus-tui {version('consensus-tui')}")
        raise typer.Exit()


def _config(algo: str, bug: str | None) -> dict:
    if bug is None:
        return {}
    from engines.bugs import bugs_for

    if bug not in bugs_for(algo):
        fail(f"error: unknown {algo} bug {bug!r} (see 'consensus-tui bugs')")
    return {"bug": bug}


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
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Open the app (when no command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    config = _config(algo.value, bug)
    from engines.script import ScriptError
    from tui.app import make_app
    from tui.keymap import KeymapError

    try:
        tui_app = make_app(algo.value, nodes, seed, scenario, keymap, config)
    except (KeymapError, ScriptError) as exc:
        fail(f"error: {exc}")
    tui_app.run()


@app.command()
def run(
    script: Annotated[Path, typer.Argument(help="Scenario script to run headless.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run a scenario script headless and check its expectations.

    Exit 0 when every expectation held and no invariant was violated, 1 when one failed,
    2 for a script that cannot run (printed as FILE:LINE: message).
    """
    from engines.script import ScriptError, run_file

    try:
        result = run_file(script)
    except ScriptError as exc:
        fail(str(exc))
    sim = result.sim
    summary = {
        "ok": result.ok,
        "step": sim.step_count,
        "time_ms": sim.now,
        "digest": sim.digest(),
        "chains": {f"n{i}": _height(sim, i) for i in sim.node_ids},
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


def _height(sim, node: int) -> int | None:
    sm = sim.state_machine(node)
    return None if sm is None else sm.height


def _print_run(summary: dict, script: Path) -> None:
    for e in summary["expectations"]:
        mark = "ok  " if e["ok"] else "FAIL"
        typer.echo(f"{mark} {script}:{e['line']}: {e['expect']}  ({e['observed']})")
    if summary["error"]:
        typer.echo(f"error: {summary['error']}")
    if summary["violation"]:
        typer.echo(f"UNSAFE: {summary['violation']}")
    chains = " ".join(f"{n}:{'down' if h is None else h}" for n, h in summary["chains"].items())
    typer.echo(
        f"step {summary['step']}  time {summary['time_ms']}ms  digest {summary['digest'][:16]}"
        f"  chains {chains}"
    )
    failed = sum(not e["ok"] for e in summary["expectations"])
    typer.echo(f"{len(summary['expectations']) - failed} passed, {failed} failed")


@app.command()
def demo(algo: AlgoOption = Algo.raft, nodes: NodesOption = 5, seed: SeedOption = 1) -> None:
    """Commit the seed example's three values for real, then print the chain."""
    from engines.demo import run_demo

    for line in run_demo(algo.value, nodes, seed):
        typer.echo(line)


@app.command()
def replay(
    trace: Annotated[Path, typer.Argument(help="Trace file saved by the app or a script.")],
    headless: Annotated[
        bool, typer.Option(help="Print the final digest and invariant state instead of the app.")
    ] = False,
    keymap: Annotated[str, typer.Option(help="Keymap for the app.")] = "default",
) -> None:
    """Open a saved trace at its last step (or check it headless).

    Exit 0 when the replay reproduces the trace's digest, 1 when it does not, 2 when the file
    cannot be read as a trace.
    """
    from engines.trace import TraceError, load_trace

    try:
        sim = load_trace(trace, verify=False)
    except TraceError as exc:
        fail(f"error: {exc}")
    expected = json.loads(trace.read_text(encoding="utf-8"))["final_digest"]
    matches = sim.digest() == expected
    if headless:
        typer.echo(f"step {sim.step_count}  time {sim.now}ms")
        typer.echo(
            f"digest {sim.digest()} ({'matches' if matches else 'DOES NOT match'} the trace)"
        )
        typer.echo(f"invariants: {sim.violation or 'SAFE'}")
        raise typer.Exit(0 if matches else 1)
    if not matches:
        fail(f"error: {trace}: the replay does not reproduce the trace's digest", 1)
    from tui.app import make_app
    from tui.keymap import KeymapError

    try:
        tui_app = make_app(sim=sim, keymap=keymap)
    except KeymapError as exc:
        fail(f"error: {exc}")
    tui_app.run()


@app.command()
def bugs() -> None:
    """List the bug lab: one deliberately broken rule per line (ALGO NAME description)."""
    from engines.bugs import all_bugs

    for algo, name, description in all_bugs():
        typer.echo(f"{algo} {name} {description}")
