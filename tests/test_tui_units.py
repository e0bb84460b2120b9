"""The TUI's pure helpers: literal values, prompt parsing, grid shape, chain divergence."""

from __future__ import annotations

import pytest
from echo import ECHO

from engines.core import protocols
from engines.core.chain import GENESIS, Block
from engines.core.sim import Simulator
from tui.screens.prompts import groups_text, parse_groups, parse_network, partition_presets
from tui.text import ballot, bar, cut, literal, visible
from tui.widgets.nodes import first_divergence, grid_shape, section_sizes


def test_literal_shows_control_characters_and_cuts():
    assert visible("a\x1b[31mb\n") == "a\\x1b[31mb\\n"
    assert visible("[red]x[/red]") == "[red]x[/red]"
    assert literal("x" * 30, 10) == "x" * 9 + "…"
    assert cut("日本語テキスト", 6) == "日本…"
    assert literal("short", 10) == "short"


def test_ballot_and_bar():
    assert ballot([3, 2]) == "3.2"
    assert ballot([0, 0]) == "-"
    assert ballot(None) == "-"
    assert bar(0.5, 8) == "████░░░░"
    assert bar(-1, 4) == "░░░░"
    assert bar(2, 4) == "████"


def test_parse_groups():
    assert parse_groups("1 2 | 3 4 5", [1, 2, 3, 4, 5]) == [[1, 2], [3, 4, 5]]
    assert parse_groups("n1 | n2 n3", [1, 2, 3]) == [[1], [2, 3]]
    assert parse_groups("1 2", [1, 2, 3]) == [[1, 2]]  # n3 cut off alone
    for bad, message in [
        ("1 2 | 2 3", "n2 is in two groups"),
        ("1 | 7", "'7' is not a node"),
        ("1 | x", "'x' is not a node"),
        ("1 2 | ", "at least one node"),
        ("1 2 3", "that is one group"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_groups(bad, [1, 2, 3])


def test_partition_presets():
    presets = dict(partition_presets([1, 2, 3, 4, 5], leader=3))
    assert presets["isolate the leader n3"] == [[3], [1, 2, 4, 5]]
    assert presets["split, leader n3 in the minority"] == [[3, 1], [2, 4, 5]]
    assert presets["split, leader n3 in the majority"] == [[3, 1, 2], [4, 5]]
    no_leader = partition_presets([1, 2, 3], leader=None)
    assert [label for label, _ in no_leader][0].startswith("split")
    assert groups_text([[1, 2], [3]]) == "1 2 | 3"


def test_parse_network():
    assert parse_network("5..20", "0.1", "0") == {
        "latency_min": 5,
        "latency_max": 20,
        "drop": 0.1,
        "dup": 0.0,
    }
    assert parse_network("7", "0", "0")["latency_max"] == 7
    for args, message in [
        (("fast", "0", "0"), "latency 'fast'"),
        (("5..20", "lots", "0"), "drop 'lots'"),
        (("5..20", "0", "2"), "dup=2.0 is not a probability"),
        (("20..5", "0", "0"), "latency range 20..5 is invalid"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_network(*args)


def test_grid_shape_adapts_to_width():
    assert grid_shape(5, 200) == (5, 1)
    assert grid_shape(5, 120) == (3, 2)
    assert grid_shape(5, 80) == (3, 2)
    assert grid_shape(9, 120) == (3, 3)
    assert grid_shape(9, 80) == (3, 3)
    assert grid_shape(3, 40) == (1, 3)


def test_section_sizes_fit_the_rows():
    for rows in range(0, 20):
        entries, chain, kv = section_sizes(rows, 10, 5)
        assert entries + chain + kv <= max(rows, 0)
    assert section_sizes(12, 2, 5) == (2, 5, 1)  # few entries: the chain takes the rest


def test_first_divergence_finds_the_lowest_differing_block():
    protocols.register(ECHO)
    sim = Simulator("echo", 3, 1)
    assert first_divergence(sim) is None
    for i, data in ((1, "a"), (2, "a"), (3, "a")):
        sim.nodes[i].sm.apply("p1", data, 0)
    sim.nodes[1].sm.apply("p2", "b", 0)
    assert first_divergence(sim) is None  # n1 is only ahead
    sim.nodes[2].sm.apply("p3", "c", 0)
    sim.nodes[2].sm.apply("p4", "d", 0)
    assert first_divergence(sim) == 2
    assert isinstance(sim.nodes[2].sm.chain[0], Block) and sim.nodes[2].sm.chain[0] == GENESIS
