"""The app benchmark runs the real app at maximum speed and a key still acts (tiny sizes: this
is not a timed test)."""

import json

import pytest
from typer.testing import CliRunner

from tui import appbench
from tui.cli import app


def test_the_app_benchmark_reports_the_share_and_a_key_that_acted():
    report = appbench.measure(seconds=0.3, repeats=1, presses=2, pump_events=1000)
    assert report["app_steps_per_s"] > 0 and report["engine_steps_per_s"] > 0
    assert report["app_share_of_engine"] > 0 and report["app_frames_per_s"] > 0
    timeout_frames = appbench.KEY_TIMEOUT_S / appbench.FRAME_S
    assert report["key_latency_frames_max"] < timeout_frames  # the pause key acted


def test_bench_app_prints_the_app_figures(monkeypatch):
    fake = {"app_steps_per_s": 1, "engine_steps_per_s": 2, "app_share_of_engine": 0.5}
    monkeypatch.setattr(appbench, "measure", lambda done: fake)
    result = CliRunner().invoke(app, ["bench", "--app", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == fake
    result = CliRunner().invoke(app, ["bench", "--app"])
    assert result.exit_code == 0 and "app_share_of_engine        0.5" in result.output


@pytest.mark.parametrize("more", [["--long"], ["--steps", "2000"]])
def test_bench_app_refuses_the_engine_options_it_would_ignore(more):
    result = CliRunner().invoke(app, ["bench", "--app", *more])
    assert result.exit_code == 2 and "--app measures the app alone" in result.output
