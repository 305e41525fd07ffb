"""Organisations, their CAs and identities, written to disk as Fabric lays out MSPs.

The layout follows cryptogen's::

    <crypto>/peerOrganizations/org1.example.com/
        ca/  tlsca/  [ica/]            CA certificates and keys
        msp/                           the org MSP (channel configuration)
        peers/peer0.org1.example.com/{msp,tls}/
        users/Admin@org1.example.com/{msp,tls}/

An identity's MSP folder holds cacerts/, intermediatecerts/, signcerts/, keystore/
(empty when the key is in the HSM), tlscacerts/ and config.yaml with NodeOUs.
TLS keys always stay in files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from harness.errors import ConfigError, KeyNotFoundError
from harness.hsm import Token, ski_of
from harness.identity._ca import (
    CertificateAuthority,
    Role,
    check_role,
    make_csr,
    pem,
)
from harness.identity._signer import FileSigner, HsmSigner, Signer
from harness.runs import write_atomic

log = logging.getLogger(__name__)

OrgKind = Literal["peer", "orderer"]
_META = "org.json"
_NODE_ROLES = ("peer", "orderer")


@dataclass
class Identity:
    """An enrolled identity: certificate, signer and where its MSP lives."""

    name: str
    role: Role
    msp_id: str
    certificate: x509.Certificate
    signer: Signer
    msp_dir: Path
    tls_dir: Path | None
    in_hsm: bool

    @property
    def ski(self) -> bytes:
        return self.signer.ski

    @property
    def certificate_pem(self) -> bytes:
        return pem(self.certificate)


@dataclass
class Organization:
    """One organisation: MSP id, domain, its CAs and its folder."""

    name: str
    msp_id: str
    domain: str
    kind: OrgKind
    folder: Path
    root_ca: CertificateAuthority
    ca: CertificateAuthority
    tls_ca: CertificateAuthority

    @classmethod
    def create(
        cls,
        crypto_root: Path,
        name: str,
        *,
        msp_id: str | None = None,
        domain: str | None = None,
        kind: OrgKind = "peer",
        intermediate: bool = False,
    ) -> Organization:
        """New CAs (and optionally an intermediate), saved with the org MSP."""
        domain = domain or f"{name.lower()}.example.com"
        folder = crypto_root / f"{kind}Organizations" / domain
        if (folder / _META).exists():
            raise ConfigError(
                f"organisation {name} already exists in {folder}",
                hint="use Organization.load, or a new crypto folder",
            )
        root_ca = CertificateAuthority.create_root(f"ca.{domain}", domain)
        ca = root_ca.create_intermediate(f"ica.{domain}") if intermediate else root_ca
        tls_ca = CertificateAuthority.create_root(f"tlsca.{domain}", domain)
        org = cls(
            name=name,
            msp_id=msp_id or f"{name}MSP",
            domain=domain,
            kind=kind,
            folder=folder,
            root_ca=root_ca,
            ca=ca,
            tls_ca=tls_ca,
        )
        org._save()
        log.info("organisation %s (%s) created in %s", name, org.msp_id, folder)
        return org

    @classmethod
    def load(cls, folder: Path) -> Organization:
        meta_path = folder / _META
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            raise ConfigError(
                f"{folder} is not an organisation folder (no {_META})"
            ) from None
        domain = meta["domain"]
        root_ca = CertificateAuthority.load(folder / "ca", f"ca.{domain}")
        ca = root_ca
        if meta["intermediate"]:
            ca = CertificateAuthority.load(
                folder / "ica", f"ica.{domain}", parents=[root_ca.certificate]
            )
        return cls(
            name=meta["name"],
            msp_id=meta["msp_id"],
            domain=domain,
            kind=meta["kind"],
            folder=folder,
            root_ca=root_ca,
            ca=ca,
            tls_ca=CertificateAuthority.load(folder / "tlsca", f"tlsca.{domain}"),
        )

    @property
    def msp_dir(self) -> Path:
        """The org-level MSP (no signer), as channel configuration uses it."""
        return self.folder / "msp"

    def common_name(self, name: str, role: Role) -> str:
        if role in _NODE_ROLES:
            return f"{name}.{self.domain}"
        return f"{name}@{self.domain}"

    def identity_dir(self, name: str, role: Role) -> Path:
        group = {"peer": "peers", "orderer": "orderers"}.get(role, "users")
        return self.folder / group / self.common_name(name, role)

    def enroll(
        self,
        name: str,
        role: str,
        *,
        token: Token | None = None,
        signer: Signer | None = None,
        sans: Sequence[str] = (),
    ) -> Identity:
        """Enroll ``name``: key (on ``token`` if given), CSR, certificate, MSP folder.

        With a token, a fresh key is generated on it with Fabric's attributes and the
        keystore stays empty; otherwise a software key is written to the keystore.
        """
        role = check_role(role)
        common_name = self.common_name(name, role)
        if token is not None and signer is None:
            signer = HsmSigner(token, token.generate_key().ski)
        in_hsm = isinstance(signer, HsmSigner)
        signer = signer or FileSigner.generate()
        node_sans = list(sans) or (
            [common_name, name, "localhost"] if role in _NODE_ROLES else []
        )
        csr = make_csr(signer, common_name, self.domain, node_sans)
        certificate = self.ca.sign_csr(csr, role=role, sans=node_sans)

        base = self.identity_dir(name, role)
        key_pem = signer.pem() if isinstance(signer, FileSigner) else None
        self._write_msp(base / "msp", certificate, f"{common_name}-cert.pem", key_pem)
        tls_dir = self._write_tls(base / "tls", common_name, role, node_sans)
        log.info(
            "enrolled %s as %s of %s (key %s, SKI %s)",
            common_name,
            role,
            self.msp_id,
            "in HSM" if in_hsm else "in file",
            signer.ski.hex()[:16],
        )
        return Identity(
            name=common_name,
            role=role,
            msp_id=self.msp_id,
            certificate=certificate,
            signer=signer,
            msp_dir=base / "msp",
            tls_dir=tls_dir,
            in_hsm=in_hsm,
        )

    def load_identity(
        self, name: str, role: str, *, token: Token | None = None
    ) -> Identity:
        """An identity enrolled earlier; an HSM key is found on ``token`` by its SKI."""
        role = check_role(role)
        common_name = self.common_name(name, role)
        msp = self.identity_dir(name, role) / "msp"
        cert_path = msp / "signcerts" / f"{common_name}-cert.pem"
        certificate = read_certificate(cert_path)
        keys = sorted((msp / "keystore").glob("*"))
        signer: Signer
        if keys:
            signer = FileSigner.load(keys[0])
        elif token is None:
            raise ConfigError(
                f"{common_name}'s keystore is empty: its key is in an HSM",
                hint="open the token and pass it to load the identity",
            )
        else:
            signer = HsmSigner(
                token, require_key_on_token(token, certificate, cert_path)
            )
        return Identity(
            name=common_name,
            role=role,
            msp_id=self.msp_id,
            certificate=certificate,
            signer=signer,
            msp_dir=msp,
            tls_dir=msp.parent / "tls",
            in_hsm=not keys,
        )

    # Files --------------------------------------------------------------------------

    def _save(self) -> None:
        self.root_ca.save(self.folder / "ca", f"ca.{self.domain}")
        if self.ca is not self.root_ca:
            self.ca.save(self.folder / "ica", f"ica.{self.domain}")
        self.tls_ca.save(self.folder / "tlsca", f"tlsca.{self.domain}")
        self._write_msp(self.msp_dir, None, None, None)
        meta = {
            "name": self.name,
            "msp_id": self.msp_id,
            "domain": self.domain,
            "kind": self.kind,
            "intermediate": self.ca is not self.root_ca,
        }
        write_atomic(self.folder / _META, json.dumps(meta, indent=2) + "\n")

    def _write_msp(
        self,
        msp: Path,
        signcert: x509.Certificate | None,
        signcert_name: str | None,
        key_pem: bytes | None,
    ) -> None:
        root_name = f"ca.{self.domain}-cert.pem"
        write_atomic(msp / "cacerts" / root_name, pem(self.root_ca.certificate))
        (msp / "intermediatecerts").mkdir(parents=True, exist_ok=True)
        ou_cert = f"cacerts/{root_name}"
        for index, cert in enumerate(self.ca.intermediate_certificates):
            inter_name = f"ica{index or ''}.{self.domain}-cert.pem"
            write_atomic(msp / "intermediatecerts" / inter_name, pem(cert))
            if index == 0:
                ou_cert = f"intermediatecerts/{inter_name}"
        tls_name = f"tlsca.{self.domain}-cert.pem"
        write_atomic(msp / "tlscacerts" / tls_name, pem(self.tls_ca.certificate))
        write_atomic(msp / "config.yaml", _node_ous_yaml(ou_cert))
        if signcert is not None and signcert_name is not None:
            (msp / "keystore").mkdir(parents=True, exist_ok=True)
            write_atomic(msp / "signcerts" / signcert_name, pem(signcert))
        if key_pem is not None:
            key_path = msp / "keystore" / "priv_sk"
            write_atomic(key_path, key_pem)
            key_path.chmod(0o600)

    def _write_tls(
        self, tls: Path, common_name: str, role: Role, sans: list[str]
    ) -> Path:
        """TLS material as files (Fabric keeps TLS keys out of the HSM)."""
        signer = FileSigner.generate()
        tls_sans = sans or [common_name, "localhost", "127.0.0.1"]
        cert = self.tls_ca.issue(
            signer.public_key, common_name, sans=tls_sans, tls=True
        )
        stem = "server" if role in _NODE_ROLES else "client"
        write_atomic(tls / "ca.crt", pem(self.tls_ca.certificate))
        write_atomic(tls / f"{stem}.crt", pem(cert))
        write_atomic(tls / f"{stem}.key", signer.pem())
        (tls / f"{stem}.key").chmod(0o600)
        return tls


def _node_ous_yaml(ou_cert: str) -> str:
    def ou(unit: str) -> dict[str, str]:
        return {"Certificate": ou_cert, "OrganizationalUnitIdentifier": unit}

    config = {
        "NodeOUs": {
            "Enable": True,
            "ClientOUIdentifier": ou("client"),
            "PeerOUIdentifier": ou("peer"),
            "AdminOUIdentifier": ou("admin"),
            "OrdererOUIdentifier": ou("orderer"),
        }
    }
    return yaml.safe_dump(config, sort_keys=False)


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read a PEM certificate from {path}: {exc}") from None


def find_signcerts(folder: Path) -> list[Path]:
    """Every identity certificate under ``folder`` (the signcerts of its MSPs)."""
    return sorted(folder.glob("**/msp/signcerts/*.pem"))


def require_key_on_token(
    token: Token, certificate: x509.Certificate, source: Path
) -> bytes:
    """The SKI of ``certificate``; a clear error when the token lacks its key."""
    public = certificate.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise ConfigError(f"{source} does not carry an EC public key")
    ski = ski_of(public)
    try:
        token.find_key(ski)
    except KeyNotFoundError:
        raise KeyNotFoundError(
            f"the key of certificate {source} (SKI {ski.hex()[:16]}...) "
            f"is not on token '{token.label}'",
            hint="enroll it on this token, or open the token that holds it",
        ) from None
    return ski
