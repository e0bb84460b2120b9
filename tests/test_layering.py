"""The engine layer stays UI-free and reproducible, and its layers depend downwards only:
core <- protocols (raft, paxos) <- lab."""

import ast
import subprocess
import sys
from pathlib import Path

ENGINES = Path(__file__).parent.parent / "engines"
SOURCES = sorted(ENGINES.rglob("*.py"))

PROTOCOL_PACKAGES = ("raft", "paxos")


def module_name(path: Path) -> str:
    parts = path.relative_to(ENGINES.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top_level_imports(path: Path) -> set[str]:
    """Full module names imported at module level (imports inside functions are lazy)."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def all_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "engines"


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_no_engine_module_imports_textual_or_tui():
    for path in SOURCES:
        roots = {name.split(".")[0] for name in all_imports(path)}
        assert not roots & {"textual", "tui", "rich"}, path


def test_importing_every_engine_module_does_not_load_textual():
    modules = [module_name(p) for p in SOURCES]
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')))\n"
    )
    assert run_python(code) == "[]"


def test_the_core_imports_only_the_core():
    for path in ENGINES.joinpath("core").glob("*.py"):
        for name in top_level_imports(path):
            if name.startswith("engines"):
                assert layer(name) == "core", f"{path.name} imports {name}"


def test_a_protocol_imports_the_core_and_itself_but_never_the_simulator():
    for package in PROTOCOL_PACKAGES:
        for path in ENGINES.joinpath(package).glob("*.py"):
            for name in all_imports(path):
                if name.startswith("engines"):
                    assert layer(name) in ("core", package), f"{package}/{path.name}: {name}"
                    assert name != "engines.core.sim", f"{package}/{path.name} imports the sim"


def test_importing_a_protocol_node_does_not_load_the_simulator_or_the_lab():
    for package in PROTOCOL_PACKAGES:
        code = (
            f"import sys, engines.{package}\n"
            "print(sorted(m for m in sys.modules if m == 'engines.core.sim'"
            " or m.startswith('engines.lab')))\n"
        )
        assert run_python(code) == "[]", package


def test_engines_never_read_the_wall_clock_or_global_random():
    for path in SOURCES:
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


def test_engine_modules_import_each_other_without_cycles():
    """Module-level imports form no cycle (the registry loads a protocol lazily, by name)."""
    modules = {module_name(p): p for p in SOURCES}
    graph = {
        name: {m for m in top_level_imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    visiting, done = set(), set()

    def visit(name: str, trail: list[str]) -> None:
        assert name not in visiting, " -> ".join(trail + [name])
        if name in done:
            return
        visiting.add(name)
        for imported in graph[name]:
            visit(imported, trail + [name])
        visiting.discard(name)
        done.add(name)

    for name in graph:
        visit(name, [])
