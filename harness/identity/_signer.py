"""One signer protocol, two implementations: a key in a file, a key in the HSM.

Every signature the harness makes for Fabric is ECDSA over SHA-256 (SHA-384 for
P-384 keys), with S normalised to the lower half of the group order and DER
encoded, exactly what Fabric's BCCSP produces and what its verifiers accept.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    Prehashed,
    decode_dss_signature,
    encode_dss_signature,
)

from harness.errors import ConfigError, HarnessError
from harness.hsm import Token, ski_of

# Group orders of the curves Fabric supports.
_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
}
_HASHES: dict[str, type[hashes.SHA256 | hashes.SHA384]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
}


@runtime_checkable
class Signer(Protocol):
    """Anything that signs for a Fabric identity."""

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey: ...

    @property
    def ski(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes:
        """DER-encoded, low-S ECDSA signature over the hash of ``message``."""
        ...

    def sign_digest(self, digest: bytes) -> bytes:
        """DER-encoded, low-S ECDSA signature over an already computed digest."""
        ...


def curve_order(curve: ec.EllipticCurve) -> int:
    try:
        return _ORDERS[curve.name]
    except KeyError:
        raise ConfigError(f"curve {curve.name} is not one Fabric supports") from None


def hash_for(curve: ec.EllipticCurve) -> hashes.SHA256 | hashes.SHA384:
    """SHA-256 for P-256, SHA-384 for P-384 (Fabric's BCCSP pairing)."""
    curve_order(curve)
    return _HASHES[curve.name]()


def low_s(r: int, s: int, curve: ec.EllipticCurve) -> tuple[int, int]:
    order = curve_order(curve)
    return (r, order - s) if s > order // 2 else (r, s)


def is_low_s(signature: bytes, curve: ec.EllipticCurve) -> bool:
    """Whether a DER signature's S lies in the lower half of the group order."""
    _, s = decode_dss_signature(signature)
    return s <= curve_order(curve) // 2


def der_from_raw(raw: bytes, curve: ec.EllipticCurve) -> bytes:
    """PKCS#11's ``r || s`` as low-S DER."""
    half = len(raw) // 2
    r, s = low_s(
        int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"), curve
    )
    return encode_dss_signature(r, s)


def digest(message: bytes, curve: ec.EllipticCurve) -> bytes:
    name = "sha384" if curve.name == "secp384r1" else "sha256"
    return hashlib.new(name, message).digest()


class _KeyHolder:
    """What both signers share: the public key, its SKI, hashing the message."""

    _public: ec.EllipticCurvePublicKey
    _ski: bytes

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._public

    @property
    def ski(self) -> bytes:
        return self._ski

    def sign(self, message: bytes) -> bytes:
        return self.sign_digest(digest(message, self._public.curve))

    def sign_digest(self, digest: bytes) -> bytes:
        raise NotImplementedError


class FileSigner(_KeyHolder):
    """A software key, as Fabric keeps TLS keys and non-HSM identities."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        curve_order(private_key.curve)
        self._key = private_key
        self._public = private_key.public_key()
        self._ski = ski_of(self._public)
        self._algorithm = ec.ECDSA(Prehashed(hash_for(private_key.curve)))

    @classmethod
    def generate(cls, curve: ec.EllipticCurve | None = None) -> FileSigner:
        return cls(ec.generate_private_key(curve or ec.SECP256R1()))

    @classmethod
    def load(cls, path: Path) -> FileSigner:
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read a private key from {path}: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{path} holds a {type(key).__name__}, not an EC key")
        return cls(key)

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        return self._key

    def sign_digest(self, digest: bytes) -> bytes:
        r, s = decode_dss_signature(self._key.sign(digest, self._algorithm))
        return encode_dss_signature(*low_s(r, s, self._public.curve))

    def pem(self) -> bytes:
        """PKCS#8 PEM, as Fabric's keystore holds it (``priv_sk``)."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class HsmSigner(_KeyHolder):
    """A key that never leaves the token: the token signs the digest (raw CKM_ECDSA),
    the harness normalises S and DER-encodes, as Fabric's PKCS#11 BCCSP does."""

    def __init__(self, token: Token, ski: bytes) -> None:
        self._token = token
        self._public = token.find_key(ski).public_key
        self._ski = ski

    @property
    def token(self) -> Token:
        return self._token

    def sign_digest(self, digest: bytes) -> bytes:
        return der_from_raw(
            self._token.sign_digest(self._ski, digest), self._public.curve
        )


class SignerKey(ec.EllipticCurvePrivateKey):
    """A ``cryptography`` private key whose ``sign`` goes through a :class:`Signer`.

    It lets cryptography's CSR and certificate builders sign with a key held in the
    HSM: the builder hashes, the signer signs, the private key never leaves the token.
    """

    def __init__(self, signer: Signer) -> None:
        self._signer = signer

    def sign(
        self,
        data: bytes | bytearray | memoryview,
        signature_algorithm: ec.EllipticCurveSignatureAlgorithm,
    ) -> bytes:
        algorithm = signature_algorithm.algorithm
        if isinstance(algorithm, Prehashed):
            return self._signer.sign_digest(bytes(data))
        hasher = hashes.Hash(algorithm)
        hasher.update(bytes(data))
        return self._signer.sign_digest(hasher.finalize())

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._signer.public_key

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._signer.public_key.curve

    @property
    def key_size(self) -> int:
        return self._signer.public_key.curve.key_size

    def exchange(
        self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey
    ) -> bytes:
        raise HarnessError(
            "a signer-backed key only signs; key exchange is not available"
        )

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise HarnessError(
            "the private key stays with its signer and cannot be exported"
        )

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise HarnessError(
            "the private key stays with its signer and cannot be exported"
        )

    def __copy__(self) -> SignerKey:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SignerKey:
        return self
