"""Peer proxies: one per member, in front of its peer port, cutting links on request.

etcd members reach each other over HTTP/1.1: long-lived stream GETs (`/raft/stream/...`),
message POSTs (`/raft`), snapshots (`/raft/snapshot`) and probes (`/raft/probing`). Every one
of the first three names its sender in an `X-Server-From` header (the member ID in hex), and
requests share keep-alive connections, so the proxy parses EVERY request on a connection, not
just the first, and closes the connection when its sender is cut off from this member. A
request without the header (a probe, a version check) carries no Raft message; it goes
through under the sender last seen on its connection, if any.

A stream GET carries messages both ways (the response streams the receiver's messages back),
so a link is cut in both directions or not at all, which is what partition groups need.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator

HOST = "127.0.0.1"
MAX_HEADER_BYTES = 64 * 1024
CHUNK = 64 * 1024


def member_id(peer_url: str, token: str) -> int:
    """etcd's ID of an initial member: the first 8 bytes of SHA-1 over its peer URLs and
    the cluster token, big-endian (etcdserver/api/membership.NewMember)."""
    return int.from_bytes(hashlib.sha1((peer_url + token).encode()).digest()[:8], "big")


class Links:
    """Which members may talk: a group per member; no groups means every link is up."""

    def __init__(self) -> None:
        self.group_of: dict[int, int] = {}
        self.senders: dict[str, int] = {}  # X-Server-From value (hex ID) -> node id

    def name_members(self, ids: dict[int, int]) -> None:
        self.senders = {f"{mid:x}": node for node, mid in ids.items()}

    def partition(self, groups: list[list[int]]) -> None:
        self.group_of = {node: g for g, group in enumerate(groups) for node in group}

    def heal(self) -> None:
        self.group_of = {}

    def connected(self, a: int, b: int) -> bool:
        groups = self.group_of  # one read: partition() swaps the whole mapping
        return groups.get(a, -1) == groups.get(b, -1)

    @property
    def whole(self) -> bool:
        return not self.group_of


class BadRequest(Exception):
    pass


class RequestReader:
    """Reads HTTP/1.1 requests off a socket one at a time, keeping every byte read so the
    request can be forwarded exactly as it came."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(CHUNK)
        self.buffer += data
        return bool(data)

    def _take_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEADER_BYTES or not self._fill():
                raise BadRequest("connection ended inside a request")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line + b"\r\n"

    def _take(self, size: int) -> Iterator[bytes]:
        while size:
            if not self.buffer and not self._fill():
                raise BadRequest("connection ended inside a body")
            part, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(part)
            yield part

    def head(self) -> tuple[bytes, dict[str, str]] | None:
        """The request line and headers (raw, and as a lowercase dict), or None at a clean
        end of the connection."""
        if not self.buffer and not self._fill():
            return None
        raw, headers = b"", {}
        while True:
            line = self._take_line()
            raw += line
            if line == b"\r\n":
                if raw == b"\r\n":  # a stray blank line between requests
                    raw = b""
                    continue
                return raw, headers
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()

    def body(self, headers: dict[str, str]) -> Iterator[bytes]:
        """The body's bytes as they arrive: by Content-Length, or chunk by chunk."""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            yield from self._chunked()
            return
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        yield from self._take(length)

    def _chunked(self) -> Iterator[bytes]:
        while True:
            size_line = self._take_line()
            yield size_line
            try:
                size = int(size_line.split(b";")[0], 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size == 0:
                while (trailer := self._take_line()) != b"\r\n":
                    yield trailer
                yield b"\r\n"
                return
            yield from self._take(size + 2)  # the chunk and its CRLF


class PeerProxy:
    """Listens on `port` for peers of member `node_id` and forwards to its `target` port."""

    def __init__(self, node_id: int, port: int, target: int, links: Links) -> None:
        self.node_id = node_id
        self.port = port
        self.target = target
        self.links = links
        self.listener = socket.create_server((HOST, port))
        self.lock = threading.Lock()
        self.connections: dict[socket.socket, tuple[socket.socket, int | None]] = {}
        self.closed = False
        self.dropped = 0  # requests refused because their sender was cut off

    def start(self) -> None:
        threading.Thread(target=self._accept, name=f"proxy-n{self.node_id}", daemon=True).start()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
        with self.lock:
            pairs = list(self.connections.items())
            self.connections.clear()
        for downstream, (upstream, _) in pairs:
            _close(downstream, upstream)

    def drop_cut(self) -> None:
        """Close every connection whose sender is now cut off (a stream already open)."""
        with self.lock:
            cut = [
                (down, up)
                for down, (up, sender) in self.connections.items()
                if sender is not None and not self.links.connected(sender, self.node_id)
            ]
            for down, _ in cut:
                del self.connections[down]
        for down, up in cut:
            _close(down, up)

    def _accept(self) -> None:
        while not self.closed:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(downstream,), daemon=True).start()

    def _serve(self, downstream: socket.socket) -> None:
        upstream = None
        try:
            upstream = socket.create_connection((HOST, self.target), timeout=2)
            upstream.settimeout(None)
            self._register(downstream, upstream, None)
            threading.Thread(target=_pipe, args=(upstream, downstream), daemon=True).start()
            self._forward_requests(downstream, upstream)
        except (OSError, BadRequest):
            pass
        finally:
            with self.lock:
                self.connections.pop(downstream, None)
            _close(downstream, upstream)

    def _register(self, down: socket.socket, up: socket.socket, sender: int | None) -> None:
        with self.lock:
            if self.closed:
                raise OSError("proxy closed")
            self.connections[down] = (up, sender)

    def _forward_requests(self, downstream: socket.socket, upstream: socket.socket) -> None:
        reader = RequestReader(downstream)
        sender = None
        while (request := reader.head()) is not None:
            raw, headers = request
            named = self.links.senders.get(headers.get("x-server-from", "").lower())
            sender = named if named is not None else sender
            if sender is not None and not self.links.connected(sender, self.node_id):
                self.dropped += 1
                return  # the sender is cut off: drop the request and the connection
            self._register(downstream, upstream, sender)
            upstream.sendall(raw)
            for part in reader.body(headers):
                upstream.sendall(part)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    """Responses go back as they come: the proxy judges requests, not answers."""
    try:
        while data := source.recv(CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source, sink)


def _close(*socks: socket.socket | None) -> None:
    for sock in socks:
        if sock is None:
            continue
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
