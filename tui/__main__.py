"""`python -m tui`: the `consensus-tui` command (what `serve` runs for each browser session)."""

from tui.cli import app

app(prog_name="consensus-tui")
