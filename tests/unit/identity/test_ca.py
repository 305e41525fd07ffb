import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.errors import ConfigError
from harness.hsm import ski_of
from harness.identity import CertificateAuthority, FileSigner, make_csr


def _verify_issued_by(child: x509.Certificate, parent: x509.Certificate) -> None:
    child.verify_directly_issued_by(parent)


def test_intermediate_chain_verifies_up_to_the_root() -> None:
    root = CertificateAuthority.create_root("ca.org1.example.com", "org1.example.com")
    inter = root.create_intermediate("ica.org1.example.com")
    leaf_signer = FileSigner.generate()
    leaf = inter.issue(leaf_signer.public_key, "User1@org1.example.com", role="client")

    _verify_issued_by(leaf, inter.certificate)
    _verify_issued_by(inter.certificate, root.certificate)
    assert inter.root_certificate == root.certificate
    assert inter.intermediate_certificates == [inter.certificate]
    assert inter.certificate.extensions.get_extension_for_class(
        x509.BasicConstraints
    ).value.ca


def test_leaf_carries_node_ou_sans_and_fabric_ski() -> None:
    ca = CertificateAuthority.create_root("ca.org1.example.com", "org1.example.com")
    signer = FileSigner.generate()
    cert = ca.issue(
        signer.public_key,
        "peer0.org1.example.com",
        role="peer",
        sans=["peer0", "127.0.0.1"],
    )

    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    assert [u.value for u in units] == ["peer"]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["peer0"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1")
    ]
    ski = cert.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    ).value.digest
    assert ski == ski_of(signer.public_key)


def test_enrollment_from_a_csr_issues_for_the_csr_key() -> None:
    ca = CertificateAuthority.create_root("ca.org2.example.com", "org2.example.com")
    signer = FileSigner.generate()
    csr = make_csr(signer, "Admin@org2.example.com", "org2.example.com")

    cert = ca.sign_csr(csr, role="admin")

    assert cert.public_key() == signer.public_key
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Admin@org2.example.com"
    )


class _WrongKeySigner(FileSigner):
    """Claims one public key and signs with another: a CSR without possession."""

    def __init__(self) -> None:
        super().__init__(ec.generate_private_key(ec.SECP256R1()))
        self._claimed = ec.generate_private_key(ec.SECP256R1()).public_key()

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._claimed


def test_csr_without_proof_of_possession_is_refused() -> None:
    ca = CertificateAuthority.create_root("ca.org1.example.com", "org1.example.com")
    csr = make_csr(_WrongKeySigner(), "Mallory@org1.example.com", "org1.example.com")

    with pytest.raises(ConfigError, match="does not verify"):
        ca.sign_csr(csr, role="client")
