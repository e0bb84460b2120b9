"""The status bar, the violation banner, the network panel and the event log.

Each widget keeps the lines it shows and redraws only when they change; the network panel and
the event log render no more rows than fit, so their cost does not grow with history.
"""

from __future__ import annotations

from rich.text import Text

from engines.core.sim import InFlight, Simulator, StepEvent
from engines.core.violations import Violation
from tui.text import line, literal, seconds, visible
from tui.widgets.lines import LineView

KIND_STYLE = {"deliver": "", "drop": "red dim", "timer": "cyan", "action": "bold yellow"}
NOTE_STYLE = {"role": "bold magenta", "commit": "green", "reject": "red", "info": "dim"}


MAX_ROWS = 60  # more rows than any terminal shows in one panel


class Lines(LineView):
    """Lines clipped to the widget's height: the first ones, or with `keep_bottom` the last
    ones. `total` counts lines that were left out of the list (shown as "… and N more")."""

    DEFAULT_CSS = """
    Lines { height: 1fr; }
    """

    def __init__(self, id: str | None = None, keep_bottom: bool = False) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self.total = 0
        self.keep_bottom = keep_bottom

    def set_content(self, lines: list[Text], total: int | None = None) -> None:
        self.lines = lines
        self.total = len(lines) if total is None else total
        self.relayout()

    def relayout(self) -> None:
        height = self.rows
        if self.keep_bottom:
            shown = self.lines[-height:]
        elif self.total > height:
            more = line((f"… and {self.total - height + 1} more", "dim"))
            shown = [*self.lines[: height - 1], more]
        else:
            shown = self.lines[:height]
        self.set_lines(shown)


# --- status bar ------------------------------------------------------------------------------
class StatusBar(Lines):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $boost; }
    """

    def show(self, sim: Simulator, playing: bool, speed: str, selected: int) -> None:
        """Most important first, since a narrow terminal cuts the end of the line."""
        groups = sim.network.groups()
        cut = len(groups) > 1
        net = " | ".join(" ".join(f"n{n}" for n in g) for g in groups) if cut else "whole"
        bug = sim.config.get("bug")
        play = ("▶ ", "bold green") if playing else ("paused ", "bold")
        safety = (
            ("UNSAFE", "bold white on red") if sim.violation else ("SAFE", "bold black on green")
        )
        parts = [
            (f" {sim.protocol.name.upper()} ", "bold reverse"),
            " ",
            (f" {safety[0]} ", safety[1]),
            "  ",
            play,
            speed,
            f"  step {sim.step_count}/{sim.max_step}  t={seconds(sim.now)}  net ",
            (net, "bold yellow" if cut else ""),
        ]
        if bug:
            parts += ["  ", (f"bug {bug}", "bold red")]
        parts.append(f"  seed {sim.seed}  sel n{selected}")
        self.set_content([line(*parts)])


class Banner(Lines):
    """The red violation banner, wrapped to at most two lines; hidden while the timeline is
    safe. Before the violation (stepped back) it says the violation is ahead."""

    DEFAULT_CSS = """
    Banner { height: 1; background: $error; color: $text; display: none; }
    Banner.-shown { display: block; }
    Banner.-ahead { background: $warning 40%; }
    """

    def show(self, sim: Simulator, violation: Violation | None, key: str) -> None:
        self.set_class(violation is not None, "-shown")
        if violation is None:
            self.set_content([])
            return
        ahead = sim.step_count < violation.step
        self.set_class(ahead, "-ahead")
        where = f"step {violation.step}"
        if sim.step_count != violation.step:
            where += f" ({key} goes there)"
        head = "VIOLATION AHEAD" if ahead else "SAFETY VIOLATION"
        text = Text.assemble(
            (f" ✖ {head}: {violation.invariant} at {where}: ", "bold"),
            visible(violation.explanation),
        )
        self.set_content([text])

    def relayout(self) -> None:
        if not self.lines:
            self.set_lines([])
            return
        wrapped = list(self.lines[0].wrap(self.app.console, max(10, self.size.width)))[:2]
        self.styles.height = len(wrapped)
        self.set_lines(wrapped)


# --- network ---------------------------------------------------------------------------------
def message_row(sim: Simulator, m: InFlight) -> Text:
    arrow = f"n{m.src}→n{m.dst}"
    due = f"{m.deliver_at - sim.now:>4}ms"
    if sim.will_cross(m):
        fate = ("", "")
    elif m.doomed == "lost":
        fate = (" LOST", "bold red")
    elif m.doomed == "partition" or not sim.network.connected(m.src, m.dst):
        fate = (" CUT", "bold red")
    else:
        fate = (" DOWN", "bold red")
    style = "dim strike" if fate[0] else ""
    return line(
        (due, "dim"),
        (f" {arrow:<7}", style or "bold"),
        fate,
        (f" {m.msg.type_name}", style or "cyan"),
        (f" {literal(m.msg.summary(), 80)}", style or "dim"),
    )


class NetworkPanel(Lines):
    DEFAULT_CSS = """
    NetworkPanel { border: round $panel-lighten-2; border-title-align: left; padding: 0 1; }
    """

    def show(self, sim: Simulator) -> None:
        flying = sim.in_flight()
        link = sim.network.default
        latency = f"{link.latency_min}..{link.latency_max}ms"
        self.set_titles(
            f"network · {len(flying)} in flight", f"{latency} drop {link.drop:g} dup {link.dup:g}"
        )
        lines = [message_row(sim, m) for m in flying[:MAX_ROWS]]
        if lines:
            self.set_content(lines, len(flying))
        else:
            self.set_content([line(("nothing in flight", "dim"))])


# --- event log -------------------------------------------------------------------------------
def event_row(event: StepEvent) -> Text:
    text = Text.assemble(
        (f"{event.step:>5} ", "dim"),
        (f"{seconds(event.time):>7} ", "dim"),
        ("✗ " if event.kind == "drop" else "", "bold red"),
        (literal(event.headline(), 160), KIND_STYLE.get(event.kind, "")),
        no_wrap=True,
        overflow="ellipsis",
        end="",
    )
    for note in event.notes:
        text.append("; ", "dim")
        text.append(literal(note.text, 200), NOTE_STYLE.get(note.tone, ""))
    return text


class EventLog(Lines):
    """The last events, newest at the bottom. Reads sim.events, which the simulator keeps in
    step with the current position, so stepping back trims it too."""

    DEFAULT_CSS = """
    EventLog { border: round $panel-lighten-2; border-title-align: left; padding: 0 1; }
    """

    def __init__(self, id: str) -> None:
        super().__init__(id=id, keep_bottom=True)
        self.set_titles("events")
        self.rendered: dict[int, tuple[StepEvent, Text]] = {}  # id(event) -> its row

    def show(self, sim: Simulator) -> None:
        window = sim.events[-MAX_ROWS:]
        rendered = {}
        for event in window:
            hit = self.rendered.get(id(event))
            rendered[id(event)] = hit if hit and hit[0] is event else (event, event_row(event))
        self.rendered = rendered
        if window:
            self.set_content([rendered[id(e)][1] for e in window])
        else:
            self.set_content(
                [line(("no events yet: n steps, space plays, ? shows every key", "dim"))]
            )
