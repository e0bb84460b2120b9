"""The live app: a panel per etcd member, from a status feed, and the simulator's keys.

The app reads a `Feed` (tui/live/status.py) on a timer: the poller's threads do the
asking, so a member that is down or slow never freezes the screen, and a snapshot test hands
in a recorded feed instead of a cluster. Actions go to a live `Session` in a worker thread
(a crash waits for the process to exit, a put for its answer) and report back in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Footer, Static

from engines.core.actions import Action
from tui.commands import COMMANDS, Command, default_keymap
from tui.live.session import Session
from tui.live.status import Feed, LeaderChange, MemberStatus, Snapshot
from tui.live.wal import WalEntry, WalView
from tui.live.workload import PROPOSALS
from tui.screens.help import HelpScreen
from tui.screens.prompts import PartitionPrompt, ProposePrompt
from tui.text import line, literal
from tui.widgets.lines import LineView
from tui.widgets.nodes import MIN_PANEL_WIDTH, ROLE_STYLE, grid_shape
from tui.widgets.panels import Lines

REFRESH_S = 0.1  # the feed is cached: reading it this often costs nothing
LOG_ROWS = 200
STATE_BADGE = {"down": ("crashed", "DOWN"), "silent": ("candidate", "NO ANSWER")}
# The simulator's commands that mean the same live, by binding id: the action here, and a
# footer label where the live meaning needs other words.
LIVE_COMMANDS = {
    **{f"node.select_{i}": (f"select_node({i})", None) for i in range(1, 10)},
    "node.next": ("select_next(1)", None),
    "node.prev": ("select_next(-1)", None),
    "node.propose": ("propose", "Put"),
    "node.crash": ("crash", "Kill/start"),
    "node.isolate": ("isolate", None),
    "net.partition": ("partition", None),
    "net.heal": ("heal", None),
    "view.history": ("check_history", "Check history"),
    "app.help": ("help", None),
    "app.quit": ("quit", None),
}
# The help screen's words for the commands whose live meaning is not the simulator's.
LIVE_HELP = {
    "node.propose": f"Put a value of the key {PROPOSALS!r} through the selected member.",
    "node.crash": "Kill the selected member's process (SIGKILL), or start it again on its "
    "data folder.",
    "node.isolate": "Cut the selected member off: its peer proxy drops every request to and "
    "from the others.",
    "net.partition": "Split the members into groups: the proxies drop requests across groups.",
    "net.heal": "Let every peer request through again.",
    "view.history": "Judge the clients' history so far: linearizable or not, and the "
    "operation that cannot be placed.",
}
LIVE_INTRO = (
    "Live mode: the panels show a real etcd cluster on this machine, polled from each "
    "member's status API several times a second. Time is real: there is no stepping back. "
    "The keys act on the real processes and on the peer proxies between them."
)


def live_commands() -> list[Command]:
    return [command for command in COMMANDS if command.id in LIVE_COMMANDS]


def live_bindings() -> list[Binding]:
    """The simulator's keys for the commands that mean the same here (tui/commands.py)."""
    bindings = []
    for command in live_commands():
        action, label = LIVE_COMMANDS[command.id]
        shown = command.footer or command.id in ("node.isolate", "view.history")
        bindings.append(
            Binding(command.keys, action, label or command.label, show=shown, id=command.id)
        )
    return bindings


@dataclass(frozen=True)
class MemberView:
    """What one panel shows: a member's status, its partition group, whether selected."""

    status: MemberStatus
    group: str
    selected: bool


def member_lines(status: MemberStatus, height: int, width: int) -> list[Text]:
    """The status first, then as much of the log as fits (the newest entries)."""
    if status.state == "down":
        head = [line(("process killed; its WAL on disk:", "italic"))]
    elif status.state == "silent":
        head = [line(("no answer to the status request", "italic"))]
    else:
        head = status_lines(status, width)
    rows = max(0, height - len(head) - 1)
    return head + wal_lines(status.wal, rows, width)


def status_lines(status: MemberStatus, width: int) -> list[Text]:
    leader = f"n{status.leader}" if status.leader else "none"
    lines = [
        line(("term ", "dim"), (str(status.term), "bold"), ("  leader ", "dim"), leader),
        line(
            ("last ", "dim"),
            str(status.last_index),
            ("  applied ", "dim"),
            str(status.applied_index),
            ("  learner ", "dim"),
            "yes" if status.learner else "no",
        ),
    ]
    if not status.errors:
        return [*lines, line(("alarms/errors ", "dim"), "none")]
    return lines + [line(("! ", "bold red"), (literal(e, width), "red")) for e in status.errors]


def wal_lines(wal: WalView | None, rows: int, width: int) -> list[Text]:
    if wal is None or not rows:
        return []
    if not wal.entries:
        return [line(("log (WAL): nothing written yet", "dim"))]
    head = line(
        ("log (WAL) ", "bold"),
        ("vote ", "dim"),
        wal.vote,
        ("  commit ", "dim"),
        (str(wal.commit), "green"),
    )
    shown = wal.entries[-(rows - 1) :] if rows > 1 else ()
    return [head] + [wal_entry(e, wal.commit, width) for e in shown]


def wal_entry(entry: WalEntry, commit: int, width: int) -> Text:
    style = "green" if entry.index <= commit else ""
    what = entry.what or ("empty (a new leader's entry)" if not entry.size else entry.kind)
    if entry.kind != "normal":
        what = f"{entry.kind}: {what}"
    return line(
        (f"{entry.index:>5} ", style), (f"t{entry.term} ", "dim"), (literal(what, width), style)
    )


class MemberPanel(LineView):
    DEFAULT_CSS = """
    MemberPanel {
        border: round $panel-lighten-2;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 1;
        height: 1fr;
    }
    MemberPanel.-selected { border: heavy $accent; }
    MemberPanel.-down { color: $text-disabled; border: round $error 50%; }
    MemberPanel.-down.-selected { border: heavy $error; }
    """

    def __init__(self, node_id: int) -> None:
        super().__init__(id=f"member-{node_id}")
        self.node_id = node_id
        self.view: MemberView | None = None

    def show(self, view: MemberView) -> None:
        if view == self.view:
            return
        self.view = view
        status = view.status
        self.set_class(view.selected, "-selected")
        self.set_class(status.state == "down", "-down")
        style_of, word = STATE_BADGE.get(status.state, (status.role, status.role.upper()))
        badge = f"[{ROLE_STYLE.get(style_of, 'bold')}] {word} [/]"
        mark = "▶ " if view.selected else ""
        group = f"group {view.group}" if view.group else ""
        self.set_titles(f"{mark}[b]n{self.node_id}[/] {badge}", group)
        self.relayout()

    def relayout(self) -> None:
        if self.view is not None:
            width = max(8, self.size.width)
            self.set_lines(member_lines(self.view.status, self.rows, width)[: self.rows])


class MemberGrid(Grid):
    DEFAULT_CSS = """
    MemberGrid { grid-gutter: 0 0; height: 1fr; min-height: 10; }
    """

    def __init__(self, node_ids: list[int]) -> None:
        super().__init__(id="members")
        self.node_ids = node_ids

    def compose(self) -> ComposeResult:
        for node_id in self.node_ids:
            yield MemberPanel(node_id)

    def on_resize(self) -> None:
        columns, rows = grid_shape(len(self.node_ids), max(MIN_PANEL_WIDTH, self.size.width))
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows

    def show(self, snapshot: Snapshot, selected: int) -> None:
        letters = group_letters(snapshot)
        for panel in self.query(MemberPanel):
            status = snapshot.members[panel.node_id - 1]
            view = MemberView(status, letters.get(panel.node_id, ""), panel.node_id == selected)
            panel.show(view)


def group_letters(snapshot: Snapshot) -> dict[int, str]:
    return {n: chr(ord("A") + g) for g, group in enumerate(snapshot.groups) for n in group}


def status_line(snapshot: Snapshot, session: Session | None) -> Text:
    leader = snapshot.leader()
    leads = f"n{leader.node_id} leads, term {leader.term}" if leader else "no leader"
    groups = snapshot.groups
    net = " | ".join(" ".join(f"n{n}" for n in g) for g in groups) if groups else "whole"
    parts = [("LIVE etcd ", "bold"), (leads, "bold green" if leader else "bold red")]
    parts += [("  network ", "dim"), net]
    if session is not None:
        clients = session.workload.clients if session.workload else 0
        operations = len(session.history.events)
        parts += [("  clients ", "dim"), f"{clients} ({session.reads} reads)"]
        parts += [("  history ", "dim"), f"{operations} events"]
    return line(*parts)


def change_row(change: LeaderChange) -> Text:
    who = f"n{change.leader} leads in term {change.term}" if change.leader else "no leader"
    return line((f"{change.at:8.3f}s ", "dim"), (who, "bold magenta"))


class LiveApp(App):
    TITLE = "consensus-tui live"
    CSS = """
    #status { height: 1; background: $boost; }
    #log { height: 10; border-top: solid $panel-lighten-2; }
    """
    BINDINGS = live_bindings()

    def __init__(
        self,
        feed: Feed,
        node_ids: list[int],
        session: Session | None = None,
        keymap: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.keymap = keymap or default_keymap()
        self.feed = feed
        self.node_ids = node_ids
        self.session = session
        self.selected = node_ids[0]
        self.snapshot = feed.snapshot()
        self.notes: list[tuple[float, Text]] = []  # what the user's actions did, and when

    def compose(self) -> ComposeResult:
        # Kept by reference: a dialog over the screen (help, a prompt) must not hide them
        # from the poll, which queries no screen.
        self.status = Static(id="status")
        self.grid = MemberGrid(self.node_ids)
        self.log_lines = Lines(id="log", keep_bottom=True)
        yield self.status
        yield self.grid
        yield self.log_lines
        yield Footer(compact=True)

    def on_mount(self) -> None:
        # The keymap's keys for the commands bound here, where they differ from the defaults
        # (Textual re-applies a keymap on every key).
        defaults = default_keymap()
        changed = {k: v for k, v in self.keymap.items() if k in LIVE_COMMANDS and v != defaults[k]}
        if changed:
            self.set_keymap(changed)
        self.show()
        self.set_interval(REFRESH_S, self.poll)
        # A closed terminal or a kill ends the app as q does, so the caller's session still
        # kills every member and removes the data folders (and the terminal is restored).
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGHUP, signal.SIGTERM):
            # Only the main thread may take signals (a test may run the app elsewhere).
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(signum, self.exit, None, 128 + signum)

    def poll(self) -> None:
        self.snapshot = self.feed.snapshot()
        self.show()

    def show(self) -> None:
        if not self.grid.is_attached:
            return  # the app is closing: the timer may still fire once
        self.status.update(status_line(self.snapshot, self.session))
        self.grid.show(self.snapshot, self.selected)
        rows = [(c.at, change_row(c)) for c in self.feed.changes] + self.notes
        rows.sort(key=lambda row: row[0])
        self.log_lines.set_content([text for _, text in rows[-LOG_ROWS:]])

    # --- selection ---------------------------------------------------------------------------
    def action_select_node(self, node_id: int) -> None:
        if node_id in self.node_ids:
            self.selected = node_id
            self.show()

    def action_select_next(self, delta: int) -> None:
        at = self.node_ids.index(self.selected)
        self.selected = self.node_ids[(at + delta) % len(self.node_ids)]
        self.show()

    # --- actions on the cluster --------------------------------------------------------------
    def action_propose(self) -> None:
        node = self.selected

        def done(value: str | None) -> None:
            if value is not None:
                self.act(Action("propose", {"value": value, "node": node}))

        self.push_screen(LiveProposePrompt(node), done)

    def action_crash(self) -> None:
        status = self.snapshot.members[self.selected - 1]
        kind = "restart" if status.state == "down" else "crash"
        self.act(Action(kind, {"node": self.selected}))

    def action_isolate(self) -> None:
        self.act(Action("isolate", {"node": self.selected}))

    def action_partition(self) -> None:
        def done(groups: list[list[int]] | None) -> None:
            if groups is not None:
                self.act(Action("partition", {"groups": groups}))

        leader = self.snapshot.leader()
        prompt = PartitionPrompt(self.node_ids, leader.node_id if leader else None)
        self.push_screen(prompt, done)

    def action_heal(self) -> None:
        self.act(Action("heal"))

    def act(self, action: Action) -> None:
        """Take the action in a worker thread: a crash waits for the process to end, a put
        for its answer, and the screen goes on meanwhile."""
        if self.session is None:
            self.notify("no cluster: this app shows a recorded feed", severity="warning")
            return
        session = self.session
        self.note(f"{action.describe()} ...")

        def work() -> None:
            try:
                done = session.act(action)
            except Exception as exc:  # a real process can fail in many ways: say it, go on
                done = f"{action.describe()} failed: {exc}"
            self.call_from_thread(self.note, done)

        self.run_worker(work, thread=True, group="actions")

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap, None, live_commands(), LIVE_HELP, LIVE_INTRO))

    def action_check_history(self) -> None:
        if self.session is None:
            self.notify("no cluster: no history", severity="warning")
            return
        history = self.session.history
        self.note("judging the clients' history ...")

        def work() -> None:
            result = history.check()
            text = f"history: {result.operations} operations, {result.verdict}"
            if result.blocked is not None:
                text += f"; cannot place {result.blocked.describe()}"
            self.call_from_thread(self.note, text)

        self.run_worker(work, thread=True, group="check")

    def note(self, text: str) -> None:
        at = self.snapshot.at
        self.notes.append((at, line((f"{at:8.3f}s ", "dim"), literal(text, 200))))
        self.show()


class LiveProposePrompt(ProposePrompt):
    def body(self) -> ComposeResult:
        yield Static(Text(f"A put of the key {PROPOSALS!r}, through this member."))
        yield self.make_input(placeholder="v1", id="value")
