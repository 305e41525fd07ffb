"""Anvil (from the npm package ``@foundry-rs/anvil``) as a faster chain for load.

Anvil stalls when flooded with transactions nobody waits for; the chain it backs is
driven through :meth:`Chain.send_many`, which keeps a bounded window of unconfirmed
transactions, waits for every receipt and resends what went missing.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from harness.errors import EthereumError, MissingDependencyError, ReadinessTimeoutError
from harness.ethereum._accounts import DEFAULT_ACCOUNT_NAMES, DEFAULT_BALANCE_WEI
from harness.ethereum._artifacts import CONTRACTS_DIR
from harness.ethereum._backends import RpcBackend
from harness.ethereum._chain import Chain

log = logging.getLogger(__name__)

ANVIL_ENV = "HARNESS_ANVIL"
ANVIL_CHAIN_ID = 31337
READY_TIMEOUT_S = 20.0
KEPT_STATES = 256
DEFAULT_BLOCK_TIME_S = 0.05
# With interval mining a block takes what is pending up to its gas limit (about 60
# issues at 30M gas), so a wider window keeps each block full.
INTERVAL_MINING_WINDOW = 64
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def find_anvil() -> Path | None:
    """``$HARNESS_ANVIL``, the npm package under contracts/, or ``anvil`` on PATH."""
    configured = os.environ.get(ANVIL_ENV)
    if configured:
        return Path(configured)
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    packaged = (
        CONTRACTS_DIR
        / "node_modules"
        / "@foundry-rs"
        / f"anvil-{system}-{arch}"
        / "bin"
    ) / "anvil"
    if packaged.is_file():
        return packaged
    found = shutil.which("anvil")
    return Path(found) if found else None


class AnvilProcess:
    """One Anvil node on a loopback port, its output in ``log_path``."""

    def __init__(
        self,
        binary: Path,
        log_path: Path,
        *,
        port: int | None = None,
        block_time: float | None = None,
    ) -> None:
        self.binary = binary
        self.block_time = block_time
        self.log_path = log_path
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = READY_TIMEOUT_S) -> AnvilProcess:
        command = [
            str(self.binary),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--chain-id",
            str(ANVIL_CHAIN_ID),
            "--accounts",
            "1",
            # Anvil writes old block states to disk past a count kept in memory, and
            # slows down as it does; the harness reads recent state only.
            "--prune-history",
            str(KEPT_STATES),
        ]
        if self.block_time is not None:
            command += ["--block-time", str(self.block_time)]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self._process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        log.info("anvil starting: pid %s on %s", self._process.pid, self.url)
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        started = time.monotonic()
        deadline = started + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EthereumError(
                    f"anvil exited with code {self._process.returncode} at start",
                    hint=f"last output: {self.tail()}",
                )
            try:
                RpcBackend(self.url, timeout=2.0).close()
            except EthereumError as exc:
                last_error = str(exc)
                time.sleep(0.05)
                continue
            log.info(
                "anvil ready on %s in %.2f s", self.url, time.monotonic() - started
            )
            return
        self.stop()
        raise ReadinessTimeoutError(
            f"anvil on {self.url} did not answer eth_chainId within {timeout:.0f} s "
            f"({last_error})",
            hint=f"last output: {self.tail()}",
        )

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.info("anvil stopped (pid %s)", process.pid)


def start_anvil(
    account_names: Iterable[str] = DEFAULT_ACCOUNT_NAMES,
    *,
    log_path: Path | None = None,
    balance_wei: int = DEFAULT_BALANCE_WEI,
    block_time: float | None = DEFAULT_BLOCK_TIME_S,
) -> Chain:
    """Start Anvil and return a :class:`Chain` on it; ``chain.close()`` stops it.

    By default Anvil mines every ``block_time`` seconds rather than once per
    transaction: its per-block cost grows with the chain's state, so one block
    per transaction slows it several-fold within a few hundred issues, while a
    block every 50 ms holds its rate. ``block_time=None`` mines per transaction.
    """
    binary = find_anvil()
    if binary is None or not os.access(binary, os.X_OK):
        raise MissingDependencyError(
            "anvil is not installed"
            if binary is None
            else f"{binary} is not executable",
            hint="run 'npm ci --prefix contracts' (npm package @foundry-rs/anvil) "
            f"or set {ANVIL_ENV}",
        )
    if log_path is None:
        log_path = (
            Path(".harness") / "anvil" / f"anvil-{os.getpid()}-{time.time_ns()}.log"
        )
    process = AnvilProcess(binary, log_path, block_time=block_time).start()
    try:
        chain = Chain.connect(
            process.url, account_names, balance_wei=balance_wei, owner=process
        )
    except BaseException:
        process.stop()
        raise
    if block_time is not None:
        chain.send_window = INTERVAL_MINING_WINDOW
    return chain


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
