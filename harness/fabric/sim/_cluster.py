"""Raft messages between orderer processes over loopback TCP.

Each orderer process listens on one cluster port (:class:`ClusterEndpoint`) and
keeps one outgoing stream per other orderer (:class:`ClusterLinks`); frames are
:mod:`._raftwire` messages tagged with their channel. :class:`WireRuntime` runs
the one local :class:`OrdererNode` of a channel as :class:`ThreadedRuntime` does
(ticks, inbox, faults) and sends what is addressed to other nodes over the links.

As the in-process transport does, a message to a node that is down is dropped:
a link that cannot connect, or whose bounded queue is full, discards it, and Raft
resends what matters on the next heartbeat.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping

from harness.errors import HarnessError
from harness.fabric.sim._orderer import ThreadedRuntime
from harness.fabric.sim._raft import Message
from harness.fabric.sim._raftwire import (
    HEADER,
    WireFormatError,
    body_length,
    decode,
    encode,
    frame,
)

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
LINK_QUEUE = 1024  # frames waiting for one peer before new ones are dropped
CONNECT_TIMEOUT_S = 1.0
SEND_TIMEOUT_S = 5.0

Handler = Callable[[str, Message], None]


class ClusterError(HarnessError):
    """The cluster endpoint could not listen."""


def _read_exactly(stream: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = stream.recv(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class _StreamHandler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        stream: socket.socket = self.request
        try:
            while True:
                header = _read_exactly(stream, HEADER.size)
                if header is None:
                    return
                body = _read_exactly(stream, body_length(header))
                if body is None:
                    return
                self.server.endpoint.dispatch(*decode(body))
        except WireFormatError as exc:
            log.warning("cluster endpoint: closing a stream: %s", exc)
        except OSError as exc:
            log.debug("cluster endpoint: stream ended: %s", exc)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, endpoint: ClusterEndpoint) -> None:
        self.endpoint = endpoint
        super().__init__((HOST, port), _StreamHandler)


class ClusterEndpoint:
    """An orderer's cluster port: frames in, dispatched by channel."""

    def __init__(self, node_id: str, port: int) -> None:
        self.node_id = node_id
        self._handlers: dict[str, Handler] = {}
        try:
            self._server = _Server(port, self)
        except OSError as exc:
            raise ClusterError(
                f"orderer {node_id} cannot listen on {HOST}:{port}: {exc}",
                hint="another process holds the port; stop it or change ports.base",
            ) from None
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name=f"cluster-{node_id}",
            daemon=True,
        )
        self._thread.start()
        log.info("orderer %s: cluster endpoint on %s:%d", node_id, HOST, self.port)

    def register(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler

    def dispatch(self, channel: str, src: str, message: Message) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            log.debug("cluster endpoint: no channel %r; frame dropped", channel)
            return
        handler(src, message)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Link:
    """One outgoing stream to a peer orderer, fed by a bounded queue."""

    def __init__(self, node_id: str, peer: str, port: int) -> None:
        self.peer = peer
        self.port = port
        self._queue: queue.Queue[bytes | None] = queue.Queue(LINK_QUEUE)
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"link-{node_id}-{peer}", daemon=True
        )
        self._thread.start()

    def put(self, data: bytes) -> None:
        try:
            self._queue.put_nowait(data)
        except queue.Full:
            log.debug("link to %s full; frame dropped", self.peer)

    def _run(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                break
            try:
                self._connected().sendall(data)
            except OSError as exc:
                log.debug("link to %s: %s; frame dropped", self.peer, exc)
                self._disconnect()
        self._disconnect()

    def _connected(self) -> socket.socket:
        if self._socket is None:
            stream = socket.create_connection(
                (HOST, self.port), timeout=CONNECT_TIMEOUT_S
            )
            stream.settimeout(SEND_TIMEOUT_S)
            stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socket = stream
        return self._socket

    def _disconnect(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        self._thread.join(timeout=SEND_TIMEOUT_S + CONNECT_TIMEOUT_S)


class ClusterLinks:
    """Outgoing streams from ``node_id`` to every other orderer's cluster port."""

    def __init__(self, node_id: str, ports: Mapping[str, int]) -> None:
        self.node_id = node_id
        self._links = {
            peer: _Link(node_id, peer, port)
            for peer, port in ports.items()
            if peer != node_id
        }

    def send(self, channel: str, src: str, dst: str, message: Message) -> None:
        link = self._links.get(dst)
        if link is None:
            log.debug("no link to %s; raft message dropped", dst)
            return
        link.put(frame(encode(channel, src, message)))

    def close(self) -> None:
        for link in self._links.values():
            link.close()


class WireRuntime(ThreadedRuntime):
    """:class:`ThreadedRuntime` for the local node of one channel; messages to
    the other nodes go over :class:`ClusterLinks`, theirs come in through the
    :class:`ClusterEndpoint`."""

    def __init__(
        self, channel: str, endpoint: ClusterEndpoint, links: ClusterLinks
    ) -> None:
        super().__init__()
        self.channel = channel
        self.links = links
        endpoint.register(channel, self._incoming)

    def _incoming(self, src: str, message: Message) -> None:
        super()._post(self.links.node_id, (src, message))

    def _post(self, dst: str, item: tuple[str, Message]) -> None:
        if dst in self.inboxes:
            super()._post(dst, item)
            return
        src, message = item
        self.links.send(self.channel, src, dst, message)
