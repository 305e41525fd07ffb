"""eth-tester in a process of its own, reached over JSON-RPC on loopback.

The chain's EVM is pure Python: in the process that also runs an orchestrator and a
load generator it competes with them for one interpreter lock. Served by
``harness chain serve`` in a child process, it gets a core of its own::

    chain = serve_eth_tester(("emissions_auditor", "consumer_1"), log_path=log)
    token = TokenClient.deploy(chain)
    chain.close()                      # also stops the process
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from harness.errors import EthereumError, ReadinessTimeoutError
from harness.ethereum._accounts import DEFAULT_ACCOUNT_NAMES
from harness.ethereum._chain import Chain

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 10.0


class ChainProcess:
    """One ``harness chain serve`` child: its pid, JSON-RPC url and log."""

    def __init__(self, log_path: Path, account_names: Iterable[str]) -> None:
        self.log_path = log_path
        self.account_names = tuple(account_names)
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._home: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process is not None else 0

    def start(self, timeout: float = READY_TIMEOUT_S) -> ChainProcess:
        """Start the process and wait for the line that names its endpoint."""
        self._home = tempfile.TemporaryDirectory(prefix="harness-chain-")
        command = [
            sys.executable, "-m", "harness", "chain", "serve",
            "--port", "0", "--no-deploy", "--json", "--run-dir", self._home.name,
        ]  # fmt: skip
        # one argument each, so that a name starting with "-" stays a name
        command += [f"--account={name}" for name in self.account_names]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log_file,
                # Its own session, so its own scheduling group (autogroup), as
                # the Fabric node daemons: the kernel then shares the cores
                # between this process and ours, not among our dozens of threads.
                start_new_session=True,
            )
        try:
            self.url = self._read_url(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("eth-tester served on %s by pid %s", self.url, self.pid)
        return self

    def _read_url(self, timeout: float) -> str:
        process = self._process
        assert process is not None
        assert process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        deadline = time.monotonic() + timeout
        buffered = b""
        while time.monotonic() < deadline:
            chunk = process.stdout.read()
            if chunk:
                buffered += chunk
            if b"\n" in buffered:
                line = buffered.split(b"\n", 1)[0]
                try:
                    return str(json.loads(line)["url"])
                except (ValueError, KeyError, TypeError):
                    raise EthereumError(
                        f"harness chain serve printed {line[:200]!r}, not its endpoint",
                        hint=f"see {self.log_path}",
                    ) from None
            if process.poll() is not None:
                raise EthereumError(
                    f"harness chain serve exited with code {process.returncode} "
                    f"at start: {self.tail()}",
                    hint=f"see {self.log_path}",
                )
            time.sleep(0.02)
        raise ReadinessTimeoutError(
            f"harness chain serve named no endpoint within {timeout:.0f} s: "
            f"{self.tail()}",
            hint=f"see {self.log_path}",
        )

    def tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT_S)
            log.info("eth-tester process %s stopped", process.pid)
        if process is not None and process.stdout is not None:
            process.stdout.close()
        if self._home is not None:
            self._home.cleanup()
            self._home = None


def serve_eth_tester(
    account_names: Iterable[str] = DEFAULT_ACCOUNT_NAMES,
    *,
    log_path: Path,
    timeout: float = READY_TIMEOUT_S,
) -> Chain:
    """A fresh eth-tester chain in a child process, its named accounts funded at
    genesis, and a :class:`Chain` on its endpoint; ``chain.close()`` stops it.
    No contract is deployed."""
    names = tuple(account_names)
    process = ChainProcess(log_path, names).start(timeout)
    try:
        return Chain.connect(process.url, names, fund=False, owner=process)
    except BaseException:
        process.stop()
        raise
