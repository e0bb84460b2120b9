"""Snapshot tests of the live app over a fixed status feed: no cluster, no clock. The feed
holds what a real 5-member run showed just after its leader was isolated: the old leader
still claims to lead in its old term, the majority elected a new one, one member is down.
Refresh with `uv run pytest tests/test_live_snapshots.py --snapshot-update`, look at the SVG."""

from __future__ import annotations

from snapshot_apps.support import pilot_test, screen_text

from tui.live.status import LeaderChange, MemberStatus, RecordedFeed, Snapshot
from tui.live.wal import WalEntry, WalView
from tui.live_app import REFRESH_S, LiveApp
from tui.screens.help import HelpScreen

SIZE = (120, 40)
BOOT = (
    WalEntry(1, 1, "conf change", 94, "add n1"),
    WalEntry(2, 1, "conf change", 94, "add n2"),
    WalEntry(3, 1, "conf change", 94, "add n3"),
    WalEntry(4, 2, "normal", 0),
    WalEntry(5, 2, "normal", 133, "v2 PUT /0/members/1d6754c0b2a9e3f1/attributes"),
)
PUTS = tuple(WalEntry(i, 3, "normal", 22, f"put k{i % 2 + 1}=1.{i}") for i in range(6, 14))


def wal(entries: tuple[WalEntry, ...], term: int, vote: str, commit: int) -> WalView:
    return WalView(entries, term, vote, commit)


def member(node: int, role: str, term: int, leader: int | None, last: int, **extra) -> MemberStatus:
    fields = dict(role=role, term=term, last_index=last, applied_index=last, leader=leader)
    return MemberStatus(node, "up", **(fields | extra))


ISOLATED = (
    member(
        1, "follower", 4, 3, 15, wal=wal(BOOT + PUTS + (WalEntry(14, 4, "normal", 0),), 4, "n3", 14)
    ),
    member(
        2,
        "leader",
        3,
        2,
        14,
        applied_index=13,
        wal=wal(BOOT + PUTS + (WalEntry(14, 3, "normal", 22, "put k1=[b]x[/b]"),), 3, "n2", 13),
    ),
    member(
        3, "leader", 4, 3, 15, wal=wal(BOOT + PUTS + (WalEntry(14, 4, "normal", 0),), 4, "n3", 14)
    ),
    MemberStatus(4, "down", wal=wal(BOOT + PUTS, 3, "n2", 13)),
    member(
        5,
        "follower",
        4,
        3,
        15,
        errors=("memberID:9e1d91285c3e7a44 alarm:NOSPACE",),
        wal=wal(BOOT + PUTS + (WalEntry(14, 4, "normal", 0),), 4, "n3", 14),
    ),
)
CHANGES = [
    LeaderChange(0.004, None, None),
    LeaderChange(0.318, 2, 3),
    LeaderChange(6.905, 3, 4),
]


def test_live_app_after_the_leader_is_isolated(snap_compare):
    feed = RecordedFeed([Snapshot(7.2, ISOLATED, groups=((2,), (1, 3, 4, 5)))], CHANGES)
    app = LiveApp(feed, [1, 2, 3, 4, 5])
    app.animation_level = "none"
    assert snap_compare(app, terminal_size=SIZE, press=["2"])


@pilot_test
async def test_the_live_help_screen_lists_the_live_keys_in_their_live_meaning():
    feed = RecordedFeed([Snapshot(7.2, ISOLATED, groups=((2,), (1, 3, 4, 5)))], CHANGES)
    app = LiveApp(feed, [1, 2, 3, 4, 5])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        screen = pilot.app.screen
        assert isinstance(screen, HelpScreen)
        text = screen_text(pilot.app)
        assert "SIGKILL" in text and "real etcd cluster" in text
        assert "Step back" not in text  # the simulator's time keys mean nothing live
        await pilot.pause(3 * REFRESH_S)  # the feed polls on under the dialog
        assert isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, HelpScreen)
