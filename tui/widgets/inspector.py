"""The node inspector: everything one node holds at the current step, whole, in one view.

`inspect_lines(sim, node_id)` turns the node's state into lines: persistent and volatile state
apart, a leader's view of its followers, the whole log or slot table, the chain and the
key-value store. The `Inspector` shows them in a ScrollLines view, so only the rows on screen
are rendered, and is handed new lines whenever the simulator moves.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding

from engines.core.chain import Block
from engines.core.sim import Simulator
from tui.changes import persisted
from tui.text import ballot, count, line, literal, node_label, short_hash
from tui.widgets.lines import ScrollLines
from tui.widgets.nodes import config_lines, raft_entry, slot_lines, value_text

WIDE = 400  # cells a value may take before it is cut; the view cuts lines at its width


def heading(title: str) -> Text:
    return line((title, "bold underline"))


def indented(text: Text) -> Text:
    return Text.assemble("  ", text, no_wrap=True, end="")


def field_line(*pairs: tuple[str, object]) -> Text:
    """`name value` pairs on one line, names dim."""
    parts: list[tuple[str, str] | str] = []
    for name, value in pairs:
        parts += [(f"  {name} ", "dim"), literal(value, WIDE)]
    return line(*parts)


def inspect_lines(sim: Simulator, node_id: int) -> list[Text]:
    algo = sim.protocol.name
    if not sim.is_up(node_id):
        return crashed_sections(algo, persisted(algo, sim.world.down[node_id]))
    node = sim.nodes[node_id]
    state = node.describe()
    if algo == "raft":
        body = raft_sections(sim, node, state)
    elif algo == "paxos":
        body = paxos_sections(state)
    else:
        body = [heading("state"), *(field_line((k, v)) for k, v in state.items())]
    return body + chain_section(node.sm.chain) + kv_section(node.sm.kv)


# --- Raft ------------------------------------------------------------------------------------
def raft_sections(sim: Simulator, node, state: dict) -> list[Text]:
    log = state["log"]
    lines = [
        heading("persistent (kept across a crash)"),
        field_line(("term", state["term"]), ("vote", node_label(state["voted_for"]))),
        field_line(("log", f"{count(len(log), 'entry', 'entries')}, below")),
        heading("volatile (lost in a crash)"),
        field_line(
            ("role", state["role"]),
            ("lead", node_label(state["leader"])),
            ("commit", state["commit_index"]),
        ),
        field_line(("election timer", election_timer(sim, node.id, state))),
    ]
    lines += config_lines(node.id, state.get("config"))
    lines += followers_section(sim, node.progress())
    lines.append(heading("log (● committed, ○ not yet)"))
    commit = state["commit_index"]
    lines += [indented(raft_entry(e, commit, WIDE)) for e in log] or [empty("log empty")]
    return lines


def election_timer(sim: Simulator, node_id: int, state: dict) -> str:
    deadline = sim.timer_deadline(node_id, "election")
    if deadline is None:
        return "none (a leader sends heartbeats instead)"
    return f"{deadline - sim.now}ms left of {state['election_timeout']}ms"


def followers_section(sim: Simulator, progress: dict[int, tuple[int, int, int]]) -> list[Text]:
    """A leader's view of each follower; nothing on a node that does not lead."""
    if not progress:
        return []
    lines = [heading("followers (the leader's view)")]
    lines.append(line(("  node  next  match  last heard", "dim")))
    for peer, (next_index, match, heard) in sorted(progress.items()):
        ago = f"{sim.now - heard}ms ago"
        lines.append(line(f"  n{peer:<4}{next_index:>5}{match:>7}  ", (ago, "dim")))
    return lines


# --- Paxos -----------------------------------------------------------------------------------
def paxos_sections(state: dict) -> list[Text]:
    pending = state["pending"]
    lines = [
        heading("persistent (kept across a crash)"),
        field_line(("promised", ballot(state["promised"]))),
        field_line(("accepted", f"{count(len(state['accepted']), 'slot')}, below")),
        heading("volatile (lost in a crash)"),
        field_line(
            ("role", state["role"]),
            ("phase", state["phase"]),
            ("own ballot", ballot(state["ballot"])),
            ("lead", node_label(state["leader"])),
        ),
        field_line(("applied", state["applied"]), ("pending", len(pending))),
        *(field_line((pid, value_text(value, WIDE))) for pid, value in pending),
    ]
    return lines + slots_section(state)


def slots_section(state: dict) -> list[Text]:
    slots = len(state["accepted"].keys() | state.get("chosen", {}).keys())
    title = "slots (✓ chosen, · accepted here: ballot, value)"
    return [heading(title), *map(indented, slot_lines(state, max(1, slots), WIDE))]


# --- a crashed node --------------------------------------------------------------------------
def crashed_sections(algo: str, state: dict) -> list[Text]:
    lines = [heading("persistent (what the crash kept)")]
    if algo == "raft":
        log = state["log"]
        lines.append(field_line(("term", state["term"]), ("vote", node_label(state["voted_for"]))))
        lines.append(heading("log (· commit unknown until a leader says)"))
        lines += [indented(raft_entry(e, None, WIDE)) for e in log] or [empty("log empty")]
    elif algo == "paxos":
        lines.append(field_line(("promised", ballot(state["promised"]))))
        lines += slots_section(state)
    else:
        lines += [field_line((k, v)) for k, v in state.items()]
    lost = "role, commit point, chain and key-value store: rebuilt after a restart"
    return lines + [heading("volatile (lost in the crash)"), line(("  " + lost, "dim"))]


# --- shared sections -------------------------------------------------------------------------
def chain_section(chain: list[Block]) -> list[Text]:
    lines = [heading(f"chain ({count(len(chain) - 1, 'block')} after genesis)")]
    for block in chain:
        link = f"←{short_hash(block.prev_hash)}" if block.index else " genesis"
        data = f"  {literal(block.data, WIDE)}" if block.index else ""
        lines.append(
            line(
                (f"  #{block.index} ", "bold"),
                (short_hash(block.hash), "cyan"),
                (link, "dim"),
                data,
            )
        )
    return lines


def kv_section(kv: dict[str, str]) -> list[Text]:
    lines = [heading(f"key-value store ({count(len(kv), 'key')})")]
    pairs = sorted(kv.items())
    rows = [line("  ", literal(k, WIDE), (" = ", "dim"), literal(v, WIDE)) for k, v in pairs]
    return lines + (rows or [empty("empty")])


def empty(text: str) -> Text:
    return line((f"  {text}", "dim"))


# --- the view ---------------------------------------------------------------------------------
class Inspector(ScrollLines):
    """The inspector pane, in place of the node panels while it is open."""

    DEFAULT_CSS = """
    Inspector {
        height: 1fr;
        display: none;
        border: heavy $accent;
        border-title-align: left;
        border-subtitle-align: right;
        padding: 0 1;
    }
    Inspector.-shown { display: block; }
    """
    BINDINGS = [
        Binding("up", "scroll_up", "Scroll up", show=False),
        Binding("down", "scroll_down", "Scroll down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "scroll_home", "Top", show=False),
        Binding("end", "scroll_end", "Bottom", show=False),
        Binding("escape", "app.inspect", "Close", show=False),
    ]
    inherit_bindings = False  # left and right stay with the screen: they step through time

    def __init__(self) -> None:
        super().__init__(id="inspector")
        self.can_focus = True

    def show(self, sim: Simulator, node_id: int) -> None:
        up = sim.is_up(node_id)
        role = sim.nodes[node_id].role if up else "crashed"
        self.border_title = f"inspect n{node_id} · {role.upper()}"
        self.border_subtitle = "↑↓ PgUp PgDn Home End scroll · Esc closes"
        self.set_lines(inspect_lines(sim, node_id))
