"""The caption strip: what a lesson says to watch at the current step.

A lesson is a script with `## text` lines (engines/lab/script.py): each caption belongs to the
step the run had reached at its line, and stays current until the next one, so stepping back
shows the caption that was current then. The strip is hidden when no caption is current.
"""

from __future__ import annotations

from rich.text import Text

from engines.lab.script import Caption
from tui.text import visible
from tui.widgets.panels import Lines

MAX_LINES = 4  # a caption longer than this, wrapped, is cut with an ellipsis


class CaptionStrip(Lines):
    DEFAULT_CSS = """
    CaptionStrip { height: 1; background: $primary 30%; display: none; }
    CaptionStrip.-shown { display: block; }
    """

    def show(self, caption: Caption | None) -> None:
        self.set_class(caption is not None, "-shown")
        if caption is None:
            self.set_content([])
            return
        self.set_content([Text.assemble((" lesson ", "bold reverse"), " ", visible(caption.text))])

    def relayout(self) -> None:
        """The caption wrapped to the strip's width, at most MAX_LINES lines."""
        width = max(10, self.size.width)
        wrapped = [row for text in self.lines for row in text.wrap(self.app.console, width)]
        if len(wrapped) > MAX_LINES:
            wrapped = wrapped[:MAX_LINES]
            wrapped[-1].truncate(width - 1)
            wrapped[-1].append("…")
        self.styles.height = max(1, len(wrapped))
        self.set_lines(wrapped)
