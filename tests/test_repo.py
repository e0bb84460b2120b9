"""The repository itself: no merge left half done."""

from pathlib import Path

ROOT = Path(__file__).parent.parent
TEXT_SUFFIXES = {".py", ".md", ".toml", ".scn", ".tcss", ".txt"}
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


def project_text_files() -> list[Path]:
    skip = {".git", ".venv", "__pycache__", "__snapshots__"}
    return [
        path
        for path in ROOT.rglob("*")
        if path.suffix in TEXT_SUFFIXES
        and path.is_file()
        and not skip.intersection(path.relative_to(ROOT).parts)
    ]


def test_no_file_holds_merge_conflict_markers():
    conflicted = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in project_text_files()
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if line.startswith(CONFLICT_MARKERS)
    ]
    assert conflicted == []
