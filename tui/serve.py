"""`consensus-tui serve`: the app as a web page, one session (one process, one simulator) per
browser tab, through textual-serve.

textual-serve starts a command for every websocket that connects; the command is this same
program with the app options the teacher gave, so each tab opens the app `consensus-tui`
would open in a terminal.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys

INSTALL_LINE = "pip install 'consensus-tui[serve]'"


def session_command(app_args: list[str]) -> str:
    """The shell command textual-serve runs per browser session: this interpreter and
    package, so it works whatever is on the PATH."""
    return shlex.join([sys.executable, "-m", "tui", *app_args])


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`; a name other than localhost counts as
    reachable from outside."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(app_args: list[str], host: str, port: int, public_url: str | None) -> None:
    """Serve until Ctrl+C. Raises ImportError without the extra, OSError when the address
    cannot be bound."""
    from textual_serve.server import Server

    server = Server(
        session_command(app_args),
        host=host,
        port=port,
        title="consensus-tui",
        public_url=public_url,
    )
    server.serve()
