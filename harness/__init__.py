"""Test harness and network simulator for the Hyperledger carbon accounting system."""

from harness.errors import (
    CheckFailedError,
    ConfigError,
    EthereumError,
    HarnessError,
    HsmError,
    KeyNotFoundError,
    MissingDependencyError,
    PinIncorrectError,
    ReadinessTimeoutError,
    TokenNotFoundError,
    TransactionRevertedError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckFailedError",
    "ConfigError",
    "EthereumError",
    "HarnessError",
    "HsmError",
    "KeyNotFoundError",
    "MissingDependencyError",
    "PinIncorrectError",
    "ReadinessTimeoutError",
    "TokenNotFoundError",
    "TransactionRevertedError",
    "__version__",
]
