"""Port blocks outside the Linux ephemeral range, one stripe per pytest-xdist worker.

The kernel hands out ephemeral ports from 32768-60999 by default, so a block taken
from below or above that range never collides with a client socket. Each xdist
worker (``PYTEST_XDIST_WORKER=gwN``) gets its own stripe of ``per_worker`` ports,
and a run takes the first block of its stripe whose ports are all free.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from harness.errors import ConfigError
from harness.spec._model import PortSettings

log = logging.getLogger(__name__)

EPHEMERAL_LOW = 32768
EPHEMERAL_HIGH = 60999
WORKER_ENV = "PYTEST_XDIST_WORKER"

_WORKER = re.compile(r"^gw(\d+)$")


@dataclass(frozen=True)
class PortBlock:
    """``size`` consecutive ports starting at ``first``."""

    first: int
    size: int

    @property
    def last(self) -> int:
        return self.first + self.size - 1

    def port(self, index: int) -> int:
        """The ``index``-th port of the block."""
        if not 0 <= index < self.size:
            raise ConfigError(
                f"port index {index} is outside a block of {self.size} ports",
                hint="raise ports.block_size in the network spec",
            )
        return self.first + index

    def assign(
        self, names: tuple[str, ...], per_node: int
    ) -> dict[str, tuple[int, ...]]:
        """``per_node`` ports for each name, in order (e.g. listen, operations)."""
        return {
            name: tuple(self.port(i * per_node + j) for j in range(per_node))
            for i, name in enumerate(names)
        }


def worker_index(environ: Mapping[str, str] | None = None) -> int:
    """The pytest-xdist worker number (``gw3`` -> 3), 0 outside xdist."""
    value = (environ if environ is not None else os.environ).get(WORKER_ENV, "")
    match = _WORKER.match(value)
    return int(match.group(1)) if match else 0


def in_ephemeral_range(first: int, last: int) -> bool:
    """Whether any port of ``first..last`` lies in the Linux ephemeral range."""
    return first <= EPHEMERAL_HIGH and last >= EPHEMERAL_LOW


def port_is_free(port: int) -> bool:
    """Whether a TCP listener could bind ``port`` on localhost right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def allocate_ports(
    settings: PortSettings,
    *,
    worker: int | None = None,
    is_free: Callable[[int], bool] = port_is_free,
) -> PortBlock:
    """The first free block of this worker's stripe; a clear error if none is."""
    index = worker_index() if worker is None else worker
    stripe = settings.base + index * settings.per_worker
    stripe_end = stripe + settings.per_worker - 1
    if in_ephemeral_range(stripe, stripe_end) or stripe_end > 65535:
        raise ConfigError(
            f"xdist worker {index} would use ports {stripe}-{stripe_end}, which reach "
            f"the ephemeral range {EPHEMERAL_LOW}-{EPHEMERAL_HIGH} or past 65535",
            hint="run fewer workers or lower ports.per_worker in the network spec",
        )
    for first in range(
        stripe, stripe_end - settings.block_size + 2, settings.block_size
    ):
        block = PortBlock(first, settings.block_size)
        if all(is_free(port) for port in range(block.first, block.last + 1)):
            log.debug("worker %s takes ports %s-%s", index, block.first, block.last)
            return block
    raise ConfigError(
        f"no free block of {settings.block_size} ports in {stripe}-{stripe_end}",
        hint="stop networks left running ('harness down') or raise ports.per_worker",
    )
