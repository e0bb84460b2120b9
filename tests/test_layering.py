"""The engine layer stays UI-free and reproducible."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINES = Path(__file__).parent.parent / "engines"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_engine_module_imports_textual_or_tui():
    for path in ENGINES.glob("*.py"):
        assert not imported_modules(path) & {"textual", "tui", "rich"}, path.name


def test_importing_every_engine_module_does_not_load_textual():
    modules = [f"engines.{p.stem}" for p in ENGINES.glob("*.py") if p.stem != "__init__"]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_engines_never_read_the_wall_clock_or_global_random():
    for path in ENGINES.glob("*.py"):
        text = path.read_text()
        for banned in (
            "time.time",
            "time.monotonic",
            "datetime.now",
            "random.random(",
            "random.randint(",
            "random.choice(",
            "random.seed(",
        ):
            assert banned not in text, f"{path.name} uses {banned}"
        assert "import time" not in text and "import datetime" not in text, path.name
