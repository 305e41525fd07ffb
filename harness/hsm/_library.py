"""Finding the PKCS#11 library and the SoftHSM2 tools on this machine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.errors import MissingDependencyError

LIBRARY_ENV = "PKCS11_LIB"

# Where Debian, Ubuntu, Fedora, Alpine and Homebrew put libsofthsm2.so.
USUAL_PATHS = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/lib/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)

INSTALL_HINT = (
    "install SoftHSM2 (Debian/Ubuntu: apt-get install softhsm2) or set PKCS11_LIB"
)


def find_library(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The PKCS#11 library to load: ``explicit``, else ``$PKCS11_LIB``, else the usual paths.

    A path named explicitly (argument or environment) must exist; it is never
    silently replaced by another library.
    """
    named = explicit if explicit is not None else os.environ.get(LIBRARY_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            source = "PKCS11_LIB" if explicit is None else "the library path"
            raise MissingDependencyError(
                f"PKCS#11 library {path} (from {source}) does not exist",
                hint=INSTALL_HINT,
            )
        return path
    for candidate in USUAL_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise MissingDependencyError(
        "SoftHSM2 library libsofthsm2.so not found in the usual places",
        hint=INSTALL_HINT,
    )


def find_softhsm_util() -> Path:
    """The ``softhsm2-util`` program, used to initialise tokens."""
    found = shutil.which("softhsm2-util")
    if found is None:
        raise MissingDependencyError(
            "softhsm2-util not found on PATH",
            hint="install SoftHSM2 (apt-get install softhsm2)",
        )
    return Path(found)
