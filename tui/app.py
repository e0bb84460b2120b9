"""The Textual app: one Simulator, its panels, and every experiment on a key.

`make_app` is the one factory used by the CLI and by the tests. The app never derives
simulated time from the wall clock: autoplay calls `sim.step()` on an interval timer, a fixed
number of steps per tick for each speed level; "max" steps in short slices with no timer, the
event loop running keys and frames between two slices.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.keys import format_key
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer
from textual.worker import Worker

from engines.core import protocols
from engines.core.actions import ActionError
from engines.core.sim import InFlight, Simulator, StepEvent
from engines.core.violations import Violation
from engines.lab.script import PRESETS, Caption, caption_at
from engines.lab.trace import TraceError
from tui import commands
from tui.actions import no_op
from tui.changes import ChangeTracker
from tui.keymap import load_keymap
from tui.screens.help import HelpScreen
from tui.screens.legend import LegendScreen
from tui.screens.palette import Palette
from tui.screens.prompts import (
    ClientsPrompt,
    ConfirmPrompt,
    DiscardPrompt,
    GotoPrompt,
    NetworkPrompt,
    PartitionPrompt,
    PastePrompt,
    PathPrompt,
    Preset,
    PresetPicker,
    ProposePrompt,
)
from tui.text import count
from tui.widgets.caption import CaptionStrip
from tui.widgets.diagram import DiagramPane
from tui.widgets.history import HistoryPane
from tui.widgets.inspector import Inspector
from tui.widgets.nodes import NodeGrid
from tui.widgets.panels import Banner, EventLog, MessageDetail, MessageList, StatusBar
from tui.widgets.strip import WhatHappened

SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0)  # events per second; 0 is "max"
DEFAULT_SPEED = SPEEDS.index(20)
MAX_TICKS_PER_S = 50
MAX_SLICE_S = 0.002  # at "max", wall time stepping before keys and frames get their turn
MAX_UI_SHARE = 0.25  # at "max", the most of the time the panels and their frames may take
KEY_GRACE_S = 0.1  # at "max", no stepping while a key travels to its action, at most this long
FRAME_S = 1 / 20  # during autoplay, redraw the panels at most this often
SCENARIOS = PRESETS  # the shipped preset scripts, inside the engines package
OTHER_SCRIPTS = "Other scripts"  # the picker's heading for scripts with no `lesson` line
NARROW = 100  # below this width the diagram takes the whole screen under the status bar
NOTABLE_HORIZON = 10_000  # steps searched for the next notable event
NOTABLE_NOTES = {"role", "commit"}
SAVE_DIR = Path.home() / "consensus-tui"  # traces and exports, unless a name says otherwise
PASTED = "the pasted trace"  # names a trace pasted in a browser session, in messages
BOTTOM_SHARE, BOTTOM_MIN, BOTTOM_MAX = 0.35, 6, 16  # network and events: rows above the footer


def notable(event: StepEvent, violation: Violation | None) -> bool:
    """An event worth stopping at: a user action, a role change, a commit, the violation."""
    return (
        event.kind == "action"
        or any(note.tone in NOTABLE_NOTES for note in event.notes)
        or (violation is not None and violation.step == event.step)
    )


def speed_label(speed: int) -> str:
    return "max" if speed == 0 else f"{speed}/s"


class MainScreen(Screen):
    BINDINGS = commands.bindings()
    composed = False

    def compose(self) -> ComposeResult:
        self.status = StatusBar(id="status")
        self.banner = Banner(id="banner")
        self.caption = CaptionStrip(id="caption")
        self.strip = WhatHappened(id="strip")
        self.grid = NodeGrid(self.app.sim.node_ids)
        self.inspector = Inspector()
        self.network = MessageList(id="network")
        self.detail = MessageDetail(id="detail")
        self.events = EventLog(id="events")
        self.diagram = DiagramPane(id="diagram")
        self.history = HistoryPane(id="history")
        yield self.status
        yield self.banner
        yield self.caption
        yield self.strip
        with Horizontal(id="body"):
            with Vertical(id="main") as self.main:
                yield self.grid
                yield self.inspector
                yield self.history
                with Horizontal(id="bottom") as self.bottom:
                    yield self.network
                    yield self.events
                    yield self.detail
            yield self.diagram
        yield Footer(compact=True)
        self.composed = True

    def on_mount(self) -> None:
        self.show_panes()
        self.app.refresh_view()

    def show_panes(self) -> None:
        """The panes the app has open, on new widgets (at mount, and after a recompose)."""
        self.show_diagram(self.app.diagram_shown)
        self.show_inspector(self.app.inspecting)
        self.history.set_class(self.app.history_shown, "-shown")

    def on_resize(self) -> None:
        width, height = self.size
        self.query_one("#body").set_class(width < NARROW, "-narrow")
        # A share of the screen above the footer, not of #main (a CSS percentage would be).
        rows = int(BOTTOM_SHARE * (height - 1))
        self.query_one("#bottom").styles.height = max(BOTTOM_MIN, min(BOTTOM_MAX, rows))

    def show_inspector(self, shown: bool) -> None:
        """The inspector in place of the node panels; it takes the scrolling keys."""
        self.main.set_class(shown, "-inspecting")
        self.inspector.set_class(shown, "-shown")
        if shown:
            self.inspector.focus()
        else:
            self.set_focus(None)

    def show_diagram(self, shown: bool) -> None:
        self.diagram.set_class(shown, "-shown")
        self.query_one("#body").set_class(shown, "-diagram")

    def show(
        self, sim: Simulator, playing: bool, speed: str, selected: int, follow: bool = False
    ) -> None:
        app = self.app
        with app.batch_update():
            self.set_class(playing, "-playing")
            self.status.show(sim, playing, speed, selected)
            self.banner.show(sim, app.violation, app.key_for("sim.violation"))
            self.caption.show(app.caption())
            self.strip.show(sim, playing)
            changes = app.changes.changes(sim)  # taken while inspecting too: the next step's
            if app.inspecting:
                self.inspector.show(sim, selected)
            else:
                self.grid.show(sim, selected, app.changes.shoot(sim), changes)
            self.show_bottom(sim)
            self.diagram.show(sim, follow)
            self.history.show(sim)
            self.diagram.mark(self.history.marks())

    def show_bottom(self, sim: Simulator) -> None:
        """The message list, and under its focus the selected message in place of the events."""
        self.network.show(sim)
        reading = self.network.has_focus
        self.bottom.set_class(reading, "-reading")
        if reading:
            self.detail.show(sim, self.network.selected, self.app.message_keys())
        else:
            self.events.show(sim)


class ConsensusApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "consensus-tui"

    def __init__(
        self,
        sim: Simulator,
        keymap: dict[str, str],
        message: str = "",
        save_dir: Path | None = None,
        captions: list[Caption] = (),
    ) -> None:
        super().__init__()
        self.sim = sim
        self.captions = list(captions)  # a lesson's, in step order; none for other sessions
        self.lesson_end: int | None = None  # a fork there left the lesson's timeline
        self.lesson_end_before_fork: int | None = None  # what redo gives back
        self.violation = sim.violation  # the timeline's, also while stepped back before it
        self.save_dir = save_dir or SAVE_DIR
        self.keymap = keymap
        self.selected = sim.node_ids[0]
        self.playing = False
        self.speed_index = DEFAULT_SPEED
        self.timer: Timer | None = None  # autoplay below "max"
        self.player: Worker | None = None  # autoplay at "max"
        self.drawn_at = 0.0  # wall time of the last autoplay redraw
        self.key_at = 0.0  # wall time a key or click arrived; 0 once its binding has run
        self.cursor_blink = True  # the prompts' input cursor; tests turn it off
        self.diagram_shown = False
        self.inspecting = False  # the inspector in place of the node panels
        self.history_shown = False
        self.start_message = message
        self.changes = ChangeTracker()  # what each step changed, for the panels' marks

    # --- lifecycle ---------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        return MainScreen()

    def on_mount(self) -> None:
        # Only keys that differ from the defaults: Textual re-applies a keymap on every key.
        defaults = commands.default_keymap()
        changed = {k: v for k, v in self.keymap.items() if v != defaults[k]}
        if changed:
            self.set_keymap(changed)
        if self.start_message:
            self.notify(self.start_message, severity="warning", markup=False)

    @property
    def speed(self) -> int:
        return SPEEDS[self.speed_index]

    def refresh_view(self, follow: bool = False) -> None:
        """Show the simulator's current step on every panel. `follow` brings the diagram
        back to the current step even when it was scrolled back."""
        self.track_violation()
        self.know_step_before()
        screen = self.main_screen
        if screen is not None and screen.composed:
            screen.show(self.sim, self.playing, speed_label(self.speed), self.selected, follow)

    def know_step_before(self) -> None:
        """Paused, the change marks compare this step with the one before it: when that one
        was never shown (a jump, a loaded session), look at it on the way back here. Playing,
        they compare with the last frame."""
        sim, step = self.sim, self.sim.step_count
        if not self.playing and step > 0 and not self.changes.knows(sim, step - 1):
            self.arrive(step)

    def arrive(self, step: int) -> None:
        """Go to `step` by way of the step before it, shown to the change tracker (going back
        costs the same: the simulator replays from a checkpoint either way)."""
        sim = self.sim
        if step > 0:
            sim.goto(step - 1)
            self.changes.shoot(sim)
        sim.goto(step)

    def track_violation(self) -> None:
        """Remember the timeline's violation while the user is before it; forget it once the
        timeline no longer reaches it (a fork before it)."""
        sim, known = self.sim, self.violation
        if sim.violation is not None:
            self.violation = sim.violation
        elif known is not None and not sim.step_count < known.step <= sim.max_step:
            self.violation = None

    def key_for(self, binding_id: str) -> str:
        """The first key of a binding in the keymap in effect, as the footer shows it."""
        return format_key(self.keymap[binding_id].split(",")[0])

    @property
    def main_screen(self) -> MainScreen | None:
        stack = self.screen_stack
        return stack[0] if stack and isinstance(stack[0], MainScreen) else None

    def caption(self) -> Caption | None:
        """The lesson's caption for the current step, while the timeline is the lesson's."""
        step = self.sim.step_count
        if self.lesson_end is not None and step > self.lesson_end:
            return None
        return caption_at(self.captions, step)

    def leave_lesson(self, step: int) -> None:
        """A fork at `step`: the lesson's captions no longer describe the steps after it."""
        self.lesson_end_before_fork = self.lesson_end
        self.lesson_end = step if self.lesson_end is None else min(step, self.lesson_end)

    async def use_simulator(self, sim: Simulator, captions: list[Caption] = ()) -> None:
        """Replace the session: a reset, another algorithm, or a loaded scenario."""
        self.pause()
        resize = sim.node_ids != self.sim.node_ids
        self.sim = sim
        self.captions, self.lesson_end = list(captions), None
        self.lesson_end_before_fork = None
        self.violation = None
        if self.selected not in sim.node_ids:
            self.selected = sim.node_ids[0]
        if resize and self.main_screen is not None:
            await self.main_screen.recompose()
            self.main_screen.show_panes()
        self.refresh_view(follow=True)

    # --- autoplay ----------------------------------------------------------------------------
    def play(self) -> None:
        self.pause()
        self.playing = True
        if self.speed == 0:
            self.player = self.run_worker(self.play_at_max(), group="autoplay", exclusive=True)
            return
        interval = max(1 / self.speed, 1 / MAX_TICKS_PER_S)
        self.timer = self.set_interval(interval, partial(self.tick, interval))

    def pause(self) -> None:
        self.playing = False
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        if self.player is not None:
            self.player.cancel()
            self.player = None

    def still_playing(self) -> bool:
        """Autoplay goes on while playing, and stops once the app begins to shut down: its
        screens then go one by one while timers and workers still get turns (at the end of
        `run_test`, which does not cancel them first as `exit` does)."""
        if not self.is_running:
            self.pause()
        return self.playing

    def tick(self, interval: float) -> None:
        """One autoplay tick: a fixed number of steps for the speed."""
        if not self.still_playing():
            return
        self.advance(max(1, round(self.speed * interval)))
        self.redraw()

    async def play_at_max(self) -> None:
        """Autoplay at "max": step for a slice, then yield to the event loop, which handles
        keys and draws frames before the next slice. A timer would leave the rest of its
        interval idle; this loop never idles. It stands aside, neither stepping nor redrawing,
        while a key passes through Textual's message queues (one hop per turn of the loop),
        and redraws the panels only while drawing (their update and the frame it causes)
        takes at most MAX_UI_SHARE of the time: expensive frames come less often, and
        stepping keeps the rest."""
        away = 0.0  # wall time outside stepping since the last redraw
        resumed = time.perf_counter()
        while self.still_playing():
            started = time.perf_counter()
            if started - self.key_at >= KEY_GRACE_S:
                away += started - resumed
                self.advance(1 << 30, started + MAX_SLICE_S)
                screen = self.main_screen
                if screen is not None and screen.composed:
                    screen.diagram.catch_up(self.sim)
                resumed = time.perf_counter()
                since = resumed - self.drawn_at
                if not self.playing or (since >= FRAME_S and away <= MAX_UI_SHARE * since):
                    self.drawn_at, away = resumed, 0.0
                    self.refresh_view()
            await asyncio.sleep(0)

    def post_message(self, message: Message) -> bool:
        # A key or click from the terminal arrives here first, several turns of the event loop
        # before it reaches a handler: autoplay at "max" stands aside from now on.
        if isinstance(message, (events.Key, events.MouseDown)) and not message.is_forwarded:
            self.key_at = time.perf_counter()
        return super().post_message(message)

    async def on_event(self, event: events.Event) -> None:
        # Asked before passing it on, which marks a new key as forwarded.
        returned = isinstance(event, (events.Key, events.MouseDown)) and event.is_forwarded
        await super().on_event(event)
        if returned:
            self.key_at = 0.0  # back from the screen, its binding run: step on

    def advance(self, count: int, deadline: float | None = None) -> None:
        """Up to `count` steps, or until the wall time `deadline`. Wall time only paces the
        display; simulated time comes from the steps alone."""
        sim = self.sim
        was_safe = sim.violation is None
        for done in range(count):
            if sim.step() is None or (was_safe and sim.violation is not None):
                self.pause()  # idle, or a safety violation: stop and show it
                return
            if deadline is not None and done % 16 == 15 and time.perf_counter() > deadline:
                return

    def redraw(self) -> None:
        """Show the latest step, at most every FRAME_S while playing."""
        now = time.perf_counter()
        if not self.playing or now - self.drawn_at >= FRAME_S:
            self.drawn_at = now
            self.refresh_view()

    # --- actions: time -----------------------------------------------------------------------
    def action_toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()
        self.refresh_view(follow=self.playing)

    def action_step(self) -> None:
        self.pause()
        self.changes.shoot(self.sim)
        self.sim.step()
        self.refresh_view(follow=True)

    def action_step_back(self) -> None:
        self.pause()
        self.arrive(max(0, self.sim.step_count - 1))
        self.refresh_view(follow=True)

    def action_redo(self) -> None:
        self.pause()
        try:
            fork = self.sim.redo()
        except ActionError as e:
            self.notify(str(e), severity="warning", markup=False)
            return
        self.lesson_end = self.lesson_end_before_fork
        self.changes.forget_after(self.sim.step_count)
        back = count(fork.set_aside, "set-aside step")
        self.notify(f"brought back {back}: at step {fork.at} of {fork.max_step}")
        self.refresh_view(follow=True)

    def action_goto_step(self) -> None:
        def done(step: int | None) -> None:
            if step is not None:
                self.goto(step)

        self.push_screen(GotoPrompt(self.sim.step_count, self.sim.max_step), done)

    def action_goto_start(self) -> None:
        self.goto(0)

    def action_goto_end(self) -> None:
        self.goto(self.sim.max_step)

    def action_goto_violation(self) -> None:
        if self.violation is None:
            self.notify("no safety violation in this timeline so far", markup=False)
        else:
            self.goto(self.violation.step)

    def goto(self, step: int) -> None:
        self.pause()
        self.arrive(step)
        if self.sim.step_count < step:
            self.notify(f"nothing left to happen after step {self.sim.step_count}", markup=False)
        self.refresh_view(follow=True)

    def action_notable(self, direction: int) -> None:
        """To the previous or next notable event: an action, a role change, a commit, the
        violation. Forward, the search stops at the end of the recorded timeline; from the
        end it runs the simulation on, at most NOTABLE_HORIZON steps."""
        self.pause()
        sim = self.sim
        if direction < 0:
            steps = [e.step for e in sim.events[:-1] if notable(e, sim.violation)]
            self.goto(steps[-1] if steps else 0)
            return
        at_end = sim.step_count == sim.max_step
        limit = sim.step_count + NOTABLE_HORIZON if at_end else sim.max_step
        while sim.step_count < limit:
            event = sim.step()
            if event is None:
                self.notify(f"nothing left to happen after step {sim.step_count}", markup=False)
                break
            if notable(event, sim.violation):
                break
        else:
            where = f"in the next {NOTABLE_HORIZON} steps" if at_end else "before the end"
            self.notify(f"nothing notable {where}: now at step {limit}", markup=False)
        self.refresh_view(follow=True)

    def action_faster(self) -> None:
        self.change_speed(1)

    def action_slower(self) -> None:
        self.change_speed(-1)

    def change_speed(self, delta: int) -> None:
        self.speed_index = min(len(SPEEDS) - 1, max(0, self.speed_index + delta))
        if self.playing:
            self.play()
        self.refresh_view()

    # --- actions: nodes ----------------------------------------------------------------------
    def action_select_node(self, node_id: int) -> None:
        if node_id in self.sim.node_ids:
            self.selected = node_id
            self.refresh_view()
        else:
            self.notify(f"there is no n{node_id} in this cluster", severity="warning")

    def action_select_next(self, delta: int) -> None:
        ids = self.sim.node_ids
        self.selected = ids[(ids.index(self.selected) + delta) % len(ids)]
        self.refresh_view()

    def action_inspect(self) -> None:
        self.inspecting = not self.inspecting
        if self.main_screen is not None:
            self.main_screen.show_inspector(self.inspecting)
        self.refresh_view()

    def action_clients(self) -> None:
        def done(args: dict | None) -> None:
            if args is not None:
                self.act("clients", **args)

        work = self.sim.world.clients
        self.push_screen(ClientsPrompt(work.running(), work.keys, work.rate), done)

    def action_propose(self) -> None:
        node = self.selected

        def done(value: str | None) -> None:
            if value is not None:
                self.act("propose", value=value, node=node)

        self.push_screen(ProposePrompt(node), done)

    def action_crash(self) -> None:
        node = self.selected
        self.act("crash" if self.sim.is_up(node) else "restart", node=node)

    def action_campaign(self) -> None:
        self.act("campaign", node=self.selected)

    def action_isolate(self) -> None:
        self.act("isolate", node=self.selected)

    def action_add_node(self) -> None:
        self.change_membership("add", node=len(self.sim.node_ids) + 1)

    def action_promote_node(self) -> None:
        self.change_membership("promote", nodes=[self.selected])

    def action_remove_node(self) -> None:
        self.change_membership("remove", nodes=[self.selected])

    def change_membership(self, kind: str, **args: Any) -> None:
        """A configuration change goes to the leader, which may refuse it (its note says why)."""
        leader = self.sim.leader()
        if leader is None:
            self.notify("no node leads now: a membership change goes through the leader")
            return
        self.act(kind, via=leader, **args)

    def act(self, kind: str, **args: Any) -> None:
        """Take a user action (a Simulator method) as one step: at an earlier step this forks
        a new future. One that would change nothing is refused with the reason instead."""
        reason = no_op(self.sim, kind, args)
        if reason:
            self.notify(reason, severity="warning", markup=False)
            return
        self.changes.forget_after(self.sim.step_count)  # a fork rewrites the steps after
        self.changes.shoot(self.sim)
        try:
            getattr(self.sim, kind)(**args)
        except ActionError as e:
            self.notify(str(e), severity="warning", markup=False)
            return
        if self.sim.last_fork is not None:  # it acted at an earlier step: a new future
            self.leave_lesson(self.sim.last_fork.at)
            redo = self.key_for("sim.redo")
            notice = f"{self.sim.last_fork.describe()} ({redo} brings them back)"
            self.notify(notice, title="New future", markup=False, timeout=8)
        self.refresh_view(follow=True)

    # --- actions: single messages ------------------------------------------------------------
    def action_focus_messages(self) -> None:
        screen = self.main_screen
        if screen is None:
            return
        if screen.network.has_focus:
            screen.set_focus(screen.inspector if self.inspecting else None)
        else:
            screen.set_focus(screen.network)  # at once: the keys after it move the cursor

    def selected_message(self) -> InFlight | None:
        screen = self.main_screen
        m = screen.network.selected if screen is not None else None
        if m is None:
            self.notify("no message in flight", severity="warning")
        return m

    def action_message(self, kind: str) -> None:
        """Deliver, drop or duplicate the selected message: a recorded action."""
        m = self.selected_message()
        if m is not None:
            self.act(kind, seq=m.seq)

    def action_hold(self, scope: str) -> None:
        """Hold the selected message's link (src->dst) or its type; release it when held."""
        m = self.selected_message()
        if m is None:
            return
        if scope == "link":
            hold = {"types": [], "src": m.src, "dst": m.dst}
        else:
            hold = {"types": [m.msg.type_name], "src": None, "dst": None}
        self.act("release" if hold in self.sim.holds() else "hold", **hold)

    def message_keys(self) -> str:
        """The detail view's reminder of the message keys, in the keymap in effect."""
        words = [("msg.deliver", "deliver"), ("msg.drop", "drop"), ("msg.duplicate", "dup")]
        words += [("msg.hold_link", "hold link"), ("msg.hold_type", "hold type")]
        return " · ".join(f"{self.key_for(i)} {word}" for i, word in words)

    # --- actions: network --------------------------------------------------------------------
    def action_partition(self) -> None:
        def done(groups: list[list[int]] | None) -> None:
            if groups is not None:
                self.act("partition", groups=groups)

        self.push_screen(PartitionPrompt(self.sim.node_ids, self.sim.leader()), done)

    def action_heal(self) -> None:
        self.act("heal")

    def action_network(self) -> None:
        def done(settings: dict | None) -> None:
            if settings is not None:
                self.act("set_network", **settings)

        self.push_screen(NetworkPrompt(self.sim.network.default, len(self.sim.node_ids)), done)

    # --- actions: sessions -------------------------------------------------------------------
    def confirm_discard(self, title: str, then: Callable[[], Awaitable[None]]) -> None:
        """Run `then`, which replaces the session, after a yes or after saving the trace:
        history is not undoable."""
        if self.sim.max_step == 0:
            self.go(then)
            return

        def done(answer: bool | str | None) -> None:
            if answer == "save":
                self.action_save_trace(then=partial(self.go, then))
            elif answer:
                self.go(then)

        self.push_screen(DiscardPrompt(title, self.sim.max_step), done)

    def go(self, then: Callable[[], Awaitable[None]]) -> None:
        self.run_worker(then(), exclusive=True, group="session")

    async def action_quit(self) -> None:
        """q, ctrl+q and the palette: quit, after asking when there is a session to lose."""
        self.confirm_discard("Quit", self.leave)

    async def leave(self) -> None:
        self.exit()

    def action_reset(self) -> None:
        self.confirm_discard("Reset", self.reset)

    async def reset(self) -> None:
        sim = self.sim
        await self.use_simulator(
            Simulator(sim.protocol, len(sim.founders), sim.seed, sim.user_config)
        )

    def action_switch_algo(self) -> None:
        self.confirm_discard("Switch algorithm", self.switch_algo)

    async def switch_algo(self) -> None:
        sim = self.sim
        algo = "paxos" if sim.protocol.name == "raft" else "raft"
        config = {k: v for k, v in sim.user_config.items() if k != "bug"}
        try:
            new = Simulator(algo, len(sim.founders), sim.seed, config)
        except (ImportError, ValueError, TypeError) as e:
            self.notify(f"cannot switch to {algo}: {e}", severity="error", markup=False)
            return
        await self.use_simulator(new)

    def ask_bug(self, bug: str | None) -> None:
        """The palette's bug commands: restart with one named bug on (or none)."""
        self.confirm_discard(f"Bug: {bug or 'off'}", partial(self.set_bug, bug))

    async def set_bug(self, bug: str | None) -> None:
        sim = self.sim
        config = {k: v for k, v in sim.user_config.items() if k != "bug"}
        if bug:
            config["bug"] = bug
        await self.use_simulator(Simulator(sim.protocol, len(sim.founders), sim.seed, config))

    def action_open_preset(self) -> None:
        presets = preset_scenarios(self.sim.protocol.name)
        if not presets:
            self.notify("no preset scenarios found", severity="warning")
            return

        def done(path: Path | None) -> None:
            if path is not None:
                self.confirm_discard(f"Open {path.stem}", partial(self.load_scenario, path))

        self.push_screen(PresetPicker(presets), done)

    async def load_scenario(self, path: Path) -> None:
        from engines.lab.script import ScriptError, run_file

        try:
            result = run_file(path)
        except ScriptError as e:
            self.notify(str(e), severity="error", markup=False)
            return
        violation = result.sim.violation  # the lesson's, ahead: `!` goes there from step 0
        result.sim.goto(0)  # a lesson opens ready to play: stepping on replays the script
        await self.use_simulator(result.sim, result.captions)
        if violation is not None:
            self.violation = violation
            self.refresh_view()
        if result.error:
            self.notify(result.error, severity="warning", markup=False)

    def action_open_trace(self) -> None:
        if self.is_web:  # the server's files are not the student's: take a paste instead
            self.push_screen(PastePrompt(), self.open_pasted_trace)
            return

        def done(path: Path | None) -> None:
            if path is not None:
                self.confirm_discard(f"Open {path.name}", partial(self.open_trace, path))

        folder = self.save_dir
        found = sorted(p.name for p in folder.glob("*.trace.json"))[:8] if folder.is_dir() else []
        self.push_screen(PathPrompt("Open a trace", folder, must_exist=True, choices=found), done)

    def open_pasted_trace(self, text: str | None) -> None:
        from engines.lab.trace import load_trace_text

        if text is not None:  # None: the prompt was cancelled
            load = partial(load_trace_text, text, PASTED)
            self.confirm_discard("Open the pasted trace", partial(self.open_trace, PASTED, load))

    async def open_trace(
        self, path: Path | str, load: Callable[[], Simulator] | None = None
    ) -> None:
        """Replay a trace (the file at `path`, or what `load` returns) in a thread (a long one
        takes a while; keys keep working), then make it the session. A damaged or foreign
        trace only earns a message."""
        from engines.lab.trace import load_trace

        self.notify(f"opening {path}…", markup=False)
        try:
            sim = await asyncio.to_thread(load or partial(load_trace, path))
        except TraceError as e:
            message = f"{e}\nThe current session is unchanged."
            self.notify(message, severity="error", markup=False, timeout=8)
            return
        await self.use_simulator(sim)
        self.notify(f"opened {path} at step {sim.step_count}", markup=False)

    def action_save_trace(self, then: Callable[[], None] | None = None) -> None:
        from engines.lab.trace import save_trace

        name = default_name(self.sim, "trace.json")
        self.ask_path("Save the trace", name, save_trace, "trace", then)

    def action_export_diagram(self) -> None:
        from tui.exports import diagram_svg, write_file

        mode = self.diagram_mode()

        def export(sim: Simulator, path: Path) -> Path:
            svg, drawn, total = diagram_svg(sim, mode)
            if drawn < total:
                self.notify(f"the SVG shows the latest {drawn} of {total} rows", markup=False)
            return write_file(path, svg)

        name = default_name(self.sim, "diagram.svg")
        self.ask_path("Export the space-time diagram (SVG)", name, export, "diagram")

    def action_export_history(self) -> None:
        from tui.exports import history_svg, write_file

        selected = self.main_screen.history.selected() if self.main_screen else None

        def export(sim: Simulator, path: Path) -> Path:
            return write_file(path, history_svg(sim, selected))

        name = default_name(self.sim, "history.svg")
        self.ask_path("Export the clients' history (SVG)", name, export, "history")

    def action_export_log(self) -> None:
        from tui.exports import event_log_text, write_file

        def export(sim: Simulator, path: Path) -> Path:
            return write_file(path, event_log_text(sim))

        name = default_name(self.sim, "events.txt")
        self.ask_path("Export the event log (text)", name, export, "event log")

    def ask_path(
        self, title: str, default: str, write, what: str, then: Callable[[], None] | None = None
    ) -> None:
        """Ask for a file name (in the save folder unless it names another), ask again before
        replacing a file, then write(sim, path), say where it went, and run `then`. In a
        browser the file is offered as a download instead."""
        if self.is_web:
            self.download(default, write, what, then)
            return

        def save(path: Path) -> None:
            try:
                if path.parent == self.save_dir:
                    path.parent.mkdir(exist_ok=True)  # the app's own folder, named in the README
                saved = write(self.sim, path)
            except (OSError, ValueError, TraceError) as e:  # ValueError: a NUL in the path
                self.notify(f"cannot write {path}: {e}", severity="error", markup=False)
                return
            self.notify(f"{what} saved to {saved}", markup=False)
            if then is not None:
                then()

        def chosen(path: Path | None) -> None:
            if path is None:
                return
            if not path.exists():
                save(path)
                return
            question = f"{path} exists. Replace it?"
            self.push_screen(
                ConfirmPrompt("Replace the file?", question), lambda yes: yes and save(path)
            )

        self.push_screen(PathPrompt(title, self.save_dir, default), chosen)

    def download(self, name: str, write, what: str, then: Callable[[], None] | None) -> None:
        """write(sim, path) in a private temporary folder, removed once the file is handed to
        the browser (open files outlive their names): nothing stays on the server."""
        with tempfile.TemporaryDirectory() as folder:
            try:
                written = write(self.sim, Path(folder) / name)
            except (OSError, TraceError) as e:
                self.notify(f"cannot save {name}: {e}", severity="error", markup=False)
                return
            self.deliver_binary(written)
        self.notify(f"{what} offered as a download: {name}", markup=False)
        if then is not None:
            then()

    # --- actions: the diagram ----------------------------------------------------------------
    def action_toggle_diagram(self) -> None:
        self.diagram_shown = not self.diagram_shown
        if self.main_screen is not None:
            self.main_screen.show_diagram(self.diagram_shown)
        self.refresh_view(follow=True)

    def action_toggle_history(self) -> None:
        self.history_shown = not self.history_shown
        if self.main_screen is not None:
            if self.main_screen.history.has_focus:  # hidden, it would keep the keys
                self.action_select_operation()
            self.main_screen.history.set_class(self.history_shown, "-shown")
            self.refresh_view()

    def action_select_operation(self) -> None:
        """Into the history pane, showing it and the diagram, to select operations; again (or
        Escape) leaves it."""
        screen = self.main_screen
        if screen is None:
            return
        if screen.history.has_focus:
            screen.set_focus(screen.inspector if self.inspecting else None)
            return
        if not self.history_shown:
            self.action_toggle_history()
        if not self.diagram_shown:
            self.action_toggle_diagram()
        screen.set_focus(screen.history)

    def action_diagram_filter(self) -> None:
        if not self.diagram_shown:
            self.action_toggle_diagram()
        pane = self.main_screen.diagram
        pane.set_mode(pane.rows.index.next_mode(), self.sim)

    def action_diagram_scroll(self, where: str) -> None:
        if not self.diagram_shown:
            key = self.key_for("view.diagram")
            self.notify(f"the diagram is hidden: {key} shows it", severity="warning")
            return
        rows = self.main_screen.diagram.rows
        if where == "older":
            rows.page(-1)
        elif where == "newer":
            rows.page(1)
        elif where == "oldest":
            rows.to_start()
        else:
            rows.to_end()

    def diagram_mode(self) -> str:
        screen = self.main_screen
        index = screen.diagram.rows.index if screen is not None else None
        return index.mode if index is not None and self.diagram_shown else "all"

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.keymap, self.sim.protocol))

    def action_legend(self) -> None:
        self.push_screen(LegendScreen(self.sim.protocol))

    # --- command palette ---------------------------------------------------------------------
    def action_command_palette(self) -> None:
        """ctrl+p: Textual's palette, in the version that survives a double Enter."""
        if self.use_command_palette and not Palette.is_open(self):
            self.push_screen(Palette(id="--command-palette"))

    def get_system_commands(self, screen: Screen):
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        node_ids = self.sim.node_ids
        for c in commands.COMMANDS:
            if c.id.startswith("node.select_") and int(c.id[-1]) not in node_ids:
                continue
            yield SystemCommand(c.label, c.help, partial(self.run_action, c.action))
        yield from self.bug_commands()

    def bug_commands(self):
        algo = self.sim.protocol.name
        if algo not in protocols.ALGORITHMS:
            return
        from engines.core.protocols import bugs_for

        for name, text in bugs_for(algo).items():
            yield SystemCommand(
                f"Bug: {name}", f"Reset with this bug on: {text}", partial(self.ask_bug, name)
            )
        if self.sim.config.get("bug"):
            yield SystemCommand("Bug: off", "Reset with no bug", partial(self.ask_bug, None))


def default_name(sim: Simulator, what: str) -> str:
    """`raft-seed1-step40.<what>`: the file names the prompts offer."""
    return f"{sim.protocol.name}-seed{sim.seed}-step{sim.step_count}.{what}"


def preset_scenarios(algo: str) -> list[Preset]:
    """The shipped scripts by lesson topic (in TOPICS' order, this algorithm's first in each),
    then the scripts that are no lesson, with the comment block at their top as summary."""
    from engines.lab.script import TOPICS, ScriptError, parse_file

    found = []
    for folder in SCENARIOS.glob("*/"):
        for path in folder.glob("*.scn"):
            name = f"{folder.name}/{path.stem}"
            try:
                script = parse_file(path)
            except ScriptError:
                script = None  # opening it says what is wrong
            if script is not None and script.topic:
                found.append(Preset(TOPICS[script.topic], name, script.summary, path))
            else:
                found.append(Preset(OTHER_SCRIPTS, name, scenario_summary(path), path))
    order = [*TOPICS.values(), OTHER_SCRIPTS]
    return sorted(found, key=lambda p: (order.index(p.topic), p.path.parent.name != algo, p.name))


def scenario_summary(path: Path) -> str:
    """The comment block at the top of a script, which says what it shows."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "(unreadable)"
    head = itertools.takewhile(lambda t: t.startswith("#"), lines)
    return " ".join(t.lstrip("# ").strip() for t in head)


def make_app(
    algo: str = "raft",
    nodes: int = 5,
    seed: int = 1,
    scenario: str | Path | None = None,
    keymap: str | Path | None = None,
    config: dict | None = None,
    sim: Simulator | None = None,
    save_dir: Path | None = None,
    clients: dict | None = None,
) -> ConsensusApp:
    """The app for the CLI and the tests. Raises KeymapError or ScriptError before it runs.
    `clients` (count, and keys, rate) starts a workload as the session's first action."""
    keys = load_keymap(keymap)
    message, captions = "", []
    if sim is None and scenario is not None:
        from engines.lab.script import run_file

        result = run_file(scenario)
        sim, message, captions = result.sim, result.error or "", result.captions
    if sim is None:
        sim = Simulator(algo, nodes, seed, config)
    if clients:
        sim.clients(**clients)
    return ConsensusApp(sim, keys, message, save_dir, captions)
