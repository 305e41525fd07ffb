"""Port blocks: outside the ephemeral range, one stripe per xdist worker, free ports."""

from __future__ import annotations

import socket

import pytest

from harness.errors import ConfigError
from harness.spec import (
    EPHEMERAL_HIGH,
    EPHEMERAL_LOW,
    PortBlock,
    PortSettings,
    allocate_ports,
    load_spec,
    port_is_free,
    worker_index,
)

SETTINGS = PortSettings(base=20000, block_size=40, per_worker=400)


def always_free(port: int) -> bool:
    return True


@pytest.mark.parametrize(
    ("value", "index"),
    [("gw0", 0), ("gw7", 7), ("", 0), ("master", 0)],
    ids=["gw0", "gw7", "unset", "not-a-worker"],
)
def test_worker_index(value: str, index: int) -> None:
    assert worker_index({"PYTEST_XDIST_WORKER": value}) == index


def test_workers_get_disjoint_stripes() -> None:
    blocks = [allocate_ports(SETTINGS, worker=w, is_free=always_free) for w in range(5)]

    firsts = [block.first for block in blocks]
    assert firsts == [20000, 20400, 20800, 21200, 21600]
    for block in blocks:
        assert block.last < EPHEMERAL_LOW or block.first > EPHEMERAL_HIGH


def test_worker_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw2")

    assert allocate_ports(SETTINGS, is_free=always_free).first == 20800


def test_busy_block_is_skipped() -> None:
    busy = {20005}

    block = allocate_ports(SETTINGS, worker=0, is_free=lambda port: port not in busy)

    assert block.first == 20040


def test_no_free_block_is_an_error() -> None:
    with pytest.raises(ConfigError, match="no free block"):
        allocate_ports(SETTINGS, worker=0, is_free=lambda port: False)


def test_stripe_reaching_ephemeral_range_is_an_error() -> None:
    with pytest.raises(ConfigError, match="ephemeral range"):
        allocate_ports(SETTINGS, worker=40, is_free=always_free)


def test_bound_port_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]

        assert not port_is_free(port)


def test_assign_gives_each_node_its_own_ports() -> None:
    block = PortBlock(20000, 10)

    ports = block.assign(("orderer0", "peer0"), per_node=2)

    assert ports == {"orderer0": (20000, 20001), "peer0": (20002, 20003)}
    with pytest.raises(ConfigError, match="block_size"):
        block.assign(("a", "b", "c", "d", "e", "f"), per_node=2)


def test_default_network_block_is_really_free_here() -> None:
    block = allocate_ports(load_spec("default").ports, worker=0)

    assert all(port_is_free(port) for port in range(block.first, block.last + 1))
