"""The status bar, the violation banner, the message list and its detail, and the event log.

Each widget keeps the lines it shows and redraws only when they change; the message list and
the event log render no more rows than fit, so their cost does not grow with history.
"""

from __future__ import annotations

from dataclasses import fields

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region

from engines.core.node import plain
from engines.core.sim import InFlight, Simulator, StepEvent
from engines.core.violations import Violation
from tui.text import count, line, literal, node_style, seconds, visible
from tui.widgets.lines import LineView, ScrollLines

KIND_STYLE = {"deliver": "", "drop": "red dim", "timer": "cyan", "action": "bold yellow"}
NOTE_STYLE = {"role": "bold magenta", "commit": "green", "reject": "red", "info": "dim"}


WIDE = 400  # cells a field value may take before it is cut


class Lines(LineView):
    """Lines clipped to the widget's height: the first ones, or with `keep_bottom` the last."""

    DEFAULT_CSS = """
    Lines { height: 1fr; }
    """

    def __init__(self, id: str | None = None, keep_bottom: bool = False) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self.keep_bottom = keep_bottom

    def set_content(self, lines: list[Text]) -> None:
        self.lines = lines
        self.relayout()

    def relayout(self) -> None:
        height = self.rows
        self.set_lines(self.lines[-height:] if self.keep_bottom else self.lines[:height])


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
        for option, name in (("prevote", "PreVote"), ("checkquorum", "CheckQuorum")):
            if sim.config.get(option):  # Raft's election options: named when on, as a bug is
                parts += ["  ", (name, "bold cyan")]
        parts.append(f"  seed {sim.seed}  sel n{selected}")
        self.set_content([line(*parts)])


class Wrapped(Lines):
    """One line of text wrapped to the width, at most `max_lines` lines (the rest cut)."""

    max_lines = 2

    def relayout(self) -> None:
        if not self.lines:
            self.set_lines([])
            return
        width = max(10, self.size.width)
        wrapped = list(self.lines[0].wrap(self.app.console, width))[: self.max_lines]
        self.styles.height = self.height_for(len(wrapped))
        self.set_lines(wrapped)

    def height_for(self, lines: int) -> int:
        """The rows the widget takes for text wrapped to `lines` lines."""
        return max(1, lines)


class Banner(Wrapped):
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


# --- network ---------------------------------------------------------------------------------
FATES = {  # the tags of messages that will not arrive on time, and what they mean
    "HELD": ("bold black on yellow", "held: a hold on its link or type keeps it (H / T)"),
    "LOST": ("bold red", "lost: the network drops it (the drop setting)"),
    "CUT": ("bold red", "cut: a partition or a cut link lies between the two nodes"),
    "DOWN": ("bold red", "down: its destination is crashed"),
}


def fate(sim: Simulator, m: InFlight) -> tuple[str, str]:
    """The tag of a message that will not arrive on time (held, lost, cut, down), or ("", "")."""
    if sim.is_held(m):
        tag = "HELD"
    elif sim.will_cross(m):
        return "", ""
    elif m.doomed == "lost":
        tag = "LOST"
    elif m.doomed == "partition" or not sim.network.connected(m.src, m.dst):
        tag = "CUT"
    else:
        tag = "DOWN"
    return tag, FATES[tag][0]


def arrow(src: int, dst: int, style: str = "") -> list[tuple[str, str]]:
    """`n1→n2`, each node in its colour (dimmed and struck through for a doomed message)."""
    return [
        (f"n{src}", f"{node_style(src)} {style}"),
        ("→", style or "dim"),
        (f"n{dst}", f"{node_style(dst)} {style}"),
    ]


def message_row(sim: Simulator, m: InFlight) -> Text:
    due = f"{m.deliver_at - sim.now:>4}ms"
    tag, tag_style = fate(sim, m)
    style = "dim strike" if tag and tag != "HELD" else ""
    return line(
        (due, "dim"),
        " ",
        *arrow(m.src, m.dst, style),
        " " * (7 - len(f"n{m.src}→n{m.dst}")),  # a column 7 cells wide
        (f" {tag}" if tag else "", tag_style),
        (f" {m.msg.type_name}", style or "cyan"),
        (f" {literal(m.msg.summary(), 80)}", style or "dim"),
    )


class MessageList(ScrollLines):
    """The messages in flight, soonest first, one per row; focused (m), the cursor moves
    through them and the message keys act on the one under it."""

    DEFAULT_CSS = """
    MessageList { border: round $panel-lighten-2; border-title-align: left; padding: 0 1; }
    MessageList:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home", "move(-1_000_000)", "First", show=False),
        Binding("end", "move(1_000_000)", "Last", show=False),
        Binding("escape", "app.focus_messages", "Leave", show=False),
    ]
    inherit_bindings = False  # left and right stay with the screen: they step through time

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self.can_focus = True
        self.messages: list[InFlight] = []
        self.cursor = 0

    @property
    def selected(self) -> InFlight | None:
        return self.messages[self.cursor] if self.messages else None

    def show(self, sim: Simulator) -> None:
        """The messages now; the cursor stays on its message while that is in flight."""
        chosen = self.selected
        self.messages = sim.in_flight()
        seqs = [m.seq for m in self.messages]
        if chosen is not None and chosen.seq in seqs:
            self.cursor = seqs.index(chosen.seq)
        self.cursor = max(0, min(self.cursor, len(self.messages) - 1))
        link = sim.network.default
        latency = f"{link.latency_min}..{link.latency_max}ms"
        links = f" · {count(len(sim.network.links), 'link')} set apart" if sim.network.links else ""
        self.border_title = f"network · {len(self.messages)} in flight"
        self.border_subtitle = f"{latency} drop {link.drop:g} dup {link.dup:g}{links}"
        rows = [message_row(sim, m) for m in self.messages]
        self.highlight = self.cursor if self.has_focus and rows else None
        self.set_lines(rows or [line(("nothing in flight", "dim"))])
        if self.highlight is not None:
            self.scroll_to_region(Region(0, self.cursor, 1, 1), animate=False, immediate=True)

    def action_move(self, delta: int) -> None:
        self.cursor = max(0, min(self.cursor + delta, len(self.messages) - 1))
        self.screen.show_bottom(self.app.sim)

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)
        self.screen.show_bottom(self.app.sim)  # the cursor, and the detail or the events


def value_lines(name: str, value: object) -> list[Text]:
    """A field as lines: `name value`, or a list one item a line, each item's own fields
    named (a log entry's term, value, pid)."""
    if not isinstance(value, tuple | list) or hasattr(value, "_fields"):
        return [line((f"  {name} ", "dim"), item_text(value))]
    head = line((f"  {name} ", "dim"), (f"{count(len(value), 'item')}", "dim"))
    return [head, *(line((f"    {i}. ", "dim"), item_text(v)) for i, v in enumerate(value, 1))]


def item_text(value: object) -> str:
    if hasattr(value, "_fields"):  # a NamedTuple such as a Raft log entry
        pairs = zip(value._fields, value, strict=True)
        return literal(" ".join(f"{k}={plain(v)!r}" for k, v in pairs), WIDE)
    return literal(repr(plain(value)) if isinstance(value, str) else plain(value), WIDE)


def detail_lines(sim: Simulator, m: InFlight | None) -> list[Text]:
    """Everything about one message in flight: where, when, its fate and every field."""
    if m is None:
        return [line(("nothing in flight", "dim"))]
    msg = m.msg
    tag, tag_style = fate(sim, m)
    due = m.deliver_at - sim.now
    when = f"in {due}ms" if due > 0 else "now"
    lines = [
        line(
            (f"#{m.seq} ", "dim"),
            (msg.type_name, "bold cyan"),
            (f" ({msg.short}) ", "dim"),
            *arrow(m.src, m.dst),
            (f" {tag}" if tag else "", tag_style),
        ),
        line(
            ("  sent ", "dim"),
            seconds(m.sent_at),
            ("  due ", "dim"),
            f"{seconds(m.deliver_at)} ({when})",
        ),
    ]
    for f in fields(msg):
        lines += value_lines(f.name, getattr(msg, f.name))
    return lines


class MessageDetail(ScrollLines):
    """The selected message in full, in place of the event log while the list has focus."""

    DEFAULT_CSS = """
    MessageDetail {
        border: round $accent; border-title-align: left; padding: 0 1; display: none;
    }
    """

    def show(self, sim: Simulator, m: InFlight | None, keys: str) -> None:
        self.border_title = "message"
        self.border_subtitle = keys
        self.set_lines(detail_lines(sim, m))


# --- event log -------------------------------------------------------------------------------
def event_row(event: StepEvent) -> Text:
    who = f"n{event.node}" if event.node is not None else ""
    text = Text.assemble(
        (f"{event.step:>5} ", "dim"),
        (f"{seconds(event.time):>7} ", "dim"),
        (f"{who:<3}", node_style(event.node)),  # the node that handled it, in its colour
        " ",
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
        self.sim: Simulator | None = None

    def on_resize(self) -> None:
        super().on_resize()
        if self.sim is not None:
            self.show(self.sim)  # taller: more of the events it had no rows for

    def show(self, sim: Simulator) -> None:
        """Rows for the events that fit only: at full speed every frame brings new ones."""
        self.sim = sim
        window = sim.events[-self.rows :]
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
