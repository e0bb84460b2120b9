"""Every user command in one table: binding id, default keys, action, and the words of the app.

The table feeds the key bindings (and so the keymaps), the footer, the help screen and the
command palette, so the four can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    id: str  # binding id, `scope.verb`, used by keymap files
    keys: str  # default keys, comma separated, Textual key names
    action: str  # action on the app, with arguments when needed
    label: str  # short, for the footer and the command palette
    help: str  # one sentence for the help screen and the palette
    footer: bool = False


COMMANDS: list[Command] = [
    Command("sim.play", "space", "toggle_play", "Play", "Play or pause autoplay.", True),
    Command("sim.step", "n,right", "step", "Step", "Step one event forward.", True),
    Command(
        "sim.back",
        "b,left",
        "step_back",
        "Back",
        "Step one event back; acting there forks a new future.",
        True,
    ),
    Command(
        "sim.redo",
        "ctrl+r",
        "redo",
        "Redo",
        "Bring back the future that acting at an earlier step set aside (once).",
    ),
    Command(
        "sim.goto",
        "colon",
        "goto_step",
        "Go to step",
        "Go to step N of the timeline (a prompt; past the end the run goes on to N).",
    ),
    Command("sim.start", "less_than_sign", "goto_start", "Start", "Go to step 0."),
    Command(
        "sim.end",
        "greater_than_sign",
        "goto_end",
        "End",
        "Go to the last step of the timeline (after stepping back).",
    ),
    Command(
        "sim.prev_event",
        "left_square_bracket",
        "notable(-1)",
        "Previous event",
        "Back to the previous notable event: an action, a role change, a commit, a violation.",
    ),
    Command(
        "sim.next_event",
        "right_square_bracket",
        "notable(1)",
        "Next event",
        "On to the next notable event: an action, a role change, a commit, a violation.",
    ),
    Command(
        "sim.violation",
        "exclamation_mark",
        "goto_violation",
        "Go to violation",
        "Go to the step where a safety property was violated (the banner's step).",
    ),
    Command("sim.faster", "plus,equals_sign", "faster", "Faster", "Raise the autoplay speed."),
    Command("sim.slower", "minus", "slower", "Slower", "Lower the autoplay speed."),
    *(
        Command(
            f"node.select_{i}", str(i), f"select_node({i})", f"Select n{i}", f"Select node n{i}."
        )
        for i in range(1, 10)
    ),
    Command("node.next", "tab", "select_next(1)", "Next node", "Select the next node."),
    Command(
        "node.prev", "shift+tab", "select_next(-1)", "Previous node", "Select the previous node."
    ),
    Command(
        "node.inspect",
        "enter,v",
        "inspect",
        "Inspect",
        "Inspect the selected node: its whole log, chain, KV store and state (again: close).",
        True,
    ),
    Command(
        "node.propose",
        "p",
        "propose",
        "Propose",
        "Propose a value to the selected node (a prompt: Enter submits, Escape cancels).",
        True,
    ),
    Command(
        "node.crash",
        "x",
        "crash",
        "Crash",
        "Crash the selected node, or restart it if it is crashed.",
        True,
    ),
    Command(
        "node.campaign",
        "t",
        "campaign",
        "Campaign",
        "The selected node times out now (Raft) or starts phase 1 (Paxos).",
    ),
    Command(
        "sim.clients",
        "w",
        "clients",
        "Clients",
        "Start, change or stop a workload of K clients (a prompt: `3`, `3 keys=2 rate=5`, `off`).",
    ),
    Command(
        "net.partition",
        "g",
        "partition",
        "Partition",
        "Partition the network into groups, typed as `1 2 | 3 4 5` or picked from presets.",
        True,
    ),
    Command("node.isolate", "i", "isolate", "Isolate", "Cut the selected node off from the rest."),
    Command(
        "node.add",
        "A",
        "add_node",
        "Add node",
        "Raft: start a new, empty node and ask the leader to add it as a learner.",
    ),
    Command(
        "node.promote",
        "P",
        "promote_node",
        "Promote learner",
        "Raft: ask the leader to make the selected learner a voter (once it has caught up).",
    ),
    Command(
        "node.remove",
        "R",
        "remove_node",
        "Remove node",
        "Raft: ask the leader to remove the selected node from the configuration.",
    ),
    Command("net.heal", "h", "heal", "Heal", "Heal every partition.", True),
    Command(
        "net.settings",
        "l",
        "network",
        "Network",
        "Network settings: latency range, drop and duplicate probabilities.",
    ),
    Command(
        "msg.focus",
        "m",
        "focus_messages",
        "Messages",
        "Move through the messages in flight (↑↓ or j/k), the selected one in full (again: leave).",
        True,
    ),
    Command(
        "msg.deliver",
        "D",
        "message('deliver')",
        "Deliver message",
        "Deliver the selected message now, ahead of its turn.",
    ),
    Command("msg.drop", "X", "message('drop')", "Drop message", "Drop the selected message."),
    Command(
        "msg.duplicate",
        "C",
        "message('duplicate')",
        "Duplicate message",
        "Duplicate the selected message: a copy is sent along with it.",
    ),
    Command(
        "msg.hold_link",
        "H",
        "hold('link')",
        "Hold its link",
        "Hold the messages on the selected message's link (src->dst), or release them.",
    ),
    Command(
        "msg.hold_type",
        "T",
        "hold('type')",
        "Hold its type",
        "Hold every message of the selected message's type, or release them.",
    ),
    Command(
        "view.diagram",
        "d",
        "toggle_diagram",
        "Diagram",
        "Show or hide the space-time diagram: a lane per node, a row per event.",
    ),
    Command(
        "view.history",
        "c",
        "toggle_history",
        "History",
        "Show or hide the clients' history: a lane per client, judged linearizable or not.",
    ),
    Command(
        "view.operations",
        "u",
        "select_operation",
        "Operations",
        "Select operations in the history (↑↓ or j/k), their events marked in the diagram.",
    ),
    Command(
        "view.filter",
        "f",
        "diagram_filter",
        "Diagram filter",
        "Diagram filter: all events, no heartbeats, one message type.",
    ),
    Command(
        "view.older",
        "pageup",
        "diagram_scroll('older')",
        "Diagram: older",
        "Scroll the diagram a page back (it stops following).",
    ),
    Command(
        "view.newer",
        "pagedown",
        "diagram_scroll('newer')",
        "Diagram: newer",
        "Scroll the diagram a page forward.",
    ),
    Command(
        "view.oldest",
        "home",
        "diagram_scroll('oldest')",
        "Diagram: first step",
        "Scroll the diagram to the first step.",
    ),
    Command(
        "view.latest",
        "end",
        "diagram_scroll('latest')",
        "Diagram: follow",
        "Scroll the diagram to the current step and follow it.",
    ),
    Command(
        "app.algo",
        "a",
        "switch_algo",
        "Switch algorithm",
        "Switch between Raft and Multi-Paxos (resets with the same seed and node count).",
    ),
    Command(
        "app.open", "o", "open_preset", "Open lesson", "Open a lesson: a preset script, at step 0."
    ),
    Command("sim.reset", "r", "reset", "Reset", "Reset to step 0 with the same settings."),
    Command("app.save", "s", "save_trace", "Save trace", "Save the trace of this session."),
    Command(
        "app.load",
        "O",
        "open_trace",
        "Open trace",
        "Open a saved trace (a damaged file changes nothing).",
    ),
    Command(
        "app.export_svg",
        "e",
        "export_diagram",
        "Export diagram",
        "Export the space-time diagram as an SVG file.",
    ),
    Command(
        "app.export_history",
        "ctrl+e",
        "export_history",
        "Export history",
        "Export the clients' history as an SVG file.",
    ),
    Command(
        "app.export_log",
        "E",
        "export_log",
        "Export event log",
        "Export the event log as a plain-text file.",
    ),
    Command("app.help", "question_mark", "help", "Help", "Show every key and what it does.", True),
    Command(
        "app.legend",
        "k",
        "legend",
        "Legend",
        "What every glyph, colour and abbreviation on screen means.",
        True,
    ),
    Command("app.quit", "q", "quit", "Quit", "Quit the app.", True),
]

BY_ID = {c.id: c for c in COMMANDS}


def bindings() -> list[Binding]:
    return [Binding(c.keys, f"app.{c.action}", c.label, show=c.footer, id=c.id) for c in COMMANDS]


def default_keymap() -> dict[str, str]:
    return {c.id: c.keys for c in COMMANDS}
