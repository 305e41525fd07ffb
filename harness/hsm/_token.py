"""An open token: a pool of sessions, Fabric-style EC keys, lookup by SKI."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from harness.errors import ConfigError, HsmError, KeyNotFoundError
from harness.hsm import _module
from harness.hsm._softhsm import SoftHsm, check_label, default_label, resolve_pin

log = logging.getLogger(__name__)

Curve = Literal["P-256", "P-384"]
_CURVES: dict[str, tuple[str, ec.EllipticCurve]] = {
    "P-256": ("secp256r1", ec.SECP256R1()),
    "P-384": ("secp384r1", ec.SECP384R1()),
}
_CURVE_BY_POINT_LEN = {65: ec.SECP256R1(), 97: ec.SECP384R1()}


def ski_of(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """Fabric's subject key identifier: SHA-256 of the uncompressed public point."""
    from cryptography.hazmat.primitives import serialization

    point = public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return hashlib.sha256(point).digest()


@dataclass(frozen=True)
class KeyIdMapping:
    """Fabric's ``KeyIds`` entry: the key with SKI ``ski`` carries CKA_ID ``cka_id``.

    For keys made outside Fabric (and outside the harness) whose CKA_ID is not their
    SKI. In Fabric's BCCSP config both are strings: the SKI in hex, the ID as is.
    """

    ski: bytes
    cka_id: bytes

    @classmethod
    def from_config(cls, ski_hex: str, cka_id: str) -> KeyIdMapping:
        try:
            ski = bytes.fromhex(ski_hex)
        except ValueError:
            raise ConfigError(f"KeyIds SKI {ski_hex!r} is not hexadecimal") from None
        return cls(ski=ski, cka_id=cka_id.encode())


@dataclass(frozen=True)
class HsmKey:
    """A private key held by the token, known by its SKI."""

    ski: bytes
    cka_id: bytes
    public_key: ec.EllipticCurvePublicKey

    @property
    def curve_name(self) -> str:
        return self.public_key.curve.name


@dataclass(frozen=True)
class KeyReport:
    """What ``inspect`` sees of one private key object and its public half."""

    cka_id: bytes
    label: str
    ski: bytes | None
    sensitive: bool
    extractable: bool
    private: bool
    on_token: bool

    @property
    def id_is_ski(self) -> bool:
        return self.ski is not None and self.cka_id == self.ski


@dataclass
class _Pooled:
    session: Any
    keys: dict[bytes, tuple[int, int]] = field(
        default_factory=dict
    )  # ski -> handle, size


class Token:
    """A logged-in token with a bounded pool of sessions, safe to share across threads.

    Sessions are handed out one per caller; every call into the PKCS#11 library is
    additionally serialised by the module lock (see ``_module``).
    """

    def __init__(
        self,
        softhsm: SoftHsm,
        label: str | None = None,
        pin: str | None = None,
        *,
        pool_size: int = 4,
        key_ids: Sequence[KeyIdMapping] = (),
        alt_id: str | None = None,
    ) -> None:
        if pool_size < 1:
            raise ConfigError(f"pool_size must be at least 1, got {pool_size}")
        self.softhsm = softhsm
        self.label = check_label(label or default_label())
        self.alt_id = alt_id
        self._id_for_ski: Mapping[bytes, bytes] = {m.ski: m.cka_id for m in key_ids}
        self._pool: queue.LifoQueue[_Pooled] = queue.LifoQueue()
        self._opened = 0
        self._size = pool_size
        self._open_lock = threading.Lock()
        self._closed = False

        self._module = _module.acquire(softhsm.library, softhsm.conf_path)
        try:
            softhsm.require_label(self.label, self._module)
            self._module.login(self.label, resolve_pin(pin))
        except BaseException:
            _module.release(self._module)
            raise
        log.info("token '%s' open (pool of %d sessions)", self.label, pool_size)

    def __enter__(self) -> Token:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock(self) -> threading.RLock:
        """The lock that serialises every call into the PKCS#11 library."""
        return self._module.lock

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._module.lock:
            while True:
                try:
                    pooled = self._pool.get_nowait()
                except queue.Empty:
                    break
                pooled.session.close()
            self._module.logout(self.label)
        _module.release(self._module)
        log.debug("token '%s' closed", self.label)

    @contextlib.contextmanager
    def session(self, timeout: float = 30.0) -> Iterator[_Pooled]:
        """Borrow a session from the pool; opens one while the pool is below its size."""
        if self._closed:
            raise HsmError(f"token '{self.label}' is closed")
        pooled = self._borrow(timeout)
        try:
            yield pooled
        finally:
            self._pool.put(pooled)

    def _borrow(self, timeout: float) -> _Pooled:
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        with self._open_lock:
            if self._opened < self._size:
                self._opened += 1
                with self._module.lock:
                    raw_token = self._module.raw_lib.get_token(token_label=self.label)
                    return _Pooled(raw_token.open(rw=True))
        try:
            return self._pool.get(timeout=timeout)
        except queue.Empty:
            raise HsmError(
                f"no session of token '{self.label}' came free within {timeout:.0f} s",
                hint=f"raise pool_size above {self._size} or hold sessions for less time",
            ) from None

    # Keys -----------------------------------------------------------------------------

    def generate_key(
        self, curve: Curve = "P-256", *, immutable: bool = False
    ) -> HsmKey:
        """An EC key pair made the way Fabric's PKCS#11 BCCSP makes one.

        Both halves are token objects; the private half is private, sensitive and not
        extractable. After generation CKA_ID becomes the SKI (or the configured AltID)
        and CKA_LABEL the SKI in hex; with ``immutable`` the objects are then frozen.
        """

        if curve not in _CURVES:
            raise ConfigError(
                f"curve {curve!r} is not supported; use one of {sorted(_CURVES)}"
            )
        oid_name, _ = _CURVES[curve]
        temporary = secrets.token_bytes(8)
        public_template = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: False,
            Attribute.VERIFY: True,
            Attribute.MODIFIABLE: True,
        }
        private_template = {
            Attribute.TOKEN: True,
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
            Attribute.MODIFIABLE: True,
        }
        with self.session() as pooled, self._module.lock:
            try:
                params = pooled.session.create_domain_parameters(
                    KeyType.EC,
                    {Attribute.EC_PARAMS: encode_named_curve_parameters(oid_name)},
                    local=True,
                )
                public, private = params.generate_keypair(
                    store=True,
                    id=temporary,
                    label="harness-keygen",
                    public_template=public_template,
                    private_template=private_template,
                )
                public_key = _public_key(public[Attribute.EC_POINT])
                ski = ski_of(public_key)
                cka_id = self.alt_id.encode() if self.alt_id else ski
                for obj in (public, private):
                    obj[Attribute.ID] = cka_id
                    obj[Attribute.LABEL] = ski.hex()
                    if immutable:
                        obj[Attribute.MODIFIABLE] = False
            except pkcs11.exceptions.PKCS11Error as exc:
                raise HsmError(
                    f"key generation on token '{self.label}' failed: {exc!r}"
                ) from None
        log.info("key %s generated on token '%s'", ski.hex()[:16], self.label)
        return HsmKey(ski=ski, cka_id=cka_id, public_key=public_key)

    def find_key(self, ski: bytes) -> HsmKey:
        """The private key whose SKI is ``ski`` (through the KeyIds mapping if any)."""
        with self.session() as pooled, self._module.lock:
            private = self._private_object(pooled, ski)
            public_key = self._public_for(pooled, private)
        return HsmKey(ski=ski, cka_id=self._cka_id(ski), public_key=public_key)

    def sign_digest(self, ski: bytes, digest: bytes) -> bytes:
        """Raw ``CKM_ECDSA`` over a digest: ``r || s`` exactly as the token returns them."""
        signer = self._module.raw_signer
        assert signer is not None
        with self.session() as pooled:
            cached = pooled.keys.get(ski)
            with self._module.lock:
                if cached is None:
                    private = self._private_object(pooled, ski)
                    bits = self._public_for(pooled, private).curve.key_size
                    size = 2 * ((bits + 7) // 8)
                    cached = pooled.keys[ski] = (private.handle, size)
                return signer.ecdsa(pooled.session.handle, cached[0], digest, cached[1])

    def key_reports(self) -> list[KeyReport]:
        """Every private key object on the token, with the attributes Fabric relies on."""

        reports = []
        with self.session() as pooled, self._module.lock:
            query = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
            for private in list(pooled.session.get_objects(query)):
                ski = None
                with contextlib.suppress(KeyNotFoundError):
                    ski = ski_of(self._public_for(pooled, private))
                reports.append(
                    KeyReport(
                        cka_id=bytes(private[Attribute.ID]),
                        label=str(private[Attribute.LABEL]),
                        ski=ski,
                        sensitive=bool(private[Attribute.SENSITIVE]),
                        extractable=bool(private[Attribute.EXTRACTABLE]),
                        private=bool(private[Attribute.PRIVATE]),
                        on_token=bool(private[Attribute.TOKEN]),
                    )
                )
        return reports

    def object_count(self) -> int:
        with self.session() as pooled, self._module.lock:
            return sum(1 for _ in pooled.session.get_objects())

    def _cka_id(self, ski: bytes) -> bytes:
        return self._id_for_ski.get(ski, ski)

    def _private_object(self, pooled: _Pooled, ski: bytes) -> Any:

        found = list(
            pooled.session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                    Attribute.ID: self._cka_id(ski),
                }
            )
        )
        if not found:
            raise KeyNotFoundError(
                f"token '{self.label}' holds no private key with SKI {ski.hex()}",
                hint="enroll the identity on this token, or map its CKA_ID with KeyIds",
            )
        return found[0]

    def _public_for(self, pooled: _Pooled, private: Any) -> ec.EllipticCurvePublicKey:

        publics = list(
            pooled.session.get_objects(
                {
                    Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                    Attribute.ID: private[Attribute.ID],
                }
            )
        )
        if not publics:
            raise KeyNotFoundError(
                f"token '{self.label}' holds no public key for CKA_ID "
                f"{bytes(private[Attribute.ID]).hex()}"
            )
        return _public_key(publics[0][Attribute.EC_POINT])


def _public_key(ec_point: bytes) -> ec.EllipticCurvePublicKey:
    """Decode CKA_EC_POINT: a DER OCTET STRING around the uncompressed point."""
    raw = bytes(ec_point)
    if len(raw) in (67, 99) and raw[0] == 0x04 and raw[1] == len(raw) - 2:
        raw = raw[2:]
    curve = _CURVE_BY_POINT_LEN.get(len(raw))
    if curve is None or raw[0] != 0x04:
        raise HsmError(f"unexpected CKA_EC_POINT of {len(raw)} bytes")
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
