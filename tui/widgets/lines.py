"""A widget drawn with the line API that repaints only the lines that changed.

At fast autoplay most of the screen stays the same from one frame to the next (a node's log,
its chain, the KV store) while a few lines move (a timer, the newest event). Subclasses hand
`set_lines` the Rich Text lines they show; each line is turned into a Strip once and cached,
and only rows whose text changed are marked dirty.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget


class LineView(Widget):
    DEFAULT_CSS = """
    LineView { overflow: hidden; }
    """

    def __init__(self, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}  # row -> rendered line, for the current width
        self._strip_width = -1
        self._style: Style | None = None  # the widget's base style (costly to compute)
        self._titles = ("", "")

    def set_titles(self, title: str, subtitle: str = "") -> None:
        """Border title and subtitle, set only when they change: setting one repaints all."""
        if (title, subtitle) != self._titles:
            self._titles = (title, subtitle)
            self.border_title = title
            self.border_subtitle = subtitle

    @property
    def rows(self) -> int:
        return max(1, self.size.height)

    def set_lines(self, lines: list[Text]) -> None:
        old = self._lines
        self._lines = lines
        width = self.size.width
        for y in range(max(len(old), len(lines))):
            if y >= len(old) or y >= len(lines) or old[y] != lines[y]:
                self._strips.pop(y, None)
                self.refresh(Region(0, y, width, 1))

    def on_resize(self) -> None:
        self._strips.clear()
        self.relayout()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._strips.clear()

    def relayout(self) -> None:
        """Recompute the lines for a new size; subclasses that depend on size override it."""

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        strip = self._strips.get(y)
        if strip is not None:
            return strip
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        if y >= len(self._lines):
            strip = Strip.blank(width, style)
        else:
            text = self._lines[y].copy()
            text.truncate(width, overflow="ellipsis")
            strip = Strip(text.render(self.app.console), cell_len(text.plain))
            strip = strip.crop_extend(0, width, style).apply_style(style)
        self._strips[y] = strip
        return strip


def set_virtual_size(view: ScrollView, size: Size) -> None:
    """Give a scrolling view a new scrollable size without a layout of the whole screen,
    which assigning `virtual_size` asks for (a reactive with layout=True): at fast autoplay
    the diagram and the message list grow or shrink at every frame, and a layout is the
    costliest part of one. A ScrollView's virtual size moves nothing on screen but its
    scrollbar, so update that alone, as Textual does after scrolling (`_scroll_update`;
    Textual is pinned in pyproject.toml). A scrollbar that comes or goes still asks for a
    layout itself, since it changes the room left for the rows."""
    if size != view.virtual_size:
        view.set_reactive(ScrollView.virtual_size, size)
        view._scroll_update(size)


class ScrollLines(ScrollView):
    """Lines in a scrolling view drawn with the line API: only the rows on screen render.
    `highlight` is the row shown in reverse (a cursor), or None."""

    DEFAULT_CSS = """
    ScrollLines { scrollbar-size-vertical: 1; overflow-x: hidden; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: list[Text] = []
        self.highlight: int | None = None
        self._style: Style | None = None  # the widget's base style (costly to compute)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None

    def set_lines(self, lines: list[Text]) -> None:
        self.lines = lines
        set_virtual_size(self, Size(self.scrollable_content_region.width, len(lines)))
        self.refresh()

    def render_line(self, y: int) -> Strip:
        row = self.scroll_offset.y + y
        width = self.scrollable_content_region.width
        if self._style is None:
            self._style = self.rich_style
        style = self._style
        if row >= len(self.lines):
            return Strip.blank(width, style)
        text = self.lines[row].copy()
        text.truncate(width, overflow="ellipsis")
        strip = Strip(text.render(self.app.console)).crop_extend(0, width, style)
        if row == self.highlight:
            return strip.apply_style(style + Style(reverse=True))
        return strip.apply_style(style)
