"""RpcBackend's pool of persistent HTTP connections, against the harness's own
JSON-RPC endpoint on loopback, counted where the server accepts them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psutil
import pytest

from harness.ethereum import Chain, RpcServer, _rpc_server
from harness.ethereum._backends import RpcBackend

THREADS = 16
REQUESTS_PER_THREAD = 40


class CountedServer:
    """An RpcServer and the client address of every connection it accepted."""

    def __init__(self, server: RpcServer) -> None:
        self.server = server
        self.accepted: list[tuple[str, int]] = []
        httpd = server._httpd
        accept = httpd.process_request

        def counted(request: Any, client_address: Any) -> None:
            self.accepted.append(client_address)
            accept(request, client_address)

        httpd.process_request = counted  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture
def server() -> Iterator[CountedServer]:
    with RpcServer(Chain.eth_tester()) as running:
        yield CountedServer(running)


def _burst(backend: RpcBackend, chain_id: int) -> None:
    """THREADS threads at once, each alternating eth_chainId and eth_blockNumber."""
    start = threading.Barrier(THREADS)

    def one_thread(_: int) -> None:
        start.wait()
        for i in range(REQUESTS_PER_THREAD):
            if i % 2:
                assert int(backend.request("eth_chainId", []), 16) == chain_id
            else:
                assert int(backend.request("eth_blockNumber", []), 16) >= 0

    with ThreadPoolExecutor(THREADS) as pool:
        for done in [pool.submit(one_thread, n) for n in range(THREADS)]:
            done.result()  # re-raises a failed request or assertion


@pytest.mark.parametrize(
    ("connections", "least"),
    [pytest.param(1, 1, id="one"), pytest.param(4, 2, id="four")],
)
def test_sixteen_threads_open_at_most_the_pool_s_connections(
    server: CountedServer, connections: int, least: int
) -> None:
    backend = RpcBackend(server.url, connections=connections)
    try:
        _burst(backend, server.server.chain.chain_id)

        assert least <= len(server.accepted) <= connections
        assert len(backend._idle) == len(server.accepted)  # every one back, reused
    finally:
        backend.close()


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


def _closed_by_the_node(port: int) -> int:
    """This process's connections to ``port`` that the other end has closed."""
    return sum(
        1
        for c in psutil.Process().net_connections("tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_CLOSE_WAIT
    )


def test_a_request_after_the_node_dropped_idle_connections_reconnects(
    server: CountedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the endpoint's idle timeout is 30 s; a short one drops them within the test
    monkeypatch.setattr(_rpc_server._Handler, "timeout", 0.2)
    backend = RpcBackend(server.url, connections=4)
    try:
        _burst(backend, server.server.chain.chain_id)
        idle = len(backend._idle)
        assert idle >= 2
        _wait_until(
            lambda: _closed_by_the_node(server.port) >= idle,
            f"the node closing {idle} idle connections",
        )

        assert int(backend.request("eth_blockNumber", []), 16) >= 0
    finally:
        backend.close()
