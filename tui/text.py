"""Small text helpers shared by the widgets: literal user values, short hashes, ballots, bars.

Values typed by users reach the screen only through `literal`, which turns control characters
into visible escapes and cuts long values, and only inside Rich `Text` objects, which never
parse markup: `[red]x[/red]` is shown as typed.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from tui.escapes import visible

ELLIPSIS = "…"


def cut(text: str, width: int) -> str:
    """At most `width` terminal cells, ending in an ellipsis when something was cut."""
    if cell_len(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        used += cell_len(ch)
        if used > width - 1:
            break
        out.append(ch)
    return "".join(out) + ELLIPSIS


def literal(value: object, width: int = 24) -> str:
    """A user value made safe for display: printable and at most `width` cells."""
    return cut(visible(value), width)


def short_hash(digest: str) -> str:
    return digest[:8] if digest else "--------"


def node_label(node_id: object) -> str:
    return "-" if node_id is None else f"n{node_id}"


# Each node's colour, the same in its panel, the diagram, the network pane and the event log:
# nine hues far from one another and from the role badges' backgrounds.
NODE_COLOURS = (
    "#ff8787",  # n1 salmon
    "#87d7ff",  # n2 sky
    "#d7ff87",  # n3 lime
    "#ffaf5f",  # n4 orange
    "#d787ff",  # n5 violet
    "#5fd7af",  # n6 teal
    "#ffd75f",  # n7 gold
    "#ff87d7",  # n8 pink
    "#afafff",  # n9 periwinkle
)


def node_style(node_id: int | None) -> str:
    """The node's colour, bold (plain for no node)."""
    if node_id is None:
        return ""
    return f"bold {NODE_COLOURS[(node_id - 1) % len(NODE_COLOURS)]}"


def ballot(value: object) -> str:
    """A Paxos ballot [round, node] as `round.node`; `-` when there is none (round 0)."""
    if not value or not value[0]:
        return "-"
    round_, node = value
    return f"{round_}.{node}"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of `width` cells, filled to `fraction` (clamped to 0..1)."""
    fraction = min(1.0, max(0.0, fraction))
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled)


def line(*parts: str | tuple[str, str]) -> Text:
    """One line of text from plain strings and (text, style) pairs; never parses markup."""
    return Text.assemble(*parts, no_wrap=True, overflow="ellipsis", end="")


def count(n: int, word: str, plural: str = "") -> str:
    """`1 block`, `2 blocks`: a number and a noun that agrees with it."""
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def seconds(ms: int) -> str:
    return f"{ms / 1000:.3f}s"
