"""How much of the engine's speed reaches the screen: the real app, headless at 120x40, with 9
nodes, the diagram shown and a client workload, playing at maximum speed; against the same
session stepped bare for the same wall time, in turns in this process.

Both rates are steps per wall second (time.perf_counter): at maximum speed the user waits on
the wall clock, and time the app spends idle between frames is speed that never reaches the
screen. CPU seconds are reported as well, with the bare pump's rate measured alongside.

Key latency: while playing, the pause key is sent the way a terminal sends it, and the time
until the pause took effect is counted in frames of 1/60 s (Textual's frame rate).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable

from textual import events
from textual.screen import Screen

from engines.core.sim import Simulator
from engines.lab.bench import PUMP_EVENTS, measure_pump
from tui.app import SPEEDS, ConsensusApp, MainScreen
from tui.keymap import load_keymap

ALGO, NODES, SEED = "raft", 9, 1
WORKLOAD = {"count": 3}  # three clients: the event log and the diagram have news every step
SIZE = (120, 40)
PLAY_S = 3.0  # wall seconds of play per measurement
REPEATS = 3  # app and engine measured in turns, the median of each
PRESSES = 8  # pause presses per key measurement
BETWEEN_PRESSES_S = 0.25  # wall seconds of play before each pause press
FRAME_S = 1 / 60
KEY_TIMEOUT_S = 2.0  # a key that took longer counts as this


def bench_session() -> Simulator:
    sim = Simulator(ALGO, NODES, SEED)
    sim.clients(**WORKLOAD)
    return sim


def measure_engine(seconds: float = PLAY_S) -> dict[str, float]:
    """The session alone, stepped as the app's autoplay steps it (stopping at a violation)."""
    sim = bench_session()
    wall, cpu = time.perf_counter(), time.process_time()
    deadline = wall + seconds
    while time.perf_counter() < deadline:
        for _ in range(64):
            if sim.step() is None or sim.violation is not None:
                raise RuntimeError(f"the bench session stopped at step {sim.step_count}")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"steps_per_s": sim.step_count / wall, "steps_per_cpu_s": sim.step_count / cpu}


class MeasuredScreen(MainScreen):
    def _compositor_refresh(self) -> None:
        # Textual has no public hook for "a frame was drawn": count the compositor's updates.
        self.app.frames += 1
        super()._compositor_refresh()


class MeasuredApp(ConsensusApp):
    """The app, counting the frames it draws and noting when play stops."""

    frames = 0
    paused_at: float | None = None

    def get_default_screen(self) -> Screen:
        return MeasuredScreen()

    def pause(self) -> None:
        if self.playing:
            self.paused_at = time.perf_counter()
        super().pause()


def measured_app() -> MeasuredApp:
    app = MeasuredApp(bench_session(), load_keymap(None))
    app.diagram_shown = True
    app.speed_index = SPEEDS.index(0)
    return app


async def play_at_max(seconds: float = PLAY_S) -> dict[str, float]:
    app = measured_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        start_step, start_frames = app.sim.step_count, app.frames
        wall, cpu = time.perf_counter(), time.process_time()
        app.action_toggle_play()
        await asyncio.sleep(seconds)
        app.pause()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        steps, frames = app.sim.step_count - start_step, app.frames - start_frames
        await pilot.pause()
    return {
        "steps_per_s": steps / wall,
        "steps_per_cpu_s": steps / cpu,
        "frames_per_s": frames / wall,
        "busy_share": cpu / wall,
    }


async def key_latencies(presses: int = PRESSES) -> list[float]:
    """Frames from a pause key sent while playing at max to the pause taking effect."""
    app = measured_app()
    latencies = []
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        key = app.keymap["sim.play"].split(",")[0]
        for _ in range(presses):
            app.action_toggle_play()
            await asyncio.sleep(BETWEEN_PRESSES_S)
            app.paused_at = None
            sent = time.perf_counter()
            app._driver.send_message(events.Key(key, " " if key == "space" else None))
            while app.paused_at is None and time.perf_counter() - sent < KEY_TIMEOUT_S:
                await asyncio.sleep(0.001)
            acted = app.paused_at if app.paused_at is not None else sent + KEY_TIMEOUT_S
            latencies.append((acted - sent) / FRAME_S)
            await pilot.pause()
    return latencies


def measure(
    done: Callable[[str], None] = lambda figure: None,
    seconds: float = PLAY_S,
    repeats: int = REPEATS,
    presses: int = PRESSES,
    pump_events: int = PUMP_EVENTS,
) -> dict:
    """The app's figures: medians of `repeats` turns of app and engine, and the key latency."""
    pump = statistics.median(measure_pump(time.process_time, pump_events) for _ in range(repeats))
    apps, engines = [], []
    for _ in range(repeats):
        apps.append(asyncio.run(play_at_max(seconds)))
        engines.append(measure_engine(seconds))
        done("turn")
    latencies = asyncio.run(key_latencies(presses))
    done("keys")
    app = {key: statistics.median(run[key] for run in apps) for key in apps[0]}
    engine = {key: statistics.median(run[key] for run in engines) for key in engines[0]}
    return {
        "session": f"{ALGO}, {NODES} nodes, seed {SEED}, {WORKLOAD['count']} clients, diagram on",
        "clock": "wall (time.perf_counter) for both rates; cpu figures by time.process_time",
        "app_steps_per_s": round(app["steps_per_s"]),
        "engine_steps_per_s": round(engine["steps_per_s"]),
        "app_share_of_engine": round(app["steps_per_s"] / engine["steps_per_s"], 3),
        "app_frames_per_s": round(app["frames_per_s"], 1),
        "app_busy_share": round(app["busy_share"], 3),
        "app_steps_per_cpu_s": round(app["steps_per_cpu_s"]),
        "engine_steps_per_cpu_s": round(engine["steps_per_cpu_s"]),
        "engine_cpu_share_of_pump": round(engine["steps_per_cpu_s"] / pump, 4),
        "pump_events_per_cpu_s": round(pump),
        "key_latency_frames_median": round(statistics.median(latencies), 2),
        "key_latency_frames_max": round(max(latencies), 2),
    }
