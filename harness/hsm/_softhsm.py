"""A SoftHSM2 home of its own: config file and token directory inside a run folder.

The machine-wide ``/etc/softhsm/softhsm2.conf`` and its token directory are never
touched: every run writes its own config and points ``SOFTHSM2_CONF`` at it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import ConfigError, TokenNotFoundError
from harness.hsm import _module
from harness.hsm._library import find_library

log = logging.getLogger(__name__)

DEFAULT_LABEL = "ForFabric"
DEFAULT_PIN = "98765432"
DEFAULT_SO_PIN = "1234"
PIN_ENV = "HARNESS_HSM_PIN"
SO_PIN_ENV = "HARNESS_HSM_SO_PIN"
LABEL_ENV = "HARNESS_HSM_LABEL"

_CONF_NAME = "softhsm2.conf"
_MAX_LABEL = 32
_PIN_RANGE = (4, 255)


def default_label() -> str:
    return os.environ.get(LABEL_ENV) or DEFAULT_LABEL


def resolve_pin(pin: str | None) -> str:
    """The user PIN: as given, else ``$HARNESS_HSM_PIN``, else the SIG's default."""
    return pin if pin is not None else os.environ.get(PIN_ENV) or DEFAULT_PIN


def resolve_so_pin(so_pin: str | None) -> str:
    """The security officer PIN: as given, else ``$HARNESS_HSM_SO_PIN``, else default."""
    return (
        so_pin if so_pin is not None else os.environ.get(SO_PIN_ENV) or DEFAULT_SO_PIN
    )


def check_label(label: str) -> str:
    if not label or len(label.encode()) > _MAX_LABEL:
        raise ConfigError(f"token label {label!r} must be 1 to {_MAX_LABEL} bytes long")
    return label


def check_pin(pin: str, what: str) -> str:
    low, high = _PIN_RANGE
    if not low <= len(pin) <= high:
        raise ConfigError(f"the {what} must be {low} to {high} characters long")
    return pin


@dataclass
class SoftHsm:
    """A per-run SoftHSM2 installation: ``<home>/softhsm2.conf`` and ``<home>/tokens/``."""

    home: Path
    library: Path = field(default_factory=find_library)

    @property
    def conf_path(self) -> Path:
        return self.home / _CONF_NAME

    @property
    def token_dir(self) -> Path:
        return self.home / "tokens"

    @classmethod
    def create(cls, home: Path, library: Path | None = None) -> SoftHsm:
        """Write a fresh config and an empty token directory under ``home``."""
        lib = library if library is not None else find_library()
        home = home.resolve()
        token_dir = home / "tokens"
        token_dir.mkdir(parents=True, exist_ok=True)
        (home / _CONF_NAME).write_text(
            f"directories.tokendir = {token_dir}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
            "slots.mechanisms = ALL\n"
        )
        log.info("SoftHSM2 home %s", home)
        return cls(home=home, library=lib)

    @classmethod
    def open(cls, home: Path, library: Path | None = None) -> SoftHsm:
        """An existing home; a clear error when ``home`` holds no SoftHSM2 config."""
        home = home.resolve()
        if not (home / _CONF_NAME).is_file():
            raise ConfigError(
                f"{home} holds no {_CONF_NAME}",
                hint="run 'harness hsm init' first or pass the folder it printed",
            )
        return cls(
            home=home, library=library if library is not None else find_library()
        )

    def env(self) -> dict[str, str]:
        """Environment variables a child process (a peer, softhsm2-util) needs."""
        return {_module.CONF_ENV: str(self.conf_path), "PKCS11_LIB": str(self.library)}

    def labels(self) -> list[str]:
        """Labels of the initialised tokens in this home."""
        module = _module.acquire(self.library, self.conf_path)
        try:
            return [label for _, label, ready in module.token_infos() if ready]
        finally:
            _module.release(module)

    def init_token(
        self,
        label: str | None = None,
        pin: str | None = None,
        so_pin: str | None = None,
    ) -> str:
        """Initialise a new token called ``label``; refuse a label already in use."""
        label = check_label(label or default_label())
        pin = check_pin(resolve_pin(pin), "user PIN")
        so_pin = check_pin(resolve_so_pin(so_pin), "SO PIN")
        module = _module.acquire(self.library, self.conf_path)
        try:
            if any(found == label for _, found, ready in module.token_infos() if ready):
                raise ConfigError(
                    f"a token labelled '{label}' already exists in {self.token_dir}",
                    hint="choose another --label or a new run folder",
                )
            module.init_token(label, so_pin=so_pin, pin=pin)
        finally:
            _module.release(module)
        log.info("token '%s' initialised in %s", label, self.token_dir)
        return label

    def require_label(self, label: str, module: _module.Module) -> None:
        infos = module.token_infos()
        if any(found == label and ready for _, found, ready in infos):
            return
        known = sorted(found for _, found, ready in infos if ready)
        if not known:
            raise TokenNotFoundError(
                f"no token labelled '{label}': {self.token_dir} holds no initialised token",
                hint="run 'harness hsm init' to create one",
            )
        raise TokenNotFoundError(
            f"no token labelled '{label}'; tokens here: {', '.join(known)}",
            hint=_closest_hint(label, known),
        )


def _closest_hint(label: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(label, known, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "pass one of those with --label"
