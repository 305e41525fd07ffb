"""MSP validation: is this identity a member of that org, in which role, and did it sign?

An org's MSP is its root CA certificates, optional intermediates and NodeOUs. A
serialized identity (MSP id + PEM certificate) is valid when its certificate chains
to one of the roots (through at most the given intermediates), is inside its
validity period and carries exactly one NodeOU role: client, peer, admin or orderer.
Signatures are ECDSA over SHA-256 in DER; like Fabric, a high-S signature
(s > n/2) is invalid even though the curve maths accepts it.

Like Fabric's cached MSP (``msp/cache``), an MSP remembers the identities it has
validated, keyed by their certificate bytes, in a bounded LRU: the chain and NodeOU
checks run once per certificate, the validity period on every use.
"""

from __future__ import annotations

import datetime
import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.errors import ConfigError, HarnessError
from harness.fabric._messages import MessageError, parse_identity, serialize_identity
from harness.identity import is_low_s

log = logging.getLogger(__name__)

NODE_OU_ROLES = ("client", "peer", "admin", "orderer")
VALIDATED_CACHE_SIZE = 256  # Fabric's cached MSP keeps 100 of each kind


class MspError(HarnessError):
    """An identity or signature does not validate against an MSP."""

    exit_code = 1


@dataclass(frozen=True)
class ValidatedIdentity:
    """An identity an MSP accepted; ``id_bytes`` is its serialized form."""

    msp_id: str
    role: str
    certificate: x509.Certificate
    id_bytes: bytes

    @functools.cached_property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The certificate's ECDSA key (read once); :class:`MspError` for another
        kind."""
        key = self.certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise MspError(f"{self.msp_id}: only ECDSA identities are supported")
        return key

    @property
    def common_name(self) -> str:
        names = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""


def _load(cert: x509.Certificate | bytes) -> x509.Certificate:
    if isinstance(cert, x509.Certificate):
        return cert
    try:
        return x509.load_pem_x509_certificate(cert)
    except ValueError as error:
        raise MspError(f"not a PEM certificate: {error}") from error


class Msp:
    """One org's MSP: its CA certificates and NodeOU rules."""

    def __init__(
        self,
        msp_id: str,
        root_certs: Sequence[x509.Certificate | bytes],
        intermediate_certs: Sequence[x509.Certificate | bytes] = (),
    ) -> None:
        if not root_certs:
            raise MspError(f"MSP {msp_id} needs at least one root CA certificate")
        self.msp_id = msp_id
        self.roots = [_load(cert) for cert in root_certs]
        self.intermediates = [_load(cert) for cert in intermediate_certs]
        for intermediate in self.intermediates:
            self._issuer_of(intermediate, self.roots)
        self._validated: OrderedDict[bytes, _Checked] = OrderedDict()
        self._cache_lock = threading.Lock()

    def validate(
        self, certificate_pem: bytes, *, now: datetime.datetime | None = None
    ) -> ValidatedIdentity:
        """The identity, if its certificate belongs to this MSP; else :class:`MspError`."""
        with self._cache_lock:
            checked = self._validated.get(certificate_pem)
            if checked is not None:
                self._validated.move_to_end(certificate_pem)
        if checked is None:
            checked = self._check(certificate_pem)
            with self._cache_lock:
                self._validated[certificate_pem] = checked
                while len(self._validated) > VALIDATED_CACHE_SIZE:
                    self._validated.popitem(last=False)
        moment = now or datetime.datetime.now(datetime.UTC)
        if not checked.not_before <= moment <= checked.not_after:
            raise MspError(f"{self.msp_id}: certificate is expired or not yet valid")
        return checked.identity

    def _check(self, certificate_pem: bytes) -> _Checked:
        """The chain and NodeOU checks (a failure is not cached)."""
        certificate = _load(certificate_pem)
        issuer = self._issuer_of(certificate, self.intermediates + self.roots)
        if issuer in self.intermediates:
            self._issuer_of(issuer, self.roots)
        role = self._role(certificate)
        id_bytes = serialize_identity(self.msp_id, certificate_pem)
        identity = ValidatedIdentity(self.msp_id, role, certificate, id_bytes)
        return _Checked(
            identity,
            certificate.not_valid_before_utc,
            certificate.not_valid_after_utc,
        )

    def _issuer_of(
        self, certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
    ) -> x509.Certificate:
        for candidate in candidates:
            if candidate.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return candidate
        raise MspError(f"{self.msp_id}: certificate is not issued by this MSP's CAs")

    def _role(self, certificate: x509.Certificate) -> str:
        units = {
            str(attribute.value).lower()
            for attribute in certificate.subject.get_attributes_for_oid(
                NameOID.ORGANIZATIONAL_UNIT_NAME
            )
        }
        roles = [role for role in NODE_OU_ROLES if role in units]
        if len(roles) != 1:
            raise MspError(
                f"{self.msp_id}: certificate must carry exactly one NodeOU of "
                f"{', '.join(NODE_OU_ROLES)}; it has {sorted(units) or 'none'}"
            )
        return roles[0]

    @staticmethod
    def verify(identity: ValidatedIdentity, message: bytes, signature: bytes) -> None:
        """Raise :class:`MspError` unless ``signature`` is a low-S ECDSA signature."""
        public_key = identity.public_key
        try:
            low = is_low_s(signature, public_key.curve)
        except (ValueError, ConfigError):
            raise MspError(
                f"{identity.msp_id}: signature is not a DER ECDSA signature on a "
                "curve Fabric uses"
            ) from None
        if not low:
            raise MspError(f"{identity.msp_id}: signature has a high S value")
        try:
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature as error:
            raise MspError(f"{identity.msp_id}: signature does not verify") from error


@dataclass(frozen=True)
class _Checked:
    identity: ValidatedIdentity
    not_before: datetime.datetime
    not_after: datetime.datetime


class MspManager:
    """The MSPs of a channel, by MSP id."""

    def __init__(self, msps: Iterable[Msp]) -> None:
        self.msps: Mapping[str, Msp] = {msp.msp_id: msp for msp in msps}

    def deserialize(self, data: bytes) -> ValidatedIdentity:
        """Validate serialized identity bytes against the MSP they name."""
        try:
            msp_id, certificate_pem = parse_identity(data)
        except MessageError as error:
            raise MspError(str(error)) from None
        msp = self.msps.get(msp_id)
        if msp is None:
            raise MspError(f"MSP {msp_id!r} is not a member of this channel")
        return msp.validate(certificate_pem)

    def verify(
        self, creator: bytes, message: bytes, signature: bytes
    ) -> ValidatedIdentity:
        """Validate ``creator`` and check its signature over ``message``."""
        identity = self.deserialize(creator)
        Msp.verify(identity, message, signature)
        return identity
