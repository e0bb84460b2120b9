"""The space-time diagram's model: one row per event, one vertical lane per node.

Simulated time flows down, one row per step (not per millisecond, so quiet stretches take no
room), with the step and its time in a left gutter. A delivered message is a horizontal arrow
on its delivery row, from a tick on the sender's lane to the receiver's lane, labelled with a
short type (`AE`, `AE✓`, `RV`, `V`, `P1a`...); a dropped one ends in `✗` short of the receiver.
Crashes, restarts, proposals, campaigns, partitions, heals, role changes and commits are
marks on the lanes, with what happened written to the right of the lanes.

`DiagramIndex` follows `sim.events` incrementally: it keeps, per event, a tag for the filter and
the lane state (who is down, the partition groups), so drawing any row needs only that row.
`draw_row` turns a row into Rich segments; the widget and the SVG export both use it. Nothing
here imports Textual.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from engines.core.network import Network
from engines.core.node import Message, Note
from engines.core.sim import StepEvent
from tui.text import cut, node_style, visible

# --- message labels --------------------------------------------------------------------------
# Replies are labelled by outcome, which the engines' `short` cannot know: AE✓ and AE✗.
REPLIES = {
    "AppendReply": ("AE✓", "AE✗"),
    "VoteReply": ("V", "V✗"),
    "PreVoteReply": ("PV✓", "PV✗"),
    "SnapshotReply": ("SNAP✓", "SNAP✗"),
}
TYPE_COLOURS = {  # one colour per exchange: request and reply alike
    "RequestVote": "#e5c07b",
    "VoteReply": "#e5c07b",
    "PreVote": "#d19a66",
    "PreVoteReply": "#d19a66",
    "AppendEntries": "#56b6c2",
    "AppendReply": "#56b6c2",
    "InstallSnapshot": "#c3e88d",
    "SnapshotReply": "#c3e88d",
    "TimeoutNow": "#ff79c6",
    "Prepare": "#c678dd",
    "Promise": "#c678dd",
    "Accept": "#61afef",
    "Accepted": "#61afef",
    "Nack": "#e06c75",
    "Chosen": "#98c379",
    "Heartbeat": "grey62",
    "CatchUp": "#8be9fd",
    "Forward": "#dcdfe4",
}
REFUSED = "#e06c75"
OTHER_COLOURS = ("#b4a7d6", "#a9d1f7", "#f0e68c", "#b5e7a0", "#f4a582")


def refused(msg: Message) -> bool:
    """A reply that says no (a vote refused, an append rejected)."""
    return getattr(msg, "success", getattr(msg, "granted", True)) is False


def label(msg: Message) -> str:
    pair = REPLIES.get(msg.type_name)
    if pair is None:
        return msg.short
    return pair[1] if refused(msg) else pair[0]


def type_colour(type_name: str) -> str:
    colour = TYPE_COLOURS.get(type_name)
    if colour is None:
        colour = OTHER_COLOURS[sum(map(ord, type_name)) % len(OTHER_COLOURS)]
    return colour


# --- the index ---------------------------------------------------------------------------------
ALL, QUIET = "all", "quiet"  # filter modes; any other mode is a message type name
MARK = "!"  # tag of an event that is always shown: an action, a role change, a commit
MARK_TONES = ("role", "commit", "reject")  # notes that make an event a MARK


@dataclass(frozen=True, slots=True)
class Lanes:
    """The lane state after an event: the nodes that are down and the partition groups (a
    group number per node in node order, or None when the network is whole)."""

    down: frozenset[int] = frozenset()
    groups: tuple[int, ...] | None = None


class DiagramIndex:
    """Per event of the simulator's history: a filter tag, a heartbeat flag and the lanes.
    `rows` lists the events the filter shows, so a row number maps to an event in O(1)."""

    def __init__(self, node_ids: list[int], mode: str = ALL) -> None:
        self.node_ids = list(node_ids)
        self.lane_of = {n: i for i, n in enumerate(self.node_ids)}
        self.network = Network(self.node_ids, random.Random(0))  # replays partition actions
        self.events: list[StepEvent] = []
        self.tags: list[str] = []  # MARK, a message type name, or "" (a timer)
        self.beats = bytearray()  # 1: heartbeat traffic
        self.lanes: list[Lanes] = []
        self.rows: list[int] = []
        self.types: dict[str, None] = {}  # message type names, in order of first appearance
        self.pending_beats: dict[tuple[int, int, int], int] = {}  # see _is_beat
        self.mode = mode

    # --- following the simulator -------------------------------------------------------------
    def sync(self, events: list[StepEvent]) -> None:
        """Catch up with `events` (the simulator's list, which step back trims and refills
        with new objects). Cost: the new events, plus the ones that were replaced."""
        known = self.events
        keep = min(len(known), len(events))
        while keep and events[keep - 1] is not known[keep - 1]:
            keep -= 1
        if keep < len(known):
            self._truncate(keep)
        for event in events[keep:]:
            self._add(event)

    def _truncate(self, keep: int) -> None:
        del self.events[keep:], self.tags[keep:], self.beats[keep:], self.lanes[keep:]
        del self.rows[bisect_left(self.rows, keep) :]
        self.pending_beats = {k: i for k, i in self.pending_beats.items() if i < keep}

    def _add(self, event: StepEvent) -> None:
        i = len(self.events)
        lanes = self.lanes[-1] if self.lanes else Lanes()
        msg = event.msg
        if msg is not None:
            tag = msg.type_name
            self.types.setdefault(tag)
            beat = self._is_beat(event, i)
        else:
            tag = ""
            beat = event.kind == "timer" and event.detail == "heartbeat"
        if event.kind == "action":
            tag = MARK
            lanes = self._after_action(lanes, event)
        elif any(note.tone in MARK_TONES for note in event.notes):
            tag = MARK
        self.events.append(event)
        self.tags.append(tag)
        self.beats.append(beat)
        self.lanes.append(lanes)
        if self.shows(i):
            self.rows.append(i)

    def _is_beat(self, event: StepEvent, i: int) -> bool:
        """Heartbeats, and the successful acknowledgements sent in reply to one (Raft's AE✓ to
        an empty AppendEntries): found by matching the reply's send time and ends."""
        msg = event.msg
        if msg.heartbeat:
            if event.kind == "deliver":
                if len(self.pending_beats) > 4096:  # replies come within one latency
                    for key in list(itertools.islice(self.pending_beats, 2048)):
                        del self.pending_beats[key]
                self.pending_beats[(event.node, event.src, event.time)] = i
            return True
        key = (event.src, event.node, event.sent_at)
        return getattr(msg, "success", False) is True and key in self.pending_beats

    def _after_action(self, lanes: Lanes, event: StepEvent) -> Lanes:
        action = event.action
        kind = action.kind if action else ""
        if kind == "crash":
            return Lanes(lanes.down | {event.node}, lanes.groups)
        if kind == "restart":
            return Lanes(lanes.down - {event.node}, lanes.groups)
        if kind == "restart_all":
            return Lanes(frozenset(), lanes.groups)
        if kind in ("partition", "isolate", "heal"):
            net = self.network
            net.group_of = (
                dict(zip(self.node_ids, lanes.groups, strict=True)) if lanes.groups else None
            )
            if kind == "partition":
                net.partition(action.args["groups"])
            elif kind == "isolate":
                net.isolate(event.node)
            else:
                net.heal()
            groups = tuple(net.group_of[n] for n in self.node_ids) if net.group_of else None
            return Lanes(lanes.down, groups)
        return lanes

    # --- the filter --------------------------------------------------------------------------
    def shows(self, i: int) -> bool:
        mode, tag = self.mode, self.tags[i]
        if mode == ALL:
            return True
        if mode == QUIET:
            return tag == MARK or not self.beats[i]
        return tag in (MARK, mode)

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        shows = self.shows
        self.rows = [i for i in range(len(self.events)) if shows(i)]

    def next_mode(self) -> str:
        """All events, then no heartbeats, then each message type seen so far alone."""
        modes = [ALL, QUIET, *self.types]
        position = modes.index(self.mode) if self.mode in modes else -1
        return modes[(position + 1) % len(modes)]

    def describe_mode(self) -> str:
        if self.mode == ALL:
            return "all events"
        if self.mode == QUIET:
            return "no heartbeats"
        return f"only {self.mode}"

    # --- looking up --------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        """The filtered rows, plus one for the current step when the filter hides it: the
        current step is always on screen."""
        last = len(self.events) - 1
        return len(self.rows) + (last >= 0 and (not self.rows or self.rows[-1] != last))

    def event_at(self, row: int) -> int:
        return self.rows[row] if row < len(self.rows) else len(self.events) - 1

    def row_of(self, i: int) -> int | None:
        """The row that shows event i, or None when the filter hides it."""
        row = bisect_left(self.rows, i)
        return row if row < len(self.rows) and self.rows[row] == i else None

    def sender(self, i: int) -> tuple[int, int] | None:
        """For a message event: (the row where it was sent, or the first shown row after the
        send, and the sender's lane). Looks back only as far as the message's latency."""
        event = self.events[i]
        if event.msg is None or event.src not in self.lane_of:
            return None
        send = None
        j = i - 1
        while j >= 0 and self.events[j].time >= event.sent_at:
            e = self.events[j]
            if e.time == event.sent_at and e.node == event.src:
                send = j
                break
            j -= 1
        if send is None:
            send = j + 1
        return bisect_left(self.rows, send), self.lane_of[event.src]


# --- drawing -----------------------------------------------------------------------------------
MIN_SPACING, MAX_SPACING, TEXT_MIN = 5, 10, 18


def seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}"


@dataclass(frozen=True, slots=True)
class Layout:
    """Where things go on a row: the marker column, step, time, the lanes, then the text."""

    width: int
    step_width: int
    time_width: int
    lanes: tuple[int, ...]  # x of each lane
    text_x: int

    @classmethod
    def fit(cls, width: int, index: DiagramIndex) -> Layout:
        """Lanes as wide apart as the width allows, leaving room for the text on the right.
        The gutter grows with the last step and time, so every row lines up."""
        last = index.events[-1] if index.events else None
        step_width = max(4, len(str(last.step if last else 0)))
        time_width = max(5, len(seconds(last.time if last else 0)))
        first = 1 + step_width + 1 + time_width + 2
        nodes = len(index.node_ids)
        room = width - first - 2
        spacing = min(MAX_SPACING, max(MIN_SPACING, (room - TEXT_MIN) // max(1, nodes)))
        lanes = tuple(first + k * spacing for k in range(nodes))
        return cls(width, step_width, time_width, lanes, lanes[-1] + 3 if lanes else first)


S = Style.parse
BASE = Style()
DIM = S("grey46")
GUTTER = S("grey58")
LANE = S("grey42")
DOWN_LANE = S("red dim")
GROUP_COLOURS = ("grey42", "yellow", "cyan", "magenta", "green", "blue", "red", "white", "orchid")
GROUP_LANES = tuple(S(c) for c in GROUP_COLOURS)
NOTE_STYLES = {"role": S("bold magenta"), "commit": S("green"), "reject": S("red"), "info": DIM}
ACTION_TEXT = S("bold yellow")
TIMER_MARK = S("cyan")
LEADER_MARK = S("bold green")
ROLE_MARK = S("bold yellow")
COMMIT_MARK = S("bold green")
DROP = S("red")
HEAD_ROW = S("on #26365a")  # the current step
PATH = S("bold #ffd75f")  # the current message's sender lane, from its send row down
ACTION_MARKS = {
    "propose": ("◇", S("bold yellow")),
    "crash": ("✖", S("bold red")),
    "restart": ("↺", S("bold green")),
    "campaign": ("!", S("bold yellow")),
}
# The history pane's selected operation: its events marked in the marker column, the rows
# tinted. Sent: the client hands it to a node; carried: a message carrying it (one of its
# proposals, or the heartbeat round that confirmed a read: engines.lab.workload.trail);
# answered: its completion (the reply, or the client giving up).
OP_GLYPHS = {"sent": "⇢", "carried": "•", "answered": "⇠"}
OP_MARK = S("bold #ffd75f")
OP_ROW = S("on #3a3420")
NONE, CURRENT, SENT, PATH_ROW = 0, 1, 2, 3  # how a row is emphasised
LANE_GLYPHS = ("│", "┊")


def focus(index: DiagramIndex) -> tuple[int | None, tuple[int, int] | None]:
    """(row of the current step, None before the first; (send row, sender lane) of the
    current message when it was sent on an earlier row, else None)."""
    last = len(index.events) - 1
    if last < 0:
        return None, None
    current = index.row_of(last)
    if current is None:
        current = len(index.rows)  # the extra row that shows a filtered-out current step
    sender = index.sender(last)
    return current, (sender if sender and sender[0] < current else None)


def emphasis(row: int, current: int | None, path: tuple[int, int] | None) -> tuple[int, int | None]:
    """How to draw a row: the current step, the send row and the rows down to the current one
    (with the sender's lane), or plainly."""
    if row == current:
        return CURRENT, None
    if path and path[0] <= row < current:
        return (SENT if row == path[0] else PATH_ROW), path[1]
    return NONE, None


def group_letter(group: int) -> str:
    return chr(ord("A") + group % 26)


def lane_style(lanes: Lanes, lane: int, node: int) -> Style:
    if node in lanes.down:
        return DOWN_LANE
    if lanes.groups is None:
        return LANE
    return GROUP_LANES[lanes.groups[lane] % len(GROUP_LANES)]


def leads(note: Note) -> bool:
    """A note that announces a leader: Raft's role note, Paxos's "leads"."""
    return note.kind == "leads" or (note.kind == "role" and note.fields["role"] == "leader")


class Canvas:
    """One row of cells: characters and their styles, written by position."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.chars = [" "] * width
        self.styles = [BASE] * width

    def put(self, x: int, text: str, style: Style) -> None:
        """Write text at x; a wide character takes two cells, the second one empty."""
        if cell_len(text) == len(text):  # the usual case: one cell per character
            start, end = max(0, x), min(self.width, x + len(text))
            if start < end:
                self.chars[start:end] = text[start - x : end - x]
                self.styles[start:end] = [style] * (end - start)
            return
        for ch in text:
            width = cell_len(ch)
            if width == 0:
                continue
            if 0 <= x < self.width:
                fits = width == 1 or x + 1 < self.width
                self.chars[x] = ch if fits else " "
                self.styles[x] = style
                if width == 2 and fits:
                    self.chars[x + 1] = ""
                    self.styles[x + 1] = style
            x += width

    def path(self, x: int, start: bool) -> None:
        """The current message's way down the sender's lane: drawn over the lane only, so
        arrows and labels on the way stay readable; its start is a dot, or the mark there."""
        if not 0 <= x < self.width:
            return
        if self.chars[x] in LANE_GLYPHS:
            self.put(x, "●" if start else "┃", PATH)
        elif start:
            self.styles[x] = PATH

    def write(self, x: int, parts: list[tuple[str, Style]]) -> None:
        """Text from x to the right edge, cut with an ellipsis when it does not fit."""
        for text, style in parts:
            room = self.width - x
            if room <= 0:
                return
            text = cut(text, room)
            self.put(x, text, style)
            x += cell_len(text)

    def segments(self, under: Style | None = None) -> list[Segment]:
        chars, styles = self.chars, self.styles
        if under is not None:
            styles = [s + under for s in styles]
        out = []
        start = 0
        for x in range(1, self.width + 1):
            if x == self.width or styles[x] is not styles[start]:
                out.append(Segment("".join(chars[start:x]), styles[start]))
                start = x
        return out


def draw_header(index: DiagramIndex, layout: Layout) -> list[Segment]:
    """Node names over their lanes, each in its node's colour."""
    canvas = Canvas(layout.width)
    canvas.put(1, f"{'step':>{layout.step_width}} {'time':>{layout.time_width}}", GUTTER)
    for node, x in zip(index.node_ids, layout.lanes, strict=True):
        name = f"n{node}"
        canvas.put(x - len(name) // 2, name, S(node_style(node)))
    canvas.write(layout.text_x, [("what happened", GUTTER)])
    return canvas.segments()


def draw_row(
    index: DiagramIndex,
    i: int,
    layout: Layout,
    emphasis: int = NONE,
    path_lane: int | None = None,
    mark: str = "",
) -> list[Segment]:
    """The row of event i as Rich segments, `layout.width` cells wide; `mark` is its part in
    the selected operation (a key of OP_GLYPHS), if any."""
    event, lanes = index.events[i], index.lanes[i]
    canvas = Canvas(layout.width)
    canvas.put(1, f"{event.step:>{layout.step_width}}", GUTTER)
    canvas.put(2 + layout.step_width, f"{seconds(event.time):>{layout.time_width}}", DIM)
    for lane, (node, x) in enumerate(zip(index.node_ids, layout.lanes, strict=True)):
        canvas.put(x, "┊" if node in lanes.down else "│", lane_style(lanes, lane, node))
    if event.kind == "action":
        text = draw_action(canvas, index, i, layout)
    elif event.msg is not None:
        text = draw_message(canvas, index, event, layout)
    else:
        text = [(event.detail if event.kind == "client" else f"{event.detail} timer", DIM)]
        x = lane_x(index, layout, event.node)
        if x is not None:
            canvas.put(x, "○", DIM if index.beats[i] else TIMER_MARK)
    draw_notes(canvas, index, event, layout)
    notes = [(visible(n.text), NOTE_STYLES.get(n.tone, DIM)) for n in event.notes]
    if notes:
        text = notes if event.kind in ("deliver", "timer") else text + notes
    parts = []
    for k, part in enumerate(text):
        parts += [("; ", DIM), part] if k else [part]
    canvas.write(layout.text_x, parts)
    if path_lane is not None and emphasis in (SENT, PATH_ROW):
        canvas.path(layout.lanes[path_lane], emphasis == SENT)
    if emphasis == CURRENT:
        canvas.put(0, "▶", S("bold"))
        return canvas.segments(HEAD_ROW)
    if mark:
        canvas.put(0, OP_GLYPHS[mark], OP_MARK)
        return canvas.segments(OP_ROW)
    return canvas.segments()


def lane_x(index: DiagramIndex, layout: Layout, node: int | None) -> int | None:
    lane = index.lane_of.get(node)
    return None if lane is None else layout.lanes[lane]


def draw_message(
    canvas: Canvas, index: DiagramIndex, event: StepEvent, layout: Layout
) -> list[tuple[str, Style]]:
    msg = event.msg
    a, b = lane_x(index, layout, event.src), lane_x(index, layout, event.node)
    beat = msg.heartbeat
    colour = REFUSED if refused(msg) else type_colour(msg.type_name)
    line = S(f"{colour} dim") if beat or event.kind == "drop" else S(colour)
    tag = S(f"{colour} dim") if beat else S(f"bold {colour}")
    dropped = event.kind == "drop"
    if a is not None and b is not None and a != b:
        right = b > a
        head_x = b - 1 if right else b + 1
        span = range(a + 1, b - 1) if right else range(b + 2, a)
        dash = "╌" if dropped else "─"
        crossed = "".join("┼" if x in layout.lanes else dash for x in span)
        canvas.put(span.start, crossed, line)
        canvas.put(a, "├" if right else "┤", line)
        canvas.put(head_x, "✗" if dropped else ("▶" if right else "◀"), DROP if dropped else line)
        text = cut(label(msg), len(span))
        canvas.put(span.start + (len(span) - len(text)) // 2, text, tag)
    summary = visible(msg.summary())
    if dropped:
        return [(f"dropped ({event.detail})", DROP), (summary, DIM)]
    return [(summary, DIM)]


def draw_action(
    canvas: Canvas, index: DiagramIndex, i: int, layout: Layout
) -> list[tuple[str, Style]]:
    event = index.events[i]
    kind = event.action.kind if event.action else ""
    first, last = layout.lanes[0], layout.lanes[-1]
    if kind in ("partition", "isolate"):
        groups = index.lanes[i].groups or ()
        canvas.put(first, "┄" * (last - first + 1), S("yellow"))
        for lane, group in enumerate(groups):
            style = GROUP_LANES[group % len(GROUP_LANES)] + S("bold")
            canvas.put(layout.lanes[lane], group_letter(group), style)
    elif kind == "heal":
        canvas.put(first, "═" * (last - first + 1), S("green"))
        for x in layout.lanes:
            canvas.put(x, "╪", S("bold green"))
    elif kind == "restart_all":
        before = index.lanes[i - 1].down if i else frozenset()
        for node in before:
            canvas.put(lane_x(index, layout, node), *ACTION_MARKS["restart"])
    elif kind in ACTION_MARKS:
        x = lane_x(index, layout, event.node)
        if x is not None:
            canvas.put(x, *ACTION_MARKS[kind])
    return [(visible(event.detail), ACTION_TEXT)]


def draw_notes(canvas: Canvas, index: DiagramIndex, event: StepEvent, layout: Layout) -> None:
    """Role changes and commits as marks on the lane of the node that handled the event."""
    x = lane_x(index, layout, event.node)
    if x is None:
        return
    for note in event.notes:
        if note.tone == "role":
            leader = leads(note)
            canvas.put(x, "★" if leader else "◆", LEADER_MARK if leader else ROLE_MARK)
            return
    if any(note.tone == "commit" for note in event.notes):
        canvas.put(x, "✓", COMMIT_MARK)
