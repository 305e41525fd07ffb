"""The process-wide PKCS#11 library: loaded once, every call serialised.

python-pkcs11 calls ``C_Initialize(NULL)``: the library gets no locking callbacks and
no permission to use OS locks, so SoftHSM2 is not thread-safe in this process. Every
call into the library therefore goes through :attr:`Module.lock`.

SoftHSM2 reads ``SOFTHSM2_CONF`` (and with it the token directory) once, in
``C_Initialize``. A process can therefore serve one token directory at a time; the
module switches to another one when no token of the first is open.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pkcs11

from harness.errors import HsmError, PinIncorrectError

log = logging.getLogger(__name__)

CONF_ENV = "SOFTHSM2_CONF"
_CKR_OK = 0x0
_CKM_ECDSA = 0x1041


class _Mechanism(ctypes.Structure):
    _fields_ = (
        ("mechanism", ctypes.c_ulong),
        ("parameter", ctypes.c_void_p),
        ("parameter_len", ctypes.c_ulong),
    )


class _RawSigner:
    """``C_SignInit`` + ``C_Sign`` through ``ctypes.PyDLL``.

    PyDLL keeps the GIL across the call, unlike python-pkcs11, which releases it.
    Released, every signature wakes the threads queued on the module lock only for
    them to block again; held, the signing thread runs on and the others wait
    quietly. Measured here with four threads: about 0.8 of the single-thread raw
    rate, against about 0.7 through python-pkcs11.
    """

    def __init__(self, library: Path) -> None:
        dll = ctypes.PyDLL(str(library))
        self._init = dll.C_SignInit
        self._init.restype = ctypes.c_ulong
        self._init.argtypes = (
            ctypes.c_ulong,
            ctypes.POINTER(_Mechanism),
            ctypes.c_ulong,
        )
        self._sign = dll.C_Sign
        self._sign.restype = ctypes.c_ulong
        self._sign.argtypes = (
            ctypes.c_ulong,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_ulong),
        )
        self._mechanism = _Mechanism(_CKM_ECDSA, None, 0)

    def ecdsa(self, session: int, key: int, digest: bytes, size: int) -> bytes:
        """Raw ``r || s``; the caller holds the module lock."""
        out = ctypes.create_string_buffer(size)
        out_len = ctypes.c_ulong(size)
        rv = self._init(session, ctypes.byref(self._mechanism), key)
        if rv == _CKR_OK:
            rv = self._sign(session, digest, len(digest), out, ctypes.byref(out_len))
        if rv != _CKR_OK:
            raise HsmError(f"C_Sign failed with CKR 0x{rv:x}")
        return out.raw[: out_len.value]


_LABEL_LEN = 32


@dataclass
class _Login:
    """One logged-in anchor session per token label, shared by every opener."""

    session: Any
    pin_digest: bytes
    users: int = 0


@dataclass
class Module:
    """A loaded PKCS#11 library bound to one SoftHSM2 config file."""

    library: Path
    conf: Path
    raw_lib: Any
    lock: threading.RLock = field(default_factory=threading.RLock)
    raw_signer: _RawSigner | None = None
    users: int = 0
    logins: dict[str, _Login] = field(default_factory=dict)

    def token_infos(self) -> list[tuple[int, str, bool]]:
        """``(slot id, label, initialised)`` for every slot that holds a token."""

        with self.lock:
            result = []
            for slot in self.raw_lib.get_slots(token_present=True):
                token = slot.get_token()
                initialised = bool(token.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED)
                result.append((slot.slot_id, token.label, initialised))
            return result

    def init_token(self, label: str, so_pin: str, pin: str) -> None:
        """``C_InitToken`` on a free slot, then ``C_InitPIN``: all in this process.

        Done in-process (not with softhsm2-util) so this library instance sees the
        new token at once, and no PIN appears on a command line.
        """
        free = [slot for slot, _, initialised in self.token_infos() if not initialised]
        if not free:
            raise HsmError("SoftHSM2 offers no free slot to initialise a token in")
        padded = label.encode().ljust(_LABEL_LEN, b" ")
        so_bytes = so_pin.encode()
        c_lib = ctypes.CDLL(str(self.library))
        c_init = c_lib.C_InitToken
        c_init.restype = ctypes.c_ulong
        c_init.argtypes = [
            ctypes.c_ulong,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        with self.lock:
            rv = c_init(free[0], so_bytes, len(so_bytes), padded)
            if rv != _CKR_OK:
                raise HsmError(
                    f"C_InitToken for token '{label}' failed with CKR 0x{rv:x}"
                )
            raw_token = self.raw_lib.get_token(token_label=label)
            session = raw_token.open(rw=True, so_pin=so_pin)
            try:
                session.init_pin(pin)
            finally:
                session.close()

    def login(self, label: str, pin: str) -> None:
        """Log in to token ``label`` once for the process; later callers must match."""

        digest = hashlib.sha256(label.encode() + b"\0" + pin.encode()).digest()
        with self.lock:
            existing = self.logins.get(label)
            if existing is not None:
                if existing.pin_digest != digest:
                    raise PinIncorrectError(f"token '{label}' rejected the user PIN")
                existing.users += 1
                return
            raw_token = self.raw_lib.get_token(token_label=label)
            try:
                session = raw_token.open(rw=True, user_pin=pin)
            except pkcs11.exceptions.PinIncorrect:
                raise PinIncorrectError(
                    f"token '{label}' rejected the user PIN",
                    hint="check --pin or HARNESS_HSM_PIN; the token was not changed",
                ) from None
            except pkcs11.exceptions.PinLocked:
                raise HsmError(f"the user PIN of token '{label}' is locked") from None
            self.logins[label] = _Login(session=session, pin_digest=digest, users=1)

    def logout(self, label: str) -> None:
        with self.lock:
            entry = self.logins.get(label)
            if entry is None:
                return
            entry.users -= 1
            if entry.users <= 0:
                del self.logins[label]
                entry.session.close()


class _Registry:
    """The one loaded library per path, and the module currently bound to a config."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loaded: dict[Path, Any] = {}
        self.active: Module | None = None


_REGISTRY = _Registry()


def acquire(library: Path, conf: Path) -> Module:
    """The module for ``(library, conf)``, loading or switching as needed."""
    library = library.resolve()
    conf = conf.resolve()
    with _REGISTRY.lock:
        active = _REGISTRY.active
        if active is not None and (active.library, active.conf) == (library, conf):
            active.users += 1
            return active
        if active is not None and active.users > 0:
            raise HsmError(
                f"this process already uses SoftHSM2 config {active.conf}",
                hint="close its tokens before opening tokens of another config",
            )
        module = Module(library=library, conf=conf, raw_lib=_initialise(library, conf))
        module.raw_signer = _RawSigner(library)
        module.users = 1
        _REGISTRY.active = module
        return module


def release(module: Module) -> None:
    with _REGISTRY.lock:
        module.users = max(0, module.users - 1)


def _initialise(library: Path, conf: Path) -> Any:
    os.environ[CONF_ENV] = str(conf)
    raw = _REGISTRY.loaded.get(library)
    if raw is None:
        try:
            raw = pkcs11.lib(str(library))
        except pkcs11.exceptions.PKCS11Error as exc:
            raise HsmError(f"cannot load PKCS#11 library {library}: {exc}") from None
        _REGISTRY.loaded[library] = raw
    else:
        raw.reinitialize()
    log.debug("PKCS#11 library %s initialised with %s", library, conf)
    return raw
