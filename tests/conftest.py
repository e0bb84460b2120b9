import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def save_folder(tmp_path, monkeypatch):
    """The app's default save folder, for every test: never the user's ~/consensus-tui."""
    folder = tmp_path / "consensus-tui"
    monkeypatch.setattr("tui.app.SAVE_DIR", folder)
    return folder
