"""The clients' history drawn as lanes: one per client, each operation a bar from its
invocation to its completion, styled by outcome; the operation the checker cannot place is
shown reversed in red, and the longest linearizable prefix it found is underlined. A selected
operation is drawn on top of its lane, reversed, with its details in two lines under the
lanes; its events (`engines.lab.workload.trail`) are what the diagram marks.

Pure functions of the simulator, so the pane and its tests draw the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from engines.core.clients import Record
from engines.core.sim import Simulator
from engines.lab.lincheck.search import Verdict
from engines.lab.workload import Trail, linearizable
from tui.spacetime import OP_GLYPHS
from tui.text import literal, seconds

CHECK_BUDGET = 200  # the pane's search budget (engines.lab.workload): past it, unknown
LABEL = 5  # columns for a lane's name: "c12 "
STYLES = {"ok": "green", "fail": "yellow", "unknown": "red dim", "": "cyan"}
MARKS = {"ok": "", "fail": " ✗", "unknown": " ?", "": " …"}


@dataclass(frozen=True)
class Judged:
    """The checker's verdict on a history, with operations named by their call positions."""

    verdict: str
    blocked: int | None = None
    prefix: frozenset[int] = frozenset()


def judge(sim: Simulator) -> Judged:
    result = linearizable(sim, CHECK_BUDGET)
    if result.verdict is not Verdict.NOT_LINEARIZABLE:
        return Judged(str(result.verdict))
    prefix = frozenset(op.line - 1 for op in result.prefix)
    return Judged(str(result.verdict), result.blocked.line - 1, prefix)


def history_lines(
    sim: Simulator, width: int, rows: int, judged: Judged, selected: Record | None = None
) -> list[Text]:
    """A header, then a lane for each client (as many as `rows` leaves room for)."""
    work = sim.world.clients
    if not work.records:
        return [Text("no client operations yet: a script's `clients K` starts a workload", "dim")]
    track = max(10, width - LABEL)
    start = work.records[0].invoked_at
    end = max(sim.now if not r.status else r.completed_at for r in work.records)
    scale = max(1, -(-(end - start) // (track - 1)))  # ms a column: the whole history fits
    style = "bold red" if judged.blocked is not None else "bold"
    span = f"{start} to {end} ms, {scale} ms a column"
    header = Text.assemble(
        (f"{len(work.records)} operations, {span}: ", "dim"), (judged.verdict, style)
    )
    lanes = []
    for client in sorted(work.clients)[: max(0, rows - 2)]:
        mine = [r for r in work.records if r.command.client == client and r is not selected]
        mine += [selected] if selected is not None and selected.command.client == client else []
        lane = Text(f"c{client}".ljust(LABEL), style="bold")
        lane.append_text(draw_lane(mine, track, (start, scale, sim.now), judged, selected))
        lanes.append(lane)
    return [header, *lanes, *blocked_line(sim, judged)]


def draw_lane(
    records: list[Record], track: int, axis: tuple, judged: Judged, selected: Record | None
) -> Text:
    """One client's operations as bars from invocation to completion (to now while pending);
    a bar shows as much of its label as fits, and a later bar may cover a short one."""
    start, scale, now = axis
    lane = Text(" " * track)
    for record in records:
        end = record.completed_at if record.completed_at is not None else now
        first = (record.invoked_at - start) // scale
        last = max(first + 1, (end - start) // scale)
        text = ("├" + label(record)).ljust(last - first, "─")[: last - first] + "┤"
        style = bar_style(record, judged) + (" reverse" if record is selected else "")
        lane = lane[:first] + Text(text, style=style) + lane[last + 1 :]
    return lane[:track]


def blocked_line(sim: Simulator, judged: Judged) -> list[Text]:
    if judged.blocked is None:
        return []
    record = next(r for r in sim.world.clients.records if r.call == judged.blocked)
    text = f"cannot be placed: client {record.command.client} {label(record)}"
    return [Text(text + f" at {record.invoked_at} ms", style="bold red")]


def label(record: Record) -> str:
    command = record.command
    text = " ".join([command.f, command.key, *command.args])
    if command.f == "get" and record.status == "ok":
        text += f"→{record.value if record.value is not None else '∅'}"
    return text + MARKS[record.status]


def bar_style(record: Record, judged: Judged) -> str:
    if record.call == judged.blocked:
        return "bold reverse red"
    style = STYLES[record.status]
    return f"{style} underline" if record.call in judged.prefix else style


def selected_lines(record: Record, trail: Trail) -> list[Text]:
    """The selected operation in full: who, what and its result, then when it began and
    ended (step and time) and how many of its events the diagram marks."""
    command = record.command
    words = [command.f, *(literal(word) for word in (command.key, *command.args))]
    result = record.status or "pending"
    if command.f == "get" and record.status == "ok":
        result += f", read {literal(record.value) if record.value is not None else '∅'}"
    by = f" from n{record.node}" if record.node is not None else ""
    what = Text.assemble(
        (f"client {command.client} op {command.op}: {' '.join(words)}", "bold"),
        (f" → {result}{by}", STYLES[record.status]),
    )
    when = [f"invoked step {record.invoked_step} at {seconds(record.invoked_at)}"]
    if record.completed_step is not None:
        verb = "gave up" if record.status == "unknown" else "answered"
        when.append(f"{verb} step {record.completed_step} at {seconds(record.completed_at)}")
    marks = [
        f"{OP_GLYPHS['sent']} {len(trail.sent)} sent",
        f"{OP_GLYPHS['carried']} {len(trail.carried)} carrying",
    ]
    marks += [f"{OP_GLYPHS['answered']} answer"] * (trail.completed is not None)
    return [what, Text.assemble(" · ".join(when), (" · " + ", ".join(marks), "dim"))]


def selection_marks(trail: Trail) -> dict[int, str]:
    """The diagram's marks for an operation's events, by event index (step - 1): sent,
    carried or answered (an answer wins over a send at the same step: the stale read)."""
    marks = {step - 1: "carried" for step in trail.carried}
    marks |= {step - 1: "sent" for step in trail.sent}
    if trail.completed is not None:
        marks[trail.completed - 1] = "answered"
    return marks
