"""Modal prompts: propose, clients, partition, network settings, preset picker, file names.

Each is a ModalScreen that dismisses with its result on Enter and with None on Escape. Input
is checked before dismissing; a problem is shown inside the prompt, which stays open.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from engines.core.actions import ACTIONS, LEADER, read_link
from engines.core.network import LinkConfig

HINT = "Enter submits · Escape cancels"


class Preset(NamedTuple):
    """A shipped script as the picker lists it: under its lesson topic, with a summary."""

    topic: str
    name: str
    summary: str
    path: Path


# The lesson picker: its width, the cells its frame and scrollbar take, the name column (the
# longest preset name fits) and the narrowest summary column.
PICKER_WIDTH, FRAME, NAME_WIDTH, MIN_SUMMARY = 100, 12, 30, 20
GOTO_AHEAD = 100_000  # how far past the recorded end "go to step" runs the simulation on


class Dialog(ModalScreen[Any]):
    """A modal screen that closes once: keys that arrive together (a double Enter, a paste,
    a held key) find it already closing instead of dismissing it a second time."""

    closing = False

    def finish(self, result: Any = None) -> None:
        if not self.closing:
            self.closing = True
            self.dismiss(result)


class Sheet(Dialog):
    """A page of text in a scrolling box over the screen (the help, the legend)."""

    DEFAULT_CSS = """
    Sheet { align: center middle; }
    Sheet > VerticalScroll {
        width: 96; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; border-title-align: center; background: $surface; padding: 0 1;
    }
    """

    def action_close(self) -> None:
        self.finish()


class Prompt(Dialog):
    """A titled box with inputs, an error line and a hint; subclasses add `submit`."""

    DEFAULT_CSS = """
    Prompt { align: center middle; }
    Prompt > Vertical {
        width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; border-title-align: center; background: $surface; padding: 0 1;
    }
    Prompt Label.error { color: $error; height: auto; }
    Prompt Static.hint { color: $text-muted; }
    Prompt OptionList { height: auto; max-height: 12; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]
    prompt_title = ""
    hint = HINT

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.prompt_title
            yield from self.body()
            yield Label("", classes="error")
            yield Static(self.hint, classes="hint")

    def body(self) -> ComposeResult:
        yield from ()

    def make_input(self, value: str = "", placeholder: str = "", id: str | None = None) -> Input:
        field = Input(value, placeholder=placeholder, id=id)
        field.cursor_blink = getattr(self.app, "cursor_blink", True)
        return field

    def action_cancel(self) -> None:
        self.finish(None)

    def fail(self, message: str) -> None:
        self.query_one("Label.error", Label).update(Text(message))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.closing:
            return
        try:
            result = self.submit()
        except ValueError as e:
            self.fail(str(e))
        else:
            self.finish(result)

    def submit(self) -> Any:
        raise NotImplementedError


class ConfirmPrompt(Prompt):
    """A yes/no question before something that cannot be stepped back (y or Enter: yes)."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]
    hint = "y or Enter: yes · n or Escape: no"

    def __init__(self, title: str, question: str) -> None:
        super().__init__()
        self.prompt_title = title
        self.question = question

    def body(self) -> ComposeResult:
        yield Static(Text(self.question))

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.prompt_title
            yield from self.body()
            yield Static(self.hint, classes="hint")

    def action_answer(self, yes: bool) -> None:
        self.finish(yes)


class DiscardPrompt(ConfirmPrompt):
    """Before replacing a session that has steps: yes, no, or s to save its trace first
    (dismissed with "save")."""

    BINDINGS = [Binding("s", "save", "Save first", id="confirm.save")]
    hint = "y or Enter: yes · s: save the trace first · n or Escape: no"

    def __init__(self, title: str, steps: int) -> None:
        super().__init__(title, f"This session has {steps} steps. Discard it?")

    def action_save(self) -> None:
        self.finish("save")


class ProposePrompt(Prompt):
    def __init__(self, node_id: int) -> None:
        super().__init__()
        self.prompt_title = f"Propose a value to n{node_id}"

    def body(self) -> ComposeResult:
        yield Static("`set KEY VALUE` and `del KEY` change the KV store; other text is data.")
        yield self.make_input(placeholder="set x 1", id="value")

    def submit(self) -> str:
        value = self.query_one("#value", Input).value
        if not value.strip():
            raise ValueError("type a value to propose")
        return value


def parse_clients(text: str) -> dict[str, int]:
    """The clients prompt in the scripts' syntax (`3`, `3 keys=2 rate=5`, `off`), as the
    clients action's arguments; ScriptSyntaxError (a ValueError) says what is wrong."""
    return ACTIONS["clients"].read(text.split(), 0).args


class ClientsPrompt(Prompt):
    prompt_title = "Clients"

    def __init__(self, running: int, keys: int, rate: int) -> None:
        super().__init__()
        self.current = f"{running} keys={keys} rate={rate}" if running else ""

    def body(self) -> ComposeResult:
        yield Static(Text("Clients 1..K put, get and cas on a few keys, as a recorded step:"))
        yield Static(Text("K [keys=N] [rate=OPS_PER_S]; off (or 0) stops them."))
        yield self.make_input(self.current, placeholder="3 keys=3 rate=10", id="clients")

    def submit(self) -> dict[str, int]:
        return parse_clients(self.query_one("#clients", Input).value)


def parse_step(text: str, last: int) -> int:
    """A step number for go to: 0..`last` + GOTO_AHEAD (past the end the run goes on)."""
    if not text.strip().isdigit():
        raise ValueError(f"{text.strip()!r} is not a step number (0..{last})")
    step = int(text)
    if step > last + GOTO_AHEAD:
        raise ValueError(f"at most {GOTO_AHEAD} steps past the end: up to {last + GOTO_AHEAD}")
    return step


class GotoPrompt(Prompt):
    prompt_title = "Go to step"

    def __init__(self, current: int, last: int) -> None:
        super().__init__()
        self.current = current
        self.last = last

    def body(self) -> ComposeResult:
        yield Static(f"Now at step {self.current}; the timeline has steps 0..{self.last}.")
        yield self.make_input(placeholder=str(self.last), id="step")

    def submit(self) -> int:
        return parse_step(self.query_one("#step", Input).value, self.last)


def parse_groups(text: str, node_ids: list[int]) -> list[list[int]]:
    """`1 2 | 3 4 5` (or `n1 n2 | n3 n4 n5`) as groups of node ids."""
    groups: list[list[int]] = []
    seen: set[int] = set()
    for part in text.split("|"):
        group = []
        for word in part.split():
            digits = word[1:] if word.lower().startswith("n") else word
            if not digits.isdigit() or int(digits) not in node_ids:
                raise ValueError(f"{word!r} is not a node (n1..n{len(node_ids)})")
            node = int(digits)
            if node in seen:
                raise ValueError(f"n{node} is in two groups")
            seen.add(node)
            group.append(node)
        if not group:
            raise ValueError("each group needs at least one node, e.g. 1 2 | 3 4 5")
        groups.append(group)
    if len(groups) < 2 and len(seen) == len(node_ids):
        raise ValueError("that is one group: use | between groups, e.g. 1 2 | 3 4 5")
    return groups


def partition_presets(node_ids: list[int], leader: int | None) -> list[tuple[str, list]]:
    """(label, groups) for the usual experiments."""
    n = len(node_ids)
    minority_size = n - (n // 2 + 1)
    first = leader if leader is not None else node_ids[0]
    ordered = [first] + [i for i in node_ids if i != first]
    presets = []
    if leader is not None:
        presets.append((f"isolate the leader n{leader}", [[leader], ordered[1:]]))
    who = f"leader n{leader}" if leader is not None else f"n{first}"
    minority, majority = ordered[:minority_size], ordered[minority_size:]
    presets.append((f"split, {who} in the minority", [minority, majority]))
    minority, majority = ordered[-minority_size:], ordered[:-minority_size]
    presets.append((f"split, {who} in the majority", [majority, minority]))
    return presets


def groups_text(groups: list[list[int]]) -> str:
    return " | ".join(" ".join(str(n) for n in g) for g in groups)


class PartitionPrompt(Prompt):
    prompt_title = "Partition the network"

    def __init__(self, node_ids: list[int], leader: int | None) -> None:
        super().__init__()
        self.node_ids = node_ids
        self.presets = partition_presets(node_ids, leader)

    def body(self) -> ComposeResult:
        yield Static("Groups of node numbers separated by |. Unlisted nodes are cut off alone.")
        yield self.make_input(placeholder="1 2 | 3 4 5", id="groups")
        yield Static("Presets (Tab, then ↑↓ and Enter):")
        yield OptionList(
            *(
                Option(Text(f"{label}:  {groups_text(groups)}"), id=str(i))
                for i, (label, groups) in enumerate(self.presets)
            ),
            id="presets",
        )

    def submit(self) -> list[list[int]]:
        return parse_groups(self.query_one("#groups", Input).value, self.node_ids)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.finish(self.presets[int(event.option.id)][1])


def parse_link(text: str, nodes: int) -> dict[str, Any]:
    """The network prompt's link field as set_network arguments: blank for every link, or
    `n1->n2` (one direction) / `n1<->n2` (both), in the scripts' syntax."""
    words = re.sub(r"(<->|->)", r" \1 ", text).split()
    if not words:
        return {}
    usage = "n1->n2 or n1<->n2"
    found = read_link(words, nodes, usage)
    if LEADER in found["link"]:
        raise ValueError(f"link: name two nodes ({usage})")
    return found


def parse_network(latency: str, drop: str, dup: str) -> dict[str, Any]:
    """The network prompt's fields as set_network arguments; ValueError names the bad one."""
    low, _, high = latency.replace(" ", "").partition("..")
    try:
        settings = {
            "latency_min": int(low),
            "latency_max": int(high or low),
        }
    except ValueError:
        raise ValueError(f"latency {latency!r}: use MIN..MAX in ms, e.g. 5..20") from None
    for name, text in (("drop", drop), ("dup", dup)):
        try:
            settings[name] = float(text)
        except ValueError:
            raise ValueError(f"{name} {text!r}: use a probability such as 0.1") from None
    replace(LinkConfig(), **settings).validate()
    return settings


class NetworkPrompt(Prompt):
    prompt_title = "Network settings"
    DEFAULT_CSS = """
    NetworkPrompt Horizontal { height: auto; }
    NetworkPrompt .field { width: 14; padding-top: 1; }
    NetworkPrompt Input { width: 1fr; }
    """

    def __init__(self, current: LinkConfig, nodes: int) -> None:
        super().__init__()
        self.current = current
        self.nodes = nodes

    def body(self) -> ComposeResult:
        from textual.containers import Horizontal

        c = self.current
        yield Static("link: blank = every link, or n1->n2 (one direction) / n1<->n2 (both)")
        fields = (
            ("link", "", "link"),
            ("latency (ms)", f"{c.latency_min}..{c.latency_max}", "latency"),
            ("drop (0..1)", f"{c.drop:g}", "drop"),
            ("dup (0..1)", f"{c.dup:g}", "dup"),
        )
        for label, value, id in fields:
            with Horizontal():
                yield Static(label, classes="field")
                yield self.make_input(value, id=id)

    def submit(self) -> dict[str, Any]:
        values = [self.query_one(f"#{id}", Input).value for id in ("latency", "drop", "dup")]
        link = parse_link(self.query_one("#link", Input).value, self.nodes)
        return link | parse_network(*values)


class PresetPicker(Prompt):
    """The shipped scripts under their lesson topics, each with its one-line summary; ↑↓
    move between scripts (a topic's heading is skipped), Enter opens one."""

    prompt_title = "Open a lesson"
    hint = "↑↓ choose · Enter opens at step 0 · Escape cancels"
    DEFAULT_CSS = """
    PresetPicker > Vertical { width: 100; }  /* PICKER_WIDTH */
    PresetPicker OptionList { max-height: 28; }
    """

    def __init__(self, presets: list[Preset]) -> None:
        super().__init__()
        self.presets = presets

    def body(self) -> ComposeResult:
        options: list[Option] = []
        for i, preset in enumerate(self.presets):
            if i == 0 or preset.topic != self.presets[i - 1].topic:
                options.append(Option(Text(preset.topic, style="bold underline"), disabled=True))
            options.append(Option(self.entry(preset), id=str(i)))
        yield OptionList(*options, id="presets")

    def entry(self, preset: Preset) -> Text:
        """The name in a column of its own, the summary wrapped beside it to the box's width."""
        column = NAME_WIDTH + 2
        width = max(MIN_SUMMARY, min(PICKER_WIDTH, self.app.size.width) - FRAME - column)
        lines = textwrap.wrap(preset.summary, width) or [""]
        return Text.assemble((preset.name.ljust(column), "bold"), f"\n{' ' * column}".join(lines))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.finish(self.presets[int(event.option.id)].path)


def tilde(path: Path) -> str:
    """A path under the home folder written from `~`, as a shell user reads it."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


class PathPrompt(Prompt):
    """A file name to confirm, in `folder` unless it names another: prefilled for saving,
    where its folder must exist; for opening, the file must exist, and files offered in
    `choices` (names in `folder`) can be picked from a list."""

    def __init__(
        self,
        title: str,
        folder: Path,
        default: str = "",
        must_exist: bool = False,
        choices: list[str] = (),
    ) -> None:
        super().__init__()
        self.prompt_title = title
        self.folder = folder
        self.default = default
        self.must_exist = must_exist
        self.choices = list(choices)

    def body(self) -> ComposeResult:
        yield Static(Text(f"File name (in {tilde(self.folder)} unless you give a folder):"))
        yield self.make_input(self.default, id="name")
        if self.choices:
            yield Static("Found there (Tab, then ↑↓ and Enter):")
            yield OptionList(*(Option(Text(c), id=str(i)) for i, c in enumerate(self.choices)))

    def submit(self) -> Path:
        name = self.query_one("#name", Input).value.strip()
        if not name:
            raise ValueError("type a file name")
        path = self.folder / Path(name).expanduser()  # an absolute name replaces the folder
        if self.must_exist and not path.is_file():
            raise ValueError(f"no such file: {path}")
        if path.is_dir():
            raise ValueError(f"{path} is a folder: add a file name")
        if not path.parent.is_dir() and path.parent != self.folder:
            raise ValueError(f"no folder {path.parent}: create it first, or choose another")
        return path

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.finish(self.folder / self.choices[int(event.option.id)])


class PastePrompt(Dialog):
    """A trace's text, pasted: a browser session cannot read the student's files (textual-serve
    has no upload), but the terminal in the page takes a paste of the file's text."""

    DEFAULT_CSS = """
    PastePrompt { align: center middle; }
    PastePrompt > Vertical {
        width: 64; max-width: 100%; height: auto;
        border: round $accent; border-title-align: center; background: $surface; padding: 0 1;
    }
    PastePrompt Static.hint { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Open a trace"
            yield Static(
                "Open the trace file in a text editor, copy all its text, and paste it here "
                "(Ctrl+V, or Ctrl+Shift+V)."
            )
            yield Static("Escape cancels", classes="hint")

    def on_paste(self, event) -> None:
        event.stop()
        self.finish(event.text)

    def action_cancel(self) -> None:
        self.finish(None)
