"""Test harness and network simulator for the Hyperledger carbon accounting system."""

from harness.errors import (
    CheckFailedError,
    ConfigError,
    HarnessError,
    HsmError,
    KeyNotFoundError,
    MissingDependencyError,
    PinIncorrectError,
    ReadinessTimeoutError,
    TokenNotFoundError,
)

__version__ = "0.1.0"

__all__ = [
    "CheckFailedError",
    "ConfigError",
    "HarnessError",
    "HsmError",
    "KeyNotFoundError",
    "MissingDependencyError",
    "PinIncorrectError",
    "ReadinessTimeoutError",
    "TokenNotFoundError",
    "__version__",
]
