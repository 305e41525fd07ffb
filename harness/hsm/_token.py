"""An open token: a pool of sessions, Fabric-style EC keys, lookup by SKI."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from harness.errors import ConfigError, HsmError, KeyNotFoundError
from harness.hsm import _module
from harness.hsm._pool import Pooled, SessionPool
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
        self._pool = SessionPool(pool_size, self._open_session, self.label)
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
            for pooled in self._pool.drain():
                pooled.session.close()
            self._module.logout(self.label)
        _module.release(self._module)
        log.debug("token '%s' closed", self.label)

    @contextlib.contextmanager
    def session(self, timeout: float = 30.0) -> Iterator[Pooled]:
        """Borrow a session from the pool; opens one while the pool is below its size."""
        if self._closed:
            raise HsmError(f"token '{self.label}' is closed")
        pooled = self._pool.borrow(timeout)
        try:
            yield pooled
        finally:
            self._pool.give_back(pooled)

    def _open_session(self) -> Any:
        with self._module.lock:
            raw_token = self._module.raw_lib.get_token(token_label=self.label)
            return raw_token.open(rw=True)

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
        with self.session() as pooled, self._module.lock:
            public, private = self._generate_pair(pooled, oid_name)
            public_key = _public_key(public[Attribute.EC_POINT])
            ski = ski_of(public_key)
            cka_id = self.alt_id.encode() if self.alt_id else ski
            try:
                for obj in (public, private):
                    obj[Attribute.ID] = cka_id
                    obj[Attribute.LABEL] = ski.hex()
                    if immutable:
                        obj[Attribute.MODIFIABLE] = False
            except pkcs11.exceptions.AttributeReadOnly:
                public.destroy()
                private.destroy()
                raise HsmError(
                    f"token '{self.label}' cannot freeze keys after creation "
                    "(CKA_MODIFIABLE is read-only here, as on SoftHSM2)",
                    hint="use immutable=False (Fabric's 'Immutable: false'), "
                    "as fabric-test does",
                ) from None
        log.info("key %s generated on token '%s'", ski.hex()[:16], self.label)
        return HsmKey(ski=ski, cka_id=cka_id, public_key=public_key)

    def _generate_pair(self, pooled: Pooled, oid_name: str) -> tuple[Any, Any]:
        """A key pair with a temporary CKA_ID, both halves token objects."""
        common = {Attribute.TOKEN: True, Attribute.MODIFIABLE: True}
        public_template = common | {Attribute.PRIVATE: False, Attribute.VERIFY: True}
        private_template = common | {
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
            Attribute.SIGN: True,
        }
        try:
            params = pooled.session.create_domain_parameters(
                KeyType.EC,
                {Attribute.EC_PARAMS: encode_named_curve_parameters(oid_name)},
                local=True,
            )
            pair: tuple[Any, Any] = params.generate_keypair(
                store=True,
                id=secrets.token_bytes(8),
                label="harness-keygen",
                public_template=public_template,
                private_template=private_template,
            )
        except pkcs11.exceptions.PKCS11Error as exc:
            raise HsmError(
                f"key generation on token '{self.label}' failed: {exc!r}"
            ) from None
        return pair

    def find_key(self, ski: bytes) -> HsmKey:
        """The private key whose SKI is ``ski`` (through the KeyIds mapping if any)."""
        with self.session() as pooled, self._module.lock:
            private = self._private_object(pooled, ski)
            public_key = self._public_for(pooled, private)
        return HsmKey(ski=ski, cka_id=self._cka_id(ski), public_key=public_key)

    def sign_digest(self, ski: bytes, digest: bytes) -> bytes:
        """Raw ``CKM_ECDSA`` over a digest: ``r || s`` exactly as the token returns them."""
        # The hot path of every signature: no context managers, one lock.
        if self._closed:
            raise HsmError(f"token '{self.label}' is closed")
        signer = self._module.raw_signer
        assert signer is not None
        lock = self._module.lock
        pooled = self._pool.borrow()
        try:
            _acquire_without_queueing(lock)
            try:
                cached = pooled.keys.get(ski)
                if cached is None:
                    private = self._private_object(pooled, ski)
                    bits = self._public_for(pooled, private).curve.key_size
                    cached = pooled.keys[ski] = (private.handle, 2 * ((bits + 7) // 8))
                return signer.ecdsa(pooled.session.handle, cached[0], digest, cached[1])
            finally:
                lock.release()
        finally:
            self._pool.give_back(pooled)

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

    def _private_object(self, pooled: Pooled, ski: bytes) -> Any:

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

    def _public_for(self, pooled: Pooled, private: Any) -> ec.EllipticCurvePublicKey:

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


def _acquire_without_queueing(lock: threading.RLock) -> None:
    """Take ``lock`` without ever sleeping in its queue.

    Signing threads hold the GIL across the token call (see ``_module._RawSigner``).
    A thread blocked on the lock would be handed it at release and then wait for the
    GIL, and the two threads would swap on every signature: two context switches per
    signature, a quarter of the rate with four threads. Trying and yielding the GIL
    instead lets the running thread keep both until the interpreter switches threads.
    """
    tries = 0
    while not lock.acquire(blocking=False):
        tries += 1
        time.sleep(0 if tries < 100 else 0.0001)


def _public_key(ec_point: bytes) -> ec.EllipticCurvePublicKey:
    """Decode CKA_EC_POINT: a DER OCTET STRING around the uncompressed point."""
    raw = bytes(ec_point)
    if len(raw) in (67, 99) and raw[0] == 0x04 and raw[1] == len(raw) - 2:
        raw = raw[2:]
    curve = _CURVE_BY_POINT_LEN.get(len(raw))
    if curve is None or raw[0] != 0x04:
        raise HsmError(f"unexpected CKA_EC_POINT of {len(raw)} bytes")
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, raw)
