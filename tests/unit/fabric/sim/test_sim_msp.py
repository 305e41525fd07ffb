"""MSP validation with certificates made here: chains, NodeOUs, low-S signatures."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from harness.fabric._messages import serialize_identity
from harness.fabric.sim._msp import (
    VALIDATED_CACHE_SIZE,
    Msp,
    MspError,
    MspManager,
)
from harness.fabric.sim._policy import evaluate, parse_policy
from harness.identity._signer import curve_order

NOW = datetime.datetime.now(datetime.UTC)


def name(cn: str, ou: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1.example.com")]
    if ou:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(parts)


def issue(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    days: int = 30,
    start: datetime.datetime = NOW - datetime.timedelta(days=1),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


ROOT_KEY = new_key()
ROOT = issue(name("ca.org1"), ROOT_KEY, name("ca.org1"), ROOT_KEY, ca=True)
MID_KEY = new_key()
MID = issue(name("ica.org1"), MID_KEY, ROOT.subject, ROOT_KEY, ca=True)
PEER_KEY = new_key()
PEER = issue(name("peer0", "peer"), PEER_KEY, ROOT.subject, ROOT_KEY)
MSP = Msp("Org1MSP", [pem(ROOT)], [pem(MID)])


def sign(
    key: ec.EllipticCurvePrivateKey, message: bytes, *, high_s: bool = False
) -> bytes:
    r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
    n = curve_order(ec.SECP256R1())
    s = min(s, n - s)
    if high_s:
        s = n - s
    return encode_dss_signature(r, s)


@pytest.mark.parametrize("role", ["client", "peer", "admin", "orderer"])
def test_node_ou_gives_the_role(role: str) -> None:
    cert = issue(name("x", role), new_key(), ROOT.subject, ROOT_KEY)

    assert MSP.validate(pem(cert)).role == role


def test_identity_through_an_intermediate() -> None:
    cert = issue(name("user1", "client"), new_key(), MID.subject, MID_KEY)

    identity = MSP.validate(pem(cert))

    assert (identity.msp_id, identity.common_name) == ("Org1MSP", "user1")


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("foreign-ca", "not issued by this MSP"),
        ("no-ou", "exactly one NodeOU"),
        ("two-ous", "exactly one NodeOU"),
        ("expired", "expired"),
        ("forged-issuer-name", "not issued by this MSP"),
    ],
)
def test_invalid_identities(case: str, words: str) -> None:
    key = new_key()
    if case == "foreign-ca":
        other_key = new_key()
        other = issue(name("evil"), other_key, name("evil"), other_key, ca=True)
        cert = issue(name("x", "client"), key, other.subject, other_key)
    elif case == "no-ou":
        cert = issue(name("x"), key, ROOT.subject, ROOT_KEY)
    elif case == "two-ous":
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "admin"),
                x509.NameAttribute(NameOID.COMMON_NAME, "x"),
            ]
        )
        cert = issue(subject, key, ROOT.subject, ROOT_KEY)
    elif case == "expired":
        start = NOW - datetime.timedelta(days=60)
        cert = issue(name("x", "client"), key, ROOT.subject, ROOT_KEY, start=start)
    else:
        cert = issue(name("x", "client"), key, ROOT.subject, new_key())

    with pytest.raises(MspError, match=words):
        MSP.validate(pem(cert))


def test_a_validated_identity_is_remembered_but_still_expires() -> None:
    cert = issue(name("cached", "client"), new_key(), ROOT.subject, ROOT_KEY, days=2)
    msp = Msp("Org1MSP", [pem(ROOT)])

    first = msp.validate(pem(cert))

    assert msp.validate(pem(cert)) is first
    later = cert.not_valid_after_utc + datetime.timedelta(seconds=1)
    with pytest.raises(MspError, match="expired"):
        msp.validate(pem(cert), now=later)


def test_a_refused_identity_is_not_remembered() -> None:
    cert = issue(name("x"), new_key(), ROOT.subject, ROOT_KEY)
    msp = Msp("Org1MSP", [pem(ROOT)])

    for _ in range(2):
        with pytest.raises(MspError, match="exactly one NodeOU"):
            msp.validate(pem(cert))


def test_the_cache_is_bounded() -> None:
    msp = Msp("Org1MSP", [pem(ROOT)])
    key = new_key()
    certs = [
        issue(name(f"u{i}", "client"), key, ROOT.subject, ROOT_KEY)
        for i in range(VALIDATED_CACHE_SIZE + 3)
    ]

    for cert in certs:
        msp.validate(pem(cert))

    assert len(msp._validated) == VALIDATED_CACHE_SIZE
    assert pem(certs[0]) not in msp._validated
    assert pem(certs[-1]) in msp._validated


def test_low_s_signature_verifies() -> None:
    identity = MSP.validate(pem(PEER))

    Msp.verify(identity, b"proposal", sign(PEER_KEY, b"proposal"))


def test_high_s_signature_is_rejected() -> None:
    identity = MSP.validate(pem(PEER))
    signature = sign(PEER_KEY, b"proposal", high_s=True)
    # The curve maths alone would accept it:
    PEER_KEY.public_key().verify(signature, b"proposal", ec.ECDSA(hashes.SHA256()))

    with pytest.raises(MspError, match="high S"):
        Msp.verify(identity, b"proposal", signature)


def test_signature_over_other_message_is_rejected() -> None:
    identity = MSP.validate(pem(PEER))

    with pytest.raises(MspError, match="does not verify"):
        Msp.verify(identity, b"other", sign(PEER_KEY, b"proposal"))


def test_manager_checks_serialized_creator_and_feeds_policies() -> None:
    manager = MspManager([MSP])
    creator = serialize_identity("Org1MSP", pem(PEER))

    identity = manager.verify(creator, b"m", sign(PEER_KEY, b"m"))

    assert evaluate(parse_policy("OR('Org1MSP.peer')"), [identity])
    with pytest.raises(MspError, match="not a member"):
        manager.deserialize(serialize_identity("Org9MSP", pem(PEER)))


def test_msp_without_roots_is_refused() -> None:
    with pytest.raises(MspError, match="root CA"):
        Msp("Org1MSP", [])
