"""Keymap files: the shipped ones load, match the command table, ship in the wheel; bad ones
fail before the app runs with a one-line message naming the file, the line and the problem."""

from __future__ import annotations

import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest

from tui.commands import COMMANDS, default_keymap
from tui.keymap import KeymapError, is_valid_key, load_keymap

ROOT = Path(__file__).resolve().parent.parent


def test_default_toml_is_the_command_table():
    assert load_keymap(None) == default_keymap()
    assert load_keymap("default") == default_keymap()
    data = tomllib.loads((ROOT / "keymaps" / "default.toml").read_text())
    listed = {f"{scope}.{verb}" for scope, table in data.items() for verb in table}
    assert listed == {c.id for c in COMMANDS}


def test_vim_keymap_moves_keys_without_clashes():
    keymap = load_keymap("vim")
    assert keymap["sim.step"] == "l,right"
    assert keymap["sim.back"] == "h,left"
    assert keymap["net.heal"] == "H"
    assert keymap["app.help"] == "question_mark,f1"
    assert keymap["msg.hold_link"] == "K"  # H heals there


def test_every_binding_has_a_scoped_id():
    ids = [c.id for c in COMMANDS]
    assert len(ids) == len(set(ids))
    assert all(len(i.split(".")) == 2 for i in ids)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keys.toml"
    path.write_text(text)
    return path


def test_user_keymap_overrides_some_keys(tmp_path):
    path = write(tmp_path, '"sim.step" = ["j", "down"]\n[net]\nheal = "ctrl+h"\n')
    keymap = load_keymap(path)
    assert keymap["sim.step"] == "j,down"
    assert keymap["net.heal"] == "ctrl+h"
    assert keymap["sim.back"] == "b,left"


def test_single_characters_become_key_names(tmp_path):
    keymap = load_keymap(write(tmp_path, '[sim]\nfaster = "+"\nslower = "-"\n'))
    assert keymap["sim.faster"] == "plus"
    assert keymap["sim.slower"] == "minus"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[sim]\nstep = "n"\nfly = "f"\n', "keys.toml:3: unknown binding id 'sim.fly'"),
        ('[sim]\nstep = "bogus"\n', "keys.toml:2: invalid key 'bogus' for 'sim.step'"),
        ('[sim]\nstep = "ctrl+nope"\n', "invalid key 'ctrl+nope'"),
        ('[sim]\nstep = "hyperdrive+n"\n', "invalid key 'hyperdrive+n'"),
        ('[sim]\nstep = ""\n', "keys.toml:2: empty key for 'sim.step'"),
        (
            '[sim]\nback = ","\n',
            "keys.toml:2: ',' separates keys for 'sim.back': write the comma key as 'comma'",
        ),
        ('[sim]\nstep = "banana"\n', "keys.toml:2: invalid key 'banana' for 'sim.step'"),
        (
            '[sim]\nplay = "Space"\n',
            "keys.toml:2: invalid key 'Space' for 'sim.play'; did you mean 'space'?",
        ),
        ('[sim]\nstep = "pgdown"\n', "did you mean 'pagedown'?"),
        ("[sim]\nstep = 3\n", "keys.toml:2: keys for 'sim.step' must be a string"),
        ('[sim]\nstep = "n\n', "keys.toml:2: invalid TOML"),
        (
            '[sim]\nstep = "x"\n',
            "keys.toml:2: key 'x' is bound to both 'sim.step' and 'node.crash'",
        ),
    ],
)
def test_bad_keymaps_name_file_line_and_problem(tmp_path, text, message):
    with pytest.raises(KeymapError) as info:
        load_keymap(write(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_toml_reports_the_line(tmp_path):
    with pytest.raises(KeymapError, match=r"line 2"):
        load_keymap(write(tmp_path, '[sim]\nstep = "n\n'))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(KeymapError, match="no such keymap file"):
        load_keymap(tmp_path / "nope.toml")
    with pytest.raises(KeymapError, match="cannot read keymap"):
        load_keymap(tmp_path)  # a directory
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(KeymapError, match="latin1.toml"):
        load_keymap(bad)


def test_make_app_raises_before_running(tmp_path):
    from tui.app import make_app

    with pytest.raises(KeymapError, match="unknown binding id"):
        make_app(keymap=write(tmp_path, '"app.fly" = "f"\n'))


@pytest.mark.parametrize(
    "key", ["a", "H", "space", "plus", "comma", "question_mark", "ctrl+p", "f1", "enter"]
)
def test_valid_keys(key):
    assert is_valid_key(key)


@pytest.mark.parametrize(
    "key", ["", "nope", "ctrl+", "ctrl+nope", "\x07", "banana", "Space", "Ctrl+x", "<any>"]
)
def test_invalid_keys(key):
    assert not is_valid_key(key)


def test_keymaps_and_presets_ship_inside_the_wheel(tmp_path):
    subprocess.run(
        ["uv", "build", "--wheel", "--out-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "keymaps/default.toml" in names
    assert "keymaps/vim.toml" in names
    assert "tui/app.tcss" in names
    assert "engines/lab/scenarios/raft/figure8.scn" in names
    assert "engines/lab/scenarios/paxos/bug_ignore_promise.scn" in names
