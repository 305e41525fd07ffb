"""Certificate authorities per organisation, built on ``cryptography``.

A root CA, optionally an intermediate that does the issuing, and enrollment from a
CSR that the identity's own signer signed (for an HSM identity the private key never
leaves the token: the CSR's signature is the proof of possession).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness.errors import ConfigError
from harness.hsm import ski_of
from harness.identity._signer import FileSigner, Signer, SignerKey, hash_for
from harness.runs import write_atomic

log = logging.getLogger(__name__)

Role = Literal["client", "peer", "admin", "orderer"]
ROLES: tuple[Role, ...] = ("client", "peer", "admin", "orderer")

_CA_DAYS = 3650
_LEAF_DAYS = 365
_BACKDATE = dt.timedelta(minutes=5)


def check_role(role: str) -> Role:
    for known in ROLES:
        if role == known:
            return known
    raise ConfigError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _name(common_name: str, organization: str, unit: str | None = None) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "California"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "San Francisco"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
    ]
    if unit:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(parts)


def _alt_names(sans: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
        except ValueError:
            names.append(x509.DNSName(san))
    return names


def make_csr(
    signer: Signer, common_name: str, organization: str, sans: Sequence[str] = ()
) -> x509.CertificateSigningRequest:
    """A CSR signed through ``signer``: the key itself is never needed."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        _name(common_name, organization)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_alt_names(sans)), False
        )
    return builder.sign(SignerKey(signer), hash_for(signer.public_key.curve))


@dataclass
class CertificateAuthority:
    """One CA: its signer, its certificate, and the chain above it."""

    name: str
    organization: str
    signer: FileSigner
    certificate: x509.Certificate
    parents: list[x509.Certificate] = field(default_factory=list)

    @property
    def root_certificate(self) -> x509.Certificate:
        return self.parents[-1] if self.parents else self.certificate

    @property
    def intermediate_certificates(self) -> list[x509.Certificate]:
        """Every CA certificate of the chain below the root (this CA's included)."""
        if not self.parents:
            return []
        return [self.certificate, *self.parents[:-1]]

    @classmethod
    def create_root(cls, name: str, organization: str) -> CertificateAuthority:
        signer = FileSigner.generate()
        subject = _name(name, organization)
        builder = _builder(
            subject, subject, signer.public_key, signer.public_key, ca=True
        )
        cert = builder.sign(signer.private_key, hashes.SHA256())
        log.info("root CA %s created", name)
        return cls(
            name=name, organization=organization, signer=signer, certificate=cert
        )

    def create_intermediate(self, name: str) -> CertificateAuthority:
        signer = FileSigner.generate()
        builder = _builder(
            _name(name, self.organization),
            self.certificate.subject,
            signer.public_key,
            self.signer.public_key,
            ca=True,
        )
        cert = builder.sign(self.signer.private_key, hashes.SHA256())
        log.info("intermediate CA %s created under %s", name, self.name)
        return CertificateAuthority(
            name=name,
            organization=self.organization,
            signer=signer,
            certificate=cert,
            parents=[self.certificate, *self.parents],
        )

    def issue(
        self,
        public_key: ec.EllipticCurvePublicKey,
        common_name: str,
        *,
        role: Role | None = None,
        sans: Sequence[str] = (),
        tls: bool = False,
    ) -> x509.Certificate:
        """A leaf certificate; ``role`` becomes the NodeOU in the subject's OU."""
        builder = _builder(
            _name(common_name, self.organization, role),
            self.certificate.subject,
            public_key,
            self.signer.public_key,
            ca=False,
            tls=tls,
        )
        if tls:
            usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), False)
        if sans:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_alt_names(sans)), False
            )
        return builder.sign(self.signer.private_key, hashes.SHA256())

    def sign_csr(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        role: Role | None = None,
        sans: Sequence[str] = (),
    ) -> x509.Certificate:
        """Enroll: check the CSR's proof of possession, then issue for its key."""
        if not csr.is_signature_valid:
            raise ConfigError(
                "the CSR's signature does not verify with its own public key"
            )
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey):
            raise ConfigError(
                "Fabric identities need an EC key; the CSR carries another"
            )
        common = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not common:
            raise ConfigError("the CSR has no common name")
        return self.issue(public_key, str(common[0].value), role=role, sans=sans)

    def save(self, folder: Path, file_stem: str) -> None:
        """``<folder>/<file_stem>-cert.pem`` and ``<folder>/priv_sk``."""
        write_atomic(folder / f"{file_stem}-cert.pem", pem(self.certificate))
        key_path = folder / "priv_sk"
        write_atomic(key_path, self.signer.pem())
        key_path.chmod(0o600)

    @classmethod
    def load(
        cls, folder: Path, file_stem: str, parents: Sequence[x509.Certificate] = ()
    ) -> CertificateAuthority:
        cert_path = folder / f"{file_stem}-cert.pem"
        try:
            certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read CA certificate {cert_path}: {exc}"
            ) from None
        signer = FileSigner.load(folder / "priv_sk")
        org = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return cls(
            name=file_stem,
            organization=str(org[0].value) if org else file_stem,
            signer=signer,
            certificate=certificate,
            parents=list(parents),
        )


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePublicKey,
    *,
    ca: bool,
    tls: bool = False,
) -> x509.CertificateBuilder:
    """What every certificate here carries: validity, constraints, usages, key ids."""
    now = dt.datetime.now(dt.UTC)
    days = _CA_DAYS if ca else _LEAF_DAYS
    authority = x509.AuthorityKeyIdentifier(
        key_identifier=ski_of(issuer_key),
        authority_cert_issuer=None,
        authority_cert_serial_number=None,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
        .add_extension(_key_usage(ca=ca, tls=tls), True)
        .add_extension(x509.SubjectKeyIdentifier(ski_of(public_key)), False)
        .add_extension(authority, False)
    )


def _key_usage(*, ca: bool, tls: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=tls,
        data_encipherment=False,
        key_agreement=tls,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
