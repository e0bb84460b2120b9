"""The legend: every glyph, colour and abbreviation on screen, drawn in the widgets' own styles,
and what it means. The help screen shows it under the keys; it also has a key of its own.

The samples take their styles (and the diagram's message labels) from the widgets and the
engines' message types, so the legend shows what the screen draws."""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from engines.core.protocols import Protocol
from tui.screens.prompts import Sheet
from tui.spacetime import (
    ACTION_MARKS,
    COMMIT_MARK,
    DROP,
    LEADER_MARK,
    NOTE_STYLES,
    PATH,
    REPLIES,
    ROLE_MARK,
    TIMER_MARK,
    type_colour,
)
from tui.text import NODE_COLOURS, bar, node_style
from tui.widgets.nodes import CHANGED, DELETED, ROLE_STYLE, TIMER_BAR
from tui.widgets.panels import FATES, NOTE_STYLE

Sample = Text | str
Row = tuple[Sample, str]

ROLES = {
    "leader": "leads its term (Raft) or holds a ballot a majority promised (Paxos)",
    "candidate": "asks for votes in its term (§5.2)",
    "precandidate": "asks for pre-votes before it raises its term (PreVote, dissertation 9.6)",
    "follower": "answers a leader and candidates",
    "proposer": "runs phase 1 or 2 with its own ballot",
    "acceptor": "promises and accepts others' ballots",
    "crashed": "down: only its persistent state is kept",
}


def sample(*parts: str | tuple[str, str | Style]) -> Text:
    return Text.assemble(*parts)


def panel_rows() -> list[Row]:
    rows: list[Row] = [
        (sample((f" {role.upper()} ", ROLE_STYLE[role])), meaning)
        for role, meaning in ROLES.items()
    ]
    colours = Text(" ").join(Text(f"n{i}", node_style(i)) for i in range(1, len(NODE_COLOURS) + 1))
    rows += [
        (colours, "each node's colour: its panel, the diagram, the network pane, the events"),
        ("▶ n1, heavy border", "the selected node (1..9, tab)"),
        (
            sample(("1", CHANGED), " ", ("★", CHANGED), " ", ("◆", CHANGED)),
            "on this background: changed by the last step, until the next one; after the "
            "role, ★: it just became leader, ◆: it just took another role",
        ),
        (sample(("✗  3 t1 x", DELETED)), "struck through: a log entry the last step deleted"),
        (
            sample((" STALE ", "bold white on red")),
            "a leader that is not one any more: a live node is in a higher term (or promised "
            "a higher ballot), or it cannot reach a majority",
        ),
        ("term 2", "Raft's term: the election period it is in (§5.1)"),
        ("vote n3", "whom it voted for in this term (- none)"),
        ("lead n1", "the leader it knows of (- none)"),
        ("commit 3", "the highest log index it knows committed"),
        (
            sample((bar(0.6, TIMER_BAR), "green"), (" 120ms", "dim")),
            "election timer: the time left before it campaigns (green, then yellow under "
            "half, red under a quarter)",
        ),
        ("no timer", "a leader's: it sends heartbeats instead"),
        ("votes n1 n4 (2/3)", "a (pre)candidate's tally: granted by, of the majority"),
        ("match n2:4 n3:3", "a leader's matchIndex: the last entry known on each"),
        (
            sample(("●  3 ", "green"), ("t2 ", "dim"), ("x", "green")),
            "log entry 3, of term 2: committed",
        ),
        (sample(("○  4 ", "yellow italic"), ("t2", "dim")), "not committed yet"),
        (sample(("·  4 ", "dim")), "commit unknown (a crashed node forgets it)"),
        ("ballot 2.1", "Paxos: the highest ballot promised (round.node)"),
        ("mine 2.1", "the ballot it proposes with itself (- none)"),
        ("phase 1 / phase 2", "its proposer's phase (idle: none)"),
        ("applied 3", "slots applied to its state machine"),
        ("pending 2: x", "client values waiting for a slot"),
        (
            sample(("✓s2 ", "green"), ("1.3 ", "dim"), ("x", "green")),
            "slot 2 chosen, accepted in ballot 1.3 (dup: a repeat, applied as a no-op)",
        ),
        (sample(("·s3 ", "yellow"), ("1.3 ", "dim")), "accepted, not known chosen"),
        (
            sample(("#3 ", "bold"), ("1a2b3c4d", "cyan"), ("←9f8e7d6c", "dim")),
            "chain block 3, its hash and its predecessor's (genesis: block 0)",
        ),
        (sample(("≠#3", "bold white on red")), "the first block where live chains differ"),
        ("kv x=1", "the key-value store its chain replays to"),
        ("group A", "its partition group"),
    ]
    return rows


def status_rows() -> list[Row]:
    return [
        (sample((" SAFE ", "bold black on green")), "every invariant holds (UNSAFE: one broke)"),
        ("▶ / paused  20/s", "autoplay and its speed"),
        ("step 40/52  t=0.412s", "the step shown, of the timeline's last; simulated time"),
        ("net whole / n1 n2 | n3", "the network, or its partition groups"),
        (sample(("bug figure8", "bold red")), "the rule broken on purpose (the bug lab)"),
        (
            sample(("PreVote", "bold cyan"), "  ", ("CheckQuorum", "bold cyan")),
            "Raft's election options, each named when it is on (dissertation 9.6, 6.2)",
        ),
        ("seed 1  sel n1", "the run's seed, the selected node"),
        ("step 41 …", "the strip under it: what the step did, and why"),
    ]


def network_rows() -> list[Row]:
    rows: list[Row] = [
        (
            sample(("  12ms ", "dim"), ("n1", node_style(1)), "→", ("n2", node_style(2))),
            "a message due in 12 ms, from n1 to n2 (m moves through them)",
        )
    ]
    rows += [(sample((tag, style)), meaning) for tag, (style, meaning) in FATES.items()]
    rows.append((sample(("n1→n2", "dim strike")), "struck through: it will not arrive"))
    return rows


def event_rows() -> list[Row]:
    tones = {
        "role": ("n4 became LEADER…", "a role change"),
        "commit": ("n4 commits…", "a commit (or a value chosen)"),
        "reject": ("n4 refuses…", "a refusal, a rejection, a deletion"),
        "info": ("n4 votes…", "another decision"),
    }
    rows: list[Row] = [("  41  0.412s n4", "step, simulated time, the node that handled it")]
    rows += [
        (sample((text, NOTE_STYLE[t])), f"the reason for {m}") for t, (text, m) in tones.items()
    ]
    rows.append((sample(("✗", "bold red")), "a message dropped"))
    return rows


def diagram_rows(protocol: Protocol) -> list[Row]:
    rows: list[Row] = [
        ("│ / ┊", "a node's lane: up / down; coloured by partition group"),
        ("├──AE──▶", "a message delivered, from the sender's tick to the receiver"),
        (sample(("├╌╌AE╌✗", DROP)), "a message dropped (why: at the right)"),
    ]
    for kind in protocol.messages:
        name = kind.__name__
        pair = REPLIES.get(name)
        labels = f"{pair[0]} / {pair[1]}" if pair else kind.short
        meaning = f"{name} (yes / no: granted or refused)" if pair else name
        rows.append((sample((labels, f"bold {type_colour(name)}")), meaning))
    rows += [
        (sample(("★", LEADER_MARK)), "became leader"),
        (sample(("◆", ROLE_MARK)), "took another role"),
        (sample(("✓", COMMIT_MARK)), "committed"),
        (sample(("○", TIMER_MARK)), "a timer fired (dim: a heartbeat's)"),
    ]
    what = {"propose": "a proposal", "crash": "a crash", "restart": "a restart"}
    what["campaign"] = "a campaign (t)"
    rows += [(sample((mark, style)), what[k]) for k, (mark, style) in ACTION_MARKS.items()]
    rows += [
        (sample(("┄A┄┄B┄", "yellow")), "a partition, each lane's group"),
        (sample(("═╪══╪═", "green")), "the network healed"),
        ("▶ (row)", "the current step"),
        (sample(("●┃┃", PATH)), "the current message's way down from its send"),
    ]
    rows += [(sample(("text", s)), f"a {t} note") for t, s in NOTE_STYLES.items() if t != "info"]
    return rows


def legend_table(protocol: Protocol) -> Table:
    sections = (
        ("node panels", panel_rows()),
        ("status bar and strip", status_rows()),
        ("network pane", network_rows()),
        ("event log", event_rows()),
        ("space-time diagram (d)", diagram_rows(protocol)),
    )
    table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column()
    for title, rows in sections:
        table.add_row(Text(title, "bold underline"), "")
        for shown, meaning in rows:
            table.add_row(shown, meaning)
    return table


class LegendScreen(Sheet):
    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="legend.close")]

    def __init__(self, protocol: Protocol) -> None:
        super().__init__()
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Legend · Escape closes · ↑↓ scroll"
            yield Static(legend_table(self.protocol))
