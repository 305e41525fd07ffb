"""SoftHSM2 tokens for Fabric identities: per-run homes, tokens by label, keys by SKI.

>>> hsm = SoftHsm.create(run.path / "softhsm")
>>> hsm.init_token()                       # ForFabric / 98765432 / SO 1234
>>> with Token(hsm) as token:
...     key = token.generate_key()
"""

from harness.hsm._library import find_library
from harness.hsm._softhsm import (
    DEFAULT_LABEL,
    DEFAULT_PIN,
    DEFAULT_SO_PIN,
    PIN_ENV,
    SO_PIN_ENV,
    SoftHsm,
    resolve_pin,
    resolve_so_pin,
)
from harness.hsm._token import Curve, HsmKey, KeyIdMapping, KeyReport, Token, ski_of

__all__ = [
    "DEFAULT_LABEL",
    "DEFAULT_PIN",
    "DEFAULT_SO_PIN",
    "PIN_ENV",
    "SO_PIN_ENV",
    "Curve",
    "HsmKey",
    "KeyIdMapping",
    "KeyReport",
    "SoftHsm",
    "Token",
    "find_library",
    "resolve_pin",
    "resolve_so_pin",
    "ski_of",
]
