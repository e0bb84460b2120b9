"""The help screen: every key and what it does, with the keys of the keymap in effect."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.keys import format_key
from textual.widgets import Link, Static

from tui.commands import COMMANDS
from tui.screens.prompts import Dialog

INTRO = (
    "consensus-tui runs Raft or Multi-Paxos on a deterministic simulator. One step is one "
    "event: a message delivered or dropped, a timer fired, or your action. Step forward and "
    "back, act at any step (that forks a new future), and watch the banner for safety."
)

READING = (  # the papers the rules quote; a Link opens its URL with App.open_url, in a served
    # session in the student's browser
    ("Raft paper", "https://raft.github.io/raft.pdf"),
    ("Raft site", "https://raft.github.io/"),
    ("Paxos Made Simple", "https://lamport.azurewebsites.net/pubs/paxos-simple.pdf"),
)


def key_names(keys: str) -> str:
    return " / ".join(format_key(k) for k in keys.split(","))


def help_table(keymap: dict[str, str]) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("action")
    table.add_column("binding id", style="dim", no_wrap=True)
    selects = [c for c in COMMANDS if c.id.startswith("node.select_")]
    for command in COMMANDS:
        if command in selects[1:]:
            continue
        if command is selects[0]:
            keys = f"{key_names(keymap[selects[0].id])}..{key_names(keymap[selects[-1].id])}"
            table.add_row(keys, "Select node n1..n9.", "node.select_1..9")
            continue
        table.add_row(key_names(keymap[command.id]), Text(command.help), command.id)
    table.add_row("ctrl+p", "Command palette: every action by name.", "")
    return table


class HelpScreen(Dialog):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; border-title-align: center; background: $surface; padding: 0 1;
    }
    HelpScreen .intro { margin-bottom: 1; }
    HelpScreen .reading { height: 1; margin-bottom: 1; }
    HelpScreen .reading Static { width: auto; }
    HelpScreen .reading Link { margin-left: 2; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q,enter", "close", "Close", id="help.close"),
    ]

    def __init__(self, keymap: dict[str, str]) -> None:
        super().__init__()
        self.keymap = keymap

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Help · Escape closes"
            yield Static(Text(INTRO), classes="intro")
            with Horizontal(classes="reading"):
                yield Static("Reading (a click, or Tab then Enter, opens it):")
                for title, url in READING:
                    yield Link(title, url=url)
            yield Static(help_table(self.keymap))

    def action_close(self) -> None:
        self.finish()
