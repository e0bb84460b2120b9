"""The history pane (c): the clients' operations as lanes, judged by the checker.

Focused (u), a selection moves across the operations in the order they were invoked (↑↓ or
j/k); the selected one is detailed under the lanes, and its events are marked in the diagram.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding

from engines.core.clients import Record
from engines.core.sim import Simulator
from engines.lab.workload import Trail, trail
from tui.history import Judged, history_lines, judge, selected_lines, selection_marks
from tui.widgets.lines import LineView

MAX_LANES = 8


class HistoryPane(LineView):
    DEFAULT_CSS = """
    HistoryPane {
        display: none;
        height: 12;
        border: round $panel-lighten-2;
        border-title-align: left;
        padding: 0 1;
    }
    HistoryPane.-shown { display: block; }
    HistoryPane:focus { border: round $accent; }
    """
    BINDINGS = [
        Binding("up,k", "move(-1)", "Earlier", show=False),
        Binding("down,j", "move(1)", "Later", show=False),
        Binding("home", "move(-1_000_000)", "First", show=False),
        Binding("end", "move(1_000_000)", "Last", show=False),
        Binding("escape", "app.select_operation", "Leave", show=False),
    ]
    inherit_bindings = False  # left and right stay with the screen: they step through time

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self.can_focus = True
        self.set_titles("history")
        self.judged: tuple[tuple, Judged] | None = None  # (what it judged, the verdict)
        self.sim: Simulator | None = None
        self.cursor: int | None = None  # the selected operation's position (Record.call)
        # (what it followed, how many events it read, the last of them, what it found)
        self.trail: tuple[tuple, int, object, Trail] | None = None

    def show(self, sim: Simulator) -> None:
        """Redraw while shown; the checker runs again only when the history changed."""
        self.sim = sim
        if not self.has_class("-shown"):
            return
        work = sim.world.clients
        seen = (id(sim), len(work.records), work.positions)
        if self.judged is None or self.judged[0] != seen:
            self.judged = (seen, judge(sim))
        judged = self.judged[1]
        selected = self.selected()
        self.styles.height = min(len(work.clients), MAX_LANES) + 4 + 2 * (selected is not None)
        lines = history_lines(sim, self.size.width, MAX_LANES + 2, judged, selected)
        if selected is not None:
            lines += selected_lines(selected, self.selected_trail(sim, selected))
        self.set_lines(lines)

    def selected(self) -> Record | None:
        """The selected operation while the pane has focus: the one the cursor names, else
        the one the checker cannot place, else the latest (also after a step back took the
        cursor's away)."""
        records = self.sim.world.clients.records if self.sim is not None else []
        if not self.has_focus or not records:
            return None
        blocked = self.judged[1].blocked if self.judged is not None else None
        for call in (self.cursor, blocked):
            found = next((r for r in records if r.call == call), None)
            if found is not None:
                self.cursor = call
                return found
        self.cursor = records[-1].call
        return records[-1]

    def selected_trail(self, sim: Simulator, record: Record) -> Trail:
        """Its events, extended by the steps since the last frame rather than searched again
        (a long session has many); searched anew after a step back, another selection, or
        its completion (a read's confirming round is known from its answer on)."""
        events = sim.events
        key = (id(sim), record.call, record.completed_step)
        if self.trail is not None and self.trail[0] == key:
            _, upto, last, known = self.trail
            if upto == len(events) and (not upto or events[-1] is last):
                return known
            if upto < len(events) and (not upto or events[upto - 1] is last):
                new = trail(sim, record, after=upto)
                return self.keep_trail(
                    key, events, replace(new, carried=known.carried + new.carried)
                )
        return self.keep_trail(key, events, trail(sim, record))

    def keep_trail(self, key: tuple, events: list, found: Trail) -> Trail:
        self.trail = (key, len(events), events[-1] if events else None, found)
        return found

    def marks(self) -> dict[int, str]:
        """The diagram's marks for the selected operation's events (none without one)."""
        selected = self.selected()
        if selected is None:
            return {}
        return selection_marks(self.selected_trail(self.sim, selected))

    def action_move(self, delta: int) -> None:
        records = self.sim.world.clients.records
        selected = self.selected()
        if selected is None:
            return
        at = records.index(selected)
        self.cursor = records[max(0, min(at + delta, len(records) - 1))].call
        self.app.refresh_view()
        self.screen.diagram.rows.reveal(self.selected().invoked_step - 1)

    def watch_has_focus(self, has_focus: bool) -> None:
        super().watch_has_focus(has_focus)
        self.app.refresh_view()  # the selection, its line and the diagram's marks

    def relayout(self) -> None:
        """Shown, or resized: the lanes are drawn again for the width."""
        if self.sim is not None:
            self.show(self.sim)
