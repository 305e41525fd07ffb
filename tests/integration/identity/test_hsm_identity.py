"""HSM-held Fabric identities on a real SoftHSM2 token, with the assertions that
fabric-test's HSM regression leaves out."""

import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from pkcs11 import Attribute, ObjectClass

from harness.errors import KeyNotFoundError
from harness.hsm import SoftHsm, Token, ski_of
from harness.identity import HsmSigner, Organization, inspect_token, is_low_s
from harness.identity._signer import curve_order, digest

pytestmark = pytest.mark.hsm


@pytest.fixture
def org(tmp_path: Path) -> Organization:
    return Organization.create(tmp_path / "crypto", "Org1")


def test_hsm_identity_keeps_its_key_on_the_token(
    org: Organization, token: Token
) -> None:
    peer = org.enroll("peer0", "peer", token=token)

    assert peer.in_hsm
    assert list((peer.msp_dir / "keystore").iterdir()) == []
    cert_ski = ski_of(peer.certificate.public_key())
    with token.session() as pooled, token.lock:
        [private] = pooled.session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.ID: cert_ski}
        )
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.SENSITIVE] is True
    assert (peer.tls_dir / "server.key").is_file()


def test_signatures_verify_with_the_certificate_and_are_low_s(
    org: Organization, token: Token
) -> None:
    user = org.enroll("User1", "client", token=token)
    public = user.certificate.public_key()
    half = curve_order(public.curve) // 2
    raw_high = 0

    for index in range(300):
        message = f"proposal {index}".encode()
        raw = token.sign_digest(user.ski, digest(message, public.curve))
        raw_high += int.from_bytes(raw[32:], "big") > half
        signature = user.signer.sign(message)
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        assert is_low_s(signature, public.curve)

    assert raw_high > 0, "the token never produced a high-S signature to normalise"


def test_identity_reloads_from_disk_through_the_token(
    org: Organization, token: Token
) -> None:
    admin = org.enroll("Admin", "admin", token=token)

    again = Organization.load(org.folder).load_identity("Admin", "admin", token=token)

    assert again.in_hsm
    assert again.ski == admin.ski
    again.certificate.public_key().verify(
        again.signer.sign(b"m"), b"m", ec.ECDSA(hashes.SHA256())
    )


def test_inspect_passes_for_enrolled_identities(
    org: Organization, token: Token
) -> None:
    for name, role in (("peer0", "peer"), ("Admin", "admin"), ("User1", "client")):
        org.enroll(name, role, token=token)

    report = inspect_token(token, crypto_root=org.folder)

    assert report.passed
    assert len(report.keys) == 3
    assert len(report.certificates) == 3
    assert all(key.id_is_ski and not key.extractable for key in report.keys)


def test_inspect_fails_a_check_when_the_keystore_is_not_empty(
    org: Organization, token: Token
) -> None:
    peer = org.enroll("peer0", "peer", token=token)
    signcert = next((peer.msp_dir / "signcerts").iterdir())
    (peer.msp_dir / "keystore" / "stray_sk").write_text("not a key")

    report = inspect_token(token, certificates=[signcert])

    assert not report.passed
    failed = [
        c.name for cert in report.certificates for c in cert.checks if not c.passed
    ]
    assert failed == ["MSP keystore empty"]


def test_certificate_whose_key_is_elsewhere_is_a_clear_error(
    org: Organization, token: Token
) -> None:
    stranger = org.enroll("User9", "client")  # software key, not on the token
    signcert = next((stranger.msp_dir / "signcerts").iterdir())

    with pytest.raises(KeyNotFoundError, match="is not on token 'ForFabric'"):
        inspect_token(token, certificates=[signcert])


def test_four_threads_sign_two_thousand_times_each(softhsm: SoftHsm) -> None:
    with Token(softhsm, pool_size=4) as token:
        signer = HsmSigner(token, token.generate_key().ski)
        results: list[list[tuple[bytes, bytes]]] = [[] for _ in range(4)]
        errors: list[BaseException] = []

        def work(slot: int) -> None:
            try:
                for index in range(2000):
                    message = f"{slot}:{index}".encode()
                    results[slot].append((message, signer.sign(message)))
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    signed = [pair for chunk in results for pair in chunk]
    assert len(signed) == 8000
    for message, signature in signed:
        signer.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        assert is_low_s(signature, signer.public_key.curve)


def test_signing_and_key_management_interleave_across_threads(softhsm: SoftHsm) -> None:
    """Signers (raw C calls) and python-pkcs11 calls (key generation, searches) from
    other threads at once: the module lock keeps SoftHSM2 from crashing."""
    with Token(softhsm, pool_size=3) as token:
        signer = HsmSigner(token, token.generate_key().ski)
        made: list[bytes] = []
        errors: list[BaseException] = []

        def sign() -> None:
            try:
                for index in range(500):
                    signer.sign(str(index).encode())
            except BaseException as exc:
                errors.append(exc)

        def manage() -> None:
            try:
                for _ in range(10):
                    made.append(token.generate_key().ski)
                    token.key_reports()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=sign), threading.Thread(target=sign)]
        threads.append(threading.Thread(target=manage))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert len({*made}) == 10
        assert len(token.key_reports()) == 11
