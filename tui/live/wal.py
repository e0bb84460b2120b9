"""A read-only decoder of etcd's write-ahead log: the member's real Raft entries.

`member/wal/*.wal` files hold records, each framed by a little-endian 64-bit length whose
top bit says the top byte's low 3 bits count padding bytes (etcd's wal/encoder.go). A record
is `walpb.Record{type=1, crc=2, data=3}`; entry records (type 2) hold a
`raftpb.Entry{Type=1, Term=2, Index=3, Data=4}` and state records (type 3) a
`raftpb.HardState{term=1, vote=2, commit=3}`. An entry for an index already seen replaces it
and everything after it (a new leader overwrote an uncommitted tail), so the last record for
an index wins.

etcd preallocates each file with zeros and appends while we read. Protobuf has no field 0,
so a zero-filled or half-written record never parses: reading stops there, before it, and
the next read goes on from the same offset. The CRCs are not checked (they chain over the
whole file); a record must parse whole to count. Nothing is ever written.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

ENTRY_RECORD, STATE_RECORD = 2, 3
ENTRY_KINDS = {0: "normal", 1: "conf change", 2: "conf change v2"}
CONF_CHANGES = {0: "add", 1: "remove", 2: "update", 3: "add learner"}
# etcdserverpb.InternalRaftRequest's fields: what a normal entry asks of the state machine.
REQUESTS = {2: "v2 request", 3: "range", 4: "put", 5: "delete", 6: "txn", 7: "compaction"}
REQUESTS |= {8: "lease grant", 9: "lease revoke", 10: "alarm", 1300: "cluster version"}
READ_CHUNK = 256 * 1024
KEEP = 64  # entries kept per member: the panel shows the last few


class Malformed(Exception):
    pass


def varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:
            raise Malformed("varint runs off the end")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        shift += 7
        if not byte & 0x80:
            return value, at


def fields(data: bytes) -> dict[int, int | bytes]:
    """A protobuf message's varint and length-delimited fields (the last of each wins)."""
    found: dict[int, int | bytes] = {}
    at = 0
    while at < len(data):
        key, at = varint(data, at)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise Malformed("field 0")
        if wire == 0:
            found[number], at = varint(data, at)
        elif wire == 2:
            size, at = varint(data, at)
            if at + size > len(data):
                raise Malformed("bytes run off the end")
            found[number], at = data[at : at + size], at + size
        elif wire in (1, 5):  # fixed 64 or 32 bits: skipped, no field here needs them
            at += 8 if wire == 1 else 4
            if at > len(data):
                raise Malformed("fixed field runs off the end")
        else:
            raise Malformed(f"wire type {wire}")
    return found


@dataclass(frozen=True)
class WalEntry:
    index: int
    term: int
    kind: str  # normal, conf change, conf change v2
    size: int  # bytes of data (0: the empty entry a new leader appends)
    what: str = ""  # `put KEY=VALUE`, `txn`, ...; a conf change: `add`, `remove`, ...
    member: int = 0  # a conf change's member ID


def entry(data: bytes) -> WalEntry:
    found = fields(data)
    kind = ENTRY_KINDS.get(found.get(1, 0), f"type {found.get(1)}")
    payload = found.get(4, b"")
    what, member = "", 0
    if kind == "conf change" and payload:
        conf = fields(payload)
        member = conf.get(3, 0)
        what = CONF_CHANGES.get(conf.get(2, 0), "?")
    elif kind == "normal" and payload:
        what = request(payload)
    return WalEntry(found.get(3, 0), found.get(2, 0), kind, len(payload), what, member)


def request(payload: bytes) -> str:
    """A normal entry's request in a few words; a put with its key and value."""
    try:
        found = fields(payload)
        method, path = found.get(2), found.get(3)
        if isinstance(method, bytes) and isinstance(path, bytes) and path.startswith(b"/"):
            # a v2 request (etcdserverpb.Request, stored as is): how members publish their
            # names and client URLs when they start
            return f"v2 {method.decode(errors='replace')} {path.decode(errors='replace')}"
        if isinstance(found.get(4), bytes):
            return put_words(found[4])
        if isinstance(found.get(6), bytes):
            return txn_words(found[6])
    except Malformed:
        return "request"  # the entry itself parsed: only its request is not ours to read
    names = [REQUESTS[n] for n in found if n in REQUESTS]
    return names[0] if names else "request"


def text(value: int | bytes) -> str:
    return bytes(value).decode(errors="replace") if isinstance(value, bytes) else str(value)


def put_words(put: bytes) -> str:
    """A PutRequest{key=1, value=2} as `put KEY=VALUE`."""
    found = fields(put)
    return f"put {text(found.get(1, b''))}={text(found.get(2, b''))}"


def txn_words(txn: bytes) -> str:
    """A TxnRequest{compare=1, success=2} with one value compare and one put on success,
    as the clients' cas sends it: `put KEY=NEW if KEY=OLD`; any other txn as `txn`."""
    found = fields(txn)
    compare, success = found.get(1), found.get(2)
    if not (isinstance(compare, bytes) and isinstance(success, bytes)):
        return "txn"
    compared, then = fields(compare), fields(success)  # Compare{key=3, value=7}; RequestOp
    if not isinstance(then.get(2), bytes) or 7 not in compared:  # request_put=2
        return "txn"
    return f"{put_words(then[2])} if {text(compared.get(3, b''))}={text(compared[7])}"


@dataclass(frozen=True)
class WalView:
    """What the log panel shows: the last entries and the last synced HardState."""

    entries: tuple[WalEntry, ...]
    term: int
    vote: str  # whom it voted for in `term`: `n2`, a member ID in hex, or `-`
    commit: int


class WalReader:
    """Reads one member's WAL as it grows, from where the last read stopped."""

    def __init__(self, data_dir: Path, names: dict[int, int] | None = None) -> None:
        self.folder = Path(data_dir) / "member" / "wal"
        self.names = names or {}  # member ID -> node id
        self.offsets: dict[str, int] = {}
        self.entries: dict[int, WalEntry] = {}
        self.state = (0, 0, 0)

    def read(self) -> WalView:
        for path in sorted(self.folder.glob("*.wal")):
            with contextlib.suppress(OSError):  # a file renamed or cut under us: next time
                self._read_file(path)
        shown = tuple(self.entries[i] for i in sorted(self.entries))
        term, vote, commit = self.state
        return WalView(shown, term, self.name(vote) if vote else "-", commit)

    def name(self, member: int) -> str:
        node = self.names.get(member)
        return f"n{node}" if node is not None else f"{member:x}"

    def _read_file(self, path: Path) -> None:
        offset = self.offsets.get(path.name, 0)
        chunk = READ_CHUNK
        while True:
            with path.open("rb") as wal:
                wal.seek(offset)
                data = wal.read(chunk)
            at = self._records(data)
            if at or len(data) < chunk:
                break
            chunk *= 4  # one record larger than the chunk: read more
        self.offsets[path.name] = offset + at

    def _records(self, data: bytes) -> int:
        """Take the whole records at the start of `data`; how many bytes they took."""
        at = 0
        while at + 8 <= len(data):
            length = int.from_bytes(data[at : at + 8], "little")
            if length == 0:
                break  # the preallocated zeros: nothing written here yet
            size = length & ~(0xFF << 56)
            padding = (length >> 56) & 0x7 if length >> 63 else 0
            end = at + 8 + size + padding
            if end > len(data):
                break
            try:
                self._record(data[at + 8 : at + 8 + size])
            except Malformed:
                break  # half written: read it again next time
            at = end
        return at

    def _record(self, data: bytes) -> None:
        record = fields(data)
        kind, payload = record.get(1, 0), record.get(3, b"")
        if kind == ENTRY_RECORD:
            found = entry(payload)
            if found.member:
                found = replace(found, what=f"{found.what} {self.name(found.member)}")
            for later in [i for i in self.entries if i >= found.index]:
                del self.entries[later]
            self.entries[found.index] = found
            for old in sorted(self.entries)[:-KEEP]:
                del self.entries[old]
        elif kind == STATE_RECORD:
            state = fields(payload)
            self.state = (state.get(1, 0), state.get(2, 0), state.get(3, 0))
