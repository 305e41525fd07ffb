"""What fabric-test's HSM regression never asserts, asserted: every key on the token
has Fabric's attributes, and every HSM identity's certificate matches a key there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ExtensionNotFound, SubjectKeyIdentifier

from harness.hsm import KeyReport, Token
from harness.identity._org import find_signcerts, read_certificate, require_key_on_token
from harness.identity._signer import HsmSigner, hash_for, is_low_s

_PROBE = b"harness inspect: signature probe"


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class CertificateReport:
    path: str
    ski: str
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


@dataclass
class InspectReport:
    label: str
    objects: int
    keys: list[KeyReport]
    certificates: list[CertificateReport]

    @property
    def key_checks(self) -> list[Check]:
        checks = []
        for key in self.keys:
            name = key.label or key.cka_id.hex()[:16]
            checks += [
                Check(f"{name}: CKA_ID is the SKI", key.id_is_ski, _hex(key.cka_id)),
                Check(f"{name}: sensitive", key.sensitive, str(key.sensitive)),
                Check(
                    f"{name}: not extractable",
                    not key.extractable,
                    str(key.extractable),
                ),
                Check(
                    f"{name}: private token object", key.private and key.on_token, ""
                ),
            ]
        return checks

    @property
    def passed(self) -> bool:
        certs_ok = all(cert.passed for cert in self.certificates)
        return certs_ok and all(check.passed for check in self.key_checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "objects": self.objects,
            "passed": self.passed,
            "keys": [
                {
                    "cka_id": key.cka_id.hex(),
                    "label": key.label,
                    "ski": key.ski.hex() if key.ski else None,
                    "id_is_ski": key.id_is_ski,
                    "sensitive": key.sensitive,
                    "extractable": key.extractable,
                    "private": key.private,
                    "token": key.on_token,
                }
                for key in self.keys
            ],
            "key_checks": [asdict(check) for check in self.key_checks],
            "certificates": [
                {
                    "path": cert.path,
                    "ski": cert.ski,
                    "passed": cert.passed,
                    "checks": [asdict(check) for check in cert.checks],
                }
                for cert in self.certificates
            ],
        }


def inspect_token(
    token: Token, *, crypto_root: Path | None = None, certificates: Iterable[Path] = ()
) -> InspectReport:
    """Check the token's keys, and each certificate named or found under ``crypto_root``.

    A certificate named in ``certificates`` whose key is not on the token raises
    KeyNotFoundError (a user's mistake). Under ``crypto_root`` only identities with an
    empty keystore (keys in an HSM) are checked.
    """
    paths = list(certificates)
    if crypto_root is not None:
        paths += [p for p in find_signcerts(crypto_root) if _keystore_empty(p)]
    reports = [_check_certificate(token, path) for path in paths]
    return InspectReport(
        label=token.label,
        objects=token.object_count(),
        keys=token.key_reports(),
        certificates=reports,
    )


def _keystore_empty(signcert: Path) -> bool:
    keystore = signcert.parent.parent / "keystore"
    return not any(keystore.glob("*"))


def _check_certificate(token: Token, path: Path) -> CertificateReport:
    certificate = read_certificate(path)
    ski = require_key_on_token(token, certificate, path)
    report = CertificateReport(path=str(path), ski=ski.hex())
    key = token.find_key(ski)
    report.checks.append(Check("key on token, CKA_ID matches", True, _hex(key.cka_id)))
    try:
        extension = certificate.extensions.get_extension_for_class(SubjectKeyIdentifier)
        in_cert = extension.value.digest
        report.checks.append(
            Check("certificate SKI extension", in_cert == ski, _hex(in_cert))
        )
    except ExtensionNotFound:
        report.checks.append(Check("certificate SKI extension", True, "absent"))
    keystore = path.parent.parent / "keystore"
    if keystore.is_dir():
        files = sorted(p.name for p in keystore.iterdir())
        report.checks.append(
            Check("MSP keystore empty", not files, ", ".join(files) or "empty")
        )
    signature = HsmSigner(token, ski).sign(_PROBE)
    public = certificate.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    try:
        public.verify(signature, _PROBE, ec.ECDSA(hash_for(public.curve)))
        verified = True
    except InvalidSignature:
        verified = False
    report.checks.append(Check("signature verifies with certificate", verified, ""))
    report.checks.append(
        Check("signature is low-S", is_low_s(signature, public.curve), "")
    )
    return report


def _hex(value: bytes) -> str:
    return value.hex()[:16] + "..."
