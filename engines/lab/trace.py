"""Traces: a JSON record of a session that replays to the same state.

A trace holds a header (format, version, algorithm, node count, seed, protocol config and the
starting network), the user's actions with the step at which each happened, and the final step
and digest. Replaying re-runs the simulator from the seed, applying each action at its step;
determinism makes the final digest match.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engines.core import protocols
from engines.core.actions import Action, ActionError, Cluster, checked, grown
from engines.core.network import LinkConfig
from engines.core.sim import Simulator
from engines.lab import limits

FORMAT = "consensus-tui-trace"
VERSION = 1
KEYS = {"format", "version", "algo", "nodes", "seed", "config", "network", "actions"}
KEYS |= {"final_step", "final_digest"}
MAX_SEED = 2**63
PROGRESS_EVERY = 10_000  # steps replayed between two progress reports
Progress = Callable[[int, int], None]


class TraceError(Exception):
    """A trace that cannot be loaded; str() names the file and the problem."""


def trace_dict(sim: Simulator) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "algo": sim.protocol.name,
        "nodes": len(sim.founders),
        "seed": sim.seed,
        "config": sim.user_config,
        "network": asdict(LinkConfig()),  # later changes are set_network actions
        "actions": [
            {"step": step, "kind": a.kind, "args": a.args}
            for step, a in sim.actions()
            if step <= sim.step_count
        ],
        "final_step": sim.step_count,
        "final_digest": sim.digest(),
    }


def save_trace(sim: Simulator, path: str | Path) -> Path:
    """Write the session as a trace; raise TraceError for one `replay` would refuse (too
    long) or a path that cannot be written."""
    data = trace_dict(sim)
    try:
        _check_limits(data)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    except limits.LimitError as exc:
        raise TraceError(f"{path}: cannot save this session: {exc}") from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        # A NUL or another control character shows as an escape; other text as it is.
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
        raise TraceError(f"cannot save trace to {shown}: {getattr(exc, 'strerror', exc)}") from None
    return path


def load_trace(path: str | Path) -> Simulator:
    """Rebuild the session a trace records, at its final step. Raises TraceError, also when
    the replay does not reproduce the recorded digest."""
    return _reproduced(path, *read_trace(path))


def load_trace_text(text: str, name: str) -> Simulator:
    """load_trace for a trace's text that comes from no file (pasted into a browser
    session); `name` stands for the file in messages."""
    return _reproduced(name, *_replay(name, text))


def _reproduced(name: str | Path, sim: Simulator, recorded: str) -> Simulator:
    if sim.digest() != recorded:
        raise TraceError(
            f"{name}: digest mismatch at step {sim.step_count}: the trace says "
            f"{recorded[:12]}, the replay gives {sim.digest()[:12]}"
        )
    return sim


def read_trace(path: str | Path, progress: Progress | None = None) -> tuple[Simulator, str]:
    """Replay a trace; return the session at its final step and the digest the trace
    recorded there. Raises TraceError for a file that is not a valid trace. `progress`
    hears (steps replayed, final step) as the replay goes."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read trace: {exc}") from None
    return _replay(path, text, progress)


def _replay(name: str | Path, text: str, progress: Progress | None = None) -> tuple[Simulator, str]:
    data = _parse_json(name, text)
    try:
        sim = simulator_from(data, progress)
        recorded = data["final_digest"]
        if not isinstance(recorded, str):
            raise ValueError("final_digest must be a string")
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(f"{name}: malformed trace: {_reason(exc)}") from None
    return sim, recorded


def _parse_json(path: str | Path, text: str) -> Any:
    """The JSON of a trace, read only once it is known to be small and shallow enough."""
    try:
        limits.check_size(text, limits.MAX_INPUT_BYTES)
    except limits.LimitError as exc:
        raise TraceError(f"{path}: trace too large: {exc}") from None
    deep = limits.deepest_line(text)
    if deep is not None:
        raise TraceError(f"{path}:{deep}: nested deeper than {limits.MAX_DEPTH} levels")
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except limits.LimitError as exc:
        raise TraceError(f"{path}: {exc}") from None


def _bounded_int(digits: str) -> int:
    limits.check_count("a number of digits", len(digits.lstrip("-")), limits.MAX_DIGITS)
    return int(digits)


def _reason(exc: Exception) -> str:
    return f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)


def simulator_from(data: Any, progress: Progress | None = None) -> Simulator:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        raise ValueError(f"version {version!r} is not supported (need {VERSION})")
    missing, unknown = sorted(KEYS - set(data)), sorted(set(data) - KEYS)
    if missing or unknown:
        raise ValueError(
            f"missing field {missing[0]!r}" if missing else f"unknown field {unknown[0]!r}"
        )
    algo = data["algo"]
    if not isinstance(algo, str):
        raise ValueError("algo must be a string")
    protocols.get(algo)
    nodes, seed, final = _int(data, "nodes"), _int(data, "seed"), _int(data, "final_step")
    if not 3 <= nodes <= 9:
        raise ValueError(f"node count {nodes} is out of range 3..9")
    if seed > MAX_SEED:
        raise ValueError(f"seed {seed} is out of range 0..{MAX_SEED}")
    if not isinstance(data["config"], dict) or not isinstance(data["actions"], list):
        raise ValueError("config must be an object and actions a list")
    _check_limits(data)
    if data["network"] != asdict(LinkConfig()):
        raise ValueError("the network header must be the default one (changes are actions)")
    protocols.check_config(algo, data["config"])
    sim = Simulator(algo, nodes, seed, data["config"])
    timeline: dict[int, Action] = {}
    cluster = sim.cluster
    for entry in data["actions"]:
        action = _checked_action(entry, cluster)
        cluster = grown(cluster, action)
        step = _int(entry, "step")
        if not 1 <= step <= final or step in timeline:
            raise ValueError(f"action step {step} is repeated or outside 1..{final}")
        timeline[step] = action
    sim.replay(timeline, 0)
    for until in range(min(final, PROGRESS_EVERY), final + PROGRESS_EVERY, PROGRESS_EVERY):
        sim.goto(min(until, final))
        if progress:
            progress(sim.step_count, final)
    if sim.step_count != final:
        raise ValueError(f"the replay stopped at step {sim.step_count}, before step {final}")
    return sim


def _check_limits(data: dict) -> None:
    limits.check_count("final_step", data["final_step"], limits.MAX_STEPS)
    limits.check_count("the number of actions", len(data["actions"]), limits.MAX_COMMANDS)


def _checked_action(entry: Any, cluster: Cluster) -> Action:
    """An action whose arguments the simulator can apply, or ValueError naming the problem."""
    if not isinstance(entry, dict) or set(entry) != {"step", "kind", "args"}:
        raise ValueError(f"an action must have exactly step, kind and args: {entry!r}")
    try:
        return checked(Action(entry["kind"], entry["args"]), cluster)
    except ActionError as exc:
        raise ValueError(f"action at step {entry['step']}: {exc}") from None


def _int(data: dict, key: str) -> int:
    value = data[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a whole number, not {value!r}")
    return value
