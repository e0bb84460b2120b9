"""The space-time diagram pane: node names on top, then one row per event, newest at the bottom.

The rows live in a ScrollView drawn with the line API: `render_line` draws only the rows on
screen, from the `DiagramIndex` (tui.spacetime), and caches each rendered row, so the cost of a
frame does not grow with the history. The pane follows the current step while the view is at
the bottom; scrolling up (keys or mouse wheel) holds the view still until it is back at the end.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Region, Size
from textual.keys import format_key
from textual.scroll_view import ScrollView
from textual.strip import Strip

from engines.core.sim import Simulator
from tui.spacetime import (
    ALL,
    OP_GLYPHS,
    QUIET,
    DiagramIndex,
    Layout,
    draw_header,
    draw_row,
    emphasis,
    focus,
)
from tui.widgets.lines import LineView, set_virtual_size

MAX_CACHED_ROWS = 2048


class DiagramHeader(LineView):
    DEFAULT_CSS = """
    DiagramHeader { height: 1; }
    """

    def show(self, index: DiagramIndex, layout: Layout) -> None:
        segments = draw_header(index, layout)
        self.set_lines([Text.assemble(*((s.text, s.style) for s in segments), end="")])


class DiagramView(ScrollView):
    DEFAULT_CSS = """
    DiagramView {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;  /* the same width for the lanes with or without a bar */
    }
    """
    can_focus = False  # keys stay with the screen; the mouse wheel still scrolls

    def __init__(self) -> None:
        super().__init__(id="diagram-rows")
        self.sim: Simulator | None = None
        self.index: DiagramIndex | None = None
        self.shape: Layout | None = None
        self.current: int | None = None  # row of the current step, when shown
        self.path: tuple[int, int] | None = None  # (send row, sender lane) of its message
        self.cache: dict[tuple, tuple[object, Strip]] = {}
        self.following = True  # keep the current step in view; off while scrolled back
        self.marks: dict[int, str] = {}  # event index -> its part in the selected operation
        self._base: Style | None = None

    def show(self, sim: Simulator, follow: bool = False) -> None:
        """Catch up with the simulator; `follow` brings the view back to the current step."""
        self.following = self.following or follow
        if sim is not self.sim:
            mode = self.index.mode if self.index and self.index.mode in (ALL, QUIET) else ALL
            self.sim, self.index = sim, DiagramIndex(sim.node_ids, mode)
            self.cache.clear()
        index = self.index
        index.sync(sim.events)
        self.fit()
        self.current, self.path = focus(index)
        set_virtual_size(self, Size(self.shape.width, index.row_count))
        if self.following:
            self.to_end()
        self.refresh()

    def catch_up(self, sim: Simulator) -> None:
        """Index the events stepped since the last call, drawing nothing: autoplay at max
        calls this after each slice of steps, so that the redraw a key may wait for does not
        index the thousands of steps since the last frame at once."""
        if sim is self.sim:
            self.index.sync(sim.events)

    def set_mode(self, mode: str) -> None:
        if self.index is not None:
            self.index.set_mode(mode)
            self.cache.clear()

    def fit(self) -> None:
        index = self.index
        width = max(1, self.scrollable_content_region.width)
        layout = Layout.fit(width, index)
        if layout != self.shape:
            self.shape = layout
            self.cache.clear()

    def on_resize(self) -> None:
        if self.sim is not None and isinstance(self.parent, DiagramPane):
            self.parent.show(self.sim)  # a new width: new lanes, and the header with them

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self.cache.clear()

    def render_line(self, y: int) -> Strip:
        if self._base is None:
            self._base = self.rich_style
        width = self.size.width
        row = self.scroll_offset.y + y
        index, layout = self.index, self.shape
        if index is None or layout is None or row >= index.row_count:
            return Strip.blank(width, self._base)
        i = index.event_at(row)
        how, lane = emphasis(row, self.current, self.path)
        mark = self.marks.get(i, "")
        key = (row, how, lane, mark)
        event = index.events[i]
        hit = self.cache.get(key)
        if hit is not None and hit[0] is event:  # the same event: drawn the same way
            return hit[1]
        segments = draw_row(index, i, layout, how, lane, mark)
        strip = Strip(segments, layout.width).crop_extend(0, width, self._base)
        strip = strip.apply_style(self._base)
        if len(self.cache) >= MAX_CACHED_ROWS:
            self.cache.clear()
        self.cache[key] = (event, strip)
        return strip

    # --- scrolling through history -------------------------------------------------------------
    def reveal(self, event: int) -> None:
        """Scroll event `event` (an index) into view, unless the filter hides it; the view
        stops following the current step, as when scrolled back by hand."""
        row = self.index.row_of(event) if self.index is not None else None
        if row is not None:
            self.scroll_to_region(Region(0, row, 1, 1), animate=False, immediate=True, force=True)

    def page(self, pages: int) -> None:
        step = max(1, self.scrollable_content_region.height - 2)
        self.scroll_to(
            y=self.scroll_offset.y + pages * step, animate=False, immediate=True, force=True
        )

    def to_start(self) -> None:
        self.scroll_home(animate=False, immediate=True, x_axis=False, force=True)

    def to_end(self) -> None:
        # force: the scrollbar may not be laid out yet for rows added in this frame
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.size.height:  # a hidden view clamps its scroll: that is not the user
            self.following = round(new_value) >= self.max_scroll_y
        if isinstance(self.parent, DiagramPane) and self.index is not None:
            self.parent.show_titles()  # "scrolled back" or not


class DiagramPane(Vertical):
    """The bordered pane: title with the filter, the header with node names, the rows."""

    DEFAULT_CSS = """
    DiagramPane {
        display: none;
        width: 55%;
        border: round $panel-lighten-2;
        border-title-align: left;
        border-subtitle-align: right;
    }
    DiagramPane.-shown { display: block; }
    """

    def compose(self) -> ComposeResult:
        self.header = DiagramHeader()
        self.rows = DiagramView()
        yield self.header
        yield self.rows

    def show(self, sim: Simulator, follow: bool = False) -> None:
        if not self.has_class("-shown"):
            return  # hidden: costs nothing; catches up when shown again
        rows = self.rows
        rows.show(sim, follow)
        self.header.show(rows.index, rows.shape)
        self.show_titles()

    def catch_up(self, sim: Simulator) -> None:
        if self.has_class("-shown"):
            self.rows.catch_up(sim)

    def show_titles(self) -> None:
        rows = self.rows
        index = rows.index
        title = f"space-time · {index.describe_mode()}"
        if rows.marks:
            title += " · operation " + " ".join(f"{g} {w}" for w, g in OP_GLYPHS.items())
        if rows.following:
            keys = self.app.keymap
            first = lambda binding_id: format_key(keys[binding_id].split(",")[0])  # noqa: E731
            hint = f"{first('view.filter')} filter · {first('view.older')} scroll back"
        else:
            latest = format_key(self.app.keymap["view.latest"].split(",")[0])
            hint = f"scrolled back · {latest} follows"
        if (title, hint) != (self.border_title, self.border_subtitle):
            self.border_title = title  # set only on change: each set repaints the pane
            self.border_subtitle = hint

    def mark(self, marks: dict[int, str]) -> None:
        """Mark the selected operation's events (tui.history.selection_marks), by index."""
        if not self.children:
            return  # not composed yet: the first refresh after it marks them
        if marks != self.rows.marks:
            self.rows.marks = marks
            self.rows.refresh()
            if self.has_class("-shown") and self.rows.index is not None:
                self.show_titles()

    def set_mode(self, mode: str, sim: Simulator) -> None:
        self.rows.set_mode(mode)
        self.show(sim, follow=True)
