"""The status bar, the violation banner, the network panel and the event log.

Each widget keeps the lines it shows and redraws only when they change; the network panel and
the event log render no more rows than fit, so their cost does not grow with history.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from engines.sim import InFlight, Simulator, StepEvent
from tui.text import line, literal, seconds, visible

KIND_STYLE = {"deliver": "", "drop": "red dim", "timer": "cyan", "action": "bold yellow"}
NOTE_STYLE = {"role": "bold magenta", "commit": "green", "reject": "red", "info": "dim"}


MAX_ROWS = 60  # more rows than any terminal shows in one panel


class Lines(Widget):
    """A widget showing a list of Text lines clipped to its height: the first lines, or the
    last ones with `keep_bottom`. `total` counts lines left out of `lines` (shown as "more")."""

    DEFAULT_CSS = """
    Lines { height: 1fr; overflow: hidden; }
    """

    def __init__(self, id: str | None = None, keep_bottom: bool = False) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self.total = 0
        self.keep_bottom = keep_bottom

    def set_lines(self, lines: list[Text], total: int | None = None) -> None:
        total = len(lines) if total is None else total
        if lines != self.lines or total != self.total:
            self.lines, self.total = lines, total
            self.refresh()

    def render(self) -> Text:
        height = max(1, self.size.height)
        if self.keep_bottom:
            shown = self.lines[-height:]
        elif self.total > height:
            more = line((f"… and {self.total - height + 1} more", "dim"))
            shown = [*self.lines[: height - 1], more]
        else:
            shown = self.lines[:height]
        return Text("\n", no_wrap=True, overflow="ellipsis").join(shown)


# --- status bar ------------------------------------------------------------------------------
class StatusBar(Lines):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $boost; }
    """

    def show(self, sim: Simulator, playing: bool, speed: str, selected: int) -> None:
        groups = sim.network.groups()
        cut = len(groups) > 1
        net = " | ".join(" ".join(f"n{n}" for n in g) for g in groups) if cut else "whole"
        bug = sim.config.get("bug")
        play = ("▶ playing ", "bold green") if playing else ("paused ", "bold")
        safety = (
            ("UNSAFE", "bold white on red") if sim.violation else ("SAFE", "bold black on green")
        )
        parts = [
            (f" {sim.protocol.name.upper()} ", "bold reverse"),
            f" seed {sim.seed}  t={seconds(sim.now)}  step {sim.step_count}/{sim.max_step}  ",
            play,
            f"{speed}  sel n{selected}  net ",
            (net, "bold yellow" if cut else ""),
            "  ",
        ]
        if bug:
            parts += [(f"bug {bug}", "bold red"), "  "]
        self.set_lines([line(*parts, (f" {safety[0]} ", safety[1]))])


class Banner(Lines):
    """The red violation banner; hidden while the run is safe."""

    DEFAULT_CSS = """
    Banner { height: auto; max-height: 3; background: $error; color: $text; display: none; }
    Banner.-shown { display: block; }
    """

    def show(self, sim: Simulator) -> None:
        v = sim.violation
        self.set_class(v is not None, "-shown")
        if v is None:
            self.set_lines([])
            return
        text = Text.assemble(
            (f" ✖ SAFETY VIOLATION: {v.invariant} at step {v.step} ", "bold"),
            visible(v.explanation),
        )
        self.set_lines([text])

    def render(self) -> Text:
        return self.lines[0] if self.lines else Text()


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
        self.border_title = f"network · {len(flying)} in flight"
        self.border_subtitle = sim.network.default.describe()
        lines = [message_row(sim, m) for m in flying[:MAX_ROWS]]
        if lines:
            self.set_lines(lines, len(flying))
        else:
            self.set_lines([line(("nothing in flight", "dim"))])


# --- event log -------------------------------------------------------------------------------
def event_row(event: StepEvent) -> Text:
    text = Text.assemble(
        (f"{event.step:>6} ", "dim"),
        (f"{seconds(event.time):>8} ", "dim"),
        (literal(event.headline(), 160), KIND_STYLE.get(event.kind, "")),
        no_wrap=True,
        overflow="ellipsis",
        end="",
    )
    for note in event.notes:
        text.append("; ", "dim")
        text.append(literal(note.text, 120), NOTE_STYLE.get(note.kind, ""))
    return text


class EventLog(Lines):
    """The last events, newest at the bottom. Reads sim.events, which the simulator keeps in
    step with the current position, so stepping back trims it too."""

    DEFAULT_CSS = """
    EventLog { border: round $panel-lighten-2; border-title-align: left; padding: 0 1; }
    """

    def __init__(self, id: str) -> None:
        super().__init__(id=id, keep_bottom=True)
        self.border_title = "events"

    def show(self, sim: Simulator) -> None:
        self.set_lines([event_row(e) for e in sim.events[-MAX_ROWS:]])
