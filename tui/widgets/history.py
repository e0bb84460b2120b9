"""The history pane (c): the clients' operations as lanes, judged by the checker."""

from __future__ import annotations

from engines.core.sim import Simulator
from tui.history import Judged, history_lines, judge
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
    """

    def __init__(self, id: str) -> None:
        super().__init__(id=id)
        self.set_titles("history")
        self.judged: tuple[tuple, Judged] | None = None  # (what it judged, the verdict)
        self.sim: Simulator | None = None

    def show(self, sim: Simulator) -> None:
        """Redraw while shown; the checker runs again only when the history changed."""
        self.sim = sim
        if not self.has_class("-shown"):
            return
        work = sim.world.clients
        seen = (id(sim), len(work.records), work.positions)
        if self.judged is None or self.judged[0] != seen:
            self.judged = (seen, judge(sim))
        self.styles.height = min(len(work.clients), MAX_LANES) + 4
        self.set_lines(history_lines(sim, self.size.width, MAX_LANES + 2, self.judged[1]))

    def relayout(self) -> None:
        """Shown, or resized: the lanes are drawn again for the width."""
        if self.sim is not None:
            self.show(self.sim)
