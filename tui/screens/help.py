"""The help screen: every key and what it does, with the keys of the keymap in effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.keys import format_key
from textual.widgets import Link, Static

from engines.core.protocols import Protocol
from tui.commands import COMMANDS, Command
from tui.screens.legend import legend_table
from tui.screens.prompts import Sheet

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


def help_table(
    keymap: dict[str, str],
    commands: Sequence[Command] = COMMANDS,
    helps: Mapping[str, str] | None = None,
) -> Table:
    """A row per command (the node selections in one); `helps` rewords a command's help by
    binding id, where it means something else here (live mode)."""
    helps = helps or {}
    table = Table(box=None, show_header=True, header_style="bold", expand=True, padding=(0, 1))
    table.add_column("key", style="bold cyan", no_wrap=True)
    table.add_column("action")
    table.add_column("binding id", style="dim", no_wrap=True)
    selects = [c for c in commands if c.id.startswith("node.select_")]
    for command in commands:
        if command in selects[1:]:
            continue
        if selects and command is selects[0]:
            keys = f"{key_names(keymap[selects[0].id])}..{key_names(keymap[selects[-1].id])}"
            table.add_row(keys, "Select node n1..n9.", "node.select_1..9")
            continue
        help_text = helps.get(command.id, command.help)
        table.add_row(key_names(keymap[command.id]), Text(help_text), command.id)
    table.add_row("ctrl+p", "Command palette: every action by name.", "")
    return table


class HelpScreen(Sheet):
    DEFAULT_CSS = """
    HelpScreen .intro { margin-bottom: 1; }
    HelpScreen .legend { margin-top: 1; }
    HelpScreen .reading { height: 1; margin-bottom: 1; }
    HelpScreen .reading Static { width: auto; }
    HelpScreen .reading Link { margin-left: 2; }
    """
    BINDINGS = [
        Binding("escape,question_mark,q,enter", "close", "Close", id="help.close"),
    ]

    def __init__(
        self,
        keymap: dict[str, str],
        protocol: Protocol | None,
        commands: Sequence[Command] = COMMANDS,
        helps: Mapping[str, str] | None = None,
        intro: str = INTRO,
    ) -> None:
        """Without a protocol (live mode: a real etcd cluster) there is no legend."""
        super().__init__()
        self.keymap = keymap
        self.protocol = protocol
        self.commands = commands
        self.helps = helps
        self.intro = intro

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Help · Escape closes"
            yield Static(Text(self.intro), classes="intro")
            with Horizontal(classes="reading"):
                yield Static("Reading (a click, or Tab then Enter, opens it):")
                for title, url in READING:
                    yield Link(title, url=url)
            yield Static(help_table(self.keymap, self.commands, self.helps))
            if self.protocol is not None:
                yield Static(Text("What the screen shows", "bold"), classes="legend")
                yield Static(legend_table(self.protocol))
