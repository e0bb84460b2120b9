"""`consensus-tui serve` in a real browser: headless Chromium driven over the DevTools protocol.

The page draws the terminal on a canvas (xterm.js), so the text is read from xterm's own
buffer: a script run before the page's records the Terminal that textual.js creates.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from snapshot_apps.support import notifications, paste, pilot_test, wait_for
from textual.widgets import Link
from typer.testing import CliRunner

from engines.lab.trace import load_trace_text, trace_dict
from tui.app import ConsensusApp, make_app
from tui.cli import app as cli
from tui.screens.help import HelpScreen
from tui.screens.prompts import PastePrompt

aiohttp = pytest.importorskip("aiohttp")  # comes with the serve extra, in the dev group

ROOT = Path(__file__).parent.parent
CHROMIUM = shutil.which("chromium")
WAIT = 45.0  # seconds for a page, a key's effect; far above what it takes (about 2-5 s)

# textual.js does `this.terminal = new Terminal(...)`: a setter on Object.prototype sees the
# assignment, keeps the terminal where the test can read it, and leaves a plain property.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
    window.caughtTerminal = value;
  },
});
// textual.js opens downloads and links with window.open: the test keeps the URLs instead.
window.opened = [];
window.open = (url) => { window.opened.push(String(url)); return null; };
"""
SPECIAL_KEYS = {"Enter": (13, "\r"), "Tab": (9, "\t")}  # key: (key code, what it types)
SCREEN_TEXT = """
(() => {
  const t = window.caughtTerminal;
  if (!t) return "";
  const b = t.buffer.active, rows = [];
  for (let i = 0; i < t.rows; i++) rows.push(b.getLine(b.viewportY + i).translateToString(true));
  return rows.join("\\n");
})()
"""

needs_chromium = pytest.mark.skipif(  # in CI, where .ci/run installs it, a missing one fails
    CHROMIUM is None and not os.environ.get("CI"), reason="needs Debian's chromium (.ci/run)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str]) -> subprocess.Popen:
    """A process in its own group, so stopping it stops what it started too."""
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=ROOT,
    )


def stop(process: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
            process.wait(wait)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(ready, process: subprocess.Popen, what: str) -> None:
    """Poll ready() while the process lives, for WAIT seconds at most."""
    deadline = time.monotonic() + WAIT
    while not ready():
        assert process.poll() is None, f"exited (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {WAIT} s"
        time.sleep(0.2)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def server():
    port = free_port()
    args = ["serve", "--port", str(port), "--seed", "7", "--nodes", "3"]
    process = start([sys.executable, "-m", "tui", *args])
    try:
        wait_until(lambda: listening(port), process, "serve listening")
        yield f"http://127.0.0.1:{port}/"
    finally:
        stop(process)


@pytest.fixture
def browser():
    """Headless Chromium's DevTools address."""
    profile = tempfile.mkdtemp(prefix="serve-test-chromium-")
    process = start(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1280,900",
            "about:blank",
        ]
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        wait_until(lambda: port_file.exists() and port_file.read_text(), process, "DevTools")
        yield f"127.0.0.1:{port_file.read_text().split()[0]}"
    finally:
        stop(process)
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """One browser tab, over its DevTools websocket."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = json.loads((await self.ws.receive()).data)
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    async def text(self) -> str:
        result = await self.call("Runtime.evaluate", expression=SCREEN_TEXT, returnByValue=True)
        return result["result"].get("value", "")

    async def wait_for(self, *words: str) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            text = await self.text()
            if all(w in text for w in words):
                return text
            assert time.monotonic() < deadline, f"never showed {words}:\n{text}"
            await asyncio.sleep(0.2)

    async def press(self, key: str) -> None:
        """A key as the browser gets it from a keyboard: xterm reads keydown and keypress."""
        event = {"key": key, "text": key, "unmodifiedText": key}
        if key in SPECIAL_KEYS:
            code, typed = SPECIAL_KEYS[key]
            event |= {"windowsVirtualKeyCode": code, "text": typed, "unmodifiedText": typed}
        await self.call("Input.dispatchKeyEvent", type="keyDown", **event)
        await self.call("Input.dispatchKeyEvent", type="keyUp", key=key)

    async def opened(self) -> list[str]:
        """The URLs the page asked to open (downloads, links), in order."""
        result = await self.call("Runtime.evaluate", expression="window.opened", returnByValue=True)
        return result["result"]["value"]

    async def wait_opened(self, count: int) -> str:
        deadline = time.monotonic() + WAIT
        while len(urls := await self.opened()) < count:
            assert time.monotonic() < deadline, f"opened only {urls}"
            await asyncio.sleep(0.2)
        return urls[count - 1]

    async def type(self, text: str) -> None:
        for char in text:
            await self.press(char)

    async def screenshot(self) -> bytes:
        result = await self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(result["data"])


async def open_page(session, devtools: str, url: str) -> Page:
    async with session.put(f"http://{devtools}/json/new?about:blank") as response:
        target = await response.json()
    page = Page(await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0))
    await page.call("Page.enable")
    await page.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
    await page.call("Page.navigate", url=url)
    return page


@needs_chromium
def test_served_sessions_run_in_a_browser_each_its_own(server, browser, tmp_path):
    asyncio.run(drive(server, browser, tmp_path))


async def drive(url: str, devtools: str, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        first = await open_page(session, devtools, url)
        second = await open_page(session, devtools, url)
        for page in (first, second):
            await page.wait_for("n1", "n2", "n3", "step 0")
        await first.call("Page.bringToFront")
        await first.call("Runtime.evaluate", expression="window.caughtTerminal.focus()")
        await first.press(" ")  # play
        await first.wait_for("LEADER")
        await first.press(" ")  # pause
        await first.press("p")
        await first.wait_for("Propose a value")
        await first.type("blue")
        await first.press("Enter")
        await first.wait_for("blue")
        await first.press("x")  # crash the selected node
        shown = await first.wait_for("CRASHED")
        picture = await first.screenshot()
        (tmp_path / "serve.png").write_bytes(picture)
        if os.environ.get("SERVE_SCREENSHOT"):
            Path(os.environ["SERVE_SCREENSHOT"]).write_bytes(picture)
        assert picture.startswith(b"\x89PNG") and len(picture) > 20_000, "a blank page"
        other = await second.text()
        assert "CRASHED" not in other and "blue" not in other and "step 0/0" in other, other
        assert "LEADER" in shown and "blue" in shown
        trace = await check_download_and_link(session, first)
        await check_paste(second, trace)


async def check_download_and_link(session, page: Page) -> str:
    """`s` offers the trace as a download (its URL is opened); a help link opens its URL."""
    await page.press("s")
    download = await page.wait_opened(1)
    async with session.get(download) as response:
        assert response.status == 200
        assert "attachment" in response.headers["Content-Disposition"]
        text = await response.text()
    trace = json.loads(text)
    assert trace["seed"] == 7 and trace["actions"][-1]["kind"] == "crash"
    await page.press("?")
    await page.wait_for("Reading")
    await page.press("Tab")
    await page.press("Enter")
    assert await page.wait_opened(2) == "https://raft.github.io/raft.pdf"
    return text


async def check_paste(page: Page, trace: str) -> None:
    """`O` in a served session takes a paste (xterm wraps it as a bracketed paste): a damaged
    trace is refused and the session goes on; the good one replaces it."""
    await page.call("Page.bringToFront")
    await page.call("Runtime.evaluate", expression="window.caughtTerminal.focus()")
    for text, shows in ((trace[:-20], "unchanged"), (trace, "CRASHED")):
        await page.press("O")
        await page.wait_for("paste it here")
        paste = f"window.caughtTerminal.paste({json.dumps(text)})"
        await page.call("Runtime.evaluate", expression=paste)
        await page.wait_for(shows)
    final = json.loads(trace)["final_step"]
    assert f"step {final}/{final}" in await page.text()


# --- a served session, in process: Textual's web driver is what makes `is_web` true ---------


class ServedApp(ConsensusApp):
    """The app as a browser session sees it; what it delivers is kept, not downloaded."""

    is_web = True
    CSS_PATH = Path(sys.modules[ConsensusApp.__module__].__file__).parent / ConsensusApp.CSS_PATH

    def deliver_binary(self, path_or_file, **options) -> None:
        self.delivered = (Path(path_or_file).name, Path(path_or_file).read_text())


def served(tmp_path) -> ServedApp:
    template = make_app("raft", 3, 5, save_dir=tmp_path / "saved")
    return ServedApp(template.sim, template.keymap, save_dir=template.save_dir)


@pilot_test
async def test_a_served_save_is_a_download_and_leaves_no_file(tmp_path):
    app = served(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n", "n", "n", "s")
        await wait_for(pilot, lambda: hasattr(app, "delivered"))
        name, text = app.delivered
        assert name.endswith(".trace.json")
        assert load_trace_text(text, name).digest() == app.sim.digest()
        assert "offered as a download" in notifications(app)
        for key, ending, content in (("e", ".svg", "<svg"), ("E", ".txt", "n1")):
            await pilot.press(key)
            await wait_for(pilot, lambda ending=ending: app.delivered[0].endswith(ending))
            assert content in app.delivered[1]
    assert not (tmp_path / "saved").exists()


@pilot_test
async def test_a_served_session_opens_a_pasted_trace_and_refuses_a_bad_one(tmp_path):
    source = make_app("raft", 3, 9).sim
    source.run(40)
    trace = json.dumps(trace_dict(source), indent=1)
    app = served(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        before = app.sim
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, PastePrompt))
        await paste(pilot, trace.replace('"final_step"', '"final_stop"'))
        await wait_for(pilot, lambda: "unchanged" in notifications(app))
        assert app.sim is before and "the pasted trace: malformed" in notifications(app)
        await pilot.press("O")
        await wait_for(pilot, lambda: isinstance(app.screen, PastePrompt))
        await paste(pilot, trace)
        await wait_for(pilot, lambda: app.sim.digest() == source.digest())
        assert app.sim.seed == 9


@pilot_test
async def test_help_links_open_with_open_url(tmp_path):
    app = served(tmp_path)
    opened = []
    app.open_url = lambda url, new_tab=True: opened.append(url)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.click(Link)
        assert opened == ["https://raft.github.io/raft.pdf"]


def test_serve_refuses_bad_app_options_before_serving():
    runner = CliRunner()
    bad = (
        ["--nodes", "12"],
        ["--colour"],
        ["run", "x.txt"],
        ["--keymap", "no-such-keymap.toml"],
        ["--scenario", "no-such-script.txt"],
        ["--algo", "paxos", "--prevote"],
        ["--keys", "3"],
    )
    for args in bad:
        result = runner.invoke(cli, ["serve", "--port", "1", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Serving" not in result.output and "Traceback" not in result.output


def test_serve_without_the_extra_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)  # import fails
    result = CliRunner().invoke(cli, ["serve", "--port", str(free_port())])
    assert result.exit_code == 2
    assert "pip install 'consensus-tui[serve]'" in result.output
