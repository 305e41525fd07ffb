"""The one exception hierarchy of the harness.

Every error the library raises on purpose is a :class:`HarnessError`. The CLI turns
them into one line on stderr and an exit code: 2 for a user's mistake (bad input,
missing system package, wrong PIN), 1 for a check or scenario that failed.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}; {self.hint}"
        return self.message


class ConfigError(HarnessError):
    """A file, option or argument the user gave is wrong."""


class MissingDependencyError(HarnessError):
    """A system package or library the harness needs is not installed."""


class EngineUnavailableError(MissingDependencyError):
    """No container engine (Docker) answers where the harness looked for one."""


class HsmError(HarnessError):
    """A PKCS#11 token refused or could not do what was asked."""


class PinIncorrectError(HsmError):
    """The token rejected the PIN."""


class TokenNotFoundError(HsmError):
    """No initialised token carries the requested label."""


class KeyNotFoundError(HsmError):
    """No key on the token matches the requested SKI."""


class EthereumError(HarnessError):
    """An Ethereum node or the token contract could not do what was asked."""


class TransactionRevertedError(EthereumError):
    """A transaction or call reverted; ``reason`` is the contract's revert text."""

    def __init__(
        self,
        reason: str,
        *,
        tx_hash: str | None = None,
        function: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = f"{function} " if function else ""
        super().__init__(f"{where}reverted: {reason}", hint=hint)
        self.reason = reason
        self.tx_hash = tx_hash
        self.function = function


class CheckFailedError(HarnessError):
    """An assertion about the system under test did not hold."""

    exit_code = 1


class BroadcastError(HarnessError):
    """An orderer refused an envelope; ``status`` is Fabric's status name for why
    (``SERVICE_UNAVAILABLE``, ``BAD_REQUEST``, ``NOT_FOUND``...)."""

    exit_code = 1

    def __init__(self, message: str, status: str, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ReadinessTimeoutError(HarnessError):
    """Something did not become ready before its deadline."""

    exit_code = 1
