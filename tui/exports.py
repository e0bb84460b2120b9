"""Exports of a session: the space-time diagram and the clients' history as SVG, the events
as a plain-text log.

Both read the simulator's event list up to the current step. The SVG is drawn by the same code
as the diagram pane (tui.spacetime), recorded by a Rich console, so it shows what the pane shows
with room for every lane, the current filter applied, and the latest rows when the history is
longer than `MAX_SVG_ROWS`.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from rich.segment import Segment, Segments

from engines.core.actions import MAX_CLIENTS
from engines.core.clients import Record
from engines.core.sim import Simulator
from engines.lab.workload import trail
from tui.history import history_lines, judge, selected_lines
from tui.spacetime import ALL, DiagramIndex, Layout, draw_header, draw_row, emphasis, focus
from tui.text import seconds, visible

MAX_SVG_ROWS = 2000  # a longer history keeps its latest rows: SVG viewers slow down past this
SVG_TEXT_WIDTH = 56  # columns for "what happened" right of the lanes
HISTORY_SVG_WIDTH = 160  # columns for the history's lanes: wider than most terminals
NEWLINE = Segment.line()


def header_lines(sim: Simulator) -> list[str]:
    config = ", ".join(f"{k}={v}" for k, v in sorted(sim.user_config.items())) or "defaults"
    return [
        f"consensus-tui session: {sim.protocol.name}, {len(sim.node_ids)} nodes, seed {sim.seed}",
        f"config: {config}",
        f"step {sim.step_count} of {sim.max_step}, time {seconds(sim.now)}",
    ]


def event_log_text(sim: Simulator) -> str:
    """Every event up to the current step, one per line: step, time, what happened, notes."""
    lines = [f"# {line}" for line in header_lines(sim)]
    lines.append(f"# {'step':>6}  {'time':>9}  event; notes")
    for event in sim.events:
        lines.append(f"  {event.step:>6}  {seconds(event.time):>9}  {visible(str(event))}")
    return "\n".join(lines) + "\n"


def diagram_svg(sim: Simulator, mode: str = ALL) -> tuple[str, int, int]:
    """(SVG text, rows drawn, rows in the filtered history)."""
    index = DiagramIndex(sim.node_ids, mode)
    index.sync(sim.events)
    widest = Layout.fit(10_000, index)  # the lanes at their widest spacing
    layout = Layout.fit(widest.text_x + SVG_TEXT_WIDTH, index)
    total = index.row_count
    first = max(0, total - MAX_SVG_ROWS)
    current, path = focus(index)
    console = Console(width=layout.width, record=True, file=io.StringIO(), color_system="truecolor")
    console.print(Segments([*draw_header(index, layout), NEWLINE]))
    for row in range(first, total):
        how = emphasis(row, current, path)
        console.print(Segments([*draw_row(index, index.event_at(row), layout, *how), NEWLINE]))
    title = f"{' · '.join(header_lines(sim)[::2])} · {index.describe_mode()}"
    return console.export_svg(title=title), total - first, total


def history_svg(sim: Simulator, selected: Record | None = None) -> str:
    """The history pane's drawing, every client's lane (and the selected operation, if
    any), as SVG text."""
    console = Console(
        width=HISTORY_SVG_WIDTH, record=True, file=io.StringIO(), color_system="truecolor"
    )
    lines = history_lines(sim, HISTORY_SVG_WIDTH, MAX_CLIENTS + 2, judge(sim), selected)
    if selected is not None:
        lines += selected_lines(selected, trail(sim, selected))
    for line in lines:
        console.print(line, no_wrap=True, overflow="ellipsis")
    title = f"{' · '.join(header_lines(sim)[::2])} · clients' history"
    return console.export_svg(title=title)


def write_file(path: str | Path, text: str) -> Path:
    """Write into an existing folder (a missing one is an OSError, never created here)."""
    path = Path(path)
    path.write_text(text, encoding="utf-8")
    return path
