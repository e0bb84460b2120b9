"""The "what just happened" strip: the current step's reasons, in the engines' own sentences.

Each note a node made at this step (`Note.text`, written once by the protocol's reasons
module) in the colour of its tone; a step with no note says what the event was. It reads the
simulator's last event, so stepping back shows the reasons of the step now current.
"""

from __future__ import annotations

from rich.text import Text

from engines.core.sim import Simulator
from tui.escapes import visible
from tui.widgets.panels import KIND_STYLE, NOTE_STYLE, Wrapped

TALL = 24  # from this many rows the strip may take three lines, else two


def strip_text(sim: Simulator) -> Text:
    if not sim.events:
        return Text.assemble(("step 0 ", "bold"), ("nothing has happened yet", "dim"))
    event = sim.events[-1]
    text = Text.assemble((f"step {event.step} ", "bold"))
    if not event.notes or event.kind == "action":
        text.append(visible(event.headline()), KIND_STYLE.get(event.kind, ""))
    for k, note in enumerate(event.notes):
        if k or event.kind == "action":
            text.append(" · ", "dim")
        text.append(visible(note.text), NOTE_STYLE.get(note.tone, ""))
    return text


class WhatHappened(Wrapped):
    """The strip under the status bar."""

    DEFAULT_CSS = """
    WhatHappened { height: 1; background: $panel; padding: 0 1; }
    """

    playing = False
    tallest = 1  # the most lines a step's text took since play began

    def show(self, sim: Simulator, playing: bool = False) -> None:
        self.max_lines = 3 if self.screen.size.height >= TALL else 2
        self.playing = playing
        self.set_content([strip_text(sim)])

    def height_for(self, lines: int) -> int:
        # Playing, the strip does not shrink: a step's notes take one to three lines, and
        # each change of its height lays out the whole screen again, a frame's costliest part.
        self.tallest = max(self.tallest, lines) if self.playing else lines
        return max(1, min(self.tallest, self.max_lines))
