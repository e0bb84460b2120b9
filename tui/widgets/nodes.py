"""Node panels: one bordered panel per node, in a grid that adapts to the terminal width.

`NodeGrid.show(sim, selected)` reads the simulator once per frame and hands each panel a
`NodeView`: plain data, compared with the last one so an unchanged panel is not redrawn.
Each panel turns its view into lines in `relayout`, fitting the sections to its height.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.containers import Grid

from engines.core.node import node_names
from engines.core.sim import Simulator
from tui.changes import UNCHANGED, NodeChanges, Shot
from tui.text import ballot, bar, line, literal, node_label, node_style, short_hash
from tui.widgets.lines import LineView

ROLE_STYLE = {
    "leader": "bold black on green",
    "candidate": "bold black on yellow",
    "precandidate": "bold black on #d7af5f",
    "follower": "bold black on #5f87af",
    "proposer": "bold black on yellow",
    "acceptor": "bold black on #5f87af",
    "crashed": "bold white on red",
}
MIN_PANEL_WIDTH = 26
TIMER_BAR = 6
MAX_ENTRIES = 8  # log entries or Paxos slots shown at most (a shot holds twice as many)
CHANGED = "on #5f5f00"  # what the last step changed, until the next step
DELETED = "red dim strike"  # log entries the last step deleted


@dataclass(eq=True)
class NodeView:
    """Everything a panel shows, captured from the simulator at one step."""

    node_id: int
    algo: str
    up: bool
    selected: bool
    group: str  # partition group letter, "" when the network is whole
    state: dict[str, Any] = field(default_factory=dict)  # describe(), or persisted() when down
    chain: list[tuple[int, str, str]] = field(default_factory=list)  # (index, hash, prev_hash)
    diverged: tuple[int, str, str] | None = None  # first differing block, when chains diverge
    kv: list[tuple[str, str]] = field(default_factory=list)
    timer: tuple[int, int] | None = None  # (ms left on the election timer, full timeout)
    changes: NodeChanges = UNCHANGED  # what the last step changed here
    stale: str = ""  # why a node in the leader role no longer leads, if it does not


def first_divergence(sim: Simulator) -> int | None:
    """Lowest block index at which two live nodes hold different blocks, if any."""
    chains = [sim.nodes[i].sm.chain for i in sim.node_ids if sim.is_up(i)]
    first = None
    for a in range(len(chains)):
        for b in range(a + 1, len(chains)):
            x, y = chains[a], chains[b]
            common = min(len(x), len(y)) - 1
            if x[common].hash == y[common].hash:
                continue  # hash links: equal at `common` means equal below it too
            low, high = 0, common  # x[low] agrees, x[high] differs
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if x[mid].hash == y[mid].hash else (low, mid)
            first = high if first is None else min(first, high)
    return first


def group_letters(sim: Simulator) -> dict[int, str]:
    groups = sim.network.groups()
    if len(groups) == 1:
        return {}
    return {n: string.ascii_uppercase[g] for g, members in enumerate(groups) for n in members}


def node_view(
    sim: Simulator, shot: Shot, node_id: int, selected: bool, group: str, diverge: int | None
) -> NodeView:
    view = NodeView(node_id, sim.protocol.name, shot.up, selected, group, shot.state, shot.chain)
    if not view.up:
        return view
    node = sim.nodes[node_id]
    node = sim.nodes[node_id]
    founding = {"voters": sim.founders, "learners": [], "old": None}
    if view.state.get("config") == founding and node_id in sim.founders:
        # a founder in the cluster as it booted: nothing to say (the shot keeps its state)
        view.state = {k: v for k, v in view.state.items() if k != "config"}
    chain = node.sm.chain
    if diverge is not None and diverge < len(chain):
        b = chain[diverge]
        view.diverged = (b.index, b.hash, b.prev_hash)
    view.kv = sorted(node.sm.kv.items())
    deadline = sim.timer_deadline(node_id, "election")
    if deadline is not None and "election_timeout" in view.state:
        view.timer = (deadline - sim.now, view.state["election_timeout"])
    return view


def stale_reason(sim: Simulator, shots: dict[int, Shot], node_id: int) -> str:
    """Why a live node in the leader role is stale, or "": another live node is in a higher
    term (Raft) or promised a higher ballot than the leader's own (Paxos), or the leader
    cannot reach a quorum of its configuration (up, and linked both ways)."""
    shot = shots[node_id]
    if shot.role != "leader":
        return ""
    raft = "term" in shot.state
    mine = shot.state["term"] if raft else shot.state.get("ballot")
    for other, s in sorted(shots.items()):
        theirs = s.state.get("term" if raft else "promised")
        if s.up and theirs is not None and theirs > mine:
            higher = f"term {theirs}" if raft else f"ballot {ballot(theirs)}"
            return f"n{other} is in {higher}"
    node = sim.nodes[node_id]
    reach = sim.reachable(node_id)
    if not node.is_quorum(reach):  # the engine judges, by the node's own configuration
        return "; ".join(
            f"reaches {len(set(reach).intersection(group))} of {node_names(group)}, "
            f"needs {len(group) // 2 + 1}"
            for group in node.voter_groups()
            if len(set(reach).intersection(group)) <= len(group) // 2
        )
    return ""


class NodePanel(LineView):
    """One node: title and role badge in the border, state lines inside."""

    DEFAULT_CSS = """
    NodePanel {
        border: round $panel-lighten-2;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 1;
        height: 1fr;
    }
    NodePanel.-selected { border: heavy $accent; }
    NodePanel.-down { color: $text-disabled; border: round $error 50%; }
    NodePanel.-down.-selected { border: heavy $error; }
    """

    def __init__(self, node_id: int) -> None:
        super().__init__(id=f"node-{node_id}")
        self.node_id = node_id
        self.view: NodeView | None = None

    def show(self, view: NodeView) -> None:
        if view == self.view:
            return
        self.view = view
        self.set_class(view.selected, "-selected")
        self.set_class(not view.up, "-down")
        role = view.state.get("role", "?") if view.up else "crashed"
        mark = "▶ " if view.selected else ""
        badge = f"[{ROLE_STYLE.get(role, 'bold')}] {role.upper()} [/]"
        if "role" in view.changes.fields:  # the diagram's marks: ★ elected, ◆ another role
            badge += f"[{CHANGED}]{'★' if role == 'leader' else '◆'}[/]"
        name = f"[{node_style(view.node_id)}]n{view.node_id}[/]"
        self.set_titles(f"{mark}{name} {badge}", f"group {view.group}" if view.group else "")
        self.relayout()

    def relayout(self) -> None:
        view = self.view
        if view is None:
            return
        height, width = self.rows, max(8, self.size.width)
        if not view.up:
            lines = crashed_lines(view, height, width)
        elif view.algo == "paxos":
            lines = paxos_lines(view, height, width)
        elif view.algo == "raft":
            lines = raft_lines(view, height, width)
        else:
            lines = generic_lines(view, height, width)
        self.set_lines(lines[:height])


# --- Raft ------------------------------------------------------------------------------------
def marked(text: str, style: str, changed: bool) -> tuple[str, str]:
    """A value, on the change background when the last step changed it."""
    return (text, f"{style} {CHANGED}" if changed else style)


def raft_lines(view: NodeView, height: int, width: int) -> list[Text]:
    s, changed = view.state, view.changes.fields
    head = [
        line(
            ("term ", "dim"),
            marked(str(s.get("term")), "bold", "term" in changed),
            (" vote ", "dim"),
            marked(node_label(s.get("voted_for")), "", "voted_for" in changed),
            (" lead ", "dim"),
            marked(node_label(s.get("leader")), "", "leader" in changed),
        ),
        line(
            ("commit ", "dim"),
            marked(str(s.get("commit_index")), "bold", "commit_index" in changed),
            " ",
            *timer_parts(view),
        ),
    ]
    if view.stale:
        head.append(line((" STALE ", "bold white on red"), (f" {view.stale}", "red")))
    votes = s.get("votes")
    if votes:  # a (pre)candidate's tally: who granted it, of the majority it needs
        who = " ".join(f"n{v}" for v in votes)
        tally = f" ({len(votes)}/{s['majority']})"
        head.append(line(("votes ", "dim"), marked(who, "", "votes" in changed), (tally, "dim")))
    head += config_lines(view.node_id, s.get("config"))
    match = s.get("match_index")
    if s.get("role") == "leader" and match:
        pairs = " ".join(f"n{p}:{i}" for p, i in sorted(match.items(), key=lambda kv: int(kv[0])))
        head.append(line(("match ", "dim"), marked(pairs, "", "match_index" in changed)))
    log = log_rows_shown(s.get("log", []), view.changes)
    snapshot = snapshot_line(s)
    shown = len(log) + (snapshot is not None)
    log_rows, chain_rows, kv_rows = section_sizes(height - len(head), shown, len(view.chain))
    commit = s.get("commit_index", 0)
    rows = window(log, log_rows)
    body = [raft_entry(e, commit, width, view.changes, deleted) for e, deleted in rows]
    if snapshot is not None and len(rows) < log_rows:  # the whole log fits, and the point too
        body.insert(0, snapshot)
    if log_rows and not body:
        body = [line(("log empty", "dim"))]
    return head + body + chain_lines(view, chain_rows) + kv_lines(view, kv_rows)


def log_rows_shown(log: list, changes: NodeChanges) -> list:
    """The log with the entries the last step deleted back in place, each before the entry
    that replaced it: (entry, deleted)."""
    rows = [(tuple(e), False) for e in log] + [(e, True) for e in changes.deleted]
    return sorted(rows, key=lambda row: (row[0][0], not row[1]))


def window(rows: list, size: int) -> list:
    """The last `size` rows, or when the last step deleted entries, the rows from the first
    deleted one: a short panel still shows what was deleted and what replaced it."""
    if size <= 0:
        return []
    deleted = [k for k, (_, gone) in enumerate(rows) if gone]
    start = len(rows) - size if not deleted else min(deleted[0], len(rows) - size)
    return rows[max(0, start) : max(0, start) + size]


def snapshot_line(state: dict) -> Text | None:
    """The snapshot point, shown before the log when the log starts just past it (the
    entries up through it are compacted away, section 7)."""
    log, snap = state.get("log", []), state.get("snapshot")
    if snap is None or (log and log[0][0] != snap[0] + 1):
        return None
    index, term = snap
    return line((f"▣{index:>3} ", "green"), (f"t{term} ", "dim"), ("snapshot", "green italic"))


def timer_parts(view: NodeView) -> list[tuple[str, str]]:
    if view.timer is None:
        return [("no timer", "dim")]
    left, full = view.timer
    fraction = left / full if full else 0
    style = "red" if fraction < 0.25 else "yellow" if fraction < 0.5 else "green"
    return [(bar(fraction, TIMER_BAR), style), (f" {left}ms", "dim")]


def config_lines(node_id: int, config: dict | None) -> list[Text]:
    """The configuration in force at the node, when it is not simply the founders: voters
    (a joint one as old + new), learners apart, and a mark when the node is outside it."""
    if not config:
        return []
    voters, old, learners = config["voters"], config["old"], config["learners"]
    if old is not None:
        parts = [("joint ", "dim"), node_names(old, empty="none"), (" + ", "bold")]
        parts.append(node_names(voters, empty="none"))
    else:
        parts = [("config ", "dim"), node_names(voters, empty="none")]
    rows = [line(*parts)]
    if learners:
        rows.append(line(("learners ", "dim"), (node_names(learners), "cyan")))
    if node_id not in {*voters, *(old or ())}:
        outside = "learner: never votes" if node_id in learners else "not in its configuration"
        rows.append(line((outside, "italic magenta")))
    return rows


def raft_entry(
    entry: list | tuple,
    commit: int | None,
    width: int,
    changes: NodeChanges = UNCHANGED,
    deleted: bool = False,
) -> Text:
    """One log entry: ● committed, ○ not yet, · unknown (a crashed node forgot its commit);
    ✗ struck through: deleted by the last step; on the change background: added by it; a
    configuration entry shows its configuration."""
    index, term, value = entry[0], entry[1], entry[2]
    if len(entry) > 4:
        value = f"config {entry[4]}"
    if deleted:
        mark, style = "✗", DELETED
    elif commit is None:
        mark, style = "·", "dim"
    elif index <= commit:
        mark, style = "●", "green"
    else:
        mark, style = "○", "yellow italic"
    text = value_text(value, width)
    added = not deleted and index in changes.entries
    return line(
        marked(f"{mark}{index:>3} ", style, added),
        marked(f"t{term} ", DELETED if deleted else "dim", added),
        marked(text, style, added),
    )


# --- Paxos -----------------------------------------------------------------------------------
def paxos_lines(view: NodeView, height: int, width: int) -> list[Text]:
    s, changed = view.state, view.changes.fields
    phase = s.get("phase", "idle")
    head = [
        line(
            ("ballot ", "dim"),
            marked(ballot(s.get("promised")), "bold", "promised" in changed),
            (" lead ", "dim"),
            marked(node_label(s.get("leader")), "", "leader" in changed),
        ),
        line(
            marked(
                phase.replace("phase", "phase "),
                "bold" if phase != "idle" else "dim",
                "phase" in changed,
            ),
            (" mine ", "dim"),
            marked(ballot(s.get("ballot")), "", "ballot" in changed),
            (" applied ", "dim"),
            str(s.get("applied", 0)),
        ),
    ]
    if view.stale:
        head.append(line((" STALE ", "bold white on red"), (f" {view.stale}", "red")))
    pending = s.get("pending", [])
    if pending:
        values = ", ".join(literal(v, 12) for _, v in pending)
        head.append(line((f"pending {len(pending)}: ", "yellow"), values))
    slots = len(s.get("accepted", {}).keys() | s.get("chosen", {}).keys())
    slot_rows, chain_rows, kv_rows = section_sizes(height - len(head), slots, len(view.chain))
    return (
        head
        + slot_lines(s, slot_rows, width, view.changes)
        + chain_lines(view, chain_rows)
        + kv_lines(view, kv_rows)
    )


def slot_lines(state: dict, rows: int, width: int, changes: NodeChanges = UNCHANGED) -> list[Text]:
    """One slot a line: ✓ chosen, · accepted only; on the change background: new or
    rewritten by the last step."""
    accepted = {int(k): v for k, v in state.get("accepted", {}).items()}
    chosen = {int(k): v for k, v in state.get("chosen", {}).items()}
    slots = sorted(set(accepted) | set(chosen))[-rows:] if rows else []
    if rows and not slots:
        return [line(("no slots accepted", "dim"))]
    out = []
    for slot in slots:
        acc = accepted.get(slot)
        bal = ballot(acc[0]) if acc else "-"
        new = slot in changes.entries
        if slot in chosen:
            value, _, duplicate = chosen[slot]
            mark, style, tag = "✓", "green", " dup" if duplicate else ""
        else:
            value, mark, style, tag = acc[1], "·", "yellow italic", ""
        out.append(
            line(
                marked(f"{mark}s{slot} ", style.split()[0], new),
                marked(f"{bal} ", "dim", new),
                marked(value_text(value, width), style, new),
                (tag, "dim"),
            )
        )
    return out


# --- shared sections -------------------------------------------------------------------------
def section_sizes(rows: int, entries: int, blocks: int) -> tuple[int, int, int]:
    """Share the rows under the header between log/slots, chain and KV: each section gets a
    fair share first, then the log and the chain take what the others leave."""
    rows = max(0, rows)
    kv = 1 if rows >= 3 else 0
    rows -= kv
    chain = min(blocks, max(1 if rows >= 2 else 0, rows // 3))
    entries = min(max(entries, 1), rows - chain, MAX_ENTRIES)
    chain = min(blocks, rows - entries)
    return entries, chain, kv


def value_text(value: Any, width: int) -> str:
    return "(no-op)" if value is None else literal(value, width)


def chain_lines(view: NodeView, rows: int) -> list[Text]:
    """The last blocks: `#index hash←prev`; ≠ in red: the first block where chains differ;
    on the change background: added by the last step."""
    if rows <= 0:
        return []
    blocks = view.chain[-rows:]
    if view.diverged and view.diverged not in blocks:
        blocks = [view.diverged] + blocks[1:] if len(blocks) == rows else [view.diverged, *blocks]
    out = []
    for block in blocks:
        index, digest, prev = block
        if block == view.diverged:
            out.append(
                line(
                    (f"≠#{index} {short_hash(digest)}←{short_hash(prev)[:8]}", "bold white on red")
                )
            )
        else:
            new = index in view.changes.blocks
            link = "←" + short_hash(prev) if index else " genesis"
            out.append(
                line(
                    marked(f"#{index} ", "bold", new),
                    marked(short_hash(digest), "cyan", new),
                    marked(link, "dim", new),
                )
            )
    return out


def kv_lines(view: NodeView, rows: int) -> list[Text]:
    if rows <= 0:
        return []
    if not view.kv:
        return [line(("kv {}", "dim"))]
    pairs = " ".join(f"{literal(k, 10)}={literal(v, 12)}" for k, v in view.kv)
    return [line(("kv ", "dim"), pairs)]


def crashed_lines(view: NodeView, height: int, width: int) -> list[Text]:
    """A crashed node keeps only its persistent state: show what will survive, in the words
    of a live panel."""
    s = view.state
    head = [line(("down; persistent state:", "italic"))]
    if view.algo == "raft":
        head.append(
            line(
                ("term ", "dim"),
                (str(s.get("term")), "bold"),
                (" vote ", "dim"),
                node_label(s.get("voted_for")),
            )
        )
        rows = max(0, height - len(head))
        snapshot = snapshot_line(s)
        log = [snapshot] if snapshot is not None else []
        log += [raft_entry(e, None, width) for e in s.get("log", [])]
        body = log[-rows:] if rows else []
        return head + (body if log else [line(("log empty", "dim"))])
    if view.algo == "paxos":
        head.append(line(("ballot ", "dim"), (ballot(s.get("promised")), "bold")))
        return head + slot_lines(s, max(1, height - len(head)), width)
    return head + [line(f"{key} ", literal(value, width)) for key, value in s.items()]


def generic_lines(view: NodeView, height: int, width: int) -> list[Text]:
    """Any other registered protocol (the tests' echo protocol): its describe() as is."""
    lines = [line(f"{k} ", literal(v, width)) for k, v in view.state.items() if k != "role"]
    rows = max(0, height - len(lines))
    _, chain_rows, kv_rows = section_sizes(rows, 0, len(view.chain))
    return lines + chain_lines(view, chain_rows) + kv_lines(view, kv_rows)


# --- the grid ---------------------------------------------------------------------------------
def grid_shape(count: int, width: int) -> tuple[int, int]:
    """(columns, rows) for `count` panels: as few rows as fit, then balanced columns."""
    max_columns = max(1, min(count, width // MIN_PANEL_WIDTH))
    rows = math.ceil(count / max_columns)
    return math.ceil(count / rows), rows


class NodeGrid(Grid):
    DEFAULT_CSS = """
    NodeGrid { grid-gutter: 0 0; height: 1fr; }
    """

    def __init__(self, node_ids: list[int]) -> None:
        super().__init__(id="nodes")
        self.node_ids = list(node_ids)

    def compose(self):
        for node_id in self.node_ids:
            yield NodePanel(node_id)

    def on_resize(self) -> None:
        columns, rows = grid_shape(len(self.node_ids), self.size.width)
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows

    def follow_nodes(self, node_ids: list[int]) -> bool:
        """A panel for each node there is now: a node added (or, stepping back before its
        addition, taken away again) gets or loses its panel. True when panels changed."""
        if node_ids == self.node_ids:
            return False
        for panel in self.query(NodePanel):
            if panel.node_id not in node_ids:
                panel.remove()
        self.mount(*(NodePanel(i) for i in node_ids if i not in self.node_ids))
        self.node_ids = list(node_ids)
        self.on_resize()
        return True

    def show(
        self,
        sim: Simulator,
        selected: int,
        shots: dict[int, Shot],
        changes: dict[int, NodeChanges],
    ) -> None:
        if not self.is_mounted or self.follow_nodes(sim.node_ids):
            # once the panels are up
            self.call_after_refresh(self.show, sim, selected, shots, changes)
            return
        letters = group_letters(sim)
        diverge = first_divergence(sim)
        for panel in self.query(NodePanel):
            node_id = panel.node_id
            if node_id not in self.node_ids:
                continue  # being removed
            group = letters.get(node_id, "")
            view = node_view(sim, shots[node_id], node_id, node_id == selected, group, diverge)
            view.changes = changes.get(node_id, UNCHANGED)
            view.stale = stale_reason(sim, shots, node_id)
            panel.show(view)
